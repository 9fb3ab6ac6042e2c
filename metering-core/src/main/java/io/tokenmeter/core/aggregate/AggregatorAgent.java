package io.tokenmeter.core.aggregate;

import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.log.WakeableIdleStrategy;
import io.tokenmeter.core.snapshot.SnapshotStore;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.EpochClock;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * Tails the log into the {@link HourlyAggregator} and answers questions between reads. The only thread that
 * touches the counters; readers post {@link UsageQuery}s or {@link Task}s through a bounded queue and get a future,
 * so they see a consistent state without locks. A question with a {@code minLogIndex} waits until the log is applied
 * that far.
 */
public final class AggregatorAgent implements Agent
{
    /** A question run on the aggregator thread against the counters as applied up to {@code appliedIndex}. */
    @FunctionalInterface
    public interface Task<T>
    {
        T run(HourlyAggregator aggregator, long appliedIndex);
    }

    public static final String SNAPSHOT_KIND = "aggregate";
    private static final Logger LOG = LoggerFactory.getLogger(AggregatorAgent.class);
    private static final int MAX_DOCUMENTS_PER_CYCLE = 256;
    private static final int MAX_WAITING_QUERIES = 4096;

    private final EventLog log;
    private final SnapshotStore snapshots;
    private final Executor snapshotWriter;
    private final EpochClock clock;
    private final long snapshotIntervalMs;
    private final HourlyAggregator aggregator = new HourlyAggregator();
    /** Made once: a method reference in the duty cycle would allocate on every poll. */
    private final EventLog.DocumentListener documentEnd = this::onDocumentEnd;
    private final ManyToOneConcurrentArrayQueue<PendingQuery<?>> inbox;
    /**
     * Parks when idle, at most 1 ms: the journal does not wake it per append (a system call on the single writer's
     * thread for every document), so new documents wait at most 1 ms to be counted; queries wake it.
     */
    private final WakeableIdleStrategy idle = new WakeableIdleStrategy(100, 20, 1_000_000L);
    private final List<PendingQuery<?>> waiting = new ArrayList<>();
    private EventLog.Reader reader;
    /** What reads each document: the aggregator alone, or the aggregator and then the follower. */
    private io.tokenmeter.core.event.LogDocumentReader.Handler handler = aggregator;
    private LogFollower follower;
    /** Marks the follower's state at the end of a snapshot; snapshots without it (older, or no follower) end before. */
    private static final int FOLLOWER_MAGIC = 0x464F4C31;
    private long lastSnapshotMs;
    private long lastSnapshotIndex = EventLog.NO_INDEX;
    private String roleName = "aggregator";

    private volatile long appliedIndex = EventLog.NO_INDEX;
    private final java.util.concurrent.atomic.AtomicLong eventsCountedSinceStart = new java.util.concurrent.atomic.AtomicLong();
    private long eventsAtLastDocument;
    private long countFromIndex = Long.MAX_VALUE;
    private volatile long appliedAppendTimeMs;
    private volatile long recoveryTargetIndex = Long.MAX_VALUE;

    public AggregatorAgent(
        final EventLog log,
        final SnapshotStore snapshots,
        final Executor snapshotWriter,
        final EpochClock clock,
        final int queryQueueCapacity,
        final long snapshotIntervalMs)
    {
        this.log = log;
        this.snapshots = snapshots;
        this.snapshotWriter = snapshotWriter;
        this.clock = clock;
        this.inbox = new ManyToOneConcurrentArrayQueue<>(queryQueueCapacity);
        this.snapshotIntervalMs = snapshotIntervalMs;
    }

    /**
     * Gives the aggregator a {@link LogFollower}, handed every record after the counters applied it. Before the agent
     * starts.
     */
    public void follow(final LogFollower follower)
    {
        this.follower = follower;
        this.handler = new Tee(aggregator, follower);
    }

