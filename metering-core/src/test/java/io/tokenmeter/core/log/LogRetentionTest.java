package io.tokenmeter.core.log;

import io.tokenmeter.core.aggregate.HourlyAggregator;
import io.tokenmeter.core.archive.ArchiveManifest;
import io.tokenmeter.core.archive.RetainedDigest;
import io.tokenmeter.core.event.Hours;
import io.tokenmeter.core.event.LogDocumentReader;
import io.tokenmeter.core.event.LogDocumentWriter;
import io.tokenmeter.core.event.LogLayout;
import io.tokenmeter.core.event.StagedEvent;
import io.tokenmeter.core.event.TokenClass;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
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
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Retention on a real Chronicle queue: four days of documents (names, events of random hours and tokens, price-book
 * control records), the three sealed days archived, then the archives of the days the policy allows deleted with a
 * digest kept of each. Reading the log afterwards gives the same counters (at the end and at a position a final invoice
 * was computed at), the same control records at the same positions and a chain that holds, with the hash of that
 * position; a reader that needs the deleted documents is told so; a policy that refuses keeps the file and everything
 * after it; a damaged or missing digest is named.
 */
class LogRetentionTest
{
    private static final int DAYS = 4;
    private static final int DOCUMENTS_PER_DAY = 6;
    private static final int EVENTS_PER_DOCUMENT = 20;
    private static final long DAY_MS = 86_400_000L;

    @TempDir
    Path dir;

    /** The position of a document in the middle of the first day: a final invoice is said to be computed there. */
    private long computedAt;
    /** The first hour of the third day's events: the policy refuses those. */
    private long thirdDayHour;

    private void writeDays(final Path logDir)
    {
        final Random random = new Random(2026_12_02L);
        final Faults faults = new Faults();
        final LogDocumentWriter writer = new LogDocumentWriter(1 << 16);
        final ExpandableArrayBuffer staging = new ExpandableArrayBuffer(StagedEvent.MAX_LENGTH);
        final long startMs = Math.floorDiv(System.currentTimeMillis() - 10 * DAY_MS, DAY_MS) * DAY_MS;
        long n = 0;
        try (ChronicleEventLog log = new ChronicleEventLog(logDir, Durability.PROCESS))
        {
            log.useFaults(faults);
            for (int day = 0; day < DAYS; day++)
            {
                faults.shiftLogClock((day - 10) * DAY_MS);
                final long dayMs = startMs + day * DAY_MS;
                if (day == 2)
                {
                    thirdDayHour = dayMs / Hours.MS_PER_HOUR;
                }
                if (day % 2 == 0)
                {
                    final byte[] book = ("{\"book\":" + day + "}").getBytes(StandardCharsets.UTF_8);
                    log.append(writer.buffer(), writer.writeControl(dayMs, LogLayout.CONTROL_PRICE_BOOK, day + 1, book,
                        log.lastDocumentSha256()));
                }
                for (int d = 0; d < DOCUMENTS_PER_DAY; d++)
                {
                    writer.begin(dayMs + d);
                    if (day == 0 && d == 0)
                    {
                        name(writer, LogLayout.RECORD_TENANT_NAME, 0, "acme");
                        name(writer, LogLayout.RECORD_TENANT_NAME, 1, "beta");
                        name(writer, LogLayout.RECORD_MODEL_NAME, 0, "gpt-4o");
                    }
                    for (int e = 0; e < EVENTS_PER_DOCUMENT; e++)
                    {
                        final long[] tokens = new long[TokenClass.COUNT];
                        tokens[0] = 1 + random.nextInt(100_000);
                        tokens[TokenClass.COUNT - 1] = random.nextInt(5_000);
                        final byte[] names = ("acmegpt-4oid-" + n).getBytes(StandardCharsets.US_ASCII);
                        new StagedEvent().wrap(staging, 0).encode(n, n, n, dayMs + random.nextInt(20) * Hours.MS_PER_HOUR, tokens,
                            random.nextInt(2), 0, names, 4, 6, names.length - 10);
                        writer.appendEvent(new StagedEvent().wrap(staging, 0), random.nextInt(2), 0, 0);
                        n++;
                    }
                    final long index = log.append(writer.buffer(), writer.finish(log.lastDocumentSha256()));
                    if (day == 0 && d == DOCUMENTS_PER_DAY / 2)
                    {
                        computedAt = index;
                    }
                }
            }
        }
    }

