package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.core.money.Money;
import io.tokenmeter.server.TokenmeterServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Budgets and reservations (SPEC section 12) through the whole server over real HTTP: parallel reservations against
 * a hard budget, settling for less, more and twice, release, expiry by the log's clock, and a restart.
 */
class BudgetsServerTest
{
    /** gpt-x: 2.50 input and 10.00 output per million, so a reservation of 100,000 in and 10,000 out holds 0.35. */
    private static final String BOOK = "{\"currency\":\"USD\",\"models\":{"
        + "\"gpt-x*\":[{\"effective_from\":\"2025-01-01T00:00:00Z\",\"per_million\":{\"input\":\"2.50\",\"output\":\"10.00\"}}]}}";
    private static final BigDecimal INPUT_RATE = new BigDecimal("2.50");
    private static final BigDecimal OUTPUT_RATE = new BigDecimal("10.00");
    private static final long MAX_IN = 100_000;
    private static final long MAX_OUT = 10_000;
    private static final BigDecimal HOLD = new BigDecimal("0.35");

    @TempDir
    Path dataDir;
    @TempDir
    Path configDir;

    private TokenmeterServer server;
    private Client client;

    private void start() throws Exception
    {
        final Path prices = configDir.resolve("prices.json");
        Files.writeString(prices, BOOK);
        server = TestServer.start(dataDir, new HashMap<>(Map.of("prices", prices.toString())));
        client = new Client(server.port());
    }

    @AfterEach
    void stop()
    {
        if (server != null)
        {
            server.close();
        }
    }

    private void budget(final String tenant, final String limit, final String mode)
    {
        final Client.Answer answer = client.put("/v1/budgets/" + tenant, "application/json", "{\"limit\":\"" + limit
            + "\",\"period\":\"month\",\"mode\":\"" + mode + "\"}");
        assertEquals(200, answer.status(), answer.body());
        assertEquals(limit, answer.json().get("limit").asText());
    }

    private Client.Answer reserve(final String tenant, final String id, final long in, final long out, final String ttl)
    {
        return client.post("/v1/reservations", "application/json", "{\"id\":\"" + id + "\",\"tenant\":\"" + tenant
            + "\",\"model\":\"gpt-x\",\"max_input_tokens\":" + in + ",\"max_output_tokens\":" + out + ",\"ttl\":\"" + ttl + "\"}");
    }

    private void settle(final String tenant, final String eventId, final String reservation, final long in, final long out)
    {
        final Client.Answer answer = client.post("/v1/events", "application/json", "{\"id\":\"" + eventId + "\",\"tenant\":\""
            + tenant + "\",\"model\":\"gpt-x\",\"input_tokens\":" + in + ",\"output_tokens\":" + out
            + (reservation == null ? "" : ",\"reservation\":\"" + reservation + "\"") + "}");
        assertEquals(202, answer.status(), answer.body());
        assertEquals(1, answer.json().get("accepted").asInt(), answer.body());
    }

    private JsonNode budgetOf(final String tenant)
    {
        final Client.Answer answer = client.get("/v1/budgets/" + tenant);
        assertEquals(200, answer.status(), answer.body());
        return answer.json();
    }

    private String state(final String tenant, final String id)
    {
        final Client.Answer answer = client.get("/v1/reservations/" + tenant + "/" + id);
        assertEquals(200, answer.status(), answer.body());
        return answer.json().get("state").asText();
    }

    /** @return what the invoice charges for these tokens: one line per class, each rounded to the cent. */
    private static BigDecimal priced(final long input, final long output)
    {
        return Money.round(BigDecimal.valueOf(input).multiply(INPUT_RATE).movePointLeft(6), 2)
            .add(Money.round(BigDecimal.valueOf(output).multiply(OUTPUT_RATE).movePointLeft(6), 2));
    }