    /**
     * Loads the newest usable snapshot and positions the tailer after it; the rest of the log is applied by the duty
     * cycle. Runs on the aggregator thread, which must own the tailer (Chronicle tailers are thread-confined).
     */
    @Override
    public void onStart()
    {
        final long logEnd = log.lastIndex();
        reader = log.newReader();
        final Optional<SnapshotStore.Snapshot> snapshot = snapshots.loadNewest(SNAPSHOT_KIND, index -> index <= logEnd);
        if (snapshot.isPresent())
        {
            final ByteBuffer payload = snapshot.get().payload();
            appliedAppendTimeMs = payload.getLong();
            aggregator.readFrom(payload);
            if (follower != null && payload.remaining() >= 2 * Integer.BYTES && payload.getInt(payload.position()) == FOLLOWER_MAGIC)
            {
                payload.getInt();
                final int length = payload.getInt();
                follower.restoreSnapshotState(payload.slice(payload.position(), length).order(ByteOrder.LITTLE_ENDIAN));
            }
            final long index = snapshot.get().logIndex();
            reader.startAfter(index);
            appliedIndex = index;
            lastSnapshotIndex = index;
            LOG.info("aggregate snapshot {} loaded: {} buckets, {} events, log index {}",
                snapshot.get().file().getFileName(), aggregator.bucketCount(), aggregator.eventCount(),
                Long.toHexString(index));
        }
        else
        {
            reader.startAt(EventLog.NO_INDEX);
            LOG.info("no usable aggregate snapshot: counting from the start of the log");
        }
        lastSnapshotMs = clock.time();
        recoveryTargetIndex = logEnd;
        eventsAtLastDocument = aggregator.eventCount();
    }

    /** @return true once the log as it was at start-up is applied. Any thread. */
    public boolean isRecovered()
    {
        final long target = recoveryTargetIndex;
        return target == EventLog.NO_INDEX || appliedIndex >= target;
    }

    /**
     * Asks a usage question. Any thread.
     *
     * @return the answer's future, or null when the query queue is full (the caller answers 503).
     */
    public CompletableFuture<List<UsageRow>> submit(final UsageQuery query)
    {
        return submit(query.minLogIndex(), (aggregator, appliedIndex) -> aggregator.query(query));
    }

    /**
     * Runs a task on the aggregator thread once the log is applied up to {@code minLogIndex}. Any thread.
     *
     * @return the answer's future, or null when the queue is full (the caller answers 503).
     */
    public <T> CompletableFuture<T> submit(final long minLogIndex, final Task<T> task)
    {
        final PendingQuery<T> pending = new PendingQuery<>(minLogIndex, task, new CompletableFuture<>());
        if (inbox.offer(pending))
        {
            idle.wake();
            return pending.future;
        }
        return null;
    }

    /** @return the idle strategy to run this agent with: it parks when there is nothing to read or answer; queries wake it. */
    public WakeableIdleStrategy idleStrategy()
    {
        return idle;
    }

    @Override
    public int doWork()
    {
        int work = 0;
        for (int i = 0; i < MAX_DOCUMENTS_PER_CYCLE; i++)
        {
            if (reader.readNext(handler, documentEnd) == EventLog.NO_INDEX)
            {
                break;
            }
            work++;
        }
        work += answerQueries();
        if (follower != null)
        {
            work += follower.doWork(clock.time());
        }
        maybeSnapshot();
        return work;
    }

    private void onDocumentEnd(final long index, final long appendTimeMs)
    {
        final long events = aggregator.eventCount();
        if (index > countFromIndex)
        {
            eventsCountedSinceStart.lazySet(eventsCountedSinceStart.get() + events - eventsAtLastDocument);
        }
        eventsAtLastDocument = events;
        if (follower != null)
        {
            follower.onDocumentEnd(index, appendTimeMs);
        }
        appliedAppendTimeMs = appendTimeMs;
        appliedIndex = index;
    }

    /**
     * Call before the thread starts: events of documents after {@code index} (those the journal appends in this run)
     * are counted in {@link #eventsCountedSinceStart()}, so that the journal's accepted count minus it is the lag.
     */
    public void countEventsAfter(final long index)
    {
        countFromIndex = index;
    }

    /** @return events counted from documents after the {@link #countEventsAfter} index. Any thread. */
    public long eventsCountedSinceStart()
    {
        return eventsCountedSinceStart.get();
    }

    private int answerQueries()
    {
        int work = 0;
        if (!waiting.isEmpty())
        {
            final Iterator<PendingQuery<?>> it = waiting.iterator();
            while (it.hasNext())
            {
                final PendingQuery<?> pending = it.next();
                if (pending.minLogIndex <= appliedIndex)
                {
                    it.remove();
                    answer(pending);
                    work++;
                }
            }
        }
        PendingQuery<?> pending;
        while ((pending = inbox.poll()) != null)
        {
            work++;
            if (pending.minLogIndex <= appliedIndex)
            {
                answer(pending);
            }
            else if (waiting.size() < MAX_WAITING_QUERIES)
            {
                waiting.add(pending);
            }
            else
            {
                pending.future.completeExceptionally(new IllegalStateException("too many queries waiting for the log"));
            }
        }
        return work;
    }

    private <T> void answer(final PendingQuery<T> pending)
    {
        try
        {
            pending.future.complete(pending.task.run(aggregator, appliedIndex));
        }
        catch (final RuntimeException ex)
        {
            pending.future.completeExceptionally(ex);
        }
    }