    private static void name(final LogDocumentWriter writer, final byte type, final int id, final String name)
    {
        final byte[] bytes = name.getBytes(StandardCharsets.US_ASCII);
        writer.appendName(type, id, new UnsafeBuffer(bytes), 0, bytes.length);
    }

    /** What a replay of the whole log sees. */
    private record Replay(List<String> buckets, long events, List<String> controls, List<String> bucketsAtComputed)
    {
    }

    private Replay replay(final ChronicleEventLog log)
    {
        final HourlyAggregator counters = new HourlyAggregator();
        final List<String> controls = new ArrayList<>();
        final List<String> atComputed = new ArrayList<>();
        final List<String> pending = new ArrayList<>();
        final LogDocumentReader.Handler handler = new LogDocumentReader.Handler()
        {
            @Override
            public void onName(final byte recordType, final int id, final DirectBuffer buffer, final int offset, final int length)
            {
                counters.onName(recordType, id, buffer, offset, length);
            }

            @Override
            public void onEvent(final io.tokenmeter.core.event.EventRecord event, final long appendTimeMs)
            {
                counters.onEvent(event, appendTimeMs);
            }

            @Override
            public void onControl(final int controlKind, final long revision, final DirectBuffer buffer, final int offset,
                final int length, final long appendTimeMs)
            {
                pending.add(controlKind + " " + revision + " "
                    + buffer.getStringWithoutLengthUtf8(offset, length) + " " + appendTimeMs);
            }

            @Override
            public void onRetainedBucket(final long[] bucket)
            {
                counters.onRetainedBucket(bucket);
            }

            @Override
            public void onRetainedEvents(final long events)
            {
                counters.onRetainedEvents(events);
            }
        };
        try (EventLog.Reader reader = log.newReader())
        {
            reader.startAt(EventLog.NO_INDEX);
            for (int i = 0; i < 10_000; i++)
            {
                final long index = reader.readNext(handler, (at, appendTimeMs) ->
                {
                    pending.forEach(control -> controls.add(Long.toHexString(at) + " " + control));
                    pending.clear();
                });
                if (index == EventLog.NO_INDEX)
                {
                    break;
                }
                if (index == computedAt)
                {
                    atComputed.addAll(text(counters));
                }
            }
        }
        return new Replay(text(counters), counters.eventCount(), controls, atComputed);
    }

    private static List<String> text(final HourlyAggregator counters)
    {
        final long[][] buckets = counters.exportBuckets();
        Arrays.sort(buckets, Comparator.<long[]>comparingLong(b -> b[0]).thenComparingLong(b -> b[b.length - 1]));
        return Arrays.stream(buckets).map(Arrays::toString).toList();
    }

    private void archiveAll(final Path logDir) throws IOException
    {
        try (ChronicleEventLog log = new ChronicleEventLog(logDir, Durability.PROCESS))
        {
            final List<LogArchiver.Outcome> outcomes = new LogArchiver(log, 0, (tenant, eventTimeMs, index) -> true,
                System.currentTimeMillis(), System.currentTimeMillis()).run();
            assertEquals(DAYS - 1, outcomes.stream().filter(LogArchiver.Outcome::archived).count(), outcomes.toString());
        }
    }

    /** Deletes what a policy refusing the third day's events allows. */
    private List<LogRetention.Outcome> retain(final Path logDir) throws IOException
    {
        try (ChronicleEventLog log = new ChronicleEventLog(logDir, Durability.PROCESS))
        {
            return new LogRetention(log, index -> index == computedAt,
                (tenant, hour, throughIndex) -> hour >= thirdDayHour ? "the third day is kept" : null,
                System.currentTimeMillis()).run();
        }
    }

    @Test
    void deletedFilesReplayFromTheirDigestsToTheSameCountersControlsAndChain() throws IOException
    {
        final Path logDir = dir.resolve("log");
        writeDays(logDir);
        final Replay before;
        final ChainVerifier.Result chainBefore;
        final LongHashSet wanted = new LongHashSet();
        wanted.add(computedAt);
        try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(logDir))
        {
            before = replay(log);
            chainBefore = ChainVerifier.verify(log, ChainVerifier.startOfLog(), wanted);
        }
        assertEquals((long)DAYS * DOCUMENTS_PER_DAY * EVENTS_PER_DOCUMENT, before.events());
        assertFalse(before.bucketsAtComputed().isEmpty());

