package io.tokenmeter.core.log;

import io.tokenmeter.core.log.ChronicleEventLog;
import io.tokenmeter.core.aggregate.AggregatorAgent;
import io.tokenmeter.core.aggregate.BucketKey;
import io.tokenmeter.core.aggregate.Granularity;
import io.tokenmeter.core.aggregate.UsageQuery;
import io.tokenmeter.core.aggregate.UsageRow;
import io.tokenmeter.core.dedup.DedupIndex;
import io.tokenmeter.core.event.ServiceTier;
import io.tokenmeter.core.event.StagedEvent;
import io.tokenmeter.core.event.TokenClass;
import io.tokenmeter.core.snapshot.SnapshotStore;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The journal and the aggregator on a real Chronicle queue, driven on the test thread as their single owner. */
class JournalReplayTest
{
    private static final long HOUR = BucketKey.MS_PER_HOUR;
    private static final long START_MS = 1_763_856_000_000L; // 2025-11-23T00:00:00Z

    @TempDir
    Path dataDir;

    private long nowMs = START_MS + 72 * HOUR;

    /** One generated event and the test's own record of it. */
    record Event(String tenant, String model, String id, long timestampMs, int tier, long[] tokens)
    {
    }

    /** A journal request that remembers its outcome, and which event a refusal named. */
    static final class Request implements JournalRequest
    {
        final ExpandableArrayBuffer staged = new ExpandableArrayBuffer(1024);
        int length;
        int count;
        int[] outcome;
        Refusal refusal;
        /** The event a refusal named, or -1. */
        int refusedEvent = -1;

        Request(final List<Event> events)
        {
            for (final Event e : events)
            {
                length += stage(staged, length, e);
                count++;
            }
        }

        @Override
        public DirectBuffer stagedEvents()
        {
            return staged;
        }

        @Override
        public int stagedLength()
        {
            return length;
        }

        @Override
        public int eventCount()
        {
            return count;
        }

        @Override
        public void onJournaled(final int accepted, final int duplicates, final int conflicts)
        {
            outcome = new int[] {accepted, duplicates, conflicts};
        }

        @Override
        public void onRefused(final Refusal refusal)
        {
            this.refusal = refusal;
        }

        @Override
        public void onRefused(final Refusal refusal, final int eventIndex)
        {
            refusedEvent = eventIndex;
            onRefused(refusal);
        }
    }

    static int stage(final ExpandableArrayBuffer out, final int offset, final Event e)
    {
        final byte[] t = e.tenant.getBytes(StandardCharsets.US_ASCII);
        final byte[] m = e.model.getBytes(StandardCharsets.US_ASCII);
        final byte[] i = e.id.getBytes(StandardCharsets.UTF_8);
        final byte[] names = new byte[t.length + m.length + i.length];
        System.arraycopy(t, 0, names, 0, t.length);
        System.arraycopy(m, 0, names, t.length, m.length);
        System.arraycopy(i, 0, names, t.length + m.length, i.length);
        final io.tokenmeter.core.event.EventHasher hasher = new io.tokenmeter.core.event.EventHasher();
        final byte[] key = (e.tenant + "\0" + e.id).getBytes(StandardCharsets.UTF_8);
        hasher.hashId(key, 0, key.length);
        final long contentHash = Arrays.hashCode(e.tokens) * 31L + e.timestampMs * 7 + e.model.hashCode() + e.tier;
        out.checkLimit(offset + StagedEvent.MAX_LENGTH);
        return new StagedEvent().wrap(out, offset).encode(hasher.idHashHi(), hasher.idHashLo(), contentHash, e.timestampMs,
            e.tokens, e.tier, e.tokens[TokenClass.REASONING.ordinal()] > 0 ? StagedEvent.FLAG_THINKING : 0, names, t.length,
            m.length, i.length);
    }

    private JournalAgent journal(final EventLog log, final int capacity)
    {
        return new JournalAgent(log, new DedupIndex(capacity, TimeUnit.HOURS.toMillis(24), 20_000),
            new SnapshotStore(dataDir.resolve("snapshots")), Runnable::run, () -> nowMs, 1024, 64, 10_000, 1000, 1, ns -> { });
    }

    private AggregatorAgent aggregator(final EventLog log, final Path snapshots)
    {
        return new AggregatorAgent(log, new SnapshotStore(snapshots), Runnable::run, () -> nowMs, 64, Long.MAX_VALUE);
    }

