package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.server.TokenmeterServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Start-up over damaged files: snapshots with a bad checksum or cut short fall back to older ones, missing snapshots
 * to a full replay of the log, and a log document torn by a kill in the middle of its append is not counted and does
 * not stop the log. Every time: counts exact, no event applied twice, every acknowledged id still remembered, and the
 * server's log says what it did.
 */
class DamagedFilesTest
{
    @TempDir
    Path dataDir;

    private TokenmeterServer server;
    private Client client;
    private LogCapture log;

    @BeforeEach
    void captureLog()
    {
        log = new LogCapture();
    }

    @AfterEach
    void stop()
    {
        if (server != null)
        {
            server.close();
        }
        log.close();
    }

    private void start() throws Exception
    {
        server = TestServer.start(dataDir, Map.of("snapshot-interval", "100ms"));
        client = new Client(server.port());
    }

    private void restart() throws Exception
    {
        server.close();
        server = null;
        start();
    }

    private static String batch(final String prefix, final int events)
    {
        final StringBuilder body = new StringBuilder("[");
        for (int i = 0; i < events; i++)
        {
            body.append(i == 0 ? "" : ",").append("{\"id\":\"").append(prefix).append(i)
                .append("\",\"tenant\":\"acme\",\"model\":\"m\",\"output_tokens\":").append(i + 1).append('}');
        }
        return body.append(']').toString();
    }

    private void assertCounted(final int events, final long outputTokens)
    {
        final JsonNode row = client.get("/v1/usage?tenant=acme&from=1970-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&group_by="
            + "&consistent=true").json().get("rows").get(0);
        assertEquals(events, row.get("requests").asInt(), "events counted once");
        assertEquals(outputTokens, row.get("output_tokens").asLong());
    }

    private void assertRemembered(final String prefix, final int events)
    {
        assertEquals(events, client.post("/v1/events", "application/json", batch(prefix, events)).json().get("duplicates").asInt(),
            "the ids of " + prefix + " are remembered");
    }

    private List<Path> snapshots(final String kind) throws Exception
    {
        try (Stream<Path> files = Files.list(PartitionDirs.snapshots(dataDir, "acme")))
        {
            return files.filter(p -> p.getFileName().toString().startsWith(kind + "-") && p.toString().endsWith(".snap"))
                .sorted(Comparator.comparing((Path p) -> p.getFileName().toString()).reversed()).toList();
        }
    }

