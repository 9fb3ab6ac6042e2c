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
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Function;
import java.util.function.LongConsumer;
import java.util.function.ToLongFunction;

/**
 * The partitions of one node, their threads and the tenant-to-partition function. Threads: per partition
 * {@code journal-pN} and {@code aggregator-pN}; one {@code log-pretouch} for every local log. Built once at start.
 * On a single node the slots never change afterwards. In cluster mode with an owners group a slot holds a
 * {@linkplain Partition#vacant vacant} partition until this node acquires it, then the partition built on its log
 * ({@link #build}, {@link #replace}, {@link #startAggregator}, {@link #startJournal}, {@link #retire}; the ownership
 * thread); any thread may read a slot (one volatile read).
 */
public final class Partitions implements AutoCloseable
{
    private static final Logger LOG = LoggerFactory.getLogger(Partitions.class);

    private final AtomicReferenceArray<Partition> partitions;
    private final Partitioner partitioner;
    /** What {@link #build} makes a partition of (null parts when built from ready partitions). */
    private final DataLayout layout;
    private final Partition.Config config;
    private final Executor snapshotWriter;
    private final EpochClock clock;
    private final LongConsumer appendLatencyNs;
    /** Each partition's running agents, by partition index (null when not running); guarded by {@code this}. */
    private final AgentRunner[] journalRunnerOf;
    private final AgentRunner[] aggregatorRunnerOf;
    /** The logs that are Chronicle queues in the data directory (all of them on a single node, none in cluster mode). */
    private final List<ChronicleEventLog> localLogs;
    private AgentRunner pretouchRunner;

    private Partitions(final Partition[] partitions, final List<ChronicleEventLog> localLogs, final DataLayout layout,
        final Partition.Config config, final Executor snapshotWriter, final EpochClock clock,
        final LongConsumer appendLatencyNs)
    {
        this.partitions = new AtomicReferenceArray<>(partitions);
        this.partitioner = new Partitioner(partitions.length);
        this.localLogs = localLogs;
        this.layout = layout;
        this.config = config;
        this.snapshotWriter = snapshotWriter;
        this.clock = clock;
        this.appendLatencyNs = appendLatencyNs;
        this.journalRunnerOf = new AgentRunner[partitions.length];
        this.aggregatorRunnerOf = new AgentRunner[partitions.length];
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
        return new Partitions(partitions, local, layout, config, snapshotWriter, clock, appendLatencyNs);
    }

    /**
     * Cluster mode with an owners group: every partition of {@code layout} {@linkplain Partition#vacant vacant}, none
     * opened; the node builds each one it acquires ({@link #build}) on the log the group's ownership opens.
     */
    public static Partitions openVacant(final DataLayout layout, final Partition.Config config,
        final Executor snapshotWriter, final EpochClock clock, final LongConsumer appendLatencyNs)
    {
        final Partition[] partitions = new Partition[layout.partitions()];
        for (int p = 0; p < partitions.length; p++)
        {
            partitions[p] = Partition.vacant(p, new SnapshotStore(layout.snapshotDir(p)), config, snapshotWriter, clock);
        }
        return new Partitions(partitions, List.of(), layout, config, snapshotWriter, clock, appendLatencyNs);
    }

    /**
     * @return partition {@code p} built on {@code log} with its snapshot store and dedup tier in the data directory,
     *     state {@link Partition.State#RECOVERING}, not yet in its slot nor running. The ownership thread.
     */
    public Partition build(final int p, final EventLog log)
    {
        final Partition partition = new Partition(p, log, new SnapshotStore(layout.snapshotDir(p)), layout.dedupDir(p),
            config, snapshotWriter, clock, appendLatencyNs, false);
        partition.state(Partition.State.RECOVERING);
        return partition;
    }

    /** Puts {@code partition} in its slot: from now on every thread finds it. The ownership thread. */
    public void replace(final Partition partition)
    {
        partitions.set(partition.index(), partition);
    }

    /**
     * Starts the aggregator of one partition before its journal (nothing is appended until the journal starts, so the
     * aggregator counts from the log's end as of now), so that it loads its snapshot and counts the log after it while
     * the journal recovers: a new owner replays the partition in both at once. The ownership or recovery thread, one
     * partition at a time; then {@link #startJournal}.
     */
    public synchronized void startAggregator(final Partition partition, final Function<String, ErrorHandler> errorHandlers)
    {
        final int p = partition.index();
        partition.aggregator().countEventsAfter(partition.log().lastIndex());
        final String aggregatorName = "aggregator-p" + p;
        partition.aggregator().roleName(aggregatorName);
        aggregatorRunnerOf[p] = new AgentRunner(partition.aggregator().idleStrategy(), errorHandlers.apply(aggregatorName),
            null, partition.aggregator());
        AgentRunner.startOnThread(aggregatorRunnerOf[p]);
    }

    /** Starts the journal of one partition whose journal has recovered, after {@link #startAggregator}. */
    public synchronized void startJournal(final Partition partition, final Function<String, ErrorHandler> errorHandlers)
    {
        final int p = partition.index();
        final String journalName = "journal-p" + p;
        final ErrorHandler errors = errorHandlers.apply(journalName);
        partition.journal().roleName(journalName);
        partition.journal().errorHandler(errors);
        journalRunnerOf[p] = new AgentRunner(partition.journal().idleStrategy(), errors, null, partition.journal());
        AgentRunner.startOnThread(journalRunnerOf[p]);
    }

