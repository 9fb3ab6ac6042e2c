package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.server.TokenmeterServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.Select;

import java.math.BigDecimal;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The console's budgets page in a real headless browser (chromium through chromium-driver, Selenium) against the whole
 * server on a real socket, with keys: after a budget is put, an event posted and a reservation held over HTTP, the page
 * shows the limit, spent, reserved and available the API answers, and the thresholds crossed; a reservation is looked
 * up by id with an ingest key and refused to a read key; a tenant without a budget says so; a key of other tenants is
 * refused; the form sets a budget with an admin key, puts the server's problems next to their fields on a 400, and a
 * read key is refused it. Screenshots go to target/console-screenshots/ like the other console tests'.
 *
 * <p>Skipped without chromium and chromium-driver; required in CI ({@code CI=true}).
 */
class ConsoleBudgetsBrowserTest
{
    @TempDir
    static Path dir;

    private static final KeyFixture KEYS = new KeyFixture()
        .add("finance-acme", "read", "acme")
        .add("finance", "read", "*")
        .add("ops", "admin")
        .add("gateway-acme", "ingest", "acme");
    private static TokenmeterServer server;
    private static Client client;
    private static ConsoleBrowser browser;

    @BeforeAll
    static void start() throws Exception
    {
        ConsoleBrowser.requireInstalled();
        server = TestServer.start(dir.resolve("data"), Map.of("keys", KEYS.write(dir.resolve("keys.yaml")).toString()));
        client = new Client(server.port());
        browser = new ConsoleBrowser("http://127.0.0.1:" + server.port(), dir.resolve("downloads"));
    }

    @AfterAll
    static void stop()
    {
        if (browser != null)
        {
            browser.close();
        }
        if (server != null)
        {
            server.close();
        }
    }

    @AfterEach
    void noScriptErrors()
    {
        if (browser != null)
        {
            assertEquals(List.of(), browser.pageProblems(),
                "the browser logged script errors or content security policy violations");
        }
    }

    private static Client as(final String key)
    {
        return client.withKey(KEYS.secret(key));
    }

    private static Client.Answer putBudget(final String tenant, final String body)
    {
        return as("ops").put("/v1/budgets/" + tenant, "application/json", body);
    }

