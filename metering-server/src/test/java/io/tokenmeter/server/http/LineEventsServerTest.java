package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.billing.invoice.InvoiceJson;
import io.tokenmeter.core.event.TokenClass;
import io.tokenmeter.core.log.ChronicleEventLog;
import io.tokenmeter.core.log.DocumentSha256;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.partition.DataLayout;
import io.tokenmeter.core.partition.Partitioner;
import io.tokenmeter.server.TokenmeterServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code GET /v1/invoices/{tenant}/{period}/lines/{n}/events} through the whole server over real HTTP and the real log:
 * for every usage line of randomized invoices (flat, graduated and volume tiers, service tiers, thinking, context tiers,
 * a time window, an unpriced model; a draft, the same period final, and late usage on the next draft) the events
 * streamed sum to the line's quantity, every token of every event is on exactly one line, and each event's document
 * hash is the hash of the log document at its log index. Then the refusals, and the keys.
 */
class LineEventsServerTest
{
    private static final String BOOK = "{\"currency\":\"USD\",\"models\":{"
        + "\"flat-4o\":[{\"effective_from\":\"2025-01-01T00:00:00Z\",\"per_million\":{\"input\":\"2.50\",\"cache_read\":\"1.25\","
        + "\"cache_write\":\"3.00\",\"cache_write_1h\":\"5.00\",\"output\":\"10.00\"},"
        + "\"service_tier_multiplier\":{\"batch\":\"0.5\",\"flex\":\"0.5\",\"priority\":\"1.7\"},"
        + "\"thinking\":{\"per_million\":{\"output\":\"12.00\"}},"
        + "\"context_tiers\":[{\"above_input_tokens\":30000,\"per_million\":{\"input\":\"5.00\",\"output\":\"15.00\"}}],"
        + "\"time_windows\":[{\"name\":\"night\",\"timezone\":\"UTC\",\"from\":\"22:00\",\"to\":\"06:00\",\"multiplier\":\"0.5\"}]},"
        // a second version from midnight: the night's hours after it are priced by it, on lines of their own
        + "{\"effective_from\":\"2025-10-06T00:00:00Z\",\"per_million\":{\"input\":\"2.00\",\"cache_read\":\"1.00\","
        + "\"cache_write\":\"3.00\",\"cache_write_1h\":\"5.00\",\"output\":\"8.00\"}}],"
        + "\"grad-m\":[{\"effective_from\":\"2025-01-01T00:00:00Z\",\"per_million\":{"
        + "\"input\":{\"tiers\":{\"mode\":\"graduated\",\"bands\":[{\"up_to\":100000,\"per_million\":\"3.00\"},"
        + "{\"up_to\":300000,\"per_million\":\"2.00\"},{\"up_to\":null,\"per_million\":\"1.00\"}]}},"
        + "\"cache_read\":\"0.50\",\"cache_write\":\"1.00\",\"cache_write_1h\":\"2.00\","
        + "\"output\":{\"tiers\":{\"mode\":\"graduated\",\"bands\":[{\"up_to\":50000,\"per_million\":\"8.00\"},"
        + "{\"up_to\":null,\"per_million\":\"6.00\"}]}}}}],"
        + "\"vol-m\":[{\"effective_from\":\"2025-01-01T00:00:00Z\",\"per_million\":{"
        + "\"input\":{\"tiers\":{\"mode\":\"volume\",\"bands\":[{\"up_to\":200000,\"per_million\":\"4.00\"},"
        + "{\"up_to\":null,\"per_million\":\"3.00\"}]}},\"cache_read\":\"1.00\",\"cache_write\":\"1.00\","
        + "\"cache_write_1h\":\"1.00\",\"output\":\"9.00\"}}]},"
        + "\"tenants\":{\"globex\":{\"minimum_commit\":\"1000.00\"}}}";
    private static final String[] MODELS = {"flat-4o", "grad-m", "vol-m", "unpriced-x"};
    private static final String[] TIERS = {"standard", "batch", "flex", "priority"};

    @TempDir
    Path dataDir;
    @TempDir
    Path configDir;

    private TokenmeterServer server;
    private Client client;
    /** Events whose tokens of a line's class graduated bands split over two lines, as seen so far. */
    private int splits;
    /** Each posted event of acme by id: its token counts by class index. */
    private final Map<String, long[]> posted = new LinkedHashMap<>();

