package io.tokenmeter.kafka;

import io.tokenmeter.core.aggregate.AggregatorAgent;
import io.tokenmeter.core.aggregate.BucketKey;
import io.tokenmeter.core.aggregate.Granularity;
import io.tokenmeter.core.aggregate.UsageQuery;
import io.tokenmeter.core.aggregate.UsageRow;
import io.tokenmeter.core.dedup.DedupIndex;
import io.tokenmeter.core.event.EventHasher;
import io.tokenmeter.core.event.StagedEvent;
import io.tokenmeter.core.event.TokenClass;
import io.tokenmeter.core.log.ChainVerifier;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.log.JournalAgent;
import io.tokenmeter.core.log.JournalRequest;
import io.tokenmeter.core.snapshot.SnapshotStore;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.collections.LongHashSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The same journal and aggregator as on a Chronicle queue, over a Kafka partition (SPEC section 10: one log interface,
 * two implementations): events journaled with retries and conflicts are counted once by an aggregator tailing the
 * partition, a restarted journal recovers its dedup state from the partition, and the documents it wrote hold the hash
 * chain. Agents are driven on the test thread, their single owner.
 */
class JournalOverKafkaTest
{
    private static final long HOUR = BucketKey.MS_PER_HOUR;
    private static final long START_MS = 1_763_856_000_000L;
    private static final int TENANTS = 3;

    @TempDir
    static Path dir;

    private static KafkaBrokers brokers;

    private long nowMs = START_MS + 72 * HOUR;

    @BeforeAll
    static void startBroker()
    {
        brokers = KafkaBrokers.start(dir.resolve("kafka"), 1);
    }

    @AfterAll
    static void stopBroker()
    {
        if (brokers != null)
        {
            brokers.close();
        }
    }

    /** One event as the test sent it. */
    record Event(String tenant, String model, String id, long timestampMs, long[] tokens)
    {
    }

    /** A journal request that remembers its outcome. */
    static final class Request implements JournalRequest
    {
        final ExpandableArrayBuffer staged = new ExpandableArrayBuffer(1024);
        int length;
        int count;
        int[] outcome;
        Refusal refusal;

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
        final EventHasher hasher = new EventHasher();
        final byte[] key = (e.tenant + "\0" + e.id).getBytes(StandardCharsets.UTF_8);
        hasher.hashId(key, 0, key.length);
        final long contentHash = Arrays.hashCode(e.tokens) * 31L + e.timestampMs * 7 + e.model.hashCode();
        out.checkLimit(offset + StagedEvent.MAX_LENGTH);
        return new StagedEvent().wrap(out, offset).encode(hasher.idHashHi(), hasher.idHashLo(), contentHash, e.timestampMs,
            e.tokens, 0, 0, names, t.length, m.length, i.length);
    }

    private JournalAgent journal(final EventLog log)
    {
        return new JournalAgent(log, new DedupIndex(100_000, TimeUnit.HOURS.toMillis(24), 20_000),
            new SnapshotStore(dir.resolve("snapshots")), Runnable::run, () -> nowMs, 1024, 64, 10_000, 1000, 1, ns -> { });
    }

    private AggregatorAgent aggregator(final EventLog log)
    {
        return new AggregatorAgent(log, new SnapshotStore(dir.resolve("aggregator-snapshots")), Runnable::run, () -> nowMs,
            64, Long.MAX_VALUE);
    }

