package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.core.event.LogLayout;
import io.tokenmeter.core.log.ChronicleEventLog;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.partition.DataLayout;
import io.tokenmeter.core.partition.Partitioner;
import io.tokenmeter.server.TokenmeterServer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The server's log is a hash chain and its final invoices record the chain at their position: the audit of the data
 * directory holds as written, and fails, naming the position, when an event of the log is edited with its CRC32C
 * recomputed (an edit no checksum can find).
 */
class ChainAuditServerTest
{
    @TempDir
    Path dataDir;

    private TokenmeterServer server;

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
        return Commands.run("audit", "--data-dir", dataDir.toString(), "--period", "2025-10");
    }

    @Test
    void anEventEditedWithItsChecksumRecomputedIsFoundByTheChainAndNamedByPosition() throws Exception
    {
        server = TestServer.start(dataDir, new HashMap<>());
        final Client client = new Client(server.port());
        for (int i = 0; i < 4; i++)
        {
            final Client.Answer answer = client.post("/v1/events", "application/json", "{\"id\":\"chain-e" + i + "\","
                + "\"tenant\":\"acme\",\"model\":\"gpt-4o\",\"timestamp\":\"2025-10-02T04:00:00Z\",\"input_tokens\":" + (1000 + i)
                + ",\"output_tokens\":10}");
            assertEquals(202, answer.status(), answer.body());
        }
        final Client.Answer finalized = client.post("/v1/invoices/acme/2025-10/finalize", null, "");
        assertEquals(201, finalized.status(), finalized.body());
        final JsonNode invoice = finalized.json();
        assertTrue(invoice.path("log_sha256").asText("").matches("[0-9a-f]{64}"), invoice.toString());
        final Client.Answer later = client.post("/v1/events", "application/json", "{\"id\":\"chain-e9\",\"tenant\":\"acme\","
            + "\"model\":\"gpt-4o\",\"timestamp\":\"2025-11-02T04:00:00Z\",\"input_tokens\":5}");
        assertEquals(202, later.status(), later.body());
        server.close();
        server = null;

        final String clean = audit();
        assertTrue(clean.startsWith("0 "), clean);
        assertTrue(clean.contains("chained, holds; head "), clean);

        final DataLayout layout = DataLayout.read(dataDir);
        final Path logDir = layout.logDir(new Partitioner(layout.partitions()).partitionOf("acme"));
        final List<byte[]> docs = new ArrayList<>();
        final List<Long> indexes = new ArrayList<>();
        try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(logDir); EventLog.Reader reader = log.newReader())
        {
            reader.startAt(EventLog.NO_INDEX);
            for (int i = 0; i < 1_000 && reader.readNextRaw((index, buffer, offset, length) ->
            {
                final byte[] bytes = new byte[length];
                buffer.getBytes(offset, bytes);
                docs.add(bytes);
                indexes.add(index);
            }) != EventLog.NO_INDEX; i++)
            {
                // collected by the listener
            }
        }
        final byte[] id = "chain-e1".getBytes(StandardCharsets.US_ASCII);
        int target = -1;
        for (int d = 0; d < docs.size() && target < 0; d++)
        {
            if (indexOf(docs.get(d), id, 0) >= 0)
            {
                target = d;
            }
        }
        assertTrue(target >= 0 && target + 1 < docs.size(), "the event's document is in the log and followed by another");
        final byte[] original = docs.get(target);
        final byte[] edited = original.clone();
        edited[indexOf(edited, id, 0) + id.length - 1] = '7';
        final int checked = edited.length - LogLayout.CHECKSUM_LENGTH;
        final java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(edited, 0, checked);
        new UnsafeBuffer(edited).putInt(checked, (int)crc.getValue());
        patch(logDir, original, edited);

        final String tampered = audit();
        assertTrue(tampered.startsWith("1 "), tampered);
        assertTrue(tampered.contains("hash chain: log document at index " + Long.toHexString(indexes.get(target + 1))
            + " records its predecessor's SHA-256"), tampered);
        assertTrue(tampered.contains("(index " + Long.toHexString(indexes.get(target)) + ")"), tampered);
        assertNotNull(invoice.get("log_index"));
    }

    /** Overwrites, in the queue's file, the one place holding {@code original} with {@code edited} (same length). */
    private static void patch(final Path logDir, final byte[] original, final byte[] edited) throws IOException
    {
        final List<Path> files;
        try (Stream<Path> listing = Files.list(logDir))
        {
            files = listing.filter(p -> p.toString().endsWith(".cq4")).toList();
        }
        int patched = 0;
        for (final Path file : files)
        {
            final byte[] content = Files.readAllBytes(file);
            final int at = indexOf(content, original, 0);
            if (at >= 0)
            {
                try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw"))
                {
                    raf.seek(at);
                    raf.write(edited);
                }
                patched++;
            }
        }
        assertEquals(1, patched, "the document was found in one file");
    }

    private static int indexOf(final byte[] haystack, final byte[] needle, final int from)
    {
        outer:
        for (int i = from; i <= haystack.length - needle.length; i++)
        {
            for (int j = 0; j < needle.length; j++)
            {
                if (haystack[i + j] != needle[j])
                {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
