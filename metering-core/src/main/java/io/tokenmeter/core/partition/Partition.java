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
 */
public final class Partition
{
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

    /**
     * @param dedupDir the directory of the dedup disk tier, opened when {@code config.dedupDiskBudgetBytes()} is
     *                 positive (else the window is bounded by the memory's capacity alone).
     */
    public Partition(final int index, final EventLog log, final SnapshotStore snapshots, final Path dedupDir,
        final Config config, final Executor snapshotWriter, final EpochClock clock, final LongConsumer appendLatencyNs)
    {
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
