package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.server.TokenmeterServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Event time, not arrival order: events out of order, far in the past, on hour and month boundaries (offsets
 * included), and duplicates arriving after a snapshot and after a restart are counted once, in the right hour.
 */
class ClockAndOrderTest
{
    @TempDir
    Path dataDir;

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

    private void start() throws Exception
    {
        server = TestServer.start(dataDir, Map.of("snapshot-interval", "100ms"));
        client = new Client(server.port());
    }

    /** Events in deliberately scrambled order: id -> timestamp as sent. */
    private static final Map<String, String> EVENTS = new LinkedHashMap<>();

    static
    {
        EVENTS.put("late-hour", "\"2026-10-05T10:30:00Z\"");
        EVENTS.put("early-hour", "\"2026-10-05T09:15:00Z\"");
        EVENTS.put("last-ms-of-9", "\"2026-10-05T09:59:59.999Z\"");
        EVENTS.put("first-ms-of-10", "\"2026-10-05T10:00:00.000Z\"");
        EVENTS.put("offset-into-9", "\"2026-10-05T11:45:00+02:00\"");
        EVENTS.put("last-ms-of-october", "\"2026-10-31T23:59:59.999Z\"");
        EVENTS.put("first-ms-of-november", "\"2026-11-01T00:00:00Z\"");
        EVENTS.put("offset-into-october", "\"2026-11-01T00:30:00+01:00\"");
        EVENTS.put("far-past", "\"1971-03-04T05:06:07Z\"");
        EVENTS.put("epoch-zero", "0");
        EVENTS.put("epoch-ms-in-10", "1791194400123");
    }

    private static String body()
    {
        final StringBuilder body = new StringBuilder("[");
        EVENTS.forEach((id, timestamp) -> body.append(body.length() == 1 ? "" : ",").append("{\"id\":\"").append(id)
            .append("\",\"tenant\":\"acme\",\"model\":\"m\",\"timestamp\":").append(timestamp).append(",\"output_tokens\":1}"));
        return body.append(']').toString();
    }

    private Map<String, Integer> counts(final String from, final String to, final String granularity)
    {
        final JsonNode rows = client.get("/v1/usage?tenant=acme&from=" + from + "&to=" + to + "&granularity=" + granularity
            + "&group_by=&consistent=true").json().get("rows");
        final Map<String, Integer> counts = new LinkedHashMap<>();
        rows.forEach(row -> counts.put(row.get("start").asText(), row.get("requests").asInt()));
        return counts;
    }

    private void assertCountedOnceInTheRightHours()
    {
        assertEquals(Map.of("2026-10-05T09:00:00Z", 3, "2026-10-05T10:00:00Z", 3),
            counts("2026-10-05T00:00:00Z", "2026-10-06T00:00:00Z", "hour"));
        assertEquals(Map.of("2026-10-01T00:00:00Z", 8, "2026-11-01T00:00:00Z", 1),
            counts("2026-09-01T00:00:00Z", "2026-12-01T00:00:00Z", "month"));
        assertEquals(Map.of("2026-10-31T23:00:00Z", 2, "2026-11-01T00:00:00Z", 1),
            counts("2026-10-31T23:00:00Z", "2026-11-01T01:00:00Z", "hour"));
        assertEquals(Map.of("1970-01-01T00:00:00Z", 1, "1971-03-04T05:00:00Z", 1),
            counts("1970-01-01T00:00:00Z", "1972-01-01T00:00:00Z", "hour"));
    }

    private void awaitSnapshots() throws Exception
    {
        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < until)
        {
            try (Stream<Path> files = Files.list(PartitionDirs.snapshots(dataDir, "acme")))
            {
                final List<String> names = files.map(p -> p.getFileName().toString()).toList();
                if (names.stream().anyMatch(n -> n.startsWith("aggregate-")) && names.stream().anyMatch(n -> n.startsWith("journal-")))
                {
                    return;
                }
            }
            catch (final java.nio.file.NoSuchFileException notYet)
            {
                // the directory is made by the first snapshot
            }
            LockSupport.parkNanos(50_000_000);
        }
        throw new AssertionError("no snapshots within 20 s");
    }

    @Test
    void eventsAreCountedByEventTimeOnceWhateverTheirOrderAndRepeats() throws Exception
    {
        start();
        final Client.Answer first = client.post("/v1/events", "application/json", body());
        assertEquals(EVENTS.size(), first.json().get("accepted").asInt(), first.body());
        assertCountedOnceInTheRightHours();

        awaitSnapshots();
        final Client.Answer afterSnapshot = client.post("/v1/events", "application/json", body());
        assertEquals(EVENTS.size(), afterSnapshot.json().get("duplicates").asInt(), "duplicates after a snapshot: " + afterSnapshot.body());
        assertCountedOnceInTheRightHours();

        server.close();
        server = null;
        start();
        final Client.Answer afterRestart = client.post("/v1/events", "application/json", body());
        assertEquals(EVENTS.size(), afterRestart.json().get("duplicates").asInt(), "duplicates after a restart: " + afterRestart.body());
        assertCountedOnceInTheRightHours();
        assertTrue(client.get("/metrics").body().contains("tokenmeter_snapshot_age_seconds{kind=\"aggregate\"}"));
    }
}
