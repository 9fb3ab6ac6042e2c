package io.tokenmeter.core.partition;

import io.tokenmeter.core.aggregate.AggregatorAgent;
import io.tokenmeter.core.dedup.DedupDiskTier;
import io.tokenmeter.core.dedup.DedupIndex;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.log.JournalAgent;
import io.tokenmeter.core.snapshot.SnapshotStore;
import org.agrona.concurrent.EpochClock;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.concurrent.Executor;
import java.util.function.LongConsumer;

/**
 * One partition: the unit of state. Its own log, its own journal (the only appender, owning the dedup index and the
 * name dictionaries), its own aggregator (owning the hour buckets of its tenants) and its own snapshots. Nothing on
 * the hot path is shared with another partition. Each agent runs on a thread of its own, started by
 * {@link Partitions#start}; this class only holds them together.
 *
 * <p>In cluster mode a partition also has a {@linkplain State state}: this node serves it only while it owns it. A
 * partition this node does not own is a {@linkplain #vacant vacant} one (an empty log, agents that never run); the one
 * it acquires is a new {@code Partition} put in its slot ({@link Partitions#replace}). On a single node every
 * partition is {@link State#OWNED} for good.
 */
public final class Partition
{
    /** Whether this node serves the partition (cluster mode; always {@link #OWNED} on a single node). */
    public enum State
    {
        /** Another node owns it, or nobody does: this node answers none of its requests. */
        NOT_OWNED("not_owned"),
        /** Assigned to this node, its journal and aggregator being recovered from its log: not served yet. */
        RECOVERING("recovering"),
        /** Served by this node. */
        OWNED("owned"),
        /** Assigned to this node until its membership ended without a handover: refused at once, torn down. */
        LOST("lost");

        private final String jsonName;

        State(final String jsonName)
        {
            this.jsonName = jsonName;
        }

        /** @return the state's name in {@code GET /v1/cluster}. */
        public String jsonName()
        {
            return jsonName;
        }
    }

    /** How a partition's parts are sized. */
    public record Config(
        int journalQueue,
        int maxDrainRequests,
        int maxDrainEvents,
        int maxRequestEvents,
        int maxModelsPerTenant,
        int dedupCapacity,
        long dedupWindowMs,
        long dedupDiskBudgetBytes,
        int dedupSpillBatch,
        long snapshotIntervalMs,
        int queryQueue)
    {
    }

    private final int index;
    private final EventLog log;
    private final SnapshotStore snapshots;
    private final JournalAgent journal;
    private final AggregatorAgent aggregator;
    /** True for a partition that is {@link State#OWNED} for good (a single node, static ownership): no state to read. */
    private final boolean alwaysOwned;
    /** Set by the ownership thread, read once per request share by the routes (cluster mode with an owners group). */
    private volatile State state = State.OWNED;

    /**
     * @param dedupDir the directory of the dedup disk tier, opened when {@code config.dedupDiskBudgetBytes()} is
     *                 positive (else the window is bounded by the memory's capacity alone).
     */
    public Partition(final int index, final EventLog log, final SnapshotStore snapshots, final Path dedupDir,
        final Config config, final Executor snapshotWriter, final EpochClock clock, final LongConsumer appendLatencyNs)
    {
        this(index, log, snapshots, dedupDir, config, snapshotWriter, clock, appendLatencyNs, true);
    }

    /** @param alwaysOwned false for a partition whose {@link #state} follows the owners group (cluster mode). */
    Partition(final int index, final EventLog log, final SnapshotStore snapshots, final Path dedupDir,
        final Config config, final Executor snapshotWriter, final EpochClock clock, final LongConsumer appendLatencyNs,
        final boolean alwaysOwned)
    {
        this.alwaysOwned = alwaysOwned;
        this.index = index;
        this.log = log;
        this.snapshots = snapshots;
        final DedupIndex dedup = new DedupIndex(config.dedupCapacity(), config.dedupWindowMs(),
            config.maxDrainEvents() + config.maxRequestEvents());
        journal = new JournalAgent(log, dedup, snapshots, snapshotWriter, clock, config.journalQueue(),
            config.maxDrainRequests(), config.maxDrainEvents(), config.maxModelsPerTenant(), config.snapshotIntervalMs(),
            appendLatencyNs);
        if (config.dedupDiskBudgetBytes() > 0)
        {
            try
            {
                journal.diskTier(DedupDiskTier.open(dedupDir, config.dedupWindowMs(), config.dedupDiskBudgetBytes(),
                    config.dedupSpillBatch(), r -> new Thread(r, "dedup-p" + index)));
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException("cannot open the dedup disk tier in " + dedupDir + ": " + ex.getMessage(), ex);
            }
        }
        aggregator = new AggregatorAgent(log, snapshots, snapshotWriter, clock, config.queryQueue(),
            config.snapshotIntervalMs());
    }

    /**
     * @return a partition this node does not serve: an empty log that refuses appends, a journal and an aggregator
     *     sized to nothing that never run, state {@link State#NOT_OWNED}. It keeps the slot answerable (metrics read
     *     zeros from it) until the node acquires the partition.
     */
    public static Partition vacant(final int index, final SnapshotStore snapshots, final Config config,
        final Executor snapshotWriter, final EpochClock clock)
    {
        final Config nothing = new Config(1, 1, 1, 1, config.maxModelsPerTenant(), 1, config.dedupWindowMs(), 0, 1,
            config.snapshotIntervalMs(), 1);
        final Partition partition = new Partition(index, new VacantLog(index), snapshots, null, nothing, snapshotWriter,
            clock, ns -> { }, false);
        partition.state = State.NOT_OWNED;
        return partition;
    }

    /** @return whether this node serves the partition now. Any thread. */
    public State state()
    {
        return state;
    }

    /** Sets whether this node serves the partition. The ownership and recovery threads (cluster mode). */
    public void state(final State state)
    {
        if (alwaysOwned)
        {
            throw new IllegalStateException(this + " is owned for good (a single node or static ownership)");
        }
        this.state = state;
    }

    /**
     * @return true when this node serves the partition's requests now. A partition owned for good answers without a
     *     volatile read; one that follows the owners group reads its state once. Any thread.
     */
    public boolean served()
    {
        return alwaysOwned || state == State.OWNED;
    }

    public int index()
    {
        return index;
    }

    public EventLog log()
    {
        return log;
    }

    public SnapshotStore snapshots()
    {
        return snapshots;
    }

    public JournalAgent journal()
    {
        return journal;
    }

    public AggregatorAgent aggregator()
    {
        return aggregator;
    }

    @Override
    public String toString()
    {
        return "partition " + index + " (" + log.describe() + ")";
    }
}