    /**
     * Stops one partition's journal (its final checkpoint; queued requests refused) and aggregator (its final
     * snapshot), if running, and closes its dedup tier and log. Its slot keeps it, with the state the caller set.
     */
    public synchronized void retire(final Partition partition)
    {
        final int p = partition.index();
        if (journalRunnerOf[p] != null)
        {
            journalRunnerOf[p].close();
            journalRunnerOf[p] = null;
        }
        if (aggregatorRunnerOf[p] != null)
        {
            aggregatorRunnerOf[p].close();
            aggregatorRunnerOf[p] = null;
        }
        if (partition.journal().diskTier() != null)
        {
            partition.journal().diskTier().close();
        }
        partition.log().close();
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
        final ExecutorService pool = Executors.newFixedThreadPool(Math.min(partitions.length(),
            Runtime.getRuntime().availableProcessors()), r -> new Thread(r, "journal-recovery"));
        try
        {
            final List<Future<Long>> replayed = new ArrayList<>();
            for (final Partition partition : all())
            {
                if (partition.state() == Partition.State.OWNED)
                {
                    replayed.add(pool.submit(() -> partition.journal().recover()));
                }
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

    /** Starts every journal, the log pre-toucher, then every aggregator (of the partitions owned: all on a single node). */
    public synchronized void start(final Function<String, ErrorHandler> errorHandlers)
    {
        for (final Partition partition : all())
        {
            if (partition.state() != Partition.State.OWNED)
            {
                continue;
            }
            final String name = "journal-p" + partition.index();
            final ErrorHandler errors = errorHandlers.apply(name);
            partition.journal().roleName(name);
            partition.journal().errorHandler(errors);
            final AgentRunner runner = new AgentRunner(partition.journal().idleStrategy(), errors, null, partition.journal());
            journalRunnerOf[partition.index()] = runner;
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
        int running = 0;
        for (final Partition partition : all())
        {
            if (partition.state() != Partition.State.OWNED)
            {
                continue;
            }
            partition.aggregator().countEventsAfter(partition.log().lastIndex());
            final String name = "aggregator-p" + partition.index();
            partition.aggregator().roleName(name);
            final AgentRunner runner = new AgentRunner(partition.aggregator().idleStrategy(), errorHandlers.apply(name), null,
                partition.aggregator());
            aggregatorRunnerOf[partition.index()] = runner;
            AgentRunner.startOnThread(runner);
            running++;
        }
        LOG.info("{} partition{} running", running, running == 1 ? "" : "s");
    }

    public int count()
    {
        return partitions.length();
    }

    /** @return partition {@code p} as its slot holds it now (one volatile read). */
    public Partition get(final int p)
    {
        return partitions.get(p);
    }

    public Partitioner partitioner()
    {
        return partitioner;
    }

    /** @return the partition of a tenant. */
    public Partition of(final String tenant)
    {
        return partitions.get(partitioner.partitionOf(tenant));
    }

    /** @return the partition index of the tenant whose name is {@code length} bytes at {@code offset}. */
    public int indexOf(final DirectBuffer buffer, final int offset, final int length)
    {
        return partitioner.partitionOf(buffer, offset, length);
    }

    /** @return every slot's partition as of now, by index. */
    public List<Partition> all()
    {
        final Partition[] now = new Partition[partitions.length()];
        for (int p = 0; p < now.length; p++)
        {
            now[p] = partitions.get(p);
        }
        return List.of(now);
    }

    /** @return the sum over every partition. */
    public long sum(final ToLongFunction<Partition> value)
    {
        long sum = 0;
        for (int p = 0; p < partitions.length(); p++)
        {
            final Partition partition = partitions.get(p);
            sum += value.applyAsLong(partition);
        }
        return sum;
    }

    /** @return true when every journal has recovered and every aggregator has counted its log as of start (of the partitions served). */
    public boolean aggregatorsRecovered()
    {
        for (final Partition partition : all())
        {
            if (partition.served() && !partition.aggregator().isRecovered())
            {
                return false;
            }
        }
        return true;
    }

    /** Stops the journals (final checkpoints; queued requests refused), the pre-toucher and the aggregators (final snapshots). */
    public synchronized void stopAgents()
    {
        for (int p = 0; p < journalRunnerOf.length; p++)
        {
            if (journalRunnerOf[p] != null)
            {
                journalRunnerOf[p].close();
                journalRunnerOf[p] = null;
            }
        }
        if (pretouchRunner != null)
        {
            pretouchRunner.close();
        }
        for (int p = 0; p < aggregatorRunnerOf.length; p++)
        {
            if (aggregatorRunnerOf[p] != null)
            {
                aggregatorRunnerOf[p].close();
                aggregatorRunnerOf[p] = null;
            }
        }
    }

    /** Stops the agents if running and closes every log (a partition {@linkplain #retire retired} was closed then). */
    @Override
    public void close()
    {
        stopAgents();
        for (final Partition partition : all())
        {
            if (partition.state() == Partition.State.NOT_OWNED || partition.state() == Partition.State.LOST)
            {
                continue;
            }
            if (partition.journal().diskTier() != null)
            {
                // closed by its journal when that ran; here when it never did
                partition.journal().diskTier().close();
            }
            partition.log().close();
        }
    }
}