    @AfterEach
    void stop()
    {
        if (server != null)
        {
            server.close();
        }
    }

    private void start(final Map<String, String> extra) throws Exception
    {
        final Path prices = configDir.resolve("prices.json");
        Files.writeString(prices, BOOK);
        final Map<String, String> settings = new HashMap<>(Map.of("prices", prices.toString()));
        settings.putAll(extra);
        server = TestServer.start(dataDir, settings);
        client = new Client(server.port());
    }

    /** Posts {@code count} random events of the tenant with timestamps in {@code [fromMs, fromMs + spanMs)}, in batches. */
    private void postRandom(final Random random, final String tenant, final String prefix, final int count, final long fromMs,
        final long spanMs)
    {
        final List<String> batch = new ArrayList<>();
        for (int i = 0; i < count; i++)
        {
            final String id = prefix + i;
            final long[] tokens = new long[TokenClass.COUNT];
            tokens[0] = random.nextInt(4) == 0 ? 0 : random.nextInt(40_000);
            tokens[1] = random.nextInt(3) == 0 ? random.nextInt(5_000) : 0;
            tokens[2] = random.nextInt(5) == 0 ? random.nextInt(3_000) : 0;
            tokens[3] = random.nextInt(7) == 0 ? random.nextInt(2_000) : 0;
            tokens[4] = random.nextInt(8_000);
            tokens[5] = random.nextInt(4) == 0 ? random.nextInt((int)tokens[4] + 1) : 0;
            final StringBuilder event = new StringBuilder("{\"id\":\"").append(id).append("\",\"tenant\":\"").append(tenant)
                .append("\",\"model\":\"").append(MODELS[random.nextInt(MODELS.length)]).append("\",\"timestamp\":\"")
                .append(Instant.ofEpochMilli(fromMs + (long)(random.nextDouble() * spanMs))).append("\",\"service_tier\":\"")
                .append(TIERS[random.nextInt(TIERS.length)]).append('"');
            for (int c = 0; c < TokenClass.COUNT; c++)
            {
                event.append(",\"").append(TokenClass.of(c).fieldName()).append("\":").append(tokens[c]);
            }
            if (random.nextInt(6) == 0)
            {
                event.append(",\"thinking\":true");
            }
            batch.add(event.append('}').toString());
            if (tenant.equals("acme"))
            {
                posted.put(id, tokens);
            }
            if (batch.size() == 1 + random.nextInt(40) || i == count - 1)
            {
                post("[" + String.join(",", batch) + "]", batch.size());
                batch.clear();
            }
        }
    }

    private void post(final String body, final int events)
    {
        final Client.Answer answer = client.post("/v1/events", "application/json", body);
        assertEquals(202, answer.status(), answer.body());
        assertEquals(events, answer.json().get("accepted").asInt(), answer.body());
    }

    private static long ms(final String instant)
    {
        return Instant.parse(instant).toEpochMilli();
    }

    /** @return the NDJSON events of the line, checked against its head and its line. */
    private List<JsonNode> events(final String tenant, final String period, final int n, final JsonNode line, final String why)
        throws java.io.IOException
    {
        final Client.Answer answer = client.get("/v1/invoices/" + tenant + "/" + period + "/lines/" + n + "/events");
        assertEquals(200, answer.status(), why + ": " + answer.body());
        assertEquals("application/x-ndjson", answer.response().headers().firstValue("Content-Type").orElse(""), why);
        assertEquals(line.get("quantity").asText(), answer.response().headers().firstValue("Tokenmeter-Line-Quantity").orElse(""),
            why);
        final List<JsonNode> events = new ArrayList<>();
        for (final String text : answer.body().split("\n"))
        {
            assertTrue(!text.isEmpty(), why + ": one object a line, no blank lines");
            events.add(Client.JSON.readTree(text.getBytes(java.nio.charset.StandardCharsets.UTF_8)).deepCopy());
        }
        return events;
    }