    private static void catchUp(final AggregatorAgent aggregator, final long index)
    {
        for (int i = 0; i < 100_000 && aggregator.appliedIndex() < index; i++)
        {
            aggregator.doWork();
        }
        assertEquals(index, aggregator.appliedIndex(), "aggregator caught up with the log");
    }

    private static long[][] sortedBuckets(final AggregatorAgent aggregator)
    {
        final long[][] buckets = aggregator.aggregator().exportBuckets();
        // ids may differ only if names were defined in another order, which the log forbids: compare raw keys
        Arrays.sort(buckets, Comparator.comparingLong(b -> b[0]));
        return buckets;
    }

    private List<Event> randomEvents(final Random random, final int count, final int idSpace)
    {
        final List<Event> events = new ArrayList<>(count);
        for (int n = 0; n < count; n++)
        {
            final long[] tokens = new long[TokenClass.COUNT];
            for (int c = 0; c < TokenClass.COUNT - 1; c++)
            {
                tokens[c] = random.nextInt(5) == 0 ? 0 : random.nextInt(100_000);
            }
            tokens[TokenClass.REASONING.ordinal()] = tokens[TokenClass.OUTPUT.ordinal()] / 3;
            events.add(new Event("tenant-" + random.nextInt(5), "model-" + random.nextInt(4), "id-" + random.nextInt(idSpace),
                START_MS + (long)(random.nextDouble() * 72 * HOUR), random.nextInt(4), tokens));
        }
        return events;
    }

    /** Submits events in random batches; returns the expected buckets (first accepted content of each id counts). */
    private void submit(final JournalAgent journal, final List<Event> events, final Random random,
        final Map<String, Event> firstById, final Map<Long, long[]> expected, final Map<String, Integer> tenantIds,
        final Map<String, Integer> modelIds)
    {
        int at = 0;
        while (at < events.size())
        {
            final int size = Math.min(events.size() - at, 1 + random.nextInt(200));
            final List<Event> batch = events.subList(at, at + size);
            final Request request = new Request(batch);
            int accepted = 0;
            int duplicates = 0;
            int conflicts = 0;
            for (final Event e : batch)
            {
                final String key = e.tenant + "\0" + e.id;
                final Event first = firstById.get(key);
                if (first == null)
                {
                    firstById.put(key, e);
                    accepted++;
                    tenantIds.putIfAbsent(e.tenant, tenantIds.size());
                    modelIds.putIfAbsent(e.model, modelIds.size());
                    // reasoning tokens make a thinking-mode request: a bucket of its own (variant 8, v bit 1)
                    final long bucket = BucketKey.pack(Math.floorDiv(e.timestampMs, HOUR), tenantIds.get(e.tenant),
                        modelIds.get(e.model), e.tier, e.tokens[TokenClass.REASONING.ordinal()] > 0 ? 1 : 0);
                    final long[] sums = expected.computeIfAbsent(bucket, k -> new long[9]);
                    sums[0] = bucket;
                    sums[1]++;
                    for (int c = 0; c < TokenClass.COUNT; c++)
                    {
                        sums[2 + c] += e.tokens[c];
                    }
                }
                else if (Arrays.equals(first.tokens, e.tokens) && first.timestampMs == e.timestampMs
                    && first.model.equals(e.model) && first.tier == e.tier)
                {
                    duplicates++;
                }
                else
                {
                    conflicts++;
                }
            }
            assertTrue(journal.offer(request));
            journal.doWork();
            assertNull(request.refusal);
            assertArrayEquals(new int[] {accepted, duplicates, conflicts}, request.outcome);
            at += size;
            nowMs += 1000;
        }
    }

    @Test
    void liveCountsEqualFullReplayAndSnapshotPlusTail()
    {
        final long seed = Long.getLong("tokenmeter.test.seed", 20261208L);
        final Random random = new Random(seed);
        final Map<String, Event> firstById = new HashMap<>();
        final Map<Long, long[]> expected = new HashMap<>();
        final Map<String, Integer> tenantIds = new HashMap<>();
        final Map<String, Integer> modelIds = new HashMap<>();
        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log, 1_000_000);
            journal.recover();
            final AggregatorAgent live = aggregator(log, dataDir.resolve("snapshots"));
            live.onStart();

            final List<Event> events = randomEvents(random, 6_000, 4_000);
            // re-send a slice unchanged (retries) and a slice with other tokens (conflicts)
            events.addAll(events.subList(0, 500));
            for (final Event e : new ArrayList<>(events.subList(500, 700)))
            {
                final long[] other = e.tokens.clone();
                other[0]++;
                events.add(new Event(e.tenant, e.model, e.id, e.timestampMs, e.tier, other));
            }
            submit(journal, events.subList(0, 4_000), random, firstById, expected, tenantIds, modelIds);
            catchUp(live, journal.lastAppendedIndex());
            live.onClose(); // writes the snapshot at this point of the log

