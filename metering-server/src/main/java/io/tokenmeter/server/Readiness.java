package io.tokenmeter.server;

import io.tokenmeter.core.aggregate.AggregatorAgent;
import io.tokenmeter.core.partition.Partition;
import io.tokenmeter.core.partition.Partitions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Whether the server may take events and answer, and if not, why (the reasons {@code /health/ready} lists):
 * recovering (journals, then each partition's aggregator), a partition's journal failing, a partition lost to another
 * writer (cluster mode: this node was fenced), the data disk below {@code min-free-disk}, stopping. The free space is measured by the disk-watch thread ({@link #checkDisk}, every
 * second); the rest is read from the agents' published state. Any thread.
 */
final class Readiness
{
    private static final Logger LOG = LoggerFactory.getLogger(Readiness.class);

    private final Partitions partitions;
    private final Path dataDir;
    private final long minFreeDiskBytes;
    /** What is unsafe for the whole run (a log topic of one replica), listed with the degraded warnings. */
    private final List<String> startWarnings;
    private volatile long diskFreeBytes = Long.MAX_VALUE;
    private volatile boolean journalsRecovered;
    private volatile boolean stopping;
    /** Cluster mode with an owners group: why its partitions keep the node from being ready, and its warnings. */
    private volatile Supplier<List<String>> clusterReasons = List::of;
    private volatile Supplier<List<String>> clusterWarnings = List::of;

    Readiness(final Partitions partitions, final Path dataDir, final long minFreeDiskBytes, final List<String> startWarnings)
    {
        this.partitions = partitions;
        this.dataDir = dataDir;
        this.minFreeDiskBytes = minFreeDiskBytes;
        this.startWarnings = List.copyOf(startWarnings);
    }

    /** Every journal recovered and running: ingest may start (the aggregators may still be counting). */
    void onJournalsRecovered()
    {
        journalsRecovered = true;
    }

    /**
     * Cluster mode with an owners group: {@code reasons} (the owned partitions still recovering, a recovery that
     * failed, ownership stopped) keep {@code /health/ready} from 200 without stopping the partitions that are served;
     * {@code warnings} are degraded lines (the node owns no partition).
     */
    void cluster(final Supplier<List<String>> reasons, final Supplier<List<String>> warnings)
    {
        clusterReasons = reasons;
        clusterWarnings = warnings;
    }

    void onStopping()
    {
        stopping = true;
    }

    long diskFreeBytes()
    {
        return diskFreeBytes;
    }

    /** @return true when events may be handed to the journals. */
    boolean ingestReady()
    {
        return journalsRecovered && !stopping && !diskLow();
    }

    /** @return true when {@code /health/ready} answers 200. */
    boolean isReady()
    {
        return healthReasons().isEmpty();
    }

    /** @return {@link #reasons} and the cluster's own: what {@code /health/ready} lists when not ready. */
    List<String> healthReasons()
    {
        final List<String> reasons = reasons();
        final List<String> cluster = clusterReasons.get();
        if (cluster.isEmpty())
        {
            return reasons;
        }
        final List<String> all = new ArrayList<>(reasons);
        all.addAll(cluster);
        return all;
    }

    private boolean diskLow()
    {
        return diskFreeBytes < minFreeDiskBytes;
    }

    /** Measures the free space of the data directory's file system; logs when it crosses {@code min-free-disk}. */
    void checkDisk()
    {
        final boolean wasLow = diskLow();
        try
        {
            diskFreeBytes = Files.getFileStore(dataDir).getUsableSpace();
        }
        catch (final IOException | RuntimeException ex)
        {
            LOG.warn("cannot measure free space in {}: {}", dataDir, ex.toString());
            return;
        }
        if (diskLow() != wasLow)
        {
            if (wasLow)
            {
                LOG.info("disk space back: {} MiB free in {}; ingest resumes", diskFreeBytes >> 20, dataDir);
            }
            else
            {
                LOG.error("disk almost full: {} MiB free in {}, below min-free-disk {} MiB; ingest answers 503 until space "
                    + "returns", diskFreeBytes >> 20, dataDir, minFreeDiskBytes >> 20);
            }
        }
    }

    /**
     * @return why the server is not ready to answer the partitions it serves; empty when it is. A partition this
     *     node does not serve (cluster mode) is left out: its requests are refused by its state.
     */
    List<String> reasons()
    {
        final List<String> reasons = new ArrayList<>(2);
        if (stopping)
        {
            reasons.add("stopping");
        }
        if (!journalsRecovered)
        {
            reasons.add("recovering: rebuilding dedup state from the log");
        }
        else
        {
            for (final Partition partition : partitions.all())
            {
                if (!partition.served())
                {
                    continue;
                }
                final AggregatorAgent aggregator = partition.aggregator();
                if (!aggregator.isRecovered())
                {
                    reasons.add("recovering: counting the log" + ofPartition(partition) + " (applied up to index "
                        + Long.toHexString(aggregator.appliedIndex()) + ")");
                }
            }
        }
        for (final Partition partition : partitions.all())
        {
            if (!partition.served())
            {
                continue;
            }
            final String lost = partition.log().lostReason();
            final String failure = partition.journal().failure();
            if (lost != null)
            {
                reasons.add("partition " + partition.index() + " lost: " + lost + "; this node acknowledges none of its events "
                    + "(503 partition_unavailable) and its counts here stop: restart the node once the other writer has "
                    + "stopped, or leave the partition to it");
            }
            else if (failure != null)
            {
                reasons.add("journal failing" + ofPartition(partition) + ": " + failure);
            }
        }
        if (diskLow())
        {
            reasons.add("disk full: " + (diskFreeBytes >> 20) + " MiB free in " + dataDir + ", below min-free-disk "
                + (minFreeDiskBytes >> 20) + " MiB: free space there; ingest resumes by itself");
        }
        return reasons;
    }

    /**
     * @return what is degraded without stopping service (so {@code /health/ready} stays 200, with status
     *     {@code degraded}): a dedup window shorter than configured, since ids were forgotten early. Taking the node
     *     out of service for it would lose fresh events to save old retries; the alert and this line make it seen.
     */
    List<String> warnings()
    {
        List<String> warnings = startWarnings;
        final List<String> cluster = clusterWarnings.get();
        if (!cluster.isEmpty())
        {
            warnings = new ArrayList<>(startWarnings);
            warnings.addAll(cluster);
        }
        for (final Partition partition : partitions.all())
        {
            if (!partition.served())
            {
                continue;
            }
            final long effective = partition.journal().effectiveWindowMs();
            final long window = partition.journal().dedup().windowMs();
            if (effective < window)
            {
                if (warnings == startWarnings)
                {
                    warnings = new ArrayList<>(startWarnings);
                }
                warnings.add("dedup window shortened" + ofPartition(partition) + ": ids are remembered for "
                    + effective / 1000 + " s of the configured " + window / 1000 + " s (memory and dedup-disk-budget "
                    + "full); a retry of an older event would be counted again: raise dedup-disk-budget");
            }
        }
        return warnings;
    }

    private String ofPartition(final Partition partition)
    {
        return partitions.count() == 1 ? "" : " in partition " + partition.index();
    }
}