    @Test
    void twoHundredParallelReservationsAgainstABudgetForThirtySevenGrantExactlyThirtySeven() throws Exception
    {
        start();
        final BigDecimal limit = HOLD.multiply(BigDecimal.valueOf(37));
        budget("acme", limit.toPlainString(), "hard");
        final int n = 200;
        final ExecutorService pool = Executors.newFixedThreadPool(n);
        final CountDownLatch go = new CountDownLatch(1);
        final AtomicBoolean reading = new AtomicBoolean(true);
        final AtomicInteger reads = new AtomicInteger();
        final AtomicReference<String> negative = new AtomicReference<>();
        final Thread reader = new Thread(() ->
        {
            // available is read while the reservations race: it must never be below zero, nor spent + reserved above the limit
            final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (reading.get() && System.nanoTime() < until)
            {
                final JsonNode b = budgetOf("acme");
                reads.incrementAndGet();
                final BigDecimal available = new BigDecimal(b.get("available").asText());
                final BigDecimal used = new BigDecimal(b.get("spent").asText()).add(new BigDecimal(b.get("reserved").asText()));
                if (available.signum() < 0 || used.compareTo(limit) > 0)
                {
                    negative.compareAndSet(null, b.toString());
                }
            }
        });
        final List<Future<Client.Answer>> answers = new ArrayList<>();
        try
        {
            for (int i = 0; i < n; i++)
            {
                final String id = "req-" + i;
                answers.add(pool.submit(() ->
                {
                    go.await();
                    return reserve("acme", id, MAX_IN, MAX_OUT, "10m");
                }));
            }
            reader.start();
            go.countDown();
            final List<String> granted = new ArrayList<>();
            int refused = 0;
            for (int i = 0; i < n; i++)
            {
                final Client.Answer answer = answers.get(i).get(60, TimeUnit.SECONDS);
                if (answer.status() == 201)
                {
                    assertEquals(HOLD.toPlainString(), answer.json().get("held").asText(), answer.body());
                    granted.add(answer.json().get("reservation").asText());
                }
                else
                {
                    assertEquals(402, answer.status(), answer.body());
                    assertEquals("budget_exceeded", answer.json().get("error").asText());
                    assertEquals(HOLD.toPlainString(), answer.json().get("needed").asText(), answer.body());
                    assertTrue(new BigDecimal(answer.json().get("available").asText()).compareTo(HOLD) < 0, answer.body());
                    refused++;
                }
            }
            assertEquals(37, granted.size(), "exactly the reservations the budget covers are granted");
            assertEquals(n - 37, refused);
            JsonNode b = budgetOf("acme");
            assertEquals("0.00", b.get("spent").asText());
            assertEquals(limit.toPlainString(), b.get("reserved").asText());
            assertEquals("0.00", b.get("available").asText());
            assertEquals(37, b.get("open_reservations").asInt());

            // settle every hold with random real usage within it, in parallel too
            final Random random = new Random(20);
            long input = 0;
            long output = 0;
            final List<Future<?>> settles = new ArrayList<>();
            for (int i = 0; i < granted.size(); i++)
            {
                final long in = random.nextInt((int)MAX_IN + 1);
                final long out = random.nextInt((int)MAX_OUT + 1);
                input += in;
                output += out;
                final String reservation = granted.get(i);
                settles.add(pool.submit(() -> settle("acme", "ev-" + reservation, reservation, in, out)));
            }
            for (final Future<?> settle : settles)
            {
                settle.get(60, TimeUnit.SECONDS);
            }
            final BigDecimal expected = priced(input, output);
            b = budgetOf("acme");
            assertEquals(expected.toPlainString(), b.get("spent").asText(), "spend is the usage priced as the invoice prices it");
            assertEquals("0.00", b.get("reserved").asText(), "every hold was settled");
            assertEquals(limit.subtract(expected).toPlainString(), b.get("available").asText());
            assertEquals(0, b.get("open_reservations").asInt());
            final JsonNode invoice = client.get("/v1/invoices/acme/" + java.time.YearMonth.now(java.time.ZoneOffset.UTC)).json();
            assertEquals(expected.toPlainString(), invoice.get("total").asText(), invoice.toString());
            for (final String reservation : granted)
            {
                assertEquals("settled", state("acme", reservation));
            }
        }
        finally
        {
            reading.set(false);
            reader.join(TimeUnit.SECONDS.toMillis(30));
            pool.shutdownNow();
        }
        assertTrue(reads.get() > 0, "the budget was read while the reservations raced");
        assertNull(negative.get(), "available was never negative when read: " + negative.get());
    }

