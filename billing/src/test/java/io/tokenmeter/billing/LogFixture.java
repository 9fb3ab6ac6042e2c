package io.tokenmeter.billing;

import io.tokenmeter.core.log.ChronicleEventLog;
import io.tokenmeter.core.aggregate.HourlyAggregator;
import io.tokenmeter.core.dedup.DedupIndex;
import io.tokenmeter.core.event.EventHasher;
import io.tokenmeter.core.event.StagedEvent;
import io.tokenmeter.core.log.Durability;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.log.JournalAgent;
import io.tokenmeter.core.log.JournalRequest;
import io.tokenmeter.core.log.RateRules;
import io.tokenmeter.core.log.PriceBookInstall;
import io.tokenmeter.core.snapshot.SnapshotStore;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A real Chronicle log with the real journal, driven on the test thread as its single owner. */
public final class LogFixture implements AutoCloseable
{
    /** One event as a gateway would send it; {@code thinking}: it said {@code "thinking": true}. */
    public record Event(String tenant, String model, String id, long timestampMs, int tier, long[] tokens, boolean thinking)
    {
        public Event(final String tenant, final String model, final String id, final long timestampMs, final int tier,
            final long[] tokens)
        {
            this(tenant, model, id, timestampMs, tier, tokens, false);
        }
    }

    private final EventLog log;
    private final JournalAgent journal;
    private final long nowMs;

    public LogFixture(final Path dir, final long nowMs)
    {
        this.nowMs = nowMs;
        log = new ChronicleEventLog(dir.resolve("log"), Durability.PROCESS);
        journal = new JournalAgent(log, new DedupIndex(1 << 20, TimeUnit.HOURS.toMillis(24), 20_000),
            new SnapshotStore(dir.resolve("snapshots")), Runnable::run, () -> this.nowMs, 1024, 64, 10_000, 1000, Long.MAX_VALUE, ns -> { });
        journal.recover();
    }

    public io.tokenmeter.core.log.ControlRequest.Recorded install(final byte[] json, final RateRules rules)
    {
        final PriceBookInstall install = new PriceBookInstall(json, rules, journal.priceBookRevision() + 1);
        assertTrue(journal.offer(install));
        journal.doWork();
        return install.result().join();
    }

    /** Journals the events in requests of at most 500; @return how many were accepted. */
    public int append(final List<Event> events)
    {
        int accepted = 0;
        for (int at = 0; at < events.size(); at += 500)
        {
            final Request request = new Request(events.subList(at, Math.min(events.size(), at + 500)));
            assertTrue(journal.offer(request));
            for (int i = 0; i < 10 && request.accepted < 0; i++)
            {
                journal.doWork();
            }
            assertTrue(request.accepted >= 0, "journaled");
            accepted += request.accepted;
        }
        return accepted;
    }

    /** @return counters rebuilt by reading the whole log, and the index of its last document. */
    public HourlyAggregator count()
    {
        final HourlyAggregator counters = new HourlyAggregator();
        try (EventLog.Reader reader = log.newReader())
        {
            reader.startAt(EventLog.NO_INDEX);
            while (reader.readNext(counters, (index, appendTimeMs) -> { }) != EventLog.NO_INDEX)
            {
                // apply every document
            }
        }
        return counters;
    }

    public long lastIndex()
    {
        return log.lastIndex();
    }

    @Override
    public void close()
    {
        journal.onClose();
        log.close();
    }

    private static final class Request implements JournalRequest
    {
        final ExpandableArrayBuffer staged = new ExpandableArrayBuffer(4096);
        int length;
        int count;
        int accepted = -1;

        Request(final List<Event> events)
        {
            final EventHasher hasher = new EventHasher();
            for (final Event e : events)
            {
                final byte[] t = e.tenant().getBytes(StandardCharsets.US_ASCII);
                final byte[] m = e.model().getBytes(StandardCharsets.US_ASCII);
                final byte[] i = e.id().getBytes(StandardCharsets.UTF_8);
                final byte[] names = new byte[t.length + m.length + i.length];
                System.arraycopy(t, 0, names, 0, t.length);
                System.arraycopy(m, 0, names, t.length, m.length);
                System.arraycopy(i, 0, names, t.length + m.length, i.length);
                final byte[] key = (e.tenant() + "\0" + e.id()).getBytes(StandardCharsets.UTF_8);
                hasher.hashId(key, 0, key.length);
                final long contentHash = Arrays.hashCode(e.tokens()) * 31L + e.timestampMs() * 7 + e.model().hashCode() + e.tier();
                staged.checkLimit(length + StagedEvent.MAX_LENGTH);
                length += new StagedEvent().wrap(staged, length).encode(hasher.idHashHi(), hasher.idHashLo(), contentHash,
                    e.timestampMs(), e.tokens(), e.tier(), e.thinking() || e.tokens()[5] > 0 ? StagedEvent.FLAG_THINKING : 0,
                    names, t.length, m.length, i.length);
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
            assertEquals(count, accepted + duplicates + conflicts);
            this.accepted = accepted;
        }

        @Override
        public void onRefused(final Refusal refusal)
        {
            throw new AssertionError("refused: " + refusal);
        }
    }
}