    /**
     * Checks every usage line of the invoice: its events sum to its quantity, are of its model, tier, mode and tenant,
     * and each gives the line at most its tokens of the line's class; adds each event's units to {@code units}.
     *
     * @return the log indexes the events name, with the document hash each event gives.
     */
    private Map<Long, String> checkLines(final String tenant, final String period, final JsonNode invoice,
        final Map<String, long[]> units, final Set<String> allowedIds, final String why) throws java.io.IOException
    {
        final Map<Long, String> hashes = new HashMap<>();
        final JsonNode lines = invoice.get("lines");
        int usageLines = 0;
        for (int n = 0; n < lines.size(); n++)
        {
            final JsonNode line = lines.get(n);
            if (!line.path("kind").asText("usage").equals("usage"))
            {
                continue;
            }
            usageLines++;
            final String what = why + " line " + n + " " + line;
            final int tokenClass = classIndex(line.get("token_class").asText());
            long sum = 0;
            for (final JsonNode event : events(tenant, period, n, line, what))
            {
                final String id = event.get("id").asText();
                assertTrue(allowedIds.contains(id), what + ": event " + id + " is one of those the line may bill");
                assertEquals(tenant, event.get("tenant").asText(), what);
                assertEquals(line.get("model").asText(), event.get("model").asText(), what);
                assertEquals(line.get("service_tier").asText(), event.get("service_tier").asText(), what);
                assertEquals(line.get("mode").asText().equals("thinking"), event.path("thinking").asBoolean(false), what);
                assertTrue(event.get("timestamp").asText().startsWith(line.path("adjustment_for").asText(period)), what);
                final long share = event.get("line_quantity").asLong();
                final long tokens = event.get(TokenClass.of(tokenClass).fieldName()).asLong();
                assertTrue(share > 0 && share <= tokens, what + ": " + event);
                splits += share < tokens ? 1 : 0;
                assertEquals(posted.get(id)[tokenClass], tokens, what + ": the log holds the tokens posted");
                units.computeIfAbsent(id, k -> new long[TokenClass.COUNT])[tokenClass] += share;
                sum += share;
                final long index = InvoiceJson.parseIndex(event.get("log_index").asText());
                final String earlier = hashes.put(index, event.get("document_sha256").asText());
                assertTrue(earlier == null || earlier.equals(event.get("document_sha256").asText()), what);
            }
            assertEquals(line.get("quantity").asLong(), sum, what + ": the events sum to the line's quantity");
        }
        assertTrue(usageLines > 10, why + ": a varied invoice (" + usageLines + " usage lines)");
        return hashes;
    }

    /** Every event's document hash is the SHA-256 of the document at its log index, in the tenant's partition log. */
    private void checkHashes(final String tenant, final Map<Long, String> hashes)
    {
        final DataLayout layout = DataLayout.read(dataDir);
        final int partition = new Partitioner(layout.partitions()).partitionOf(tenant);
        try (EventLog log = ChronicleEventLog.openReadOnly(layout.logDir(partition)))
        {
            hashes.forEach((index, sha256) -> assertEquals(DocumentSha256.sha256At(log, index), sha256,
                "the document at log index " + Long.toHexString(index)));
        }
    }

    private static int classIndex(final String tokenClass)
    {
        for (int c = 0; c < TokenClass.COUNT; c++)
        {
            if (TokenClass.of(c).className().equals(tokenClass))
            {
                return c;
            }
        }
        throw new AssertionError("no class " + tokenClass);
    }

    /** Every billable token of each event is on exactly one line: the lines' shares of an event sum to its tokens. */
    private void assertEveryTokenOnOneLine(final Set<String> ids, final Map<String, long[]> units, final String why)
    {
        for (final String id : ids)
        {
            final long[] share = units.getOrDefault(id, new long[TokenClass.COUNT]);
            for (int c = 0; c < TokenClass.COUNT - 1; c++)
            {
                assertEquals(posted.get(id)[c], share[c], why + ": " + TokenClass.of(c).className() + " of event " + id);
            }
        }
    }

