package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.server.TokenmeterServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The audit recomputes a final CNY invoice priced by a contract (graduated volume bands, a time window, a minimum
 * commitment) from the log, and fails on each kind of tampered line: a band, a window, the true-up.
 */
class ContractAuditServerTest
{
    private static final String BOOK = "{\"currency\":\"CNY\",\"models\":{\"m\":[{\"effective_from\":\"2025-01-01T00:00:00Z\","
        + "\"per_million\":{\"input\":{\"tiers\":{\"mode\":\"graduated\",\"bands\":[{\"up_to\":1000000,\"per_million\":\"2.00\"},"
        + "{\"up_to\":null,\"per_million\":\"1.00\"}]}},\"output\":\"4.00\"},"
        + "\"time_windows\":[{\"name\":\"night\",\"timezone\":\"Asia/Shanghai\",\"from\":\"00:30\",\"to\":\"08:30\",\"multiplier\":\"0.5\"}]}]},"
        + "\"tenants\":{\"acme\":{\"minimum_commit\":\"100.00\"}}}";

    @TempDir
    Path dataDir;
    @TempDir
    Path configDir;

    private TokenmeterServer server;
    private Client client;

    @AfterEach
    void stop()
    {
        if (server != null)
        {
            server.close();
        }
    }

    private String audit()
    {
        return Commands.run("audit", "--data-dir", dataDir.toString(), "--period", "2025-10", "--server",
            "http://127.0.0.1:" + server.port());
    }

    private void post(final String id, final String at, final String tokens)
    {
        final Client.Answer answer = client.post("/v1/events", "application/json", "{\"id\":\"" + id + "\",\"tenant\":\"acme\","
            + "\"model\":\"m\",\"timestamp\":\"" + at + "\"," + tokens + "}");
        assertEquals(202, answer.status(), answer.body());
    }

    /** Qwen-style: a CNY tenant with context tiers, thinking rates, a minimum commitment and a prepaid credit. */
    private static final String QWEN_CONTRACT = "{\"currency\":\"CNY\",\"models\":{\"qwen-plus\":[{\"effective_from\":"
        + "\"2025-01-01T00:00:00Z\",\"per_million\":{\"input\":\"0.80\",\"output\":\"2.00\"},"
        + "\"thinking\":{\"per_million\":{\"output\":\"8.00\"}},\"context_tiers\":[{\"above_input_tokens\":128000,"
        + "\"per_million\":{\"input\":\"2.40\",\"output\":\"20.00\"}}]}]},"
        + "\"tenants\":{\"hangzhou\":{\"minimum_commit\":\"40.00\"}}}";