            submit(journal, events.subList(4_000, events.size()), random, firstById, expected, tenantIds, modelIds);

            final AggregatorAgent fromSnapshot = aggregator(log, dataDir.resolve("snapshots"));
            fromSnapshot.onStart();
            catchUp(fromSnapshot, journal.lastAppendedIndex());

            final AggregatorAgent fromScratch = aggregator(log, dataDir.resolve("no-snapshots"));
            fromScratch.onStart();
            catchUp(fromScratch, journal.lastAppendedIndex());

            final long[][] want = expected.values().stream().sorted(Comparator.comparingLong(b -> b[0])).toArray(long[][]::new);
            final long[][] scratch = sortedBuckets(fromScratch);
            assertEquals(want.length, scratch.length, "seed " + seed);
            for (int i = 0; i < want.length; i++)
            {
                assertArrayEquals(want[i], Arrays.copyOf(scratch[i], 9), "bucket " + i + ", seed " + seed);
            }
            assertTrue(Arrays.deepEquals(scratch, sortedBuckets(fromSnapshot)), "snapshot + tail equals full replay, seed " + seed);
            fromSnapshot.onClose();
            fromScratch.onClose();
        }
    }

    @Test
    void recoveredJournalRemembersEveryAcceptedIdAndName()
    {
        final Random random = new Random(42);
        final Map<String, Event> firstById = new HashMap<>();
        final List<Event> events = randomEvents(random, 3_000, 2_000);
        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log, 1_000_000);
            journal.recover();
            submit(journal, events, random, firstById, new HashMap<>(), new HashMap<>(), new HashMap<>());
            journal.onClose(); // final checkpoint
        }
        // a second life: half from the checkpoint, then more traffic, then a third life without a clean close
        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log, 1_000_000);
            journal.recover();
            final Request again = new Request(events);
            assertTrue(journal.offer(again));
            journal.doWork();
            assertEquals(0, again.outcome[0], "nothing is accepted twice after a restart");
            final List<Event> fresh = List.of(new Event("tenant-9", "model-9", "brand-new", START_MS, 0, new long[6]));
            final Request freshRequest = new Request(fresh);
            journal.offer(freshRequest);
            journal.doWork();
            assertArrayEquals(new int[] {1, 0, 0}, freshRequest.outcome);
        }
        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log, 1_000_000);
            journal.recover();
            final Request retry = new Request(List.of(new Event("tenant-9", "model-9", "brand-new", START_MS, 0, new long[6])));
            journal.offer(retry);
            journal.doWork();
            assertArrayEquals(new int[] {0, 1, 0}, retry.outcome, "accepted after the last checkpoint, found by replay");
            final AggregatorAgent aggregator = aggregator(log, dataDir.resolve("snapshots"));
            aggregator.onStart();
            catchUp(aggregator, journal.lastAppendedIndex());
            final List<UsageRow> rows = aggregator.aggregator().query(new UsageQuery("tenant-9", 0, BucketKey.MAX_HOUR,
                Granularity.TOTAL, true, false, EventLog.NO_INDEX));
            assertEquals(1, rows.size());
            assertEquals("model-9", rows.get(0).model());
            assertEquals(1, rows.get(0).requests());
            aggregator.onClose();
        }
    }

    @Test
    void tooManyModelNamesRefusesTheWholeRequest()
    {
        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log, 1_000_000);
            journal.recover();
            // 1000 models per tenant (the bound of each) over 66 tenants: the shared table is what overflows
            final List<Event> events = new ArrayList<>();
            for (int i = 0; i <= BucketKey.MAX_MODELS; i++)
            {
                events.add(new Event("t" + i / 1000, "m" + i, "id" + i, START_MS, ServiceTier.STANDARD.code(), new long[6]));
            }
            final Request tooMany = new Request(events);
            journal.offer(tooMany);
            journal.doWork();
            assertEquals(JournalRequest.Refusal.TOO_MANY_NAMES, tooMany.refusal);
            final Request retryFirst = new Request(events.subList(0, 1));
            journal.offer(retryFirst);
            journal.doWork();
            assertArrayEquals(new int[] {1, 0, 0}, retryFirst.outcome, "the refused request left no trace");
        }
    }
}