    private static void catchUp(final AggregatorAgent aggregator, final long index)
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        for (int i = 0; i < 100_000 && aggregator.appliedIndex() < index && System.nanoTime() < deadlineNs; i++)
        {
            aggregator.doWork();
        }
        assertEquals(index, aggregator.appliedIndex(), "the aggregator caught up with the partition");
    }

    /** Journals one request on the test thread. @return its outcome (accepted, duplicates, conflicts). */
    private int[] send(final JournalAgent journal, final List<Event> events)
    {
        final Request request = new Request(events);
        assertTrue(journal.offer(request));
        journal.doWork();
        assertNull(request.refusal, "the journal wrote the request");
        nowMs += 1_000;
        return request.outcome;
    }

    @Test
    void theJournalAndTheAggregatorCountEachEventOnceOverAKafkaPartitionAndAcrossARestart()
    {
        final long seed = System.nanoTime();
        final Random random = new Random(seed);
        final KafkaEventLog.Settings settings = KafkaEventLogTest.newTopic(brokers, 1);
        final List<Event> events = new ArrayList<>();
        for (int n = 0; n < 1_500; n++)
        {
            final long[] tokens = new long[TokenClass.COUNT];
            tokens[TokenClass.INPUT.ordinal()] = 1 + random.nextInt(10_000);
            tokens[TokenClass.OUTPUT.ordinal()] = random.nextInt(2_000);
            events.add(new Event("tenant-" + (n % TENANTS), "model-" + random.nextInt(3), "id-" + n,
                START_MS + random.nextInt(48) * HOUR, tokens));
        }
        final Map<String, long[]> expected = new HashMap<>();
        for (final Event e : events)
        {
            final long[] sums = expected.computeIfAbsent(e.tenant, k -> new long[2]);
            sums[0]++;
            sums[1] += e.tokens[TokenClass.INPUT.ordinal()];
        }

        final long lastIndex;
        try (KafkaEventLog log = KafkaEventLog.open(settings, 0))
        {
            final JournalAgent journal = journal(log);
            journal.recover();
            int accepted = 0;
            for (int at = 0; at < events.size(); at += 100)
            {
                accepted += send(journal, events.subList(at, at + 100))[0];
            }
            assertEquals(events.size(), accepted, "seed " + seed);
            // retries of a slice are duplicates; the same ids with other tokens are conflicts
            assertArrayEquals(new int[] {0, 100, 0}, send(journal, events.subList(200, 300)));
            final List<Event> changed = new ArrayList<>();
            for (final Event e : events.subList(300, 350))
            {
                final long[] other = e.tokens.clone();
                other[TokenClass.INPUT.ordinal()]++;
                changed.add(new Event(e.tenant, e.model, e.id, e.timestampMs, other));
            }
            assertArrayEquals(new int[] {0, 0, 50}, send(journal, changed));
            lastIndex = journal.lastAppendedIndex();
            assertEquals(lastIndex, log.lastIndex());

            final AggregatorAgent aggregator = aggregator(log);
            aggregator.onStart();
            catchUp(aggregator, lastIndex);
            for (int t = 0; t < TENANTS; t++)
            {
                final String tenant = "tenant-" + t;
                final List<UsageRow> rows = aggregator.aggregator().query(new UsageQuery(tenant, 0, BucketKey.MAX_HOUR,
                    Granularity.TOTAL, false, false, EventLog.NO_INDEX));
                assertEquals(1, rows.size(), tenant);
                assertEquals(expected.get(tenant)[0], rows.get(0).requests(), tenant + ", seed " + seed);
                assertEquals(expected.get(tenant)[1], rows.get(0).tokens(TokenClass.INPUT.ordinal()), tenant + ", seed " + seed);
            }
            aggregator.onClose();
        }

        // a second life without the journal's clean close: its dedup state comes back from the partition
        try (KafkaEventLog log = KafkaEventLog.open(settings, 0))
        {
            assertEquals(lastIndex, log.lastIndex());
            final JournalAgent journal = journal(log);
            journal.recover();
            assertArrayEquals(new int[] {0, 100, 0}, send(journal, events.subList(1_000, 1_100)),
                "nothing is accepted twice after a restart");
            final Event fresh = new Event("tenant-0", "model-0", "brand-new", START_MS, new long[TokenClass.COUNT]);
            assertArrayEquals(new int[] {1, 0, 0}, send(journal, List.of(fresh)));
            final ChainVerifier.Result chain = ChainVerifier.verify(log, ChainVerifier.startOfLog(), new LongHashSet());
            assertTrue(chain.holds(), () -> "breaks: " + chain.breaks());
            assertEquals(journal.lastAppendedIndex(), chain.lastIndex());
        }
    }
}