    @Test
    void everyLinesEventsSumToItsQuantityAndNameTheirLogDocuments() throws Exception
    {
        final long seed = Long.getLong("seed", System.nanoTime());
        final String why = "seed " + seed + " (-Dseed=" + seed + " repeats it)";
        final Random random = new Random(seed);
        start(Map.of());
        // twelve hours across the night window, so buckets hold many events and graduated bands split some
        postRandom(random, "acme", "oct-", 400, ms("2025-10-05T18:00:00Z"), 12 * 3_600_000L);
        postRandom(random, "globex", "g-", 60, ms("2025-10-05T18:00:00Z"), 12 * 3_600_000L);
        // one line of many events: a body of many chunks
        final StringBuilder bulk = new StringBuilder("[");
        for (int i = 0; i < 2_000; i++)
        {
            bulk.append(i == 0 ? "" : ",").append("{\"id\":\"bulk-").append(i).append("\",\"tenant\":\"acme\",\"model\":\"bulk\",")
                .append("\"timestamp\":\"2025-10-07T10:00:00Z\",\"input_tokens\":").append(1 + i % 7).append('}');
            final long[] tokens = new long[TokenClass.COUNT];
            tokens[0] = 1 + i % 7;
            posted.put("bulk-" + i, tokens);
        }
        post(bulk.append(']').toString(), 2_000);
        final Set<String> october = new HashSet<>(posted.keySet());

        final JsonNode draft = client.get("/v1/invoices/acme/2025-10").json();
        assertEquals("draft", draft.get("status").asText());
        final Map<String, long[]> draftUnits = new HashMap<>();
        final Map<Long, String> hashes = checkLines("acme", "2025-10", draft, draftUnits, october, why + ", the draft");
        assertEveryTokenOnOneLine(october, draftUnits, why + ", the draft");
        assertTrue(splits >= 2, why + ": some events are split by a graduated band's boundary (" + splits + " shares)");

        final Client.Answer finalized = client.post("/v1/invoices/acme/2025-10/finalize", null, "");
        assertEquals(201, finalized.status(), finalized.body());
        // late usage of the final period, and usage of the next: the final invoice's lines keep their events
        postRandom(random, "acme", "late-", 150, ms("2025-10-05T18:00:00Z"), 12 * 3_600_000L);
        postRandom(random, "acme", "nov-", 150, ms("2025-11-02T00:00:00Z"), 6 * 3_600_000L);
        // a new book after the final invoice: it prices the next draft; the final one's lines keep the book that priced them
        final Client.Answer changed = client.put("/v1/prices", "application/json", BOOK.replace("\"up_to\":100000", "\"up_to\":60000")
            .replace("\"up_to\":50000", "\"up_to\":20000"));
        assertEquals(200, changed.status(), changed.body());
        assertEquals(2, changed.json().get("revision").asInt());
        final Map<String, long[]> finalUnits = new HashMap<>();
        hashes.putAll(checkLines("acme", "2025-10", finalized.json(), finalUnits, october, why + ", the final invoice"));
        assertEveryTokenOnOneLine(october, finalUnits, why + ", the final invoice");

        final JsonNode next = client.get("/v1/invoices/acme/2025-11").json();
        assertEquals(2, next.get("price_book").get("revision").asInt(), "the next draft is priced by the new book");
        assertTrue(next.toString().contains("\"band\":\"60001-300000\""), "with its bands");
        assertTrue(draft.toString().contains("\"price_from\":\"2025-10-06T00:00:00Z\""), "the second version prices some lines");
        final Set<String> late = new HashSet<>(posted.keySet());
        late.removeAll(october);
        final Map<String, long[]> nextUnits = new HashMap<>();
        hashes.putAll(checkLines("acme", "2025-11", next, nextUnits, late, why + ", the next draft"));
        assertTrue(next.toString().contains("\"adjustment_for\":\"2025-10\""), "the late usage is on adjustment lines");
        assertEveryTokenOnOneLine(late, nextUnits, why + ", the next draft with the late usage");
        checkHashes("acme", hashes);
    }

