package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import io.tokenmeter.server.Main;
import io.tokenmeter.server.TokenmeterServer;
import io.tokenmeter.server.config.Settings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Invoices, finalization, prices and the audit through the whole server over real HTTP. */
class BillingServerTest
{
    private static final String BOOK = "{\"currency\":\"USD\",\"models\":{"
        + "\"gpt-x*\":[{\"effective_from\":\"2025-01-01T00:00:00Z\",\"per_million\":{\"input\":\"2.00\",\"cache_read\":\"0.50\","
        + "\"cache_write\":\"0\",\"output\":\"8.00\"},\"service_tier_multiplier\":{\"batch\":\"0.5\"}}]},"
        + "\"tenants\":{\"acme\":{\"discount_percent\":\"10\"}}}";

    @TempDir
    Path dataDir;
    @TempDir
    Path configDir;

    private TokenmeterServer server;
    private Client client;
    private Map<String, String> settings;

    private void start(final Map<String, String> extra) throws Exception
    {
        if (settings == null)
        {
            final Path prices = configDir.resolve("prices.json");
            Files.writeString(prices, BOOK);
            settings = new HashMap<>(Map.of("prices", prices.toString()));
        }
        settings.putAll(extra);
        server = TestServer.start(dataDir, settings);
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

    private void post(final String id, final String tenant, final String timestamp, final String tokens)
    {
        final Client.Answer answer = client.post("/v1/events", "application/json", "{\"id\":\"" + id + "\",\"tenant\":\"" + tenant
            + "\",\"model\":\"gpt-x-1\",\"timestamp\":\"" + timestamp + "\"," + tokens + "}");
        assertEquals(202, answer.status(), answer.body());
        assertEquals(1, answer.json().get("accepted").asInt(), answer.body());
    }

    private JsonNode invoice(final String tenant, final String period)
    {
        final Client.Answer answer = client.get("/v1/invoices/" + tenant + "/" + period);
        assertEquals(200, answer.status(), answer.body());
        return answer.json();
    }

    private Client.Answer finalizeInvoice(final String tenant, final String period)
    {
        return client.post("/v1/invoices/" + tenant + "/" + period + "/finalize", null, "");
    }

    private int audit(final String period, final StringBuilder output)
    {
        return audit(period, output, true);
    }

    private int audit(final String period, final StringBuilder output, final boolean withServer)
    {
        final ByteArrayOutputStream captured = new ByteArrayOutputStream();
        final PrintStream original = System.out;
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try
        {
            final List<String> args = new java.util.ArrayList<>(List.of("audit", "--data-dir", dataDir.toString(), "--period", period));
            if (withServer)
            {
                args.addAll(List.of("--server", "http://127.0.0.1:" + server.port()));
            }
            return new CommandLine(new Main()).execute(args.toArray(String[]::new));
        }
        finally
        {
            System.setOut(original);
            output.append(captured.toString(StandardCharsets.UTF_8));
        }
    }

    @Test
    void pricesADraftExactlyAndFinalizesItOnce() throws Exception
    {
        start(Map.of());
        post("a1", "acme", "2025-10-03T10:15:00Z", "\"input_tokens\":1000000,\"output_tokens\":500000");
        post("a2", "acme", "2025-10-31T23:59:59.999Z", "\"input_tokens\":1000000,\"service_tier\":\"batch\"");
        post("a3", "acme", "2025-11-01T00:00:00Z", "\"input_tokens\":7");

        final JsonNode draft = invoice("acme", "2025-10");
        assertEquals("draft", draft.get("status").asText());
        assertEquals(3, draft.get("lines").size(), draft.toString());
        // 1,000,000 x 2.00 x 0.9 = 1.80; batch 1,000,000 x 2.00 x 0.5 x 0.9 = 0.90; 500,000 x 8.00 x 0.9 = 3.60
        assertEquals("6.30", draft.get("total").asText());
        assertEquals("6.30", draft.get("subtotal").asText());
        assertEquals("0.00", draft.get("adjustments").asText());

        final Client.Answer first = finalizeInvoice("acme", "2025-10");
        assertEquals(201, first.status(), first.body());
        final JsonNode fin = first.json();
        assertEquals("final", fin.get("status").asText());
        assertEquals("INV-000001", fin.get("invoice_number").asText());
        assertEquals(draft.get("lines"), fin.get("lines"));
        assertEquals("6.30", fin.get("total").asText());

        final Client.Answer again = finalizeInvoice("acme", "2025-10");
        assertEquals(200, again.status());
        assertEquals(first.body(), again.body(), "repeating finalize answers the same invoice");
        assertEquals(first.json(), invoice("acme", "2025-10"));
        assertTrue(Files.exists(dataDir.resolve("invoices/2025-10/t-acme.json")));
    }

    @Test
    void finalizingAnOpenPeriodIsAConflict() throws Exception
    {
        start(Map.of("invoice-grace", "1h"));
        final String current = YearMonth.now(ZoneOffset.UTC).toString();
        final Client.Answer answer = finalizeInvoice("acme", current);
        assertEquals(409, answer.status(), answer.body());
        assertEquals("period_open", answer.json().get("error").asText());
        assertTrue(answer.json().get("message").asText().contains("can be finalized from"), answer.body());
        assertEquals("draft", invoice("acme", current).get("status").asText());
        assertEquals(400, client.get("/v1/invoices/acme/2025-13").status());
        assertEquals(400, client.get("/v1/invoices/acme/2025-10?format=xml").status());
        assertEquals(405, client.get("/v1/invoices/acme/2025-10/finalize").status());
    }

    @Test
    void lateUsageBecomesAdjustmentLinesOnTheNextOpenInvoiceAndFinalsNeverChange() throws Exception
    {
        start(Map.of());
        post("o1", "acme", "2025-10-05T00:00:00Z", "\"input_tokens\":1000000");
        final JsonNode october = finalizeInvoice("acme", "2025-10").json();
        assertEquals("1.80", october.get("total").asText());

        post("late1", "acme", "2025-10-20T10:00:00Z", "\"input_tokens\":2000000");
        post("n1", "acme", "2025-11-02T00:00:00Z", "\"output_tokens\":1000000");
        assertEquals(october, invoice("acme", "2025-10"), "the final invoice does not change");
        final JsonNode november = invoice("acme", "2025-11");
        assertEquals("7.20", november.get("subtotal").asText());
        assertEquals("3.60", november.get("adjustments").asText());
        assertEquals("10.80", november.get("total").asText());
        final JsonNode adjustment = november.get("lines").get(1);
        assertEquals("2025-10", adjustment.get("adjustment_for").asText(), november.toString());
        assertEquals(2_000_000, adjustment.get("quantity").asLong());
        assertFalse(november.get("lines").get(0).has("adjustment_for"));

        assertEquals(201, finalizeInvoice("acme", "2025-11").status());
        post("late2", "acme", "2025-10-21T10:00:00Z", "\"input_tokens\":1000000");
        final JsonNode december = invoice("acme", "2025-12");
        assertEquals(1, december.get("lines").size(), "only the usage no final invoice has billed");
        assertEquals(1_000_000, december.get("lines").get(0).get("quantity").asLong());
        assertEquals("1.80", december.get("total").asText());
        assertEquals("10.80", invoice("acme", "2025-11").get("total").asText());

        final StringBuilder output = new StringBuilder();
        assertEquals(0, audit("2025-11", output), output.toString());
        assertEquals(0, audit("2025-12", output), output.toString());
    }

    @Test
    void csvCarriesTheSameLinesAsJson() throws Exception
    {
        start(Map.of());
        post("c1", "acme", "2025-10-03T10:00:00Z", "\"input_tokens\":1234567,\"cache_read_tokens\":1000,\"output_tokens\":350");
        post("c2", "acme", "2025-10-04T10:00:00Z", "\"input_tokens\":5,\"service_tier\":\"batch\"");
        final JsonNode json = invoice("acme", "2025-10");
        final Client.Answer csv = client.get("/v1/invoices/acme/2025-10?format=csv");
        assertEquals(200, csv.status());
        assertTrue(csv.response().headers().firstValue("content-type").orElse("").startsWith("text/csv"));
        assertEquals(csv.body(), client.get("/v1/invoices/acme/2025-10", "Accept", "text/csv").body(), "Accept: text/csv");
        final List<Map<String, String>> rows;
        try (MappingIterator<Map<String, String>> it = new CsvMapper().readerFor(Map.class)
            .with(CsvSchema.emptySchema().withHeader()).readValues(csv.body()))
        {
            rows = it.readAll();
        }
        assertEquals(json.get("lines").size() + 1, rows.size());
        for (int i = 0; i < json.get("lines").size(); i++)
        {
            final JsonNode line = json.get("lines").get(i);
            for (final Map.Entry<String, String> cell : rows.get(i).entrySet())
            {
                final JsonNode value = "currency".equals(cell.getKey()) ? json.get("currency") : line.get(cell.getKey());
                assertEquals(value == null || value.isNull() ? "" : value.asText(), cell.getValue(), "line " + i + " " + cell.getKey());
            }
        }
        final Map<String, String> total = rows.get(rows.size() - 1);
        assertEquals("total", total.get("kind"));
        assertEquals(json.get("total").asText(), total.get("amount"));
        assertEquals("USD", total.get("currency"));
    }

    @Test
    void restartKeepsFinalInvoicesAndTheBookInForce() throws Exception
    {
        start(Map.of());
        post("r1", "acme", "2025-10-03T10:00:00Z", "\"input_tokens\":1000000");
        final String finalBody = finalizeInvoice("acme", "2025-10").body();
        final JsonNode prices = client.get("/v1/prices").json();
        assertEquals(1, prices.get("revision").asInt());

        server.close();
        server = null;
        start(Map.of("prices", Settings.SHIPPED_PRICES));
        assertEquals(finalBody, finalizeInvoice("acme", "2025-10").body(), "the final invoice survives a restart");
        final JsonNode after = client.get("/v1/prices").json();
        assertEquals(1, after.get("revision").asInt(), "without --prices the book in force stays");
        assertEquals(prices.get("sha256"), after.get("sha256"));
        post("r2", "acme", "2025-11-03T10:00:00Z", "\"input_tokens\":1000000");
        assertEquals(201, finalizeInvoice("acme", "2025-11").status());
        assertEquals("INV-000002", invoice("acme", "2025-11").get("invoice_number").asText(), "numbers continue after a restart");
    }

    @Test
    void putPricesValidatesRecordsANewRevisionAndReprices() throws Exception
    {
        start(Map.of());
        post("p1", "acme", "2025-10-03T10:00:00Z", "\"input_tokens\":1000000");
        assertEquals(201, finalizeInvoice("acme", "2025-10").status());
        post("p2", "acme", "2025-11-03T10:00:00Z", "\"input_tokens\":1000000");
        assertEquals("1.80", invoice("acme", "2025-11").get("total").asText());

        final Client.Answer bad = client.put("/v1/prices", "application/json", "{\"currency\":\"USD\",\"models\":{\"gpt-x*\":"
            + "[{\"effective_from\":\"2025-01-01T00:00:00Z\",\"per_million\":{\"input\":3,\"output\":\"8\"}}]}}");
        assertEquals(400, bad.status(), bad.body());
        assertEquals("invalid_price_book", bad.json().get("error").asText());
        assertTrue(bad.json().get("details").get(0).asText().startsWith("models.\"gpt-x*\"[0].per_million.input"), bad.body());
        assertEquals(1, client.get("/v1/prices").json().get("revision").asInt(), "a refused book changes nothing");

        final Client.Answer yaml = client.put("/v1/prices", "application/yaml", "currency: USD\nmodels:\n  \"gpt-x*\":\n"
            + "    - effective_from: \"2025-01-01T00:00:00Z\"\n      per_million: {input: \"3.00\", output: \"8.00\"}\n");
        assertEquals(200, yaml.status(), yaml.body());
        assertEquals(2, yaml.json().get("revision").asInt());
        assertEquals(yaml.json(), client.get("/v1/prices").json());
        assertEquals("3.00", invoice("acme", "2025-11").get("total").asText(), "the draft is repriced, without the discount now");
        assertEquals(1, invoice("acme", "2025-10").get("price_book").get("revision").asInt(), "the final keeps its book");
        assertEquals(415, client.put("/v1/prices", "text/plain", "x").status());

        final StringBuilder output = new StringBuilder();
        assertEquals(0, audit("2025-10", output), output.toString());
        assertEquals(0, audit("2025-11", output), output.toString());
        assertTrue(output.toString().contains("OK    acme 2025-11 draft"), output.toString());
    }

    @Test
    void listingShowsEveryTenantOfThePeriod() throws Exception
    {
        start(Map.of());
        post("l1", "acme", "2025-10-03T10:00:00Z", "\"input_tokens\":1000000");
        post("l2", "beta", "2025-10-03T10:00:00Z", "\"output_tokens\":1000000");
        post("l3", "gamma", "2025-11-03T10:00:00Z", "\"output_tokens\":1000000");
        assertEquals(201, finalizeInvoice("acme", "2025-10").status());
        final JsonNode listing = client.get("/v1/invoices?period=2025-10").json();
        assertEquals("2025-10", listing.get("period").asText());
        final JsonNode invoices = listing.get("invoices");
        assertEquals(2, invoices.size(), listing.toString());
        assertEquals("acme", invoices.get(0).get("tenant").asText());
        assertEquals("final", invoices.get(0).get("status").asText());
        assertEquals("INV-000001", invoices.get(0).get("invoice_number").asText());
        assertEquals("1.80", invoices.get(0).get("total").asText());
        assertEquals("beta", invoices.get(1).get("tenant").asText());
        assertEquals("draft", invoices.get(1).get("status").asText());
        assertNull(invoices.get(1).get("invoice_number"));
        assertEquals("8.00", invoices.get(1).get("total").asText());
        assertEquals(400, client.get("/v1/invoices").status());
    }

    @Test
    void auditPassesOnAnUntouchedLogAndFailsOnATamperedInvoice() throws Exception
    {
        start(Map.of());
        post("t1", "acme", "2025-10-03T10:00:00Z", "\"input_tokens\":1000000");
        post("t2", "beta", "2025-10-03T10:00:00Z", "\"input_tokens\":3000000");
        assertEquals(201, finalizeInvoice("acme", "2025-10").status());
        assertEquals(201, finalizeInvoice("beta", "2025-10").status());
        final StringBuilder clean = new StringBuilder();
        assertEquals(0, audit("2025-10", clean), clean.toString());
        assertTrue(clean.toString().contains("OK    acme 2025-10 final INV-000001"), clean.toString());

        final Path file = dataDir.resolve("invoices/2025-10/t-acme.json");
        assertEquals("r--r--r--", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(file)),
            "final invoices are stored read-only");
        Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        final String stored = Files.readString(file);
        assertTrue(stored.contains("\"amount\" : \"1.80\""), stored);
        Files.writeString(file, stored.replace("\"amount\" : \"1.80\"", "\"amount\" : \"1.08\""));
        final StringBuilder tampered = new StringBuilder();
        assertEquals(1, audit("2025-10", tampered), tampered.toString());
        assertTrue(tampered.toString().contains("DIFF  acme 2025-10 final INV-000001: lines[0]"), tampered.toString());

        Files.writeString(file, stored);
        final StringBuilder restored = new StringBuilder();
        assertEquals(0, audit("2025-10", restored), restored.toString());
        Files.delete(file);
        final StringBuilder deleted = new StringBuilder();
        assertEquals(1, audit("2025-10", deleted, false), deleted.toString());
        assertTrue(deleted.toString().contains("a final invoice is missing"), deleted.toString());
        final Client.Answer damaged = client.get("/v1/invoices/acme/2025-10");
        assertEquals(500, damaged.status(), damaged.body());
        assertEquals("invoice_store_damaged", damaged.json().get("error").asText());
        assertTrue(damaged.json().get("message").asText().contains("restore invoices/ from a backup"), damaged.body());
    }

