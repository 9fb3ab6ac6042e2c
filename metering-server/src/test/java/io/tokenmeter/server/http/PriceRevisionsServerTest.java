package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.tokenmeter.server.TokenmeterServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Earlier revisions of the price book over real HTTP ({@code GET /v1/prices/revisions} and {@code
 * GET /v1/prices/revisions/{revision}}): three books put are listed newest first with the shipped one, each reads back
 * byte for byte as recorded (and equal to what was put), and a restart on the same data directory lists and reads the
 * same, with one partition and with four; unknown and malformed revisions are refused clearly.
 */
class PriceRevisionsServerTest
{
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

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

    private void start(final Path dataDir, final Map<String, String> settings) throws Exception
    {
        server = TestServer.start(dataDir, settings);
        client = new Client(server.port());
    }

    private void restart(final Path dataDir, final int partitions) throws Exception
    {
        server.close();
        server = null;
        start(dataDir, Map.of("partitions", String.valueOf(partitions)));
    }

    private static String jsonBook(final String input)
    {
        return "{\"currency\":\"USD\",\"models\":{\"gpt-x*\":[{\"effective_from\":\"2025-01-01T00:00:00Z\","
            + "\"per_million\":{\"input\":\"" + input + "\",\"output\":\"8.00\"}}]},\"tenants\":{\"acme\":{\"discount_percent\":\"5\"}}}";
    }

    private static String yamlBook(final String input)
    {
        return "currency: USD\nmodels:\n  \"claude-x*\":\n    - effective_from: \"2025-02-01T00:00:00Z\"\n      per_million:\n"
            + "        input: \"" + input + "\"\n        output: \"15.00\"\n";
    }

    /** @return the raw text of an answer's {@code book}, its last field, exactly as the server wrote it. */
    private static String rawBook(final String body)
    {
        final int at = body.indexOf("\"book\":");
        assertTrue(at > 0 && body.endsWith("}"), body);
        return body.substring(at + "\"book\":".length(), body.length() - 1);
    }

    private static String sha256(final String text) throws Exception
    {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    }

    /** What a put answered, and what was put. */
    private record Put(long revision, JsonNode answer, String rawBook, JsonNode sent)
    {
    }

    private JsonNode list()
    {
        final Client.Answer answer = client.get("/v1/prices/revisions");
        assertEquals(200, answer.status(), answer.body());
        assertEquals("application/json", answer.response().headers().firstValue("Content-Type").orElse(""));
        return answer.json();
    }

    /** Reads every revision and checks it against the list's entry and the book that was put. */
    private void assertEveryRevisionReadsBack(final JsonNode listed, final List<Put> puts) throws Exception
    {
        for (final JsonNode entry : listed.get("revisions"))
        {
            final long revision = entry.get("revision").asLong();
            final Client.Answer answer = client.get("/v1/prices/revisions/" + revision);
            assertEquals(200, answer.status(), answer.body());
            final ObjectNode read = (ObjectNode)answer.json();
            final String raw = rawBook(answer.body());
            assertEquals(entry.get("sha256").asText(), sha256(raw), "revision " + revision + ": the bytes recorded");
            read.remove("book");
            assertEquals(entry, read, "revision " + revision + ": the same facts as its entry in the list");
            final Put put = puts.get((int)revision - 1);
            assertEquals(put.rawBook(), raw, "revision " + revision + ": byte for byte what the put answered");
            assertEquals(put.sent(), JSON.readTree(raw), "revision " + revision + ": the book that was put");
        }
    }