    @Test
    void aBadLineNumberPeriodOrTenantAndALineWithoutEventsAreRefusedSayingWhatToFix() throws Exception
    {
        start(Map.of());
        post("[{\"id\":\"a1\",\"tenant\":\"acme\",\"model\":\"flat-4o\",\"timestamp\":\"2025-10-02T10:00:00Z\",\"input_tokens\":5},"
            + "{\"id\":\"g1\",\"tenant\":\"globex\",\"model\":\"flat-4o\",\"timestamp\":\"2025-10-02T10:00:00Z\",\"input_tokens\":5}]", 2);
        final Client.Answer beyond = client.get("/v1/invoices/acme/2025-10/lines/1/events");
        assertEquals(404, beyond.status(), beyond.body());
        assertEquals("not_found", beyond.json().get("error").asText());
        assertTrue(beyond.json().get("message").asText().contains("has 1 line, 0 to 0; there is no line 1"), beyond.body());
        for (final String bad : new String[] {"x", "-1", "01", "1234567890", "1.0"})
        {
            final Client.Answer answer = client.get("/v1/invoices/acme/2025-10/lines/" + bad + "/events");
            assertEquals(400, answer.status(), bad + ": " + answer.body());
            assertTrue(answer.json().get("message").asText().contains("0-based position"), answer.body());
        }
        final Client.Answer period = client.get("/v1/invoices/acme/2025-13/lines/0/events");
        assertEquals(400, period.status(), period.body());
        assertTrue(period.json().get("message").asText().contains("period must be YYYY-MM"), period.body());
        final Client.Answer tenant = client.get("/v1/invoices/a%20b/2025-10/lines/0/events");
        assertEquals(400, tenant.status(), tenant.body());
        assertTrue(tenant.json().get("message").asText().contains("tenant must match"), tenant.body());
        final Client.Answer unknown = client.get("/v1/invoices/nobody/2025-10/lines/0/events");
        assertEquals(404, unknown.status(), unknown.body());
        assertTrue(unknown.json().get("message").asText().contains("has 0 lines"), unknown.body());
        final Client.Answer query = client.get("/v1/invoices/acme/2025-10/lines/0/events?format=csv");
        assertEquals(400, query.status(), query.body());

        final JsonNode globex = client.get("/v1/invoices/globex/2025-10").json();
        assertEquals("commit_true_up", globex.get("lines").get(1).get("kind").asText(), globex.toString());
        final Client.Answer trueUp = client.get("/v1/invoices/globex/2025-10/lines/1/events");
        assertEquals(400, trueUp.status(), trueUp.body());
        assertEquals("not_a_usage_line", trueUp.json().get("error").asText());
        assertTrue(trueUp.json().get("message").asText().contains("its usage lines are 0"), trueUp.body());
        final Client.Answer one = client.get("/v1/invoices/globex/2025-10/lines/0/events");
        assertEquals(200, one.status(), one.body());
        assertEquals("g1", Client.JSON.readTree(one.body()).get("id").asText());
        assertTrue(one.body().endsWith("}\n") && one.body().split("\n").length == 1, one.body());
    }

    @Test
    void aKeyOfAnotherTenantIsRefused() throws Exception
    {
        final KeyFixture keys = new KeyFixture().add("read-acme", "read", "acme").add("ingest-all", "ingest", "*")
            .add("read-all", "read", "*");
        start(Map.of("keys", keys.write(configDir.resolve("keys.yaml")).toString()));
        final Client ingest = client.withKey(keys.secret("ingest-all"));
        final Client.Answer posted = ingest.post("/v1/events", "application/json", "[{\"id\":\"a1\",\"tenant\":\"acme\",\"model\":"
            + "\"flat-4o\",\"timestamp\":\"2025-10-02T10:00:00Z\",\"input_tokens\":5},{\"id\":\"g1\",\"tenant\":\"globex\","
            + "\"model\":\"flat-4o\",\"timestamp\":\"2025-10-02T10:00:00Z\",\"input_tokens\":5}]");
        assertEquals(202, posted.status(), posted.body());
        final Client acme = client.withKey(keys.secret("read-acme"));
        assertEquals(200, acme.get("/v1/invoices/acme/2025-10/lines/0/events").status());
        final Client.Answer other = acme.get("/v1/invoices/globex/2025-10/lines/0/events");
        assertEquals(403, other.status(), other.body());
        assertTrue(other.json().get("message").asText().contains("may not read invoices of tenant globex"), other.body());
        assertTrue(!other.body().contains("g1"), "no event of the other tenant in the refusal");
        assertEquals(403, ingest.get("/v1/invoices/acme/2025-10/lines/0/events").status(), "an ingest key reads no invoices");
        assertEquals(401, client.get("/v1/invoices/acme/2025-10/lines/0/events").status(), "no key");
        assertEquals(200, client.withKey(keys.secret("read-all")).get("/v1/invoices/globex/2025-10/lines/0/events").status());
    }