    @Test
    void settlingForLessForMoreTwiceAndAfterExpiryReleasingAndRetries() throws Exception
    {
        start();
        budget("acme", "1.00", "hard");
        assertEquals(201, reserve("acme", "less", MAX_IN, MAX_OUT, "10m").status());
        assertEquals(201, reserve("acme", "more", MAX_IN, MAX_OUT, "10m").status());
        final Client.Answer retry = reserve("acme", "less", MAX_IN, MAX_OUT, "10m");
        assertEquals(200, retry.status(), "the same id and terms is the same hold: " + retry.body());
        assertEquals(HOLD.toPlainString(), retry.json().get("held").asText());
        final Client.Answer other = reserve("acme", "less", MAX_IN, 1, "10m");
        assertEquals(409, other.status(), other.body());
        assertEquals("reservation_conflict", other.json().get("error").asText());
        assertEquals("0.70", budgetOf("acme").get("reserved").asText());
        // 0.30 left: a third 0.35 hold does not fit
        final Client.Answer third = reserve("acme", "third", MAX_IN, MAX_OUT, "10m");
        assertEquals(402, third.status(), third.body());
        assertEquals("0.30", third.json().get("available").asText());
        assertEquals("0.35", third.json().get("needed").asText());

        settle("acme", "e-less", "less", 40_000, 1_000);
        assertEquals("settled", state("acme", "less"));
        JsonNode b = budgetOf("acme");
        assertEquals(priced(40_000, 1_000).toPlainString(), b.get("spent").asText(), "settled for less: its real usage");
        assertEquals("0.35", b.get("reserved").asText());

        settle("acme", "e-more", "more", 300_000, 30_000);
        b = budgetOf("acme");
        final BigDecimal spent = priced(340_000, 31_000);
        assertEquals(spent.toPlainString(), b.get("spent").asText(), "usage above the hold is counted in full");
        assertEquals("0.00", b.get("reserved").asText());

        settle("acme", "e-more-again", "more", 1_000, 0);
        b = budgetOf("acme");
        assertEquals(priced(341_000, 31_000).toPlainString(), b.get("spent").asText(), "a second settle counts its usage");
        assertEquals("0.00", b.get("reserved").asText(), "and releases nothing twice");
        assertEquals("settled", state("acme", "more"));

        // spend passed the limit (usage is never refused): available is negative and every hold is refused
        assertTrue(new BigDecimal(b.get("available").asText()).signum() < 0, b.toString());
        assertEquals(402, reserve("acme", "tiny", 1, 0, "10m").status());

        budget("acme", "10.00", "hard");
        assertEquals(201, reserve("acme", "released", MAX_IN, MAX_OUT, "10m").status());
        final Client.Answer released = client.request("DELETE", "/v1/reservations/acme/released", null, null);
        assertEquals(200, released.status(), released.body());
        assertEquals("released", released.json().get("state").asText());
        assertEquals(200, client.request("DELETE", "/v1/reservations/acme/released", null, null).status(),
            "releasing again is answered the same");
        assertEquals(409, client.request("DELETE", "/v1/reservations/acme/less", null, null).status(),
            "a settled hold has nothing to release");
        assertEquals(404, client.request("DELETE", "/v1/reservations/acme/never", null, null).status());
        assertEquals("0.00", budgetOf("acme").get("reserved").asText());

        // expiry is decided by the log's clock: the first document after expires_at
        assertEquals(201, reserve("acme", "expiring", MAX_IN, MAX_OUT, "1s").status());
        assertEquals("0.35", budgetOf("acme").get("reserved").asText());
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1300));
        settle("acme", "e-tick", null, 1, 0);
        assertEquals("expired", state("acme", "expiring"));
        final BigDecimal before = new BigDecimal(budgetOf("acme").get("spent").asText());
        assertEquals("0.00", budgetOf("acme").get("reserved").asText());
        settle("acme", "e-late", "expiring", 100_000, 0);
        assertEquals(before.add(new BigDecimal("0.25")).toPlainString(), budgetOf("acme").get("spent").asText(),
            "an event settling an expired hold is still counted");
        assertEquals("expired", state("acme", "expiring"));
    }

    @Test
    void holdsAndBudgetsSurviveARestartAndASoftBudgetNeverRefuses() throws Exception
    {
        start();
        budget("acme", "0.50", "soft");
        for (int i = 0; i < 3; i++)
        {
            assertEquals(201, reserve("acme", "soft-" + i, MAX_IN, MAX_OUT, "1h").status(), "a soft budget only alerts");
        }
        budget("globex", "0.40", "hard");
        assertEquals(201, reserve("globex", "g-1", MAX_IN, MAX_OUT, "1h").status());
        settle("acme", "a-1", "soft-0", 10_000, 100);
        final JsonNode acme = budgetOf("acme");
        final JsonNode globex = budgetOf("globex");
        assertTrue(new BigDecimal(acme.get("available").asText()).signum() < 0, acme.toString());

        server.close();
        server = null;
        start();
        assertEquals(acme.toString(), budgetOf("acme").toString(), "the same budget, spend and holds after a restart");
        assertEquals(globex.toString(), budgetOf("globex").toString());
        assertEquals("settled", state("acme", "soft-0"));
        assertEquals("open", state("acme", "soft-1"));
        assertEquals(402, reserve("globex", "g-2", MAX_IN, MAX_OUT, "1h").status(), "the hold made before still counts");
        assertEquals(200, reserve("globex", "g-1", MAX_IN, MAX_OUT, "1h").status(), "and its retry is answered");
        assertEquals(404, client.get("/v1/budgets/initech").status(), "a tenant without a budget");
    }

    /** @return the draft invoice's total of the tenant this month. */
    private BigDecimal invoiceTotal(final String tenant)
    {
        final Client.Answer answer = client.get("/v1/invoices/" + tenant + "/" + java.time.YearMonth.now(java.time.ZoneOffset.UTC));
        assertEquals(200, answer.status(), answer.body());
        return new BigDecimal(answer.json().get("total").asText());
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"graduated", "volume"})
    void spendIsWhatTheInvoiceChargesUnderBandsAndADayIsWhatItAddsToTheMonth(final String mode) throws Exception
    {
        final Path prices = configDir.resolve("banded.json");
        Files.writeString(prices, "{\"currency\":\"USD\",\"models\":{\"gpt-x*\":[{\"effective_from\":\"2025-01-01T00:00:00Z\","
            + "\"per_million\":{\"input\":{\"tiers\":{\"mode\":\"" + mode + "\",\"bands\":[{\"up_to\":150000,\"per_million\":"
            + "\"3.00\"},{\"up_to\":null,\"per_million\":\"1.00\"}]}},\"output\":\"10.00\"}}]}}");
        server = TestServer.start(dataDir, new HashMap<>(Map.of("prices", prices.toString())));
        client = new Client(server.port());
        final java.time.ZonedDateTime now = java.time.ZonedDateTime.now(java.time.ZoneOffset.UTC);
        final boolean firstDay = now.getDayOfMonth() == 1;
        final String earlier = now.withDayOfMonth(1).toLocalDate() + "T00:30:00Z";
        // acme and globex have the same usage on the month's first day; acme has more today
        final Random random = new Random(7);
        for (int i = 0; i < 40; i++)
        {
            final long in = random.nextInt(20_000);
            final long out = random.nextInt(2_000);
            final boolean today = firstDay || i % 2 == 0;
            for (final String tenant : today ? List.of("acme") : List.of("acme", "globex"))
            {
                final Client.Answer posted = client.post("/v1/events", "application/json", "{\"id\":\"b" + i + "\",\"tenant\":\""
                    + tenant + "\",\"model\":\"gpt-x-" + (i % 3) + "\",\"input_tokens\":" + in + ",\"output_tokens\":" + out
                    + (today ? "" : ",\"timestamp\":\"" + earlier + "\"") + "}");
                assertEquals(202, posted.status(), posted.body());
            }
        }
        assertEquals(200, client.put("/v1/budgets/acme", "application/json", "{\"limit\":\"100.00\"}").status());
        final BigDecimal month = invoiceTotal("acme");
        assertTrue(month.signum() > 0);
        assertEquals(month.toPlainString(), budgetOf("acme").get("spent").asText(), "a month's spend is its invoice's total");
        assertEquals(200, client.put("/v1/budgets/acme", "application/json", "{\"limit\":\"100.00\",\"period\":\"day\"}")
            .status());
        final BigDecimal before = firstDay ? BigDecimal.ZERO : invoiceTotal("globex");
        assertEquals(month.subtract(before).setScale(2).toPlainString(), budgetOf("acme").get("spent").asText(),
            "a day's spend is what the day adds to the month's invoice (bands count from the month's first token)");
        // a hold is what one more event of its tokens adds: past 150,000 input tokens the band is the lower one
        final Client.Answer hold = reserve("acme", "banded", 100_000, 0, "10m");
        assertEquals(201, hold.status(), hold.body());
        settle("acme", "after-hold", "banded", 100_000, 0);
        assertEquals(invoiceTotal("acme").subtract(month).toPlainString(), hold.json().get("held").asText(),
            "the hold was exactly what its event added to the invoice");
    }

    @Test
    void badRequestsSayWhatToFix() throws Exception
    {
        start();
        Client.Answer answer = client.put("/v1/budgets/acme", "application/json", "{\"limit\":5,\"period\":\"week\","
            + "\"alert_percents\":[50,50],\"webhook\":\"ftp://x\",\"color\":\"red\"}");
        assertEquals(400, answer.status(), answer.body());
        assertEquals("invalid_budget", answer.json().get("error").asText());
        final String message = answer.json().get("message").asText();
        for (final String field : List.of("limit", "period", "alert_percents", "webhook", "color"))
        {
            assertTrue(message.contains(field + ":"), field + " is named: " + message);
        }
        answer = client.put("/v1/budgets/acme", "application/json", "{\"limit\":\"1.001\"}");
        assertEquals(400, answer.status());
        assertTrue(answer.body().contains("USD has 2"), answer.body());
        answer = client.post("/v1/reservations", "application/json", "{\"id\":\"x\",\"tenant\":\"acme\",\"model\":\"gpt-x\","
            + "\"max_input_tokens\":-1,\"ttl\":\"forever\"}");
        assertEquals(400, answer.status(), answer.body());
        final String problems = answer.json().get("message").asText();
        for (final String field : List.of("max_input_tokens", "max_output_tokens", "ttl"))
        {
            assertTrue(problems.contains(field + ":"), field + " is named: " + problems);
        }
        assertEquals(400, client.post("/v1/reservations", "application/json", "{not json").status());
        assertEquals(415, client.post("/v1/reservations", "text/plain", "{}").status());
        assertEquals(400, client.post("/v1/events", "application/json", "{\"id\":\"e\",\"tenant\":\"acme\",\"model\":\"gpt-x\","
            + "\"stream\":{\"seq\":-1}}").status());
    }
}