    @Test
    void longContextRulesOfTheBookInForceSurviveARestart() throws Exception
    {
        final Path prices = configDir.resolve("long.yaml");
        Files.writeString(prices, "currency: USD\nmodels:\n  \"gem*\":\n    - effective_from: \"2025-01-01T00:00:00Z\"\n"
            + "      per_million: {input: \"1.00\", cache_read: \"0.10\", output: \"10.00\"}\n"
            + "      long_context:\n        above_input_tokens: 200000\n"
            + "        per_million: {input: \"2.00\", cache_read: \"0.20\", output: \"15.00\"}\n");
        start(Map.of("prices", prices.toString()));
        server.close();
        server = null;
        start(Map.of("prices", Settings.SHIPPED_PRICES));
        for (final String[] e : new String[][] {{"at", "150000", "50000"}, {"above", "150000", "50001"}})
        {
            final Client.Answer answer = client.post("/v1/events", "application/json", "{\"id\":\"" + e[0] + "\",\"tenant\":\"zed\","
                + "\"model\":\"gem-pro\",\"timestamp\":\"2025-10-03T10:00:00Z\",\"input_tokens\":" + e[1]
                + ",\"cache_read_tokens\":" + e[2] + ",\"output_tokens\":1000000}");
            assertEquals(202, answer.status(), answer.body());
        }
        final JsonNode lines = invoice("zed", "2025-10").get("lines");
        assertEquals(6, lines.size(), lines.toString());
        assertEquals("standard", lines.get(0).get("context").asText());
        assertEquals("long", lines.get(1).get("context").asText());
        assertEquals("2.00", lines.get(1).get("unit_price_per_million").asText(), "input at the long rate");
        assertEquals("15.00", invoice("zed", "2025-10").get("lines").get(5).get("unit_price_per_million").asText(),
            "output of the long request at the long rate");
        assertEquals("10.00", lines.get(4).get("unit_price_per_million").asText(), "output of the request at the threshold");
    }