    /** Reads the API until {@code done} holds of the answer: the ledger applies an event a moment after its 202. */
    private static JsonNode awaitApi(final String path, final Predicate<JsonNode> done, final String what)
    {
        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        for (int i = 0; i < 400; i++)
        {
            final Client.Answer answer = as("ops").get(path);
            assertEquals(200, answer.status(), answer.body());
            final JsonNode json = answer.json();
            if (done.test(json) || System.nanoTime() > until)
            {
                assertTrue(done.test(json), "waited 20 s for " + what + ": " + json);
                return json;
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
        }
        throw new AssertionError("waited 400 reads for " + what);
    }

    @Test
    void theBudgetPageShowsTheApisLimitSpentReservedAvailableAndAlerts() throws Exception
    {
        final Client.Answer put = putBudget("acme", "{\"limit\":\"40.00\",\"period\":\"month\",\"mode\":\"hard\","
            + "\"alert_percents\":[1,90]}");
        assertEquals(200, put.status(), put.body());
        final String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
        final Client.Answer posted = as("gateway-acme").post("/v1/events", "application/json", "{\"id\":\"b1\",\"tenant\":"
            + "\"acme\",\"model\":\"gpt-4o-2024-08-06\",\"timestamp\":\"" + now + "\",\"input_tokens\":1234567,"
            + "\"output_tokens\":20000}");
        assertEquals(202, posted.status(), posted.body());
        final Client.Answer held = as("gateway-acme").post("/v1/reservations", "application/json", "{\"id\":\"req-1\","
            + "\"tenant\":\"acme\",\"model\":\"gpt-4o-2024-08-06\",\"max_input_tokens\":120000,\"max_output_tokens\":40000}");
        assertEquals(201, held.status(), held.body());
        awaitApi("/v1/budgets/acme", b -> !b.get("spent").asText().equals("0.00"), "the event's spend");
        final JsonNode alerts = awaitApi("/v1/budgets/acme/alerts", a -> a.get("alerts").size() == 1, "the 1 % alert")
            .get("alerts");

        browser.useKey(KEYS.secret("finance-acme"));
        browser.open("#/budgets?tenant=acme");
        final JsonNode budget = as("finance-acme").get("/v1/budgets/acme").json();
        assertNotEquals("0.00", budget.get("reserved").asText(), "the reservation holds an amount: " + budget);
        assertEquals(new BigDecimal(budget.get("limit").asText()).subtract(new BigDecimal(budget.get("spent").asText()))
            .subtract(new BigDecimal(budget.get("reserved").asText())), new BigDecimal(budget.get("available").asText()));
        assertEquals("Budget of acme", browser.text(By.tagName("h2")));
        assertEquals("40.00", budget.get("limit").asText());
        for (final String field : List.of("limit", "currency", "period", "mode", "spent", "reserved", "available"))
        {
            assertEquals(budget.get(field).asText(), browser.text(By.id("budget-" + field)), field);
        }
        assertEquals(budget.get("period_start").asText(), browser.text(By.id("budget-period-start")));
        assertEquals(budget.get("period_end").asText(), browser.text(By.id("budget-period-end")));
        assertEquals(budget.get("open_reservations").asText(), browser.text(By.id("budget-open")));
        assertEquals("1", budget.get("open_reservations").asText());
        assertEquals("1 %, 90 %", browser.text(By.id("budget-alert-percents")));
        for (final String part : List.of("spent", "reserved", "available"))
        {
            assertEquals(part + " " + budget.get(part).asText(), browser.text(By.cssSelector("#budget-bar li." + part)),
                "the bar's legend");
        }
        final String bar = browser.driver.findElement(By.cssSelector("#budget-bar .track")).getAttribute("aria-label");
        assertTrue(bar.contains("spent " + budget.get("spent").asText()) && bar.contains("reserved "
            + budget.get("reserved").asText()), bar);
        final double limit = Double.parseDouble(budget.get("limit").asText());
        for (final String part : List.of("spent", "reserved"))
        {
            final String share = browser.driver.findElement(By.cssSelector("#budget-bar .segment." + part))
                .getAttribute("data-share");
            assertEquals(Double.parseDouble(budget.get(part).asText()) / limit, Double.parseDouble(share), 0.0001,
                "the bar's " + part + " part is " + part + " / limit of its width");
        }
        final double trackWidth = ((Number)browser.js("return document.querySelector('#budget-bar .track').clientWidth;"))
            .doubleValue();
        final double spentWidth = ((Number)browser.js("return document.querySelector('#budget-bar .segment.spent')"
            + ".getBoundingClientRect().width;")).doubleValue();
        assertEquals(trackWidth * Double.parseDouble(budget.get("spent").asText()) / limit, spentWidth, 1.5,
            "and is drawn so");

        // the alert the API lists, cell for cell
        final List<String> columns = browser.columns(By.id("budget-alerts-table"));
        final List<List<String>> rows = browser.bodyCells(By.id("budget-alerts-table"));
        assertEquals(alerts.size(), rows.size(), rows.toString());
        final JsonNode alert = alerts.get(0);
        final List<String> row = rows.get(0);
        assertEquals("1", row.get(columns.indexOf("threshold_percent")));
        for (final String field : List.of("threshold_percent", "spent", "limit", "currency", "period", "period_start",
            "crossed_at"))
        {
            assertEquals(alert.get(field).asText(), row.get(columns.indexOf(field)), field);
        }
        assertTrue(row.get(columns.indexOf("delivery")).startsWith(deliveryWord(alert)), row + " for " + alert);
        browser.screenshots("budget");

        // a read key may not look up a reservation; the gateway's ingest key, which made it, may
        browser.open("#/budgets?tenant=acme&reservation=req-1");
        final String refused = browser.text(By.cssSelector("#reservation-results .error"));
        assertTrue(refused.contains("403") && refused.contains("may not read the reservations") && refused.contains("needs an ingest key"), refused);
        assertNull(browser.first(By.id("reservation-facts")));
        browser.useKey(KEYS.secret("gateway-acme"));
        browser.open("#/budgets?tenant=acme");
        final WebElement id = browser.driver.findElement(By.id("f-reservation-id"));
        id.sendKeys("req-1");
        browser.driver.findElement(By.id("reservation-show")).click();
        browser.waitFor(() -> browser.first(By.id("reservation-facts")), "the reservation");
        assertTrue(browser.driver.getCurrentUrl().endsWith("#/budgets?tenant=acme&reservation=req-1"), "a deep link of its own");
        final JsonNode hold = as("gateway-acme").get("/v1/reservations/acme/req-1").json();
        assertEquals(held.json().get("held").asText(), hold.get("held").asText());
        assertEquals(hold.get("held").asText(), browser.text(By.id("reservation-held")));
        assertEquals(hold.get("state").asText(), browser.text(By.id("reservation-state")));
        assertEquals("open", hold.get("state").asText());
        assertEquals(hold.get("expires_at").asText(), browser.text(By.id("reservation-expires")));
        assertEquals(hold.get("created_at").asText(), browser.text(By.id("reservation-created")));
        browser.screenshots("budget-reservation");

        browser.open("#/budgets?tenant=acme&reservation=no-such-hold");
        assertEquals(as("gateway-acme").get("/v1/reservations/acme/no-such-hold").json().get("message").asText() + ".",
            browser.text(By.id("reservation-none")));
    }

    /** @return the first word the page shows for an alert's delivery, from the API's answer. */
    private static String deliveryWord(final JsonNode alert)
    {
        final JsonNode delivery = alert.get("delivery");
        if (delivery != null && delivery.get("delivered").asBoolean())
        {
            return "delivered";
        }
        if (delivery != null && delivery.get("gave_up").asBoolean())
        {
            return "gave up";
        }
        if (!alert.has("webhook"))
        {
            return "not posted";
        }
        return delivery == null ? "unknown" : "retrying";
    }

    @Test
    void aTenantWithoutABudgetSaysSoAndAKeyOfOtherTenantsIsRefused() throws Exception
    {
        final Client.Answer none = as("finance").get("/v1/budgets/nobudget");
        assertEquals(404, none.status(), none.body());
        assertEquals("no_budget", none.json().get("error").asText());
        browser.useKey(KEYS.secret("finance"));
        browser.open("#/budgets?tenant=nobudget");
        assertTrue(browser.text(By.id("budget-none")).startsWith("tenant nobudget has no budget"),
            browser.text(By.id("budget-none")));
        assertTrue(browser.driver.findElements(By.cssSelector("#budget-results .error")).isEmpty(), "not an error");
        assertNull(browser.first(By.id("budget-facts")));
        browser.screenshots("budget-none");

        // globex has a budget, which a key of acme alone may not read: the server's 403 is shown, nothing of globex
        assertEquals(200, putBudget("globex", "{\"limit\":\"9.00\"}").status());
        browser.useKey(KEYS.secret("finance-acme"));
        browser.open("#/budgets?tenant=globex");
        final String refusal = browser.text(By.cssSelector("#budget-results .error"));
        assertTrue(refusal.contains("403") && refusal.contains("may not read the budget of tenant globex"), refusal);
        assertNull(browser.first(By.id("budget-facts")));
        assertNull(browser.first(By.id("budget-form")), "nothing of globex is offered");
        assertFalse(browser.text(By.id("main")).contains("9.00"), "the limit is not shown");
    }

    @Test
    void theFormSetsABudgetWithAnAdminKeyAndPutsTheServersProblemsNextToTheirFields() throws Exception
    {
        browser.useKey(KEYS.secret("ops"));
        browser.open("#/budgets?tenant=formco");
        browser.text(By.id("budget-none"));
        type("f-budget-limit", "75.50");
        new Select(browser.driver.findElement(By.id("f-budget-period"))).selectByValue("day");
        new Select(browser.driver.findElement(By.id("f-budget-mode"))).selectByValue("soft");
        type("f-budget-alert-percents", "25, 75");
        browser.driver.findElement(By.id("budget-set")).click();
        final String done = browser.text(By.id("budget-set-done"));
        final JsonNode set = as("finance").get("/v1/budgets/formco").json();
        assertEquals("75.50", set.get("limit").asText(), set.toString());
        assertEquals("day", set.get("period").asText());
        assertEquals("soft", set.get("mode").asText());
        assertEquals("[25,75]", set.get("alert_percents").toString());
        assertTrue(done.contains(set.get("limit").asText() + " " + set.get("currency").asText()), done);
        assertEquals(set.get("limit").asText(), browser.text(By.id("budget-limit")));
        assertEquals(set.get("period").asText(), browser.text(By.id("budget-period")));
        assertEquals(set.get("mode").asText(), browser.text(By.id("budget-mode")));
        assertEquals(set.get("period_start").asText(), browser.text(By.id("budget-period-start")));
        assertEquals("25 %, 75 %", browser.text(By.id("budget-alert-percents")));
        assertEquals("75.50", browser.driver.findElement(By.id("f-budget-limit")).getAttribute("value"),
            "the form now holds the budget in force");
        browser.open("#/budgets?tenant=formco");
        assertEquals(set.get("limit").asText(), browser.text(By.id("budget-limit")), "and so does a fresh load");

        // a limit with more decimals than USD has and a percent given twice: the server's own problems, by field
        final String badBody = "{\"limit\":\"12.345\",\"period\":\"day\",\"mode\":\"soft\",\"alert_percents\":[50,50]}";
        final Client.Answer bad = putBudget("formco", badBody);
        assertEquals(400, bad.status(), bad.body());
        type("f-budget-limit", "12.345");
        type("f-budget-alert-percents", "50, 50");
        browser.driver.findElement(By.id("budget-set")).click();
        final String limitProblem = browser.text(By.id("budget-problem-limit"));
        assertEquals(problem(bad.json(), "limit"), limitProblem);
        assertTrue(limitProblem.contains("3 decimals"), limitProblem);
        assertEquals(problem(bad.json(), "alert_percents"), browser.text(By.id("budget-problem-alert_percents")));
        assertEquals("true", browser.driver.findElement(By.id("f-budget-limit")).getAttribute("aria-invalid"));
        assertFalse(browser.driver.findElement(By.id("budget-problem-webhook")).isDisplayed(), "a field without a problem");
        assertTrue(browser.text(By.cssSelector("#budget-set-outcome .error")).contains("2 problems"));
        assertEquals("75.50", as("finance").get("/v1/budgets/formco").json().get("limit").asText(), "nothing was set");
        browser.screenshots("budget-form-problems");

        // a read key fills the form too, and the server refuses it
        browser.useKey(KEYS.secret("finance"));
        browser.open("#/budgets?tenant=formco");
        type("f-budget-limit", "1.00");
        browser.driver.findElement(By.id("budget-set")).click();
        final String refusal = browser.text(By.cssSelector("#budget-set-outcome .error"));
        assertTrue(refusal.contains("403") && refusal.contains("may not set the budget"), refusal);
        assertEquals("75.50", as("finance").get("/v1/budgets/formco").json().get("limit").asText(), "nothing was set");
    }

    private static void type(final String id, final String value)
    {
        final WebElement input = browser.driver.findElement(By.id(id));
        input.clear();
        input.sendKeys(value);
    }

    /** @return the messages of a 400's details for one field, joined as the page joins them. */
    private static String problem(final JsonNode answer, final String field)
    {
        final StringBuilder joined = new StringBuilder();
        for (final JsonNode detail : answer.get("details"))
        {
            if (detail.get("field").asText().equals(field))
            {
                joined.append(joined.length() == 0 ? "" : "; ").append(detail.get("message").asText());
            }
        }
        assertTrue(joined.length() > 0, "the API names a problem of " + field + ": " + answer);
        return joined.toString();
    }
}
