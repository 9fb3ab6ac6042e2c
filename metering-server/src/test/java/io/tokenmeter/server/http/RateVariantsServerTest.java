package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.server.Main;
import io.tokenmeter.server.TokenmeterServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Context tiers, thinking mode and time windows through the whole server: the event's {@code thinking} field, the
 * decisions kept over a restart, the invoice's line fields in JSON and CSV, and the audit of a final invoice.
 */
class RateVariantsServerTest
{
    private static final String BOOK = "{\"currency\":\"CNY\",\"models\":{\"qwen-plus\":[{\"effective_from\":\"2025-01-01T00:00:00Z\","
        + "\"per_million\":{\"input\":\"0.80\",\"output\":\"2.00\"},\"thinking\":{\"per_million\":{\"output\":\"8.00\"}},"
        + "\"context_tiers\":[{\"above_input_tokens\":128000,\"per_million\":{\"input\":\"2.40\",\"output\":\"20.00\"}}],"
        + "\"time_windows\":[{\"name\":\"night\",\"timezone\":\"Asia/Shanghai\",\"from\":\"00:30\",\"to\":\"08:30\","
        + "\"multiplier\":\"0.5\"}]}]}}";

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

    private JsonNode post(final String event)
    {
        final Client.Answer answer = client.post("/v1/events", "application/json", event);
        assertEquals(202, answer.status(), answer.body());
        return answer.json();
    }

    private static String event(final String id, final String at, final String fields)
    {
        return "{\"id\":\"" + id + "\",\"tenant\":\"acme\",\"model\":\"qwen-plus\",\"timestamp\":\"" + at + "\"," + fields + "}";
    }

    private JsonNode line(final JsonNode invoice, final String tokenClass, final String context, final String mode, final String window)
    {
        for (final JsonNode line : invoice.get("lines"))
        {
            if (line.get("token_class").asText().equals(tokenClass) && line.get("context").asText().equals(context)
                && line.get("mode").asText().equals(mode) && line.get("window").asText().equals(window))
            {
                return line;
            }
        }
        throw new AssertionError("no line " + tokenClass + "/" + context + "/" + mode + "/" + window + " in " + invoice);
    }

    @Test
    void theInvoiceNamesEachLinesTierModeAndWindowAndTheAuditRecomputesIt() throws Exception
    {
        start();
        // 10:00 Beijing: no window; 00:30 Beijing on 2025-10-03 is 16:30 UTC on 2025-10-02: the night window's first ms
        post(event("plain", "2025-10-02T02:00:00Z", "\"input_tokens\":100000,\"output_tokens\":1000000"));
        post(event("said", "2025-10-02T02:00:00Z", "\"input_tokens\":1000,\"output_tokens\":1000000,\"thinking\":true"));
        post(event("reasoned", "2025-10-02T02:00:00Z", "\"input_tokens\":1000,\"output_tokens\":1000000,\"reasoning_tokens\":10"));
        post(event("long-night", "2025-10-02T16:30:00Z", "\"input_tokens\":128001,\"output_tokens\":1000000"));
        post(event("not-said", "2025-10-02T02:00:00Z", "\"input_tokens\":1000,\"output_tokens\":1000000,\"thinking\":false"));

        final JsonNode draft = client.get("/v1/invoices/acme/2025-10").json();
        final JsonNode thinkingOutput = line(draft, "output", "standard", "thinking", "none");
        assertEquals(2_000_000, thinkingOutput.get("quantity").asLong(), "reasoning tokens or \"thinking\": true");
        assertEquals("8.00", thinkingOutput.get("unit_price_per_million").asText());
        assertEquals("16.00", thinkingOutput.get("amount").asText());
        assertEquals(2_000_000, line(draft, "output", "standard", "standard", "none").get("quantity").asLong(),
            "\"thinking\": false is standard");
        final JsonNode longNight = line(draft, "output", "128000", "standard", "night");
        assertEquals("0.5", longNight.get("window_multiplier").asText());
        assertEquals("20.00", longNight.get("unit_price_per_million").asText());
        assertEquals("10.00", longNight.get("amount").asText(), "1,000,000 x 20.00 x 0.5");
        // 128,001 x 2.40 x 0.5 = 0.1536012
        assertEquals("0.15", line(draft, "input", "128000", "standard", "night").get("amount").asText());
        assertEquals("CNY", draft.get("currency").asText());
        // input 101,000 x 0.80 = 0.08, output 2,000,000 x 2.00 = 4.00, thinking input 2,000 x 0.80 = 0.00, thinking output
        // 16.00, the long night request 0.15 + 10.00
        assertEquals("30.23", draft.get("total").asText(), draft.toString());

        final String csv = client.get("/v1/invoices/acme/2025-10?format=csv").body();
        assertTrue(csv.startsWith("kind,model,service_tier,token_class,context,mode,window,band,"), csv);
        assertTrue(csv.contains("usage,qwen-plus,standard,output,128000,standard,night,,"), csv);

        // the decisions are in the log: a restart (replay, snapshots) gives the same invoice
        server.close();
        server = null;
        start();
        assertEquals(draft.get("lines"), client.get("/v1/invoices/acme/2025-10").json().get("lines"), "the same after a restart");

        assertEquals(201, client.post("/v1/invoices/acme/2025-10/finalize", null, "").status());
        final ByteArrayOutputStream captured = new ByteArrayOutputStream();
        final PrintStream original = System.out;
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        final int exit;
        try
        {
            exit = new CommandLine(new Main()).execute("audit", "--data-dir", dataDir.toString(), "--period", "2025-10",
                "--server", "http://127.0.0.1:" + server.port());
        }
        finally
        {
            System.setOut(original);
        }
        assertEquals(0, exit, captured.toString(StandardCharsets.UTF_8));
    }

    @Test
    void thinkingMustBeABooleanAndIsPartOfTheEventsContent() throws Exception
    {
        start();
        final Client.Answer bad = client.post("/v1/events", "application/json", event("t", "2025-10-02T02:00:00Z",
            "\"input_tokens\":1,\"thinking\":\"yes\""));
        assertEquals(400, bad.status(), bad.body());
        assertTrue(bad.body().contains("thinking") && bad.body().contains("must be true or false"), bad.body());

        assertEquals(1, post(event("x", "2025-10-02T02:00:00Z", "\"input_tokens\":1")).get("accepted").asInt());
        assertEquals(1, post(event("x", "2025-10-02T02:00:00Z", "\"input_tokens\":1,\"thinking\":false")).get("duplicates").asInt(),
            "false is the default: the same content");
        assertEquals(1, post(event("x", "2025-10-02T02:00:00Z", "\"input_tokens\":1,\"thinking\":true")).get("conflicts").asInt(),
            "a retry that says thinking is other content");
        final List<String> data = List.of("{\"specversion\":\"1.0\",\"id\":\"ce1\",\"source\":\"gw\",\"type\":\"tokenmeter.usage\","
            + "\"subject\":\"acme\",\"time\":\"2025-10-02T02:00:00Z\",\"data\":{\"model\":\"qwen-plus\",\"output_tokens\":1000000,"
            + "\"thinking\":true}}");
        final Client.Answer cloud = client.post("/api/v1/events", "application/cloudevents-batch+json", "[" + data.get(0) + "]");
        assertEquals(202, cloud.status(), cloud.body());
        assertEquals("8.00", line(client.get("/v1/invoices/acme/2025-10").json(), "output", "standard", "thinking", "none")
            .get("unit_price_per_million").asText(), "CloudEvents data say thinking too");
    }
}