    @Test
    void aCnyTenantIsInvoicedInYuanFromTheCnyPricesOnlyAndAuditsClean() throws Exception
    {
        start(Map.of());
        final String book = "{\"currencies\":{"
            + "\"USD\":{\"models\":{\"gpt-x*\":[{\"effective_from\":\"2025-01-01T00:00:00Z\",\"per_million\":{\"input\":\"2.00\","
            + "\"output\":\"8.00\"}}]}},"
            + "\"CNY\":{\"models\":{\"qwen-x*\":[{\"effective_from\":\"2025-01-01T00:00:00Z\",\"per_million\":{\"input\":\"2.40\","
            + "\"output\":\"9.60\"}}]}}},"
            + "\"tenants\":{\"hangzhou\":{\"currency\":\"CNY\",\"minimum_commit\":\"10.00\"}}}";
        final Client.Answer put = client.put("/v1/prices", "application/json", book);
        assertEquals(200, put.status(), put.body());
        for (final String[] e : new String[][] {{"h1", "qwen-x-max"}, {"h2", "gpt-x-1"}})
        {
            final Client.Answer answer = client.post("/v1/events", "application/json", "{\"id\":\"" + e[0] + "\",\"tenant\":"
                + "\"hangzhou\",\"model\":\"" + e[1] + "\",\"timestamp\":\"2025-10-03T10:00:00Z\",\"input_tokens\":1234567,"
                + "\"output_tokens\":345678}");
            assertEquals(202, answer.status(), answer.body());
        }
        post("u1", "acme", "2025-10-03T10:00:00Z", "\"input_tokens\":1000000");
        final JsonNode cny = invoice("hangzhou", "2025-10");
        assertEquals("CNY", cny.get("currency").asText());
        // 1,234,567 x 2.40 / 10^6 = 2.96 and 345,678 x 9.60 / 10^6 = 3.32; gpt-x-1 has no CNY price: unpriced, not converted
        java.math.BigDecimal usage = java.math.BigDecimal.ZERO;
        for (final JsonNode line : cny.get("lines"))
        {
            usage = "usage".equals(line.get("kind").asText()) ? usage.add(new java.math.BigDecimal(line.get("amount").asText())) : usage;
        }
        assertEquals("6.28", usage.toPlainString(), cny.toString());
        final JsonNode trueUp = cny.get("lines").get(cny.get("lines").size() - 1);
        assertEquals("commit_true_up", trueUp.get("kind").asText(), cny.toString());
        assertEquals("3.72", trueUp.get("amount").asText(), "the commitment of CNY 10.00 less 6.28 of usage");
        assertEquals("10.00", cny.get("total").asText(), cny.toString());
        assertTrue(cny.get("warnings").toString().contains("'gpt-x-1' has no price in the book in CNY"), cny.toString());
        assertEquals("USD", invoice("acme", "2025-10").get("currency").asText());
        final JsonNode listing = client.get("/v1/invoices?period=2025-10").json().get("invoices");
        assertEquals("USD", listing.get(0).get("currency").asText(), listing.toString());
        assertEquals("CNY", listing.get(1).get("currency").asText(), listing.toString());
        final String csv = client.get("/v1/invoices/hangzhou/2025-10?format=csv").body();
        assertTrue(csv.contains("commit_true_up,,,,,,,,,,,,,,,,3.72,,,,CNY,") && csv.contains("total,,,,,,,,,,,,,,,,10.00,,,,CNY,"), csv);
        assertEquals(201, finalizeInvoice("hangzhou", "2025-10").status());
        final StringBuilder output = new StringBuilder();
        assertEquals(0, audit("2025-10", output), output.toString());
        assertTrue(output.toString().contains("total 10.00 CNY"), output.toString());
    }
}
