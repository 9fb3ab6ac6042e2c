package io.tokenmeter.core.log;

import io.tokenmeter.core.archive.ArchiveManifest;
import io.tokenmeter.core.archive.LogArchive;
import io.tokenmeter.core.event.LogDocumentWriter;
import io.tokenmeter.core.event.LogLayout;
import org.agrona.collections.LongHashSet;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Archives of sealed log files on a real Chronicle queue: four days' files, the three sealed ones archived; every
 * document then reads back the same, at the same positions, from the start and from any position, the chain holds
 * across archives and live files, and the log goes on being appended to. A run killed before it removed the original
 * is finished by the next; a flipped byte, a truncated archive and a missing one are each named, never passed over.
 */
class LogArchiveTest
{
    private static final int DAYS = 4;
    private static final int PER_DAY = 5;
    private static final long DAY_MS = 86_400_000L;

    @TempDir
    Path dir;

    /** A document of one tenant name each, "tenant-N", id N. */
    private static long append(final ChronicleEventLog log, final LogDocumentWriter writer, final int n, final long appendTimeMs)
    {
        writer.begin(appendTimeMs);
        final byte[] name = String.format("tenant-%04d", n).getBytes(StandardCharsets.US_ASCII);
        writer.appendName(LogLayout.RECORD_TENANT_NAME, n, new UnsafeBuffer(name), 0, name.length);
        return log.append(writer.buffer(), writer.finish(log.lastDocumentSha256()));
    }

    /** Writes {@link #PER_DAY} documents in each of {@link #DAYS} day files, the first ten days ago. */
    private List<Long> writeDays(final Path logDir)
    {
        final List<Long> indexes = new ArrayList<>();
        final Faults faults = new Faults();
        final LogDocumentWriter writer = new LogDocumentWriter(256);
        try (ChronicleEventLog log = new ChronicleEventLog(logDir, Durability.PROCESS))
        {
            log.useFaults(faults);
            for (int day = 0; day < DAYS; day++)
            {
                faults.shiftLogClock((day - 10) * DAY_MS);
                for (int i = 0; i < PER_DAY; i++)
                {
                    indexes.add(append(log, writer, day * PER_DAY + i, System.currentTimeMillis() - (10 - day) * DAY_MS));
                }
            }
        }
        return indexes;
    }

    /** @return every document as (position, bytes), in log order. */
    private static List<Object[]> read(final ChronicleEventLog log, final long startAt)
    {
        final List<Object[]> all = new ArrayList<>();
        try (EventLog.Reader reader = log.newReader())
        {
            reader.startAt(startAt);
            for (int i = 0; i < 1_000 && reader.readNextRaw((index, buffer, offset, length) ->
            {
                final byte[] bytes = new byte[length];
                buffer.getBytes(offset, bytes);
                all.add(new Object[] {index, bytes});
            }) != EventLog.NO_INDEX; i++)
            {
                assertTrue(i < 999, "more documents than were written");
            }
        }
        return all;
    }

    private static List<LogArchiver.Outcome> archive(final Path logDir) throws IOException
    {
        try (ChronicleEventLog log = new ChronicleEventLog(logDir, Durability.PROCESS))
        {
            return new LogArchiver(log, 0, (tenant, eventTimeMs, index) -> true, System.currentTimeMillis(),
                System.currentTimeMillis()).run();
        }
    }

    private static void assertSame(final List<Object[]> expected, final List<Object[]> actual)
    {
        assertEquals(expected.size(), actual.size(), "documents");
        for (int i = 0; i < expected.size(); i++)
        {
            assertEquals(expected.get(i)[0], actual.get(i)[0], "position of document " + i);
            assertArrayEquals((byte[])expected.get(i)[1], (byte[])actual.get(i)[1], "bytes of document " + i);
        }
    }

    @Test
    void archivedFilesReadBackTheSameAtTheSamePositionsAndTheLogGoesOn() throws IOException
    {
        final Path logDir = dir.resolve("log");
        final List<Long> indexes = writeDays(logDir);
        final List<Object[]> before;
        try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(logDir))
        {
            before = read(log, EventLog.NO_INDEX);
            assertEquals(DAYS, log.days().live().size(), "one file per day");
        }

