package io.tokenmeter.core.partition;

import io.tokenmeter.core.log.ChronicleEventLog;
import io.tokenmeter.core.log.Durability;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.log.LogPretouchAgent;
import io.tokenmeter.core.snapshot.SnapshotStore;
import org.agrona.DirectBuffer;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.CompositeAgent;
import org.agrona.concurrent.EpochClock;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Executor;
import java.util.function.Function;
import java.util.function.LongConsumer;
import java.util.function.ToLongFunction;

/**
 * The partitions of one node, their threads and the tenant-to-partition function. Threads: per partition
 * {@code journal-pN} and {@code aggregator-pN}; one {@code log-pretouch} for every local log. Built once at start;
 * the array never changes afterwards, so any thread may read it.
 */
public final class Partitions implements AutoCloseable
{
    private static final Logger LOG = LoggerFactory.getLogger(Partitions.class);

    private final Partition[] partitions;
    private final Partitioner partitioner;
    /** The logs that are Chronicle queues in the data directory (all of them on a single node, none in cluster mode). */
    private final List<ChronicleEventLog> localLogs;
    private final List<AgentRunner> journalRunners = new ArrayList<>();
    private final List<AgentRunner> aggregatorRunners = new ArrayList<>();
    private AgentRunner pretouchRunner;

    private Partitions(final Partition[] partitions, final List<ChronicleEventLog> localLogs)
    {
        this.partitions = partitions;
        this.partitioner = new Partitioner(partitions.length);
        this.localLogs = localLogs;
    }

    /** Opens a partition's log (its writer's side); the partitions' snapshots and dedup stay in the data directory. */
    @FunctionalInterface
    public interface LogFactory
    {
        /** @return partition {@code p}'s log, opened for appending. */
        EventLog open(int p);
    }

    /**
     * @return the log factory of a single node: each partition's log a Chronicle queue in {@code layout}'s
     *     {@code log/p-NNN} (created where missing).
     */
    public static LogFactory chronicle(final DataLayout layout, final Durability durability)
    {
        return p -> new ChronicleEventLog(layout.logDir(p), durability);
    }

    /** Opens (creating where missing) the Chronicle log and snapshot store of every partition of {@code layout}. */
    public static Partitions open(final DataLayout layout, final Durability durability, final Partition.Config config,
        final Executor snapshotWriter, final EpochClock clock, final LongConsumer appendLatencyNs)
    {
        return open(layout, chronicle(layout, durability), config, snapshotWriter, clock, appendLatencyNs);
    }

    /**
     * Opens every partition of {@code layout} with the log {@code logs} gives it (a Chronicle queue on a single node, a
     * Kafka topic partition in cluster mode) and its snapshot store and dedup tier in the data directory. A failure
     * closes the logs opened so far.
     */
    public static Partitions open(final DataLayout layout, final LogFactory logs, final Partition.Config config,
        final Executor snapshotWriter, final EpochClock clock, final LongConsumer appendLatencyNs)
    {
        final int count = layout.partitions();
        final Partition[] partitions = new Partition[count];
        final List<EventLog> opened = new ArrayList<>(count);
        final List<ChronicleEventLog> local = new ArrayList<>(count);
        try
        {
            for (int p = 0; p < count; p++)
            {
                final EventLog log = logs.open(p);
                opened.add(log);
                if (log instanceof ChronicleEventLog chronicle)
                {
                    local.add(chronicle);
                }
                partitions[p] = new Partition(p, log, new SnapshotStore(layout.snapshotDir(p)), layout.dedupDir(p), config,
                    snapshotWriter, clock, appendLatencyNs);
            }
        }
        catch (final RuntimeException ex)
        {
            opened.forEach(EventLog::close);
            throw ex;
        }
        return new Partitions(partitions, local);
    }

    /** @return every partition's log that is a Chronicle queue on this machine, by partition (none in cluster mode). */
    public List<ChronicleEventLog> localLogs()
    {
        return List.copyOf(localLogs);
    }