    @ParameterizedTest(name = "{0} partition(s)")
    @ValueSource(ints = {1, 4})
    void everyRevisionIsListedNewestFirstAndReadsBackAsPutAlsoAfterARestart(final int partitions) throws Exception
    {
        final Path dataDir = dir.resolve("data");
        start(dataDir, Map.of("partitions", String.valueOf(partitions)));
        final List<Put> puts = new ArrayList<>();
        final Client.Answer shipped = client.get("/v1/prices");
        assertEquals(200, shipped.status(), shipped.body());
        assertEquals(1, shipped.json().get("revision").asLong(), "a new data directory starts with the shipped book");
        puts.add(new Put(1, shipped.json(), rawBook(shipped.body()), JSON.readTree(rawBook(shipped.body()))));
        final String[] books = {jsonBook("2.00"), jsonBook("2.25"), yamlBook("3.00")};
        for (int i = 0; i < books.length; i++)
        {
            final boolean yaml = i == 2;
            final Client.Answer put = client.put("/v1/prices", yaml ? "application/yaml" : "application/json", books[i]);
            assertEquals(200, put.status(), put.body());
            assertEquals(i + 2, put.json().get("revision").asLong());
            puts.add(new Put(i + 2, put.json(), rawBook(put.body()),
                yaml ? new YAMLMapper().readTree(books[i]) : JSON.readTree(books[i])));
        }

        final JsonNode listed = list();
        assertEquals(4, listed.get("revision_in_force").asLong());
        assertEquals(partitions, listed.get("partitions").asInt());
        final JsonNode revisions = listed.get("revisions");
        assertEquals(4, revisions.size(), listed.toString());
        for (int i = 0; i < 4; i++)
        {
            final JsonNode entry = revisions.get(i);
            final Put put = puts.get(3 - i);
            assertEquals(put.revision(), entry.get("revision").asLong(), "newest first");
            assertEquals(put.answer().get("sha256"), entry.get("sha256"));
            assertEquals(put.answer().get("log_indexes"), entry.get("log_indexes"), "where each partition recorded it");
            assertEquals(partitions, entry.get("log_indexes").size());
            assertEquals(entry.get("log_indexes").get(0), entry.get("log_index"));
            assertEquals(i == 0, entry.get("in_force").asBoolean(), entry.toString());
            assertFalse(entry.has("partitions_lacking"), "every partition has it: " + entry);
            final Instant recorded = Instant.parse(entry.get("recorded_at").asText());
            assertFalse(recorded.isAfter(Instant.parse(put.answer().get("in_force_since").asText())),
                "recorded when the first partition recorded it: " + entry);
            if (i > 0)
            {
                assertFalse(recorded.isAfter(Instant.parse(revisions.get(i - 1).get("recorded_at").asText())),
                    "an older revision was recorded no later");
            }
        }
        assertEveryRevisionReadsBack(listed, puts);

        restart(dataDir, partitions);
        assertEquals(partitions, server.partitions().count());
        assertEquals(listed, list(), "the same list after a restart");
        assertEveryRevisionReadsBack(list(), puts);
        // the history is in each journal's checkpoint now: a second restart lists it from there
        restart(dataDir, partitions);
        assertEquals(listed, list(), "the same list after a restart from the checkpoint");
        assertEquals(200, client.put("/v1/prices", "application/json", jsonBook("2.50")).status());
        final JsonNode after = list();
        assertEquals(5, after.get("revisions").size());
        assertEquals(5, after.get("revisions").get(0).get("revision").asLong());
        assertTrue(after.get("revisions").get(0).get("in_force").asBoolean());
        assertFalse(after.get("revisions").get(1).get("in_force").asBoolean(), "revision 4 is no longer in force");
    }