        archiveAll(logDir);
        final List<LogRetention.Outcome> outcomes = retain(logDir);
        assertEquals(3, outcomes.size(), "two days deleted, the third kept and the run stopped there: " + outcomes);
        assertTrue(outcomes.get(0).deleted() && outcomes.get(1).deleted(), outcomes.toString());
        assertFalse(outcomes.get(2).deleted());
        assertTrue(outcomes.get(2).reason().contains("the third day is kept"), outcomes.get(2).reason());

        try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(logDir))
        {
            final List<ArchiveManifest> manifests = log.archive().manifests();
            assertTrue(manifests.get(0).deleted() && manifests.get(1).deleted() && !manifests.get(2).deleted());
            assertFalse(Files.exists(log.archive().archivePath(manifests.get(0))), "the archive is deleted");
            assertTrue(Files.exists(log.archive().digestPath(manifests.get(0))), "its digest is kept");
            final RetainedDigest first = log.archive().digest(manifests.get(0));
            assertNotNull(first.sha256At(computedAt), "the position a final invoice was computed at is a kept document");
            assertEquals(List.of(), log.archive().problems(true, log.days().live()::contains));

            final Replay after = replay(log);
            assertEquals(before.buckets(), after.buckets(), "the same counters from digests as from the events");
            assertEquals(before.events(), after.events());
            assertEquals(before.bucketsAtComputed(), after.bucketsAtComputed(), "the same counters where an invoice was computed");
            assertEquals(before.controls(), after.controls(), "the same control records at the same positions");
            assertEquals(2, before.controls().size());
            final ChainVerifier.Result chainAfter = ChainVerifier.verify(log, ChainVerifier.startOfLog(), wanted);
            assertTrue(chainAfter.holds(), chainAfter.breaks().toString());
            assertEquals(2, chainAfter.retainedFiles());
            assertEquals(chainBefore.headSha256(), chainAfter.headSha256());
            assertEquals(chainBefore.documents(), chainAfter.documents());
            assertEquals(chainBefore.sha256At().get(computedAt), chainAfter.sha256At().get(computedAt),
                "a final invoice's chain hash is still provable");
            assertEquals(chainBefore.sha256At().get(computedAt), DocumentSha256.sha256At(log, computedAt));

            try (EventLog.Reader reader = log.newReader())
            {
                reader.startAt(EventLog.NO_INDEX);
                final RetainedFileException refused = assertThrows(RetainedFileException.class,
                    () -> reader.readNextRaw((index, buffer, offset, length) -> { }));
                assertTrue(refused.getMessage().contains("deleted by retention"), refused.getMessage());
                final IllegalStateException gone = assertThrows(IllegalStateException.class,
                    () -> reader.startAt(manifests.get(0).firstIndex() + 1));
                assertTrue(gone.getMessage().contains("deleted by retention"), gone.getMessage());
                assertTrue(reader.readAt(computedAt, new HourlyAggregator()), "a kept document is read where it was");
            }
        }
        assertEquals(1, retain(logDir).size(), "a second run considers the kept file again and stops there");
    }

    @Test
    void aDamagedOrMissingDigestIsNamed() throws IOException
    {
        final Path logDir = dir.resolve("log");
        writeDays(logDir);
        archiveAll(logDir);
        retain(logDir);
        final Path digest;
        try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(logDir))
        {
            digest = log.archive().digestPath(log.archive().manifests().get(0));
        }
        try (RandomAccessFile file = new RandomAccessFile(digest.toFile(), "rw"))
        {
            file.seek(file.length() / 2);
            final int b = file.read();
            file.seek(file.length() / 2);
            file.write(b ^ 0x10);
        }
        try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(logDir))
        {
            final List<String> problems = log.archive().problems(true, log.days().live()::contains);
            assertEquals(1, problems.size(), problems.toString());
            assertTrue(problems.get(0).contains(digest.getFileName().toString()) && problems.get(0).contains("altered"),
                problems.get(0));
            final EventLog.Reader reader = log.newReader();
            final IllegalStateException refused = assertThrows(IllegalStateException.class, () ->
            {
                reader.startAt(EventLog.NO_INDEX);
                reader.readNext(new HourlyAggregator(), (i, t) -> { });
            });
            assertTrue(refused.getMessage().contains(digest.getFileName().toString()), refused.getMessage());
            reader.close();
        }
        Files.delete(digest);
        try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(logDir))
        {
            final List<String> problems = log.archive().problems(true, log.days().live()::contains);
            assertEquals(1, problems.size(), problems.toString());
            assertTrue(problems.get(0).contains("is missing"), problems.get(0));
        }
    }
}