    @Test
    void aQwenStyleContractWithTiersThinkingACommitmentAndACreditIsExactInJsonCsvAndTheAudit() throws Exception
    {
        final Path prices = configDir.resolve("prices.json");
        Files.writeString(prices, QWEN_CONTRACT);
        server = TestServer.start(dataDir, new HashMap<>(Map.of("prices", prices.toString())));
        client = new Client(server.port());
        final Client.Answer grant = client.post("/v1/tenants/hangzhou/credits", "application/json", "{\"id\":\"welcome\","
            + "\"amount\":\"5.00\",\"effective_at\":\"2025-10-01T00:00:00Z\",\"expires_at\":\"2025-11-01T00:00:00Z\","
            + "\"models\":[\"qwen-*\"]}");
        assertEquals(201, grant.status(), grant.body());
        for (final String[] e : new String[][] {
            {"std", "\"input_tokens\":100000,\"output_tokens\":1000000"},
            {"think", "\"input_tokens\":1000,\"output_tokens\":1000000,\"reasoning_tokens\":200"},
            {"long", "\"input_tokens\":128001,\"output_tokens\":1000000"}})
        {
            final Client.Answer answer = client.post("/v1/events", "application/json", "{\"id\":\"" + e[0] + "\","
                + "\"tenant\":\"hangzhou\",\"model\":\"qwen-plus\",\"timestamp\":\"2025-10-02T04:00:00Z\"," + e[1] + "}");
            assertEquals(202, answer.status(), answer.body());
        }
        final Client.Answer finalized = client.post("/v1/invoices/hangzhou/2025-10/finalize", null, "");
        assertEquals(201, finalized.status(), finalized.body());
        final JsonNode invoice = finalized.json();
        // usage: input 100,000 x 0.80 = 0.08, output 2.00; thinking input 1,000 = 0.00, output 1,000,000 x 8.00 = 8.00;
        // above 128,000: input 128,001 x 2.40 = 0.3072024 -> 0.31, output 20.00. Usage 30.39, true-up to 40.00: 9.61.
        // The credit draws on usage only: -5.00. Total 35.00.
        final StringBuilder lines = new StringBuilder();
        for (final JsonNode line : invoice.get("lines"))
        {
            lines.append(line.get("kind").asText()).append(' ').append(line.path("context").asText("")).append(' ')
                .append(line.path("mode").asText("")).append(' ').append(line.get("amount").asText()).append(' ')
                .append(line.path("grant").asText("")).append('\n');
        }
        assertTrue(lines.toString().contains("usage standard thinking 8.00"), lines.toString());
        assertTrue(lines.toString().contains("usage 128000 standard 20.00"), lines.toString());
        assertTrue(lines.toString().contains("commit_true_up   9.61"), lines.toString());
        assertTrue(lines.toString().contains("credit   -5.00 welcome"), lines.toString());
        assertEquals("35.00", invoice.get("total").asText(), invoice.toString());
        assertEquals("CNY", invoice.get("currency").asText());

        final String csv = client.get("/v1/invoices/hangzhou/2025-10?format=csv").body();
        assertTrue(csv.contains("usage,qwen-plus,standard,output,standard,thinking,none,,"), csv);
        assertTrue(csv.contains(",-5.00,,,welcome,CNY,"), csv);
        assertTrue(csv.contains("total,,,,,,,,,,,,,,,,35.00,,,,CNY,"), csv);
        assertTrue(audit().startsWith("0 "), "a clean audit");

        final Path file = dataDir.resolve("invoices/2025-10/t-hangzhou.json");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        final String stored = Files.readString(file);
        assertTrue(stored.contains("\"amount\" : \"-5.00\""), stored);
        Files.writeString(file, stored.replace("\"amount\" : \"-5.00\"", "\"amount\" : \"-50.00\""));
        final String report = audit();
        assertTrue(report.startsWith("1 ") && report.contains("DIFF"), "a tampered credit line: " + report);
        Files.writeString(file, stored);
        assertTrue(audit().startsWith("0 "), "clean again once restored");
    }

    @Test
    void theAuditRecomputesBandsWindowsAndTheTrueUpAndFailsOnEachTamperedOne() throws Exception
    {
        final Path prices = configDir.resolve("prices.json");
        Files.writeString(prices, BOOK);
        server = TestServer.start(dataDir, new HashMap<>(Map.of("prices", prices.toString())));
        client = new Client(server.port());
        post("day", "2025-10-02T04:00:00Z", "\"input_tokens\":1500000");
        // 00:30 in Beijing on 2025-10-03
        post("night", "2025-10-02T16:30:00Z", "\"output_tokens\":1000000");

        final Client.Answer finalized = client.post("/v1/invoices/acme/2025-10/finalize", null, "");
        assertEquals(201, finalized.status(), finalized.body());
        final JsonNode invoice = finalized.json();
        // input: 1,000,000 x 2.00 = 2.00 and 500,000 x 1.00 = 0.50; output at night 1,000,000 x 4.00 x 0.5 = 2.00;
        // usage 4.50 is below the commitment: a true-up of 95.50
        assertEquals("100.00", invoice.get("total").asText(), invoice.toString());
        assertEquals("commit_true_up", invoice.get("lines").get(invoice.get("lines").size() - 1).get("kind").asText());
        assertTrue(audit().startsWith("0 "), "a clean audit");

        final Path file = dataDir.resolve("invoices/2025-10/t-acme.json");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        final String stored = Files.readString(file);
        for (final String[] tamper : new String[][] {
            {"\"band\" : \"1000001-\"", "\"band\" : \"1-\""},
            {"\"window\" : \"night\"", "\"window\" : \"none\""},
            {"\"window_multiplier\" : \"0.5\"", "\"window_multiplier\" : \"1\""},
            {"\"amount\" : \"95.50\"", "\"amount\" : \"59.50\""}})
        {
            assertTrue(stored.contains(tamper[0]), tamper[0] + " in " + stored);
            Files.writeString(file, stored.replace(tamper[0], tamper[1]));
            final String report = audit();
            assertTrue(report.startsWith("1 ") && report.contains("DIFF  acme 2025-10 final INV-000001"),
                "tampered " + tamper[0] + ": " + report);
        }
        Files.writeString(file, stored);
        assertTrue(audit().startsWith("0 "), "clean again once restored");
    }
}