    @Test
    void clientsThatGoAwayMidStreamFreeTheirReadersAndPipelinedAnswersKeepTheirOrder() throws Exception
    {
        start(Map.of());
        long quantity = 0;
        for (int r = 0; r < 2; r++)
        {
            final StringBuilder bulk = new StringBuilder("[");
            for (int i = 0; i < 10_000; i++)
            {
                bulk.append(i == 0 ? "" : ",").append("{\"id\":\"e-").append(r).append('-').append(i)
                    .append("\",\"tenant\":\"acme\",\"model\":\"flat-4o\",\"timestamp\":\"2025-10-07T10:00:00Z\",")
                    .append("\"input_tokens\":").append(1 + i % 11).append('}');
                quantity += 1 + i % 11;
            }
            post(bulk.append(']').toString(), 10_000);
        }
        final String request = "GET /v1/invoices/acme/2025-10/lines/0/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        // more clients walk away from their streams than there are reader threads and queue places together
        for (int i = 0; i < 20; i++)
        {
            try (java.net.Socket socket = new java.net.Socket("127.0.0.1", server.port()))
            {
                socket.setSoTimeout(20_000);
                socket.getOutputStream().write(request.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                final String head = RawHttp.readHead(socket.getInputStream());
                assertTrue(head.startsWith("HTTP/1.1 200") && head.toLowerCase(java.util.Locale.ROOT)
                    .contains("transfer-encoding: chunked"), head);
            }
        }
        final JsonNode line = client.get("/v1/invoices/acme/2025-10").json().get("lines").get(0);
        assertEquals(quantity, line.get("quantity").asLong());
        final List<JsonNode> events = events("acme", "2025-10", 0, line, "after the clients that went away");
        assertEquals(20_000, events.size());
        assertEquals(quantity, events.stream().mapToLong(e -> e.get("line_quantity").asLong()).sum());

        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", server.port()))
        {
            socket.setSoTimeout(20_000);
            socket.getOutputStream().write((request + "GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            final String both = RawHttp.readUntilClosed(socket.getInputStream());
            final int end = both.indexOf("\r\n0\r\n\r\n");
            assertTrue(end > 1_000_000, "the stream's last chunk, after its events (" + both.length() + " bytes)");
            assertEquals(end + 7, both.indexOf("HTTP/1.1 200 OK", end), "the pipelined answer follows the stream's end");
            assertTrue(both.endsWith("{\"status\":\"live\"}"), both.substring(Math.max(0, both.length() - 200)));
        }

        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", server.port()))
        {
            socket.setSoTimeout(20_000);
            socket.getOutputStream().write("GET /v1/invoices/acme/2025-10/lines/0/events HTTP/1.0\r\n\r\n"
                .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            final String answer = RawHttp.readUntilClosed(socket.getInputStream());
            final int body = answer.indexOf("\r\n\r\n") + 4;
            final String head = answer.substring(0, body).toLowerCase(java.util.Locale.ROOT);
            assertTrue(head.startsWith("http/1.1 200") && !head.contains("transfer-encoding"), "no chunks for HTTP/1.0: " + head);
            assertEquals(20_000, answer.substring(body).split("\n").length, "the body ends where the connection does");
        }
    }

    @Test
    void aStreamsCheckpointsAreListedWithTheIncreasesTheyCounted() throws Exception
    {
        start(Map.of());
        final long[][] cumulative = {{50, 100}, {50, 250}, {50, 400}};
        for (int seq = 0; seq < cumulative.length; seq++)
        {
            post("{\"id\":\"s-" + seq + "\",\"tenant\":\"acme\",\"model\":\"flat-4o\",\"timestamp\":\"2025-10-02T10:00:0" + seq
                + "Z\",\"input_tokens\":" + cumulative[seq][0] + ",\"output_tokens\":" + cumulative[seq][1]
                + ",\"stream\":{\"id\":\"answer-1\",\"seq\":" + seq + ",\"final\":" + (seq == cumulative.length - 1) + "}}", 1);
        }
        final JsonNode lines = client.get("/v1/invoices/acme/2025-10").json().get("lines");
        assertEquals("input", lines.get(0).get("token_class").asText(), lines.toString());
        assertEquals("output", lines.get(1).get("token_class").asText(), lines.toString());
        final List<JsonNode> input = events("acme", "2025-10", 0, lines.get(0), "the input line");
        assertEquals(1, input.size(), "only the first checkpoint counted input: " + input);
        assertEquals(50, input.get(0).get("line_quantity").asLong());
        final List<JsonNode> output = events("acme", "2025-10", 1, lines.get(1), "the output line");
        final List<String> counted = new ArrayList<>();
        output.forEach(e -> counted.add(e.get("id").asText() + ":" + e.get("output_tokens").asLong() + ":"
            + e.get("line_quantity").asLong()));
        assertEquals(List.of("s-0:100:100", "s-1:150:150", "s-2:150:150"), counted, "each checkpoint's increase, as counted");
    }
}