    /** Flips a bit of the document at {@code index} of partition {@code p}'s log (the server stopped). */
    private static void damage(final Path dataDir, final int p, final long index) throws Exception
    {
        final Path logDir = io.tokenmeter.core.partition.DataLayout.read(dataDir).logDir(p);
        final long position;
        final long length;
        final int cycle;
        try (net.openhft.chronicle.queue.impl.single.SingleChronicleQueue queue =
            net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder.binary(logDir)
                .rollCycle(net.openhft.chronicle.queue.RollCycles.FAST_DAILY).readOnly(true).build();
            net.openhft.chronicle.queue.ExcerptTailer tailer = queue.createTailer())
        {
            assertTrue(tailer.moveToIndex(index), "partition " + p + " holds log index " + Long.toHexString(index));
            try (net.openhft.chronicle.wire.DocumentContext document = tailer.readingDocument())
            {
                assertTrue(document.isPresent());
                position = document.wire().bytes().readPosition();
                length = document.wire().bytes().readRemaining();
            }
            cycle = queue.rollCycle().toCycle(index);
        }
        final Path file = logDir.resolve(java.time.LocalDate.ofEpochDay(cycle)
            .format(java.time.format.DateTimeFormatter.BASIC_ISO_DATE) + "F.cq4");
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(file.toFile(), "rw"))
        {
            // the middle of the document is the book's JSON: one bit of it changes
            raf.seek(position + length / 2);
            final int middle = raf.read();
            raf.seek(position + length / 2);
            raf.write(middle ^ 0x01);
        }
    }

    @Test
    void aDamagedCopyIsReadFromAnotherPartitionAndWithNoCopyLeftTheAnswerSaysWhy() throws Exception
    {
        final Path dataDir = dir.resolve("data");
        start(dataDir, Map.of("partitions", "4"));
        final Client.Answer put = client.put("/v1/prices", "application/json", jsonBook("2.00"));
        assertEquals(200, put.status(), put.body());
        assertEquals(200, client.put("/v1/prices", "application/json", jsonBook("2.25")).status());
        final JsonNode second = list().get("revisions").get(1);
        assertEquals(2, second.get("revision").asLong());
        server.close();
        server = null;
        damage(dataDir, 0, Long.parseLong(second.get("log_indexes").get(0).asText(), 16));

        try (LogCapture log = new LogCapture())
        {
            start(dataDir, Map.of("partitions", "4"));
            assertEquals(second, list().get("revisions").get(1), "still listed: the journal's checkpoint holds it");
            final Client.Answer read = client.get("/v1/prices/revisions/2");
            assertEquals(200, read.status(), read.body());
            assertEquals(rawBook(put.body()), rawBook(read.body()), "partition 1's copy, byte for byte");
            assertTrue(log.text().contains("damaged"), "the damaged copy was skipped and logged");
        }
        server.close();
        server = null;
        for (int p = 1; p < 4; p++)
        {
            damage(dataDir, p, Long.parseLong(second.get("log_indexes").get(p).asText(), 16));
        }
        start(dataDir, Map.of("partitions", "4"));
        final Client.Answer none = client.get("/v1/prices/revisions/2");
        assertEquals(500, none.status(), none.body());
        assertEquals("log_damaged", none.json().get("error").asText());
        final String message = none.json().get("message").asText();
        assertTrue(message.contains("revision 2 cannot be read") && message.contains("partition 0:")
            && message.contains("partition 3:") && message.contains("backup"), message);
        assertEquals(200, client.get("/v1/prices/revisions/3").status(), "the other revisions read as before");
    }

    @Test
    void unknownAndMalformedRevisionsAreRefusedWithWhatToSend() throws Exception
    {
        start(dir.resolve("data"), Map.of());
        assertEquals(200, client.put("/v1/prices", "application/json", jsonBook("2.00")).status());
        final Client.Answer unknown = client.get("/v1/prices/revisions/3");
        assertEquals(404, unknown.status(), unknown.body());
        assertEquals("not_found", unknown.json().get("error").asText());
        final String message = unknown.json().get("message").asText();
        assertTrue(message.contains("revision 3 was never recorded") && message.contains("in force is 2")
            && message.contains("GET /v1/prices/revisions"), message);
        for (final String bad : List.of("0", "-1", "abc", "01", "1.0", "2e3", "%2B2", "99999999999999999999", "9223372036854775808"))
        {
            final Client.Answer refused = client.get("/v1/prices/revisions/" + bad);
            assertEquals(400, refused.status(), bad + ": " + refused.body());
            assertEquals("invalid_request", refused.json().get("error").asText(), bad);
            assertTrue(refused.json().get("message").asText().contains("whole number from 1"), refused.body());
        }
        final Client.Answer biggest = client.get("/v1/prices/revisions/9223372036854775807");
        assertEquals(404, biggest.status(), "the largest revision is well formed, and never recorded: " + biggest.body());
        final Client.Answer parameter = client.get("/v1/prices/revisions?limit=1");
        assertEquals(400, parameter.status(), parameter.body());
        assertEquals("invalid_query", parameter.json().get("error").asText());
        assertEquals(400, client.get("/v1/prices/revisions/1?format=yaml").status());
        final Client.Answer put = client.put("/v1/prices/revisions/1", "application/json", jsonBook("9.00"));
        assertEquals(405, put.status(), put.body());
        assertEquals("GET", put.response().headers().firstValue("Allow").orElse(""));
        assertEquals(404, client.get("/v1/prices/revisions/1/book").status(), "no route below a revision");
        assertEquals(200, client.get("/v1/prices/revisions/1").status(), "the shipped book");
        assertEquals(2, client.get("/v1/prices").json().get("revision").asLong(), "reading changed nothing");
    }
}
