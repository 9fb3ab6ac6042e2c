package io.tokenmeter.core.log;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The flushes of {@link Durability#SYNC} on a real Chronicle queue (what a power cut does to them is shown by
 * scripts/power-cut.sh, which needs FUSE): every file they name exists and is flushed without failure, a failure is
 * counted and leaves the document in the log, and the documents read back after the log is opened again.
 */
class ChronicleEventLogSyncTest
{
    @TempDir
    Path dir;

    private static byte[] document(final int i)
    {
        return ("document " + i).getBytes(StandardCharsets.US_ASCII);
    }

    private static List<String> readAll(final Path logDir)
    {
        final List<String> read = new ArrayList<>();
        try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(logDir); EventLog.Reader reader = log.newReader())
        {
            reader.startAfter(EventLog.NO_INDEX);
            final EventLog.RawDocumentListener collect = (index, buffer, offset, length) ->
                read.add(buffer.getStringWithoutLengthAscii(offset, length));
            for (int i = 0; i < 1_000 && reader.readNextRaw(collect) != EventLog.NO_INDEX; i++)
            {
                assertEquals(i + 1, read.size(), "one document a read");
            }
        }
        return read;
    }

    @Test
    void appendsInSyncModeFlushEveryFileTheyNameAndReadBackAfterAReopen()
    {
        final Path logDir = dir.resolve("log");
        final List<String> written = new ArrayList<>();
        for (int open = 0; open < 2; open++)
        {
            try (ChronicleEventLog log = new ChronicleEventLog(logDir, Durability.SYNC))
            {
                for (int i = 0; i < 20; i++)
                {
                    final byte[] bytes = document(open * 100 + i);
                    log.append(new UnsafeBuffer(bytes), bytes.length);
                    written.add(new String(bytes, StandardCharsets.US_ASCII));
                }
                assertEquals(0, log.syncFailures(), "the cycle file, metadata.cq4t and both directories flushed");
            }
        }
        assertEquals(written, readAll(logDir));
    }

    @Test
    void aFlushThatFailsIsCountedAndTheDocumentStaysInTheLog() throws Exception
    {
        final Path logDir = dir.resolve("log");
        try (ChronicleEventLog log = new ChronicleEventLog(logDir, Durability.SYNC))
        {
            // the first append of a file fsyncs the queue's table store: without it that flush fails
            Files.delete(logDir.resolve("metadata.cq4t"));
            final byte[] bytes = document(1);
            final long index = log.append(new UnsafeBuffer(bytes), bytes.length);
            assertEquals(1, log.syncFailures());
            assertEquals(index, log.lastIndex(), "the document is in the log: it is answered and counted, not refused");
            final byte[] next = document(2);
            log.append(new UnsafeBuffer(next), next.length);
            assertEquals(2, log.syncFailures(), "the first-append flushes are tried again until they succeed");
        }
    }
}
