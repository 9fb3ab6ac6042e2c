package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.server.TokenmeterServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The web console in a real headless browser (Debian's chromium through chromium-driver, Selenium) against the whole
 * server on a real socket, with keys: a read key sees a tenant's usage equal to the API's and downloads it as CSV; an
 * invoice shows the API's lines and total and downloads as the API serves it; a read key is refused the finalize, an
 * admin key finalizes after the confirmation; an ingest key is refused the invoices; the operations page moves when
 * traffic arrives; and on an open server the README's example event shows in the usage chart and on the draft invoice.
 * Each page is also shot at 1280x800 and at phone width into target/console-screenshots/ for a person to look at.
 *
 * <p>Skipped without chromium and chromium-driver; required in CI ({@code CI=true}), like the Prometheus tests.
 */
class ConsoleBrowserTest
{
    /** A past month, so that its invoice may be finalized whatever today is. */
    private static final String USAGE_PERIOD = "2025-09";
    private static final String INVOICE_PERIOD = "2025-10";

    @TempDir
    static Path dir;

    private static final KeyFixture KEYS = new KeyFixture()
        .add("finance-acme", "read", "acme", "bigco")
        .add("finance", "read", "*")
        .add("ops", "admin")
        .add("gateway", "ingest", "*");
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
    void pageHadNoErrors()
    {
        if (browser != null)
        {
            final List<String> problems = browser.pageProblems();
            assertEquals(List.of(), problems, "the browser logged script errors or content security policy violations");
        }
    }

    private static Client as(final String key)
    {
        return client.withKey(KEYS.secret(key));
    }

    private static void post(final String events)
    {
        final Client.Answer answer = as("gateway").post("/v1/events", "application/json", events);
        assertEquals(202, answer.status(), answer.body());
    }

    private static String event(final String id, final String tenant, final String model, final String timestamp,
        final String tokens)
    {
        return "{\"id\":\"" + id + "\",\"tenant\":\"" + tenant + "\",\"model\":\"" + model + "\",\"timestamp\":\"" + timestamp
            + "\"," + tokens + "}";
    }

    private static String usagePath(final String tenant, final String granularity)
    {
        return "/v1/usage?tenant=" + tenant + "&from=2025-09-01T00:00:00Z&to=2025-10-01T00:00:00Z&granularity=" + granularity
            + "&group_by=model&consistent=true";
    }

    private static final List<String> USAGE_FIELDS = List.of("start", "model", "requests", "input_tokens", "cache_read_tokens",
        "cache_write_tokens", "cache_write_1h_tokens", "output_tokens", "reasoning_tokens");

    @Test
    void aReadKeySeesTheUsageTheApiGivesAndDownloadsItAsCsv() throws Exception
    {
        post("[" + event("u1", "acme", "gpt-4o-2024-08-06", "2025-09-03T10:15:00Z",
                "\"input_tokens\":1200,\"cache_read_tokens\":1000,\"output_tokens\":350,\"reasoning_tokens\":100")
            + "," + event("u2", "acme", "gpt-4o-2024-08-06", "2025-09-03T11:05:00Z", "\"input_tokens\":800,\"output_tokens\":50")
            + "," + event("u3", "acme", "claude-sonnet-4-5", "2025-09-04T08:00:00Z",
                "\"input_tokens\":2095,\"cache_write_tokens\":2051,\"output_tokens\":503")
            + "," + event("u4", "acme", "claude-sonnet-4-5", "2025-09-20T23:59:59Z", "\"cache_write_1h_tokens\":77,\"output_tokens\":1")
            + "]");
        browser.useKey(KEYS.secret("finance-acme"));
        assertEquals(KEYS.secret("finance-acme"), browser.js("return sessionStorage.getItem('tokenmeter.key');"),
            "the key is in the tab's session storage");
        assertEquals(0L, browser.js("return localStorage.length;"), "and nowhere else");
        assertEquals("", browser.js("return document.cookie;"));

        browser.open("#/usage?tenant=acme&from=2025-09-01&to=2025-10-01&granularity=day");
        assertFalse(browser.driver.getCurrentUrl().contains(KEYS.secret("finance-acme")), "the key is not in the address");
        final JsonNode api = as("finance-acme").get(usagePath("acme", "day")).json();
        assertEquals(3, api.get("rows").size(), api.toString());
        assertTableEqualsRows(By.id("usage-table"), api.get("rows"), USAGE_FIELDS);
        final JsonNode totals = as("finance-acme").get(usagePath("acme", "total")).json();
        assertTableEqualsRows(By.id("usage-totals"), totals.get("rows"), USAGE_FIELDS.subList(1, USAGE_FIELDS.size()));

        assertNotNull(browser.first(By.cssSelector("#usage-chart canvas")), "the chart is drawn");
        final String legend = browser.text(By.cssSelector("#usage-chart .u-legend"));
        assertTrue(legend.contains("gpt-4o-2024-08-06") && legend.contains("claude-sonnet-4-5"), legend);

        final String csvName = "usage-acme-2025-09-01-2025-10-01-day.csv";
        browser.clearDownload(csvName);
        browser.driver.findElement(By.id("usage-csv")).click();
        final StringBuilder expected = new StringBuilder(String.join(",", USAGE_FIELDS)).append("\r\n");
        for (final JsonNode row : api.get("rows"))
        {
            final List<String> cells = new ArrayList<>();
            USAGE_FIELDS.forEach(f -> cells.add(row.get(f).asText()));
            expected.append(String.join(",", cells)).append("\r\n");
        }
        assertEquals(expected.toString(), browser.downloaded(csvName), "the CSV holds the API's rows");
        browser.screenshots("usage");

        // one model, per hour: the deep link's choices are applied and the rows follow the API's
        browser.open("#/usage?tenant=acme&from=2025-09-01&to=2025-10-01&granularity=hour&model=gpt-4o-2024-08-06&measure=output_tokens");
        final JsonNode hours = as("finance-acme").get(usagePath("acme", "hour")).json();
        final List<JsonNode> gpt = new ArrayList<>();
        hours.get("rows").forEach(r ->
        {
            if (r.get("model").asText().equals("gpt-4o-2024-08-06"))
            {
                gpt.add(r);
            }
        });
        assertEquals(2, gpt.size());
        assertTableEqualsRows(By.id("usage-table"), Client.JSON.valueToTree(gpt), USAGE_FIELDS);
    }

    @Test
    void integersBeyondWhatAJavaScriptNumberHoldsAreShownDigitForDigit()
    {
        // 9,011 events of 999,999,999,999 input tokens: 9,010,999,999,990,989, odd and above 2^53, so a double cannot hold it
        final StringBuilder batch = new StringBuilder("[");
        for (int i = 0; i < 9011; i++)
        {
            batch.append(i == 0 ? "" : ",").append(event("big" + i, "bigco", "huge-model", "2025-09-05T01:00:00Z",
                "\"input_tokens\":999999999999"));
        }
        post(batch.append(']').toString());
        final JsonNode api = as("finance-acme").get(usagePath("bigco", "day")).json();
        assertEquals("9010999999990989", api.get("rows").get(0).get("input_tokens").asText());
        browser.useKey(KEYS.secret("finance-acme"));
        browser.open("#/usage?tenant=bigco&from=2025-09-01&to=2025-10-01&granularity=day");
        assertTableEqualsRows(By.id("usage-table"), api.get("rows"), USAGE_FIELDS);
        final WebElement input = browser.driver.findElement(By.cssSelector("#usage-table tbody td[data-column=input_tokens]"));
        assertEquals("9010999999990989", input.getText());
    }

    @Test
    void anInvoiceShowsTheApisLinesAndTotalAndOnlyAnAdminKeyFinalizesIt() throws Exception
    {
        post("[" + event("i1", "globex", "gpt-4o-2024-08-06", "2025-10-02T09:00:00Z",
                "\"input_tokens\":1234567,\"cache_read_tokens\":40000,\"output_tokens\":20000")
            + "," + event("i2", "globex", "claude-sonnet-4-5", "2025-10-15T12:30:00Z",
                "\"input_tokens\":50000,\"cache_write_tokens\":2051,\"output_tokens\":3000")
            + "," + event("i3", "globex", "no-price-model", "2025-10-20T00:00:00Z", "\"input_tokens\":10")
            + "]");
        final String path = "/v1/invoices/globex/" + INVOICE_PERIOD;
        browser.useKey(KEYS.secret("finance"));
        browser.open("#/invoices/globex/" + INVOICE_PERIOD);
        final Client.Answer draft = as("finance").get(path);
        final JsonNode invoice = draft.json();
        assertEquals("draft", invoice.get("status").asText());
        assertEquals("draft", browser.text(By.id("invoice-state")));
        assertLinesEqual(invoice);
        assertEquals(invoice.get("total").asText() + " " + invoice.get("currency").asText(), browser.text(By.id("invoice-total")));
        assertEquals(invoice.get("subtotal").asText(), browser.text(By.id("invoice-subtotal")));
        final WebElement footerAmount = browser.driver.findElement(By.cssSelector("#invoice-lines tfoot td[data-column=amount]"));
        assertEquals(invoice.get("total").asText(), footerAmount.getText());
        assertTrue(browser.text(By.id("invoice-warnings")).contains("no-price-model"), "the unpriced model's warning is shown");

        final String jsonName = "invoice-globex-" + INVOICE_PERIOD + ".json";
        final String csvName = "invoice-globex-" + INVOICE_PERIOD + ".csv";
        browser.clearDownload(jsonName);
        browser.clearDownload(csvName);
        browser.driver.findElement(By.id("invoice-json")).click();
        assertEquals(stripUsageThrough(as("finance").get(path).body()), stripUsageThrough(browser.downloaded(jsonName)),
            "the JSON as the API serves it");
        browser.driver.findElement(By.id("invoice-csv")).click();
        assertEquals(as("finance").get(path + "?format=csv").body(), browser.downloaded(csvName), "the CSV as the API serves it");
        browser.screenshots("invoice-draft");

        // the confirmation: Escape and Cancel change nothing
        browser.driver.findElement(By.id("invoice-finalize")).click();
        browser.waitVisible(By.id("finalize-dialog"));
        browser.screenshots("invoice-finalize-confirmation");
        browser.driver.switchTo().activeElement().sendKeys(Keys.ESCAPE);
        assertEquals("Not finalized.", browser.text(By.id("finalize-cancelled")));
        browser.driver.findElement(By.id("invoice-finalize")).click();
        browser.waitVisible(By.id("finalize-cancel"));
        browser.driver.findElement(By.id("finalize-cancel")).click();
        assertEquals("Not finalized.", browser.text(By.id("finalize-cancelled")));

        // a read key confirms, and the server refuses it: the page says an admin key is needed
        browser.driver.findElement(By.id("invoice-finalize")).click();
        browser.waitVisible(By.id("finalize-confirm"));
        browser.driver.findElement(By.id("finalize-confirm")).click();
        final String refusal = browser.text(By.cssSelector("#invoice-outcome .error"));
        assertTrue(refusal.startsWith("Error:") && refusal.contains("403") && refusal.contains("needs an admin key"), refusal);
        assertEquals("draft", as("ops").get(path).json().get("status").asText(), "the refused finalize changed nothing");

        // an admin key finalizes
        browser.useKey(KEYS.secret("ops"));
        browser.open("#/invoices/globex/" + INVOICE_PERIOD);
        browser.driver.findElement(By.id("invoice-finalize")).click();
        browser.waitVisible(By.id("finalize-confirm"));
        browser.driver.findElement(By.id("finalize-confirm")).click();
        final String done = browser.text(By.id("finalize-done"));
        final JsonNode finalInvoice = as("ops").get(path).json();
        assertEquals("final", finalInvoice.get("status").asText());
        final String number = finalInvoice.get("invoice_number").asText();
        assertTrue(done.contains(number), done);
        assertEquals("final", browser.text(By.id("invoice-state")));
        assertEquals(number, browser.text(By.id("invoice-number")));
        assertNull(browser.first(By.id("invoice-finalize")), "a final invoice offers no finalize");
        assertLinesEqual(finalInvoice);
        browser.screenshots("invoice-final");

        // the finance listing shows it final, with its number and total
        browser.useKey(KEYS.secret("finance"));
        browser.open("#/invoices?period=" + INVOICE_PERIOD);
        final JsonNode listing = as("finance").get("/v1/invoices?period=" + INVOICE_PERIOD).json();
        final List<List<String>> rows = browser.bodyCells(By.id("listing-table"));
        assertEquals(listing.get("invoices").size(), rows.size());
        for (int i = 0; i < rows.size(); i++)
        {
            final JsonNode entry = listing.get("invoices").get(i);
            assertEquals(List.of(entry.get("tenant").asText(), entry.get("status").asText(),
                entry.has("invoice_number") ? entry.get("invoice_number").asText() : "\u2014", entry.get("currency").asText(),
                entry.get("total").asText()), rows.get(i));
        }
        assertTrue(rows.contains(List.of("globex", "final", number, "USD", finalInvoice.get("total").asText())), rows.toString());
        browser.screenshots("invoices-listing");
    }

    @Test
    void anIngestKeyIsRefusedTheInvoicesAndTheRefusalSaysWhichKeyIsNeeded() throws Exception
    {
        browser.useKey(KEYS.secret("gateway"));
        browser.open("#/invoices/acme/" + USAGE_PERIOD);
        final String refusal = browser.text(By.cssSelector("#invoice-results .error"));
        assertTrue(refusal.startsWith("Error:") && refusal.contains("403") && refusal.contains("may not read invoices")
            && refusal.contains("needs a read key"), refusal);
        browser.screenshots("invoice-refused-ingest-key");
        browser.open("#/invoices?period=" + USAGE_PERIOD);
        final String listing = browser.text(By.cssSelector("#listing-results .error"));
        assertTrue(listing.contains("403") && listing.contains("a read key for every tenant"), listing);
        assertTrue(browser.driver.findElements(By.id("listing-table")).isEmpty(), "no tenant is shown");
        browser.open("#/usage?tenant=acme&from=2025-09-01&to=2025-10-01");
        assertTrue(browser.text(By.cssSelector("#usage-results .error")).contains("403"));
        assertTrue(browser.driver.findElements(By.cssSelector("#tenants option")).isEmpty(), "no tenant is offered");

        // a key the server does not know: a 401 that says which key the page needs
        browser.useKey("tm_not-a-key-the-server-knows-000000000000000000");
        browser.open("#/invoices/acme/" + USAGE_PERIOD);
        final String unknown = browser.text(By.cssSelector("#invoice-results .error"));
        assertTrue(unknown.contains("401") && unknown.contains("This needs a read key for tenant acme"), unknown);

        // the browser's log is read (the check after each test relies on it): the refusals above are in it
        assertEquals(List.of(), browser.pageProblems());
        assertTrue(browser.logSeen().stream().anyMatch(line -> line.contains("status of 403")), browser.logSeen().toString());
    }

    @Test
    void theOperationsPageMovesWhenTrafficArrives() throws Exception
    {
        browser.useKey(KEYS.secret("ops"));
        browser.open("#/operations");
        assertEquals("ready", browser.text(By.id("ops-readiness")));
        final long before = Long.parseLong(browser.text(By.id("ops-accepted")));
        final String partitions = metric(as("ops").get("/metrics").body(), "tokenmeter_partitions");
        assertEquals(partitions, browser.text(By.id("ops-partition-count")));
        assertEquals(Integer.parseInt(partitions), browser.bodyCells(By.id("ops-partition-table")).size());
        assertEquals("this node", browser.bodyCells(By.id("ops-partition-table")).get(0).get(1));

        // traffic until the page shows a rate above zero (bounded: 300 requests, 60 s)
        int posted = 0;
        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (posted < 300 * 5 && System.nanoTime() < until && !rateAboveZero())
        {
            final StringBuilder batch = new StringBuilder("[");
            for (int i = 0; i < 5; i++)
            {
                batch.append(i == 0 ? "" : ",").append(event("ops" + posted++, "opsco", "gpt-4o", "2025-09-01T00:00:00Z",
                    "\"input_tokens\":1"));
            }
            post(batch.append(']').toString());
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
        }
        assertTrue(rateAboveZero(), "the rate moved above zero: " + browser.text(By.id("ops-rate")));
        final long expected = before + posted;
        browser.waitFor(() -> Long.parseLong(browser.text(By.id("ops-accepted"))) == expected,
            "the page to count all " + expected + " accepted events");
        final String p50 = browser.text(By.id("ops-p50"));
        assertTrue(p50.matches("\\d+\\.\\d{3} ms"), p50);
        browser.waitFor(() -> browser.first(By.cssSelector("#ops-chart canvas")), "the rate's chart (from the second reading)");
        browser.screenshots("operations");

        // a read key for one tenant may not read metrics: the page says so, and still shows readiness (open to all)
        browser.useKey(KEYS.secret("finance-acme"));
        browser.open("#/operations");
        final String refusal = browser.text(By.cssSelector("#ops-problems .error"));
        assertTrue(refusal.contains("403") && refusal.contains("read metrics"), refusal);
        assertEquals("ready", browser.text(By.id("ops-readiness")));
    }

    private static boolean rateAboveZero()
    {
        final String rate = browser.text(By.id("ops-rate"));
        return rate.endsWith(" events/s") && Double.parseDouble(rate.substring(0, rate.indexOf(' '))) > 0;
    }

    @Test
    void thePricesPageShowsTheBookInForce() throws Exception
    {
        browser.useKey(KEYS.secret("finance"));
        browser.open("#/prices");
        final JsonNode prices = as("finance").get("/v1/prices").json();
        assertEquals(prices.get("revision").asText(), browser.text(By.id("prices-revision")));
        final JsonNode sections = prices.get("book").get("currencies");
        final List<String> codes = new java.util.ArrayList<>();
        sections.fieldNames().forEachRemaining(codes::add);
        assertEquals(List.of("USD", "CNY"), codes, "the shipped book: USD first, then CNY");
        assertEquals("USD, CNY", browser.text(By.id("prices-currency")));
        final List<String> columns = browser.columns(By.id("prices-table"));
        for (final String code : codes)
        {
            final JsonNode models = sections.get(code).get("models");
            final List<List<String>> rows = browser.bodyCells(By.id(code.equals("USD") ? "prices-table" : "prices-table-" + code));
            int entries = 0;
            for (final java.util.Iterator<JsonNode> it = models.elements(); it.hasNext(); )
            {
                entries += it.next().size();
            }
            assertEquals(entries, rows.size(), code + ": one row per price version");
            final String entry = code.equals("USD") ? "gpt-4o*" : "qwen-plus*";
            final JsonNode versions = models.get(entry);
            final List<String> row = rows.stream().filter(r -> r.get(0).equals(entry)).findFirst().orElseThrow();
            assertEquals(versions.get(0).get("effective_from").asText(), row.get(columns.indexOf("effective_from")));
            assertEquals(versions.get(0).get("per_million").get("input").asText(), row.get(columns.indexOf("input")));
            assertEquals(versions.get(0).get("per_million").get("output").asText(), row.get(columns.indexOf("output")));
        }
        browser.screenshots("prices");

        browser.open("#/prices?model=claude");
        final List<List<String>> claude = browser.bodyCells(By.id("prices-table"));
        assertFalse(claude.isEmpty());
        claude.forEach(r -> assertTrue(r.get(0).contains("claude"), r.toString()));
    }

    /** A one-model book whose input price tells the revisions apart. */
    private static String oneModelBook(final String input)
    {
        return "{\"currency\":\"USD\",\"models\":{\"gpt-x*\":[{\"effective_from\":\"2025-01-01T00:00:00Z\","
            + "\"per_million\":{\"input\":\"" + input + "\",\"output\":\"8.00\"}}]}}";
    }

    /** @return the input price of {@code gpt-x*} in the prices page's global table. */
    private static String inputPriceShown(final ConsoleBrowser on)
    {
        final List<String> columns = on.columns(By.id("prices-table"));
        final List<List<String>> rows = on.bodyCells(By.id("prices-table"));
        assertEquals(1, rows.size(), rows.toString());
        assertEquals("gpt-x*", rows.get(0).get(columns.indexOf("entry")));
        return rows.get(0).get(columns.indexOf("input"));
    }

    @Test
    void thePricesPageListsEveryRevisionAndShowsAnEarlierOneAsItWasPut() throws Exception
    {
        // a server of its own: the other tests price with the shipped book
        try (TokenmeterServer own = TestServer.start(dir.resolve("revisions-data"),
                Map.of("keys", KEYS.write(dir.resolve("revisions-keys.yaml")).toString()));
             ConsoleBrowser on = new ConsoleBrowser("http://127.0.0.1:" + own.port(), dir.resolve("revisions-downloads")))
        {
            final Client admin = new Client(own.port()).withKey(KEYS.secret("ops"));
            assertEquals(200, admin.put("/v1/prices", "application/json", oneModelBook("2.00")).status());
            assertEquals(200, admin.put("/v1/prices", "application/json", oneModelBook("2.40")).status());
            final JsonNode listed = admin.get("/v1/prices/revisions").json().get("revisions");
            assertEquals(3, listed.size(), "the shipped book and the two put: " + listed);

            on.useKey(KEYS.secret("finance"));
            on.open("#/prices");
            assertEquals("3", on.text(By.id("prices-revision")));
            assertTrue(on.text(By.id("prices-state")).contains("in force"));
            assertEquals("2.40", inputPriceShown(on));
            final List<String> columns = on.columns(By.id("prices-revisions"));
            final List<List<String>> rows = on.bodyCells(By.id("prices-revisions"));
            assertEquals(3, rows.size(), "every revision: " + rows);
            for (int i = 0; i < 3; i++)
            {
                final JsonNode revision = listed.get(i);
                final List<String> row = rows.get(i);
                assertEquals(revision.get("revision").asText(), row.get(columns.indexOf("revision")), "newest first");
                assertEquals(revision.get("recorded_at").asText(), row.get(columns.indexOf("recorded_at")));
                assertEquals(revision.get("sha256").asText().substring(0, 12) + "\u2026", row.get(columns.indexOf("sha256")));
                assertEquals(i == 0, row.get(columns.indexOf("state")).contains("in force"), "the book in force is marked: " + row);
            }
            assertTrue(rows.get(0).get(columns.indexOf("state")).contains("shown"));
            on.screenshots("prices-revisions");

            on.driver.findElement(By.cssSelector("#prices-revisions a[data-revision='2']")).click();
            on.waitFor(() -> "2".equals(on.text(By.id("prices-revision"))), "revision 2 on screen");
            on.waitReady();
            assertTrue(((String)on.js("return location.hash;")).startsWith("#/prices/revisions/2"), "a deep link of its own");
            assertEquals("Prices: revision 2", on.text(By.tagName("h2")));
            assertTrue(on.text(By.id("prices-state")).contains("not in force (revision 3 is)"), on.text(By.id("prices-state")));
            assertEquals(listed.get(1).get("sha256").asText(), on.text(By.id("prices-sha256")));
            assertEquals("2.00", inputPriceShown(on), "the earlier book's price, as it was put");
            assertTrue(on.bodyCells(By.id("prices-revisions")).get(1).get(columns.indexOf("state")).contains("shown"));
            on.screenshots("prices-revision-earlier");

            on.open("#/prices/revisions/9");
            assertTrue(on.text(By.cssSelector("#prices-results .error")).contains("revision 9 was never recorded"),
                "the API's 404 is shown");
            assertEquals(List.of(), on.pageProblems());
        }
    }

    @Test
    void theCreditsPageShowsEachGrantWithTheApisNumbers() throws Exception
    {
        post("[" + event("cr1", "bigco", "gpt-4o-2024-08-06", "2025-10-02T09:00:00Z", "\"input_tokens\":1234567")
            + "," + event("cr2", "bigco", "claude-sonnet-4-5", "2025-10-15T12:30:00Z", "\"input_tokens\":3000000") + "]");
        for (final String grant : List.of(
            "{\"id\":\"welcome\",\"amount\":\"2.00\",\"effective_at\":\"2025-10-01T00:00:00Z\",\"expires_at\":"
                + "\"2025-11-01T00:00:00Z\",\"models\":[\"gpt-4o*\"]}",
            "{\"id\":\"annual\",\"amount\":\"100.00\",\"effective_at\":\"2025-01-01T00:00:00Z\",\"expires_at\":"
                + "\"2026-01-01T00:00:00Z\",\"priority\":5}"))
        {
            final Client.Answer recorded = as("ops").post("/v1/tenants/bigco/credits", "application/json", grant);
            assertEquals(201, recorded.status(), recorded.body());
        }
        browser.useKey(KEYS.secret("finance-acme"));
        browser.open("#/credits?tenant=bigco");
        final JsonNode grants = as("finance-acme").get("/v1/tenants/bigco/credits").json().get("grants");
        assertEquals(2, grants.size(), grants.toString());
        final List<String> columns = browser.columns(By.id("credits-table"));
        final List<List<String>> rows = browser.bodyCells(By.id("credits-table"));
        assertEquals(grants.size(), rows.size(), "one row per grant");
        for (int i = 0; i < rows.size(); i++)
        {
            final JsonNode grant = grants.get(i);
            for (int c = 0; c < columns.size(); c++)
            {
                final String column = columns.get(c);
                final String expected = column.equals("models") ? String.join(", ",
                    Client.JSON.convertValue(grant.get("models"), String[].class)) : grant.get(column).asText();
                assertEquals(expected, rows.get(i).get(c), "grant " + i + " " + column);
            }
        }
        assertEquals("welcome", rows.get(0).get(columns.indexOf("id")), "in draw order: priority 0 before 5");
        assertTrue(!grants.get(0).get("held").asText().equals("0.00") && !grants.get(1).get("held").asText().equals("0.00"),
            "both grants are held by the October draft: " + grants);
        browser.screenshots("credits");

        // the tenant's invoice links to its credits; a key for another tenant is refused them
        browser.open("#/invoices/bigco/" + INVOICE_PERIOD);
        assertTrue(browser.text(By.id("invoice-lines")).contains("welcome"), "the draft's credit lines name the grants");
        browser.useKey(KEYS.secret("gateway"));
        browser.open("#/credits?tenant=bigco");
        final String refusal = browser.text(By.cssSelector("#credits-results .error"));
        assertTrue(refusal.contains("403") && refusal.contains("may not read the credit grants"), refusal);
        assertTrue(browser.driver.findElements(By.id("credits-table")).isEmpty(), "no grant is shown");
    }

    @Test
    void theKeyboardAloneReachesThePagesAndTheirForms()
    {
        browser.useKey(KEYS.secret("finance-acme"));
        browser.open("#/usage");
        browser.js("document.activeElement.blur(); window.scrollTo(0, 0);");
        WebElement focused = null;
        for (int i = 0; i < 20; i++)
        {
            browser.driver.switchTo().activeElement().sendKeys(Keys.TAB);
            focused = browser.driver.switchTo().activeElement();
            if ("invoices".equals(focused.getAttribute("data-page")))
            {
                break;
            }
        }
        assertNotNull(focused);
        assertEquals("invoices", focused.getAttribute("data-page"), "Tab reaches the Invoices link");
        focused.sendKeys(Keys.ENTER);
        browser.waitFor(() -> "invoices".equals(browser.js("return document.getElementById('main').dataset.page;")),
            "the invoices page");
        browser.waitReady();
        // the tenant field of "one tenant's invoice", typed and sent with Enter
        final WebElement tenant = browser.driver.findElement(By.id("f-invoice-tenant"));
        tenant.sendKeys("acme");
        final WebElement period = browser.driver.findElement(By.id("f-invoice-period"));
        period.clear();
        period.sendKeys(USAGE_PERIOD, Keys.ENTER);
        browser.waitFor(() -> browser.driver.getCurrentUrl().endsWith("#/invoices/acme/" + USAGE_PERIOD), "the invoice's deep link");
        browser.waitReady();
        assertEquals("Invoice of acme for " + USAGE_PERIOD, browser.text(By.tagName("h2")));
    }

    @Test
    void onAnOpenServerTheReadmeEventShowsInTheUsageChartAndOnTheDraftInvoice() throws Exception
    {
        final String readmeEvent = readmeExampleEvent();
        try (TokenmeterServer open = TestServer.start(dir.resolve("open-data"), Map.of());
             ConsoleBrowser fresh = new ConsoleBrowser("http://127.0.0.1:" + open.port(), dir.resolve("open-downloads")))
        {
            final Client openClient = new Client(open.port());
            assertEquals(202, openClient.post("/v1/events", "application/json", readmeEvent).status());
            fresh.open("#/usage");
            assertTrue(fresh.text(By.id("key-state")).startsWith("Open server"), "no key is asked for");
            assertNull(fresh.first(By.id("key-input")));
            // the new user types the tenant and presses Enter
            fresh.driver.findElement(By.id("f-tenant")).sendKeys("acme", Keys.ENTER);
            fresh.waitFor(() -> fresh.first(By.id("usage-table")), "the usage table");
            fresh.waitReady();
            final String period = YearMonth.now(ZoneOffset.UTC).toString();
            final JsonNode rows = openClient.get("/v1/usage?tenant=acme&from=" + period + "-01T00:00:00Z&to="
                + YearMonth.now(ZoneOffset.UTC).plusMonths(1) + "-01T00:00:00Z&granularity=day&consistent=true").json().get("rows");
            assertEquals(1, rows.size(), rows.toString());
            assertEquals("1200", rows.get(0).get("input_tokens").asText());
            final List<List<String>> cells = fresh.bodyCells(By.id("usage-table"));
            assertEquals(1, cells.size());
            final List<String> columns = fresh.columns(By.id("usage-table"));
            assertEquals("gpt-4o-2024-08-06", cells.get(0).get(columns.indexOf("model")));
            assertEquals("1200", cells.get(0).get(columns.indexOf("input_tokens")));
            assertTrue(fresh.text(By.cssSelector("#usage-chart .u-legend")).contains("gpt-4o-2024-08-06"), "in the chart");
            fresh.screenshots("readme-usage");

            fresh.driver.findElement(By.id("usage-invoice")).click();
            fresh.waitFor(() -> fresh.first(By.id("invoice-lines")), "the draft invoice");
            final JsonNode invoice = openClient.get("/v1/invoices/acme/" + period).json();
            assertEquals("draft", fresh.text(By.id("invoice-state")));
            final List<String> lineColumns = fresh.columns(By.id("invoice-lines"));
            final List<List<String>> lines = fresh.bodyCells(By.id("invoice-lines"));
            assertTrue(lines.stream().anyMatch(l -> l.get(lineColumns.indexOf("model")).equals("gpt-4o-2024-08-06")
                && l.get(lineColumns.indexOf("token_class")).equals("input") && l.get(lineColumns.indexOf("quantity")).equals("1200")),
                lines.toString());
            assertEquals(invoice.get("total").asText() + " USD", fresh.text(By.id("invoice-total")));
            fresh.screenshots("readme-draft-invoice");
            assertEquals(List.of(), fresh.pageProblems());
        }
    }

    /** @return the body of the README's first example POST of one event (the "Try it" section). */
    private static String readmeExampleEvent() throws Exception
    {
        final String readme = Files.readString(Path.of("..", "README.md"));
        final Matcher m = Pattern.compile("curl -s -X POST localhost:8080/v1/events -H 'Content-Type: application/json' -d '(\\{[^']*\\})'")
            .matcher(readme);
        assertTrue(m.find(), "README.md has the example event");
        return m.group(1);
    }

    private static String metric(final String scrape, final String name)
    {
        for (final String line : scrape.split("\n"))
        {
            if (line.startsWith(name + " "))
            {
                final String value = line.substring(name.length() + 1).trim();
                return value.endsWith(".0") ? value.substring(0, value.length() - 2) : value;
            }
        }
        throw new AssertionError(name + " not in the scrape");
    }

    /** The draft's usage_through moves with the clock; everything else of two reads is the same. */
    private static String stripUsageThrough(final String json)
    {
        return json.replaceAll("\"usage_through\":\"[^\"]*\"", "");
    }

    private static void assertLinesEqual(final JsonNode invoice)
    {
        final By lines = By.id("invoice-lines");
        final List<String> columns = browser.columns(lines);
        final List<List<String>> rows = browser.bodyCells(lines);
        assertEquals(invoice.get("lines").size(), rows.size(), "one row per line");
        assertTrue(rows.size() >= 5, "the invoice has lines of several models and classes: " + rows);
        for (int i = 0; i < rows.size(); i++)
        {
            final JsonNode line = invoice.get("lines").get(i);
            for (int c = 0; c < columns.size(); c++)
            {
                final JsonNode value = line.get(columns.get(c));
                final String expected = value == null || value.isNull() ? "\u2014" : value.asText();
                assertEquals(expected, rows.get(i).get(c), "line " + i + " " + columns.get(c));
            }
        }
    }

    private static void assertTableEqualsRows(final By table, final JsonNode rows, final List<String> fields)
    {
        assertEquals(fields, browser.columns(table), "the table's columns are the API's fields");
        final List<List<String>> cells = browser.bodyCells(table);
        assertEquals(rows.size(), cells.size(), "one table row per API row");
        for (int i = 0; i < rows.size(); i++)
        {
            final List<String> expected = new ArrayList<>();
            for (final String f : fields)
            {
                expected.add(rows.get(i).get(f).asText());
            }
            assertEquals(expected, cells.get(i), "row " + i);
        }
    }
}