        final List<LogArchiver.Outcome> outcomes = archive(logDir);
        assertEquals(DAYS - 1, outcomes.size(), "every sealed file is considered, the one being written is not: " + outcomes);
        outcomes.forEach(o -> assertTrue(o.archived(), o.file() + ": " + o.reason()));
        try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(logDir))
        {
            assertEquals(1, log.days().live().size(), "the originals were removed");
            final LogArchive archive = log.archive();
            assertEquals(DAYS - 1, archive.manifests().size());
            final ArchiveManifest first = archive.manifests().get(0);
            assertEquals(PER_DAY, first.documents());
            assertEquals(indexes.get(0), first.firstIndex());
            assertEquals(indexes.get(PER_DAY - 1), first.lastIndex());
            assertEquals(-1, first.previousCycle());
            assertEquals("0".repeat(64), first.previousDocumentSha256(), "the log's first document links to zeros");
            assertEquals(first.cycle(), archive.manifests().get(1).previousCycle());
            assertEquals("tenant-0000", first.tenants().get(0), "the names a file defines are kept with it");
            assertTrue(first.archiveBytes() * 10 < first.originalBytes(), "compressed: " + first);
            assertEquals(List.of(), archive.problems(true, log.days().live()::contains));

            assertSame(before, read(log, EventLog.NO_INDEX));
            for (final int k : new int[] {0, 3, PER_DAY, 2 * PER_DAY + 4, 3 * PER_DAY + 1})
            {
                assertSame(before.subList(k, before.size()), read(log, indexes.get(k)));
            }
            final ChainVerifier.Result chain = ChainVerifier.verify(log, ChainVerifier.startOfLog(), new LongHashSet());
            assertTrue(chain.holds(), () -> "breaks: " + chain.breaks());
            assertEquals(DAYS * PER_DAY, chain.documents());
        }

        final long next;
        try (ChronicleEventLog log = new ChronicleEventLog(logDir, Durability.PROCESS))
        {
            final Faults faults = new Faults();
            faults.shiftLogClock(-6 * DAY_MS);
            log.useFaults(faults);
            next = append(log, new LogDocumentWriter(256), 99, System.currentTimeMillis());
        }
        try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(logDir))
        {
            final List<Object[]> after = read(log, EventLog.NO_INDEX);
            assertEquals(before.size() + 1, after.size());
            assertSame(before, after.subList(0, before.size()));
            assertEquals(next, after.get(before.size())[0]);
            assertTrue(ChainVerifier.verify(log, ChainVerifier.startOfLog(), new LongHashSet()).holds(),
                "the chain goes on from the live files after archives");
        }
    }

    @Test
    void aRunKilledBeforeItRemovedTheOriginalIsFinishedByTheNextAndTheDayReadsTheSameMeanwhile() throws IOException
    {
        final Path logDir = dir.resolve("log");
        writeDays(logDir);
        final List<Object[]> before;
        final Path original;
        try (ChronicleEventLog log = new ChronicleEventLog(logDir, Durability.PROCESS))
        {
            before = read(log, EventLog.NO_INDEX);
            final int cycle = log.days().live().first();
            original = logDir.resolve(log.days().fileNameOf(cycle));
            // what a run leaves when killed after the manifest and before the removal
            log.archive().pack(original, new ArchiveManifest(0, cycle, original.getFileName().toString(), -1, 0, 0, PER_DAY, 0,
                0, 0, 0, "", 0, "", "", "00", 0, 0, "", java.util.Map.of()));
        }
        assertTrue(Files.exists(original));
        try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(logDir))
        {
            assertSame(before, read(log, EventLog.NO_INDEX));
        }
        final List<LogArchiver.Outcome> outcomes = archive(logDir);
        assertTrue(outcomes.get(0).archived(), outcomes.toString());
        assertFalse(Files.exists(original), "the next run removes the original of the verified archive");
        try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(logDir))
        {
            assertSame(before, read(log, EventLog.NO_INDEX));
        }
    }

    @Test
    void aSealedFileWhoseHashChainBreaksIsKeptLiveAndNothingAfterItIsArchived() throws IOException
    {
        final Path logDir = dir.resolve("log");
        final Faults faults = new Faults();
        final LogDocumentWriter writer = new LogDocumentWriter(256);
        final long forged;
        try (ChronicleEventLog log = new ChronicleEventLog(logDir, Durability.PROCESS))
        {
            log.useFaults(faults);
            for (int day = 0; day < 3; day++)
            {
                faults.shiftLogClock((day - 10) * DAY_MS);
                append(log, writer, day * 2, System.currentTimeMillis());
                append(log, writer, day * 2 + 1, System.currentTimeMillis());
            }
            faults.shiftLogClock(-7 * DAY_MS);
            writer.begin(System.currentTimeMillis());
            final byte[] name = "tenant-forged".getBytes(StandardCharsets.US_ASCII);
            writer.appendName(LogLayout.RECORD_TENANT_NAME, 77, new UnsafeBuffer(name), 0, name.length);
            // a document that names another predecessor than the log's last: what an inserted or reordered one records
            forged = log.append(writer.buffer(), writer.finish(new byte[DocumentSha256.LENGTH]));
            faults.shiftLogClock(-6 * DAY_MS);
            append(log, writer, 99, System.currentTimeMillis());
        }
        final List<LogArchiver.Outcome> outcomes;
        final long verified;
        final int breaks;
        try (ChronicleEventLog log = new ChronicleEventLog(logDir, Durability.PROCESS))
        {
            final LogArchiver archiver = new LogArchiver(log, 0, (tenant, eventTimeMs, index) -> true, System.currentTimeMillis(),
                System.currentTimeMillis());
            outcomes = archiver.run();
            verified = archiver.chainVerified();
            breaks = archiver.chainBreaks();
        }
        assertEquals(4, outcomes.size(), outcomes.toString());
        assertTrue(outcomes.get(0).archived() && outcomes.get(1).archived() && outcomes.get(2).archived(), outcomes.toString());
        final LogArchiver.Outcome kept = outcomes.get(3);
        assertFalse(kept.archived());
        assertTrue(kept.reason().contains("hash chain breaks at its document at log index " + Long.toHexString(forged)),
            kept.reason());
        assertEquals(1, breaks);
        assertEquals(7, verified, "every document up to the break had its link checked");
    }

    @Test
    void aFlippedByteATruncatedArchiveAndAMissingOneAreEachNamed() throws IOException
    {
        final Path logDir = dir.resolve("log");
        writeDays(logDir);
        archive(logDir);
        final List<ArchiveManifest> manifests;
        try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(logDir))
        {
            manifests = log.archive().manifests();
        }
        final Path archiveDir = logDir.resolve(LogArchive.DIRECTORY);
        final Path flipped = archiveDir.resolve(manifests.get(0).archiveFile());
        try (RandomAccessFile file = new RandomAccessFile(flipped.toFile(), "rw"))
        {
            file.seek(file.length() / 2);
            final int b = file.read();
            file.seek(file.length() / 2);
            file.write(b ^ 0x01);
        }
        final Path truncated = archiveDir.resolve(manifests.get(1).archiveFile());
        try (RandomAccessFile file = new RandomAccessFile(truncated.toFile(), "rw"))
        {
            file.setLength(file.length() - 7);
        }
        final Path missing = archiveDir.resolve(manifests.get(2).archiveFile());
        Files.delete(missing);

        try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(logDir))
        {
            final List<String> problems = log.archive().problems(true, log.days().live()::contains);
            assertEquals(3, problems.size(), problems.toString());
            assertTrue(problems.get(0).contains(flipped.toString()) && problems.get(0).contains("SHA-256"), problems.get(0));
            assertTrue(problems.get(1).contains(truncated.toString()) && problems.get(1).contains("truncated"), problems.get(1));
            assertTrue(problems.get(2).contains(missing.toString()) && problems.get(2).contains("missing"), problems.get(2));
            final IllegalStateException unread = assertThrows(IllegalStateException.class, () -> read(log, EventLog.NO_INDEX),
                "a reader never passes over a damaged archive");
            assertTrue(unread.getMessage().contains(manifests.get(0).file()), unread.getMessage());
        }

        // manifest and archive both gone: named through the manifest after it, and the chain misses its start
        Files.delete(archiveDir.resolve(manifests.get(0).manifestFile()));
        try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(logDir))
        {
            final List<String> problems = log.archive().problems(false, log.days().live()::contains);
            assertTrue(problems.stream().anyMatch(p -> p.contains("cycle " + manifests.get(0).cycle())
                && p.contains("missing")), problems.toString());
        }
    }
}