    private void awaitSnapshots(final int perKind) throws Exception
    {
        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < until)
        {
            if (Files.isDirectory(PartitionDirs.snapshots(dataDir, "acme")) && snapshots("aggregate").size() >= perKind
                && snapshots("journal").size() >= perKind)
            {
                return;
            }
            LockSupport.parkNanos(50_000_000);
        }
        throw new AssertionError("snapshots not written within 20 s");
    }

    @Test
    void damagedNewestSnapshotsFallBackToOlderOnesAndCountOnce() throws Exception
    {
        start();
        client.post("/v1/events", "application/json", batch("a", 30));
        awaitSnapshots(1);
        final List<Path> first = new ArrayList<>(snapshots("aggregate"));
        client.post("/v1/events", "application/json", batch("b", 20));
        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (snapshots("aggregate").equals(first) && System.nanoTime() < until)
        {
            LockSupport.parkNanos(50_000_000);
        }
        server.close();
        server = null;

        final Path aggregate = snapshots("aggregate").get(0);
        try (RandomAccessFile file = new RandomAccessFile(aggregate.toFile(), "rw"))
        {
            file.seek(file.length() / 2);
            final int b = file.read();
            file.seek(file.length() / 2);
            file.write(b ^ 0x5A);
        }
        final Path journal = snapshots("journal").get(0);
        try (RandomAccessFile file = new RandomAccessFile(journal.toFile(), "rw"))
        {
            file.setLength(file.length() / 2);
        }
        start();
        assertCounted(50, 30 * 31 / 2 + 20 * 21 / 2);
        assertRemembered("a", 30);
        assertRemembered("b", 20);
        final String text = log.text();
        assertTrue(text.contains("snapshot " + aggregate.getFileName() + " is damaged"), text);
        assertTrue(text.contains("snapshot " + journal.getFileName() + " is damaged"), text);
    }

    @Test
    void missingSnapshotsMeanAFullReplay() throws Exception
    {
        start();
        client.post("/v1/events", "application/json", batch("a", 40));
        awaitSnapshots(1);
        server.close();
        server = null;
        try (Stream<Path> files = Files.list(PartitionDirs.snapshots(dataDir, "acme")))
        {
            for (final Path file : files.toList())
            {
                Files.delete(file);
            }
        }
        start();
        assertCounted(40, 40 * 41 / 2);
        assertRemembered("a", 40);
        assertTrue(log.text().contains("no usable aggregate snapshot: counting from the start of the log"), log.text());
    }

    @Test
    void aDocumentTornByAKillMidAppendIsNotCountedAndTheLogGoesOn() throws Exception
    {
        start();
        client.post("/v1/events", "application/json", batch("a", 25));
        server.close();
        server = null;

        final List<String> command = ServerProcess.javaCommand();
        command.addAll(List.of(TornWriter.class.getName(), PartitionDirs.log(dataDir, "acme").toString()));
        final Process torn = new ProcessBuilder(command).redirectErrorStream(true).start();
        assertTrue(torn.waitFor(60, TimeUnit.SECONDS));
        final String tornOutput = new String(torn.getInputStream().readAllBytes());
        assertTrue(tornOutput.contains("torn document started"), tornOutput);

        start();
        assertCounted(25, 25 * 26 / 2);
        assertRemembered("a", 25);
        final Client.Answer after = client.post("/v1/events", "application/json", batch("c", 10));
        assertEquals(202, after.status(), after.body());
        assertEquals(10, after.json().get("accepted").asInt());
        assertCounted(35, 25 * 26 / 2 + 10 * 11 / 2);
        restart();
        assertCounted(35, 25 * 26 / 2 + 10 * 11 / 2);
        assertRemembered("c", 10);
    }

    @Test
    void aLogWhoseTailWasCutMidRecordDropsTheCutDocumentAndCountsTheRest() throws Exception
    {
        start();
        client.post("/v1/events", "application/json", batch("a", 25));
        client.post("/v1/events", "application/json", batch("b", 30));
        server.close();
        server = null;
        // delete the snapshots so that start-up reads the whole log, cut document included
        try (Stream<Path> files = Files.list(PartitionDirs.snapshots(dataDir, "acme")))
        {
            for (final Path file : files.toList())
            {
                Files.delete(file);
            }
        }
        final long[] lastDocument = new long[2];
        final Path cq4;
        try (net.openhft.chronicle.queue.impl.single.SingleChronicleQueue queue =
            net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder.binary(PartitionDirs.log(dataDir, "acme"))
                .rollCycle(net.openhft.chronicle.queue.RollCycles.FAST_DAILY).readOnly(true).build();
            net.openhft.chronicle.queue.ExcerptTailer tailer = queue.createTailer())
        {
            while (true)
            {
                try (net.openhft.chronicle.wire.DocumentContext document = tailer.readingDocument())
                {
                    if (!document.isPresent())
                    {
                        break;
                    }
                    lastDocument[0] = document.wire().bytes().readPosition();
                    lastDocument[1] = document.wire().bytes().readRemaining();
                }
            }
            cq4 = queue.file().toPath();
        }
        final Path file;
        try (Stream<Path> files = Files.list(cq4))
        {
            file = files.filter(p -> p.toString().endsWith(".cq4")).findFirst().orElseThrow();
        }
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw"))
        {
            raf.setLength(lastDocument[0] + lastDocument[1] / 2);
        }
        start();
        assertCounted(25, 25 * 26 / 2);
        assertRemembered("a", 25);
        final Client.Answer again = client.post("/v1/events", "application/json", batch("b", 30));
        assertEquals(30, again.json().get("accepted").asInt(), "the cut document's events were never counted: " + again.body());
        assertCounted(55, 25 * 26 / 2 + 30 * 31 / 2);
        assertTrue(log.text().contains("damaged"), log.text());
    }
}