    private void maybeSnapshot()
    {
        final long now = clock.time();
        if (now - lastSnapshotMs >= snapshotIntervalMs && appliedIndex != lastSnapshotIndex && isRecovered())
        {
            final long index = appliedIndex;
            final ByteBuffer payload = snapshotPayload();
            lastSnapshotMs = now;
            lastSnapshotIndex = index;
            snapshotWriter.execute(() -> snapshots.writeOrWarn(SNAPSHOT_KIND, index, payload));
        }
    }

    private ByteBuffer snapshotPayload()
    {
        final byte[] state = follower == null ? null : follower.snapshotState();
        final ByteBuffer payload = ByteBuffer.allocate(Long.BYTES + aggregator.encodedLength()
            + (state == null ? 0 : 2 * Integer.BYTES + state.length)).order(ByteOrder.LITTLE_ENDIAN);
        payload.putLong(appliedAppendTimeMs);
        aggregator.writeTo(payload);
        if (state != null)
        {
            payload.putInt(FOLLOWER_MAGIC).putInt(state.length).put(state);
        }
        return payload.flip();
    }

    @Override
    public void onClose()
    {
        while (reader.readNext(handler, documentEnd) != EventLog.NO_INDEX)
        {
            // apply everything acknowledged before the stop, so the final snapshot holds it
        }
        if (appliedIndex != EventLog.NO_INDEX && appliedIndex != lastSnapshotIndex)
        {
            snapshots.writeOrWarn(SNAPSHOT_KIND, appliedIndex, snapshotPayload());
            lastSnapshotIndex = appliedIndex;
        }
        final IllegalStateException stopping = new IllegalStateException("aggregator stopping");
        waiting.forEach(p -> p.future.completeExceptionally(stopping));
        PendingQuery<?> pending;
        while ((pending = inbox.poll()) != null)
        {
            pending.future.completeExceptionally(stopping);
        }
        reader.close();
    }

    /** Names this agent's thread (Agrona's runner names the thread after the role), e.g. {@code aggregator-p3}. Before it runs. */
    public void roleName(final String name)
    {
        roleName = name;
    }

    @Override
    public String roleName()
    {
        return roleName;
    }

    /** @return the index of the last applied log document. Any thread. */
    public long appliedIndex()
    {
        return appliedIndex;
    }

    /** @return the journal time of the last applied document (epoch ms). Any thread. */
    public long appliedAppendTimeMs()
    {
        return appliedAppendTimeMs;
    }

    /** The counters; touch only from the aggregator thread, or after it stopped (tests). */
    public HourlyAggregator aggregator()
    {
        return aggregator;
    }

    /** Hands each record to the counters, then to the follower. */
    private static final class Tee implements io.tokenmeter.core.event.LogDocumentReader.Handler
    {
        private final HourlyAggregator aggregator;
        private final LogFollower follower;

        Tee(final HourlyAggregator aggregator, final LogFollower follower)
        {
            this.aggregator = aggregator;
            this.follower = follower;
        }

        @Override
        public void onName(final byte recordType, final int id, final org.agrona.DirectBuffer buffer, final int offset,
            final int length)
        {
            aggregator.onName(recordType, id, buffer, offset, length);
            follower.onName(recordType, id, buffer, offset, length);
        }

        @Override
        public void onEvent(final io.tokenmeter.core.event.EventRecord event, final long appendTimeMs)
        {
            aggregator.onEvent(event, appendTimeMs);
            follower.onEvent(event, appendTimeMs);
        }

        @Override
        public void onControl(final int controlKind, final long revision, final org.agrona.DirectBuffer buffer, final int offset,
            final int length, final long appendTimeMs)
        {
            aggregator.onControl(controlKind, revision, buffer, offset, length, appendTimeMs);
            follower.onControl(controlKind, revision, buffer, offset, length, appendTimeMs);
        }

        @Override
        public void onEventLink(final int bits, final long reservationHi, final long reservationLo, final long streamHi,
            final long streamLo, final long seq)
        {
            aggregator.onEventLink(bits, reservationHi, reservationLo, streamHi, streamLo, seq);
            follower.onEventLink(bits, reservationHi, reservationLo, streamHi, streamLo, seq);
        }

        @Override
        public void onRetainedBucket(final long[] bucket)
        {
            aggregator.onRetainedBucket(bucket);
            follower.onRetainedBucket(bucket);
        }

        @Override
        public void onRetainedEvents(final long events)
        {
            aggregator.onRetainedEvents(events);
            follower.onRetainedEvents(events);
        }
    }

    private record PendingQuery<T>(long minLogIndex, Task<T> task, CompletableFuture<T> future)
    {
    }
}