    /**
     * Rebuilds every journal (dedup index, dictionaries) from its checkpoint and log, the partitions in parallel.
     * Before {@link #start}.
     */
    public void recoverJournals()
    {
        final ExecutorService pool = Executors.newFixedThreadPool(Math.min(partitions.length,
            Runtime.getRuntime().availableProcessors()), r -> new Thread(r, "journal-recovery"));
        try
        {
            final List<Future<Long>> replayed = new ArrayList<>();
            for (final Partition partition : partitions)
            {
                replayed.add(pool.submit(() -> partition.journal().recover()));
            }
            for (final Future<Long> documents : replayed)
            {
                documents.get();
            }
        }
        catch (final ExecutionException ex)
        {
            final Throwable cause = ex.getCause();
            throw cause instanceof RuntimeException runtime ? runtime : new IllegalStateException(cause);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while recovering", ex);
        }
        finally
        {
            pool.shutdownNow();
        }
    }

    /** Starts every journal, the log pre-toucher, then every aggregator. */
    public void start(final Function<String, ErrorHandler> errorHandlers)
    {
        for (final Partition partition : partitions)
        {
            final String name = "journal-p" + partition.index();
            final ErrorHandler errors = errorHandlers.apply(name);
            partition.journal().roleName(name);
            partition.journal().errorHandler(errors);
            final AgentRunner runner = new AgentRunner(partition.journal().idleStrategy(), errors, null, partition.journal());
            journalRunners.add(runner);
            AgentRunner.startOnThread(runner);
        }
        if (!localLogs.isEmpty())
        {
            // local Chronicle logs only: a Kafka partition has no files to pre-touch
            final List<Agent> touchers = new ArrayList<>();
            localLogs.forEach(log -> touchers.add(new LogPretouchAgent(log)));
            final CompositeAgent allTouchers = new CompositeAgent(touchers);
            pretouchRunner = new AgentRunner(new SleepingMillisIdleStrategy(10), errorHandlers.apply("log-pretouch"), null,
                new Agent()
                {
                    @Override
                    public void onStart()
                    {
                        allTouchers.onStart();
                    }

                    @Override
                    public int doWork() throws Exception
                    {
                        return allTouchers.doWork();
                    }

                    @Override
                    public void onClose()
                    {
                        allTouchers.onClose();
                    }

                    @Override
                    public String roleName()
                    {
                        return "log-pretouch";
                    }
                });
            AgentRunner.startOnThread(pretouchRunner);
        }
        for (final Partition partition : partitions)
        {
            partition.aggregator().countEventsAfter(partition.log().lastIndex());
            final String name = "aggregator-p" + partition.index();
            partition.aggregator().roleName(name);
            final AgentRunner runner = new AgentRunner(partition.aggregator().idleStrategy(), errorHandlers.apply(name), null,
                partition.aggregator());
            aggregatorRunners.add(runner);
            AgentRunner.startOnThread(runner);
        }
        LOG.info("{} partition{} running", partitions.length, partitions.length == 1 ? "" : "s");
    }

    public int count()
    {
        return partitions.length;
    }

    public Partition get(final int p)
    {
        return partitions[p];
    }

    public Partitioner partitioner()
    {
        return partitioner;
    }

    /** @return the partition of a tenant. */
    public Partition of(final String tenant)
    {
        return partitions[partitioner.partitionOf(tenant)];
    }

    /** @return the partition index of the tenant whose name is {@code length} bytes at {@code offset}. */
    public int indexOf(final DirectBuffer buffer, final int offset, final int length)
    {
        return partitioner.partitionOf(buffer, offset, length);
    }

    public List<Partition> all()
    {
        return List.of(partitions);
    }

    /** @return the sum over every partition. */
    public long sum(final ToLongFunction<Partition> value)
    {
        long sum = 0;
        for (final Partition partition : partitions)
        {
            sum += value.applyAsLong(partition);
        }
        return sum;
    }

    /** @return true when every journal has recovered and every aggregator has counted its log as of start. */
    public boolean aggregatorsRecovered()
    {
        for (final Partition partition : partitions)
        {
            if (!partition.aggregator().isRecovered())
            {
                return false;
            }
        }
        return true;
    }

    /** Stops the journals (final checkpoints; queued requests refused), the pre-toucher and the aggregators (final snapshots). */
    public void stopAgents()
    {
        journalRunners.forEach(AgentRunner::close);
        if (pretouchRunner != null)
        {
            pretouchRunner.close();
        }
        aggregatorRunners.forEach(AgentRunner::close);
    }

    /** Stops the agents if running and closes every log. */
    @Override
    public void close()
    {
        stopAgents();
        for (final Partition partition : partitions)
        {
            if (partition.journal().diskTier() != null)
            {
                // closed by its journal when that ran; here when it never did
                partition.journal().diskTier().close();
            }
            partition.log().close();
        }
    }
}
