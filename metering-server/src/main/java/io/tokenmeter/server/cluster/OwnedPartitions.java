package io.tokenmeter.server.cluster;

import com.fasterxml.jackson.core.JsonGenerator;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.partition.Partition;
import io.tokenmeter.core.partition.Partitions;
import io.tokenmeter.kafka.KafkaEventLog;
import io.tokenmeter.kafka.PartitionOwnership;
import org.agrona.ErrorHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;

/**
 * The node's partitions follow the owners group ({@code kafka-ownership group}, decisions 290 to 309): every partition
 * starts {@linkplain Partition#vacant vacant}; on {@link #acquired} a {@code partition-recovery} thread opens the
 * partition's {@link KafkaEventLog} through {@link PartitionOwnership#openLog} (fencing any earlier writer), builds its
 * journal and aggregator, recovers them (checkpoint and snapshot, replay after their Kafka offset), starts them and
 * marks the partition {@link Partition.State#OWNED} once its counters have caught up; on {@link #released} it stops taking the partition's requests, lets what is queued drain
 * and retires the partition (final checkpoint and snapshot, log closed); on {@link #lost} it refuses at once and
 * retires it. The listener calls run on the ownership thread, one at a time; the owners view (who owns what, for the
 * 503 messages and {@code GET /v1/cluster}) is refreshed once a second on {@code owners-view}.
 */
public final class OwnedPartitions implements PartitionOwnership.Listener, AutoCloseable
{
    private static final Logger LOG = LoggerFactory.getLogger(OwnedPartitions.class);
    /** How long a release waits for the partition's queued requests to be appended before its journal stops. */
    private static final long DRAIN_NS = TimeUnit.SECONDS.toNanos(5);
    /** How long a partition's counters may take to catch up with its log after its journal recovered. */
    private static final long COUNTING_NS = TimeUnit.MINUTES.toNanos(10);
    /** The most partitions opened and recovered at once (opens wait on Kafka; replays share the cores). */
    private static final int MAX_RECOVERIES = 4;
    /** How often the owners view is asked of the group coordinator. */
    private static final long VIEW_INTERVAL_MS = 1_000;

    /** What the server does around one partition's recovery. */
    public interface Hooks
    {
        /** Before its recovery: registers the partition's record handlers and ledgers on its journal and aggregator. */
        void wire(Partition partition);

        /** Its journal recovered and its agents running: puts the node's price book in force in it (may record it). */
        void started(Partition partition);

        /** @return the error handler of the agent named {@code agent} (e.g. {@code journal-p3}). */
        ErrorHandler errorHandler(String agent);

        /**
         * The owners group stopped this node for good (another process joined with its node id): every partition was
         * lost first. The node should stop. The ownership thread; must not block on it.
         */
        void stopped(String why);
    }

    private final Partitions partitions;
    private final KafkaEventLog.Settings logSettings;
    private final Hooks hooks;
    private final String nodeId;
    private final String url;
    private final ExecutorService recovery;
    private final ScheduledExecutorService view;
    /** Probes the other members and removes the dead ones ({@link DeadNodes}); nothing scheduled when turned off. */
    private final ScheduledExecutorService deadNodes;
    private final Duration deadNodeAfter;
    /** Each partition's recovery in progress or done; the ownership thread. */
    private final Future<?>[] recoveries;
    /** Why a partition assigned to this node is not served (its log did not open, its recovery failed), or null. */
    private final AtomicReferenceArray<String> failures;
    private final CountDownLatch started = new CountDownLatch(1);
    /** Counts each partition's acquires and releases, so that a recovery of an earlier acquire drops its partition. */
    private final AtomicIntegerArray epochs;
    /** 1 for a partition the group assigned this node and that it has not released or lost since. */
    private final AtomicIntegerArray assigned;
    /** Orders a recovery's putting its partition in the slot against a release or loss of it. */
    private final Object[] locks;
    /** Each partition's last takeover here: ms from its acquire to serving it, -1 before the first. */
    private final AtomicLongArray takeoverMs;
    private volatile PartitionOwnership ownership;
    /** The group's last stable description, or null before the first. */
    private volatile PartitionOwnership.Owners owners;
    private volatile long ownersAtMs;
    private volatile RuntimeException stopped;

    /**
     * @param url           this node's URL for the others ({@code --advertise}, else its own {@code http://BIND:PORT}).
     * @param deadNodeAfter how long another member's URL must refuse connections before this node removes it from the
     *                      group ({@link DeadNodes}); zero never removes one.
     */
    public OwnedPartitions(final Partitions partitions, final KafkaEventLog.Settings logSettings, final Hooks hooks,
        final String nodeId, final String url, final Duration deadNodeAfter)
    {
        this.deadNodeAfter = deadNodeAfter;
        this.partitions = partitions;
        this.logSettings = logSettings;
        this.hooks = hooks;
        this.nodeId = nodeId;
        this.url = url;
        this.recoveries = new Future<?>[partitions.count()];
        this.failures = new AtomicReferenceArray<>(partitions.count());
        this.epochs = new AtomicIntegerArray(partitions.count());
        this.assigned = new AtomicIntegerArray(partitions.count());
        this.locks = new Object[partitions.count()];
        this.takeoverMs = new AtomicLongArray(partitions.count());
        for (int p = 0; p < partitions.count(); p++)
        {
            takeoverMs.set(p, -1);
        }
        for (int p = 0; p < locks.length; p++)
        {
            locks[p] = new Object();
        }
        this.recovery = Executors.newFixedThreadPool(Math.min(partitions.count(), MAX_RECOVERIES), r ->
        {
            final Thread t = new Thread(r, "partition-recovery");
            t.setDaemon(true);
            return t;
        });
        this.view = Executors.newSingleThreadScheduledExecutor(r ->
        {
            final Thread t = new Thread(r, "owners-view");
            t.setDaemon(true);
            return t;
        });
        this.deadNodes = Executors.newSingleThreadScheduledExecutor(r ->
        {
            final Thread t = new Thread(r, "dead-nodes");
            t.setDaemon(true);
            return t;
        });
    }

    /** Joins the owners group with {@code settings}; partitions come to {@link #acquired} as the group assigns them. */
    public void start(final PartitionOwnership.Settings settings)
    {
        ownership = PartitionOwnership.start(settings, this);
        started.countDown();
        view.scheduleWithFixedDelay(this::refreshView, 0, VIEW_INTERVAL_MS, TimeUnit.MILLISECONDS);
        if (!deadNodeAfter.isZero())
        {
            final DeadNodes dead = new DeadNodes(nodeId, deadNodeAfter, () -> owners, ownership);
            deadNodes.scheduleWithFixedDelay(() ->
            {
                try
                {
                    dead.probe();
                }
                catch (final RuntimeException ex)
                {
                    LOG.warn("probing the other nodes failed: {}", ex.toString());
                }
            }, DeadNodes.PROBE_INTERVAL_MS, DeadNodes.PROBE_INTERVAL_MS, TimeUnit.MILLISECONDS);
        }
        LOG.info("joined the owners group {} as node {} ({}), session timeout {} ms, heartbeat {} ms, max poll interval {} ms",
            settings.group(), nodeId, url, settings.sessionTimeout().toMillis(), settings.heartbeatInterval().toMillis(),
            settings.maxPollInterval().toMillis());
    }

    /**
     * Hands the partition's open (the fence: each takes a second or more, so the partitions of one rebalance open in
     * parallel rather than one after the other on the group's thread) and recovery to a recovery thread. Nothing is
     * acknowledged for the partition before its log is open, so opening after this returns loses no safety: an
     * earlier owner is fenced then, and until then believes it owns only within its lease (decision 277).
     */
    @Override
    public void acquired(final int p)
    {
        awaitStarted();
        final int epoch;
        synchronized (locks[p])
        {
            epoch = epochs.incrementAndGet(p);
            failures.set(p, null);
            assigned.set(p, 1);
        }
        final long startNs = System.nanoTime();
        recoveries[p] = recovery.submit(() -> openAndRecover(p, epoch, startNs));
    }

    /** A recovery thread: the log opened, the partition built and put in its slot, then {@link #recover}. */
    private void openAndRecover(final int p, final int epoch, final long startNs)
    {
        final KafkaEventLog log;
        try
        {
            log = ownership.openLog(logSettings, p);
        }
        catch (final RuntimeException ex)
        {
            fail(p, epoch, "partition " + p + " is assigned to this node but its log did not open: " + ex.getMessage());
            LOG.error("partition {}: its log did not open; it stays unserved (503 partition_unavailable) until it is "
                + "acquired again or the node restarts", p, ex);
            return;
        }
        final Partition partition;
        try
        {
            partition = partitions.build(p, log);
            hooks.wire(partition);
        }
        catch (final RuntimeException ex)
        {
            log.close();
            fail(p, epoch, "partition " + p + " is assigned to this node but could not be built: " + ex.getMessage());
            LOG.error("partition {} could not be built", p, ex);
            return;
        }
        synchronized (locks[p])
        {
            if (epochs.get(p) != epoch)
            {
                // released or lost while its log was opening: nobody saw it
                log.close();
                return;
            }
            partitions.replace(partition);
        }
        LOG.info("partition {} acquired: its log is open (any earlier writer fenced) in {} ms; recovering", p,
            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs));
        recover(partition, epoch, startNs);
    }

    /** Records why partition {@code p} is not served, unless it was released or lost since acquire {@code epoch}. */
    private void fail(final int p, final int epoch, final String why)
    {
        synchronized (locks[p])
        {
            if (epochs.get(p) == epoch)
            {
                failures.set(p, why);
            }
        }
    }

    /**
     * A recovery thread: the aggregator started (its snapshot and the log after it counted on its own thread), the
     * journal recovered from its checkpoint and log meanwhile, then started, the price book, counters caught up.
     */
    private void recover(final Partition partition, final int epoch, final long startNs)
    {
        final int p = partition.index();
        try
        {
            partitions.startAggregator(partition, hooks::errorHandler);
            final long replayed = partition.journal().recover();
            if (partition.state() != Partition.State.RECOVERING)
            {
                return;
            }
            partitions.startJournal(partition, hooks::errorHandler);
            hooks.started(partition);
            final long until = System.nanoTime() + COUNTING_NS;
            while (!partition.aggregator().isRecovered() && partition.state() == Partition.State.RECOVERING)
            {
                if (System.nanoTime() > until)
                {
                    throw new IllegalStateException("its counters did not catch up with its log within "
                        + TimeUnit.NANOSECONDS.toMinutes(COUNTING_NS) + " minutes");
                }
                LockSupport.parkNanos(2_000_000);
            }
            synchronized (partition)
            {
                if (partition.state() != Partition.State.RECOVERING)
                {
                    return;
                }
                partition.state(Partition.State.OWNED);
            }
            takeoverMs.set(p, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs));
            LOG.info("partition {} served by this node: recovered ({} documents replayed by its journal) {} ms after it was "
                + "acquired, log at position {}", p, replayed, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs),
                partition.journal().lastAppendedIndex());
        }
        catch (final RuntimeException ex)
        {
            fail(p, epoch, "partition " + p + " is assigned to this node but its recovery failed: " + ex.getMessage());
            LOG.error("partition {}: recovery failed; it stays unserved (503 partition_unavailable) until it is acquired "
                + "again or the node restarts", p, ex);
        }
    }

    @Override
    public void released(final int p)
    {
        final Partition partition = stopServing(p, Partition.State.NOT_OWNED);
        awaitRecovery(p);
        if (partition == null)
        {
            return;
        }
        // a share that read the state just before it changed is offered a moment later: let it in, then drain the queue
        LockSupport.parkNanos(20_000_000);
        final long until = System.nanoTime() + DRAIN_NS;
        while (partition.journal().inboxSize() > 0 && System.nanoTime() < until)
        {
            LockSupport.parkNanos(1_000_000);
        }
        retire(partition, "released (handed over to the group's next owner)");
    }

    @Override
    public void lost(final int p)
    {
        final Partition partition = stopServing(p, Partition.State.LOST);
        awaitRecovery(p);
        if (partition == null)
        {
            return;
        }
        retire(partition, "lost (this node's membership ended without a handover; another node may own it already)");
    }

    @Override
    public void stopped(final RuntimeException cause)
    {
        stopped = cause;
        LOG.error("the owners group stopped this node for good: {}; it serves no partition and stops now (give each node "
            + "its own --node-id)", cause.getMessage());
        hooks.stopped(cause.getMessage());
    }

    /**
     * Ends this node's claim on partition {@code p}: a recovery still opening its log drops it, and the partition in
     * its slot, if served or recovering here, is set to {@code to}.
     *
     * @return that partition, to drain and retire; null when the slot holds none of this node's (vacant, or stopped).
     */
    private Partition stopServing(final int p, final Partition.State to)
    {
        synchronized (locks[p])
        {
            epochs.incrementAndGet(p);
            assigned.set(p, 0);
            failures.set(p, null);
            final Partition partition = partitions.get(p);
            synchronized (partition)
            {
                final Partition.State was = partition.state();
                if (was != Partition.State.OWNED && was != Partition.State.RECOVERING)
                {
                    return null;
                }
                partition.state(to);
                return partition;
            }
        }
    }

    private void awaitRecovery(final int p)
    {
        final Future<?> pending = recoveries[p];
        if (pending == null)
        {
            return;
        }
        try
        {
            pending.get(ownership.settings().maxPollInterval().toMillis(), TimeUnit.MILLISECONDS);
        }
        catch (final ExecutionException | TimeoutException ex)
        {
            LOG.warn("partition {}: its recovery did not end before it was taken away ({}); stopping it anyway", p,
                ex.toString());
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        recoveries[p] = null;
    }

    private void retire(final Partition partition, final String how)
    {
        final long startNs = System.nanoTime();
        final long position = partition.journal().lastAppendedIndex();
        partitions.retire(partition);
        // a share that read the state before it changed and was offered after the journal stopped is refused now
        partition.journal().onClose();
        LOG.info("partition {} {}: journal and aggregator stopped (final checkpoint and snapshot at log position {}) and "
            + "its log closed in {} ms", partition.index(), how, position,
            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs));
    }

    private void awaitStarted()
    {
        try
        {
            started.await();
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted before the owners group started", ex);
        }
    }

    private void refreshView()
    {
        try
        {
            final PartitionOwnership.Owners now = ownership.owners(Duration.ofSeconds(5));
            if (now.stable())
            {
                owners = now;
                ownersAtMs = System.currentTimeMillis();
            }
        }
        catch (final RuntimeException ex)
        {
            LOG.debug("the owners view was not refreshed: {}", ex.toString());
        }
    }

    /** @return the message of a 503 partition_unavailable for a partition this node does not serve now. Any thread. */
    public String unavailable(final Partition partition)
    {
        final int p = partition.index();
        final Partition.State state = partition.state();
        final String failure = failures.get(p);
        if (failure != null)
        {
            return failure;
        }
        if (state == Partition.State.RECOVERING || assigned.get(p) == 1)
        {
            return "partition " + p + " is being recovered by this node (" + nodeId + "), which acquired it";
        }
        final PartitionOwnership.Member owner = ownerOf(p);
        final String lost = state == Partition.State.LOST ? " (this node lost it: its session in the owners group ended)"
            : "";
        if (owner == null)
        {
            return "partition " + p + " has no owner this node knows of now" + lost + ": a takeover or rebalance is under "
                + "way";
        }
        if (owner.nodeId().equals(nodeId))
        {
            return "partition " + p + " is being taken over by this node (" + nodeId + ")";
        }
        return "partition " + p + " is owned by node " + owner.nodeId() + " at " + owner.url() + lost + ": send the "
            + "request there";
    }

    /**
     * @return the URL of the node the owners group's last stable view names as partition {@code p}'s owner, when it is
     *     another node and this node neither serves nor recovers the partition; else null. Any thread.
     */
    public String forwardUrl(final int p)
    {
        if (failures.get(p) != null || assigned.get(p) == 1 || partitions.get(p).state() == Partition.State.RECOVERING)
        {
            return null;
        }
        final PartitionOwnership.Member owner = ownerOf(p);
        return owner == null || owner.nodeId().equals(nodeId) || owner.url() == null || owner.url().isEmpty() ? null
            : owner.url();
    }

    private PartitionOwnership.Member ownerOf(final int p)
    {
        final PartitionOwnership.Owners view = owners;
        return view == null ? null : view.ownerOf(p).orElse(null);
    }

    /** @return why {@code /health/ready} is not 200 on account of the partitions (recovering, failed), or ownership. */
    public List<String> notReadyReasons()
    {
        final List<String> reasons = new ArrayList<>(1);
        final RuntimeException cause = stopped;
        if (cause != null)
        {
            reasons.add("the owners group stopped this node: " + cause.getMessage());
        }
        for (final Partition partition : partitions.all())
        {
            final String failure = failures.get(partition.index());
            if (failure != null)
            {
                reasons.add(failure);
            }
            else if (partition.state() == Partition.State.RECOVERING
                || (assigned.get(partition.index()) == 1 && partition.state() != Partition.State.OWNED))
            {
                reasons.add("recovering: partition " + partition.index() + " acquired by this node, not served yet");
            }
        }
        return reasons;
    }

    /** @return degraded lines: the node owns no partition (it serves nothing until the group assigns it some). */
    public List<String> warnings()
    {
        for (final Partition partition : partitions.all())
        {
            if (partition.state() != Partition.State.NOT_OWNED && partition.state() != Partition.State.LOST)
            {
                return List.of();
            }
        }
        return List.of("this node owns no partition now (the owners group assigned it none): it answers every tenant's "
            + "requests with 503 partition_unavailable");
    }

    /**
     * Writes the body of {@code GET /v1/cluster}. Any thread.
     *
     * @param selfReady this node's readiness ({@code /health/ready} 200), written as its {@code ready}; the other
     *                  nodes' is not known here and written as null (decision 362).
     */
    public void writeCluster(final JsonGenerator json, final boolean selfReady) throws IOException
    {
        final PartitionOwnership.Owners view = owners;
        json.writeStartObject();
        json.writeStringField("cluster", "kafka");
        json.writeStringField("ownership", "group");
        json.writeObjectFieldStart("node");
        json.writeStringField("id", nodeId);
        json.writeStringField("url", url);
        json.writeEndObject();
        json.writeArrayFieldStart("nodes");
        if (view != null)
        {
            for (final PartitionOwnership.Member member : view.members())
            {
                json.writeStartObject();
                json.writeStringField("id", member.nodeId());
                json.writeStringField("url", member.url());
                if (member.nodeId().equals(nodeId))
                {
                    json.writeBooleanField("ready", selfReady);
                }
                else
                {
                    json.writeNullField("ready");
                }
                json.writeEndObject();
            }
        }
        json.writeEndArray();
        if (view == null)
        {
            json.writeNullField("owners_as_of");
        }
        else
        {
            json.writeStringField("owners_as_of", Instant.ofEpochMilli(ownersAtMs).toString());
        }
        json.writeArrayFieldStart("partitions");
        for (final Partition partition : partitions.all())
        {
            final Partition.State state = partition.state();
            final boolean here = state == Partition.State.OWNED || state == Partition.State.RECOVERING;
            final PartitionOwnership.Member owner = here ? null : ownerOf(partition.index());
            ClusterJson.writePartition(json, partition.index(), here ? nodeId : owner == null ? null : owner.nodeId(),
                here ? url : owner == null ? null : owner.url(), state.jsonName(),
                here ? partition.journal().lastAppendedIndex() : EventLog.NO_INDEX,
                state == Partition.State.OWNED ? ClusterJson.lag(partition) : -1);
        }
        json.writeEndArray();
        json.writeEndObject();
    }

    /** @return true when this node serves partition {@code p} now (recovered and owned). Any thread. */
    public boolean serves(final int p)
    {
        return partitions.get(p).state() == Partition.State.OWNED;
    }

    /** @return partition {@code p}'s {@linkplain ClusterJson#lag lag} while this node serves it, else NaN. Any thread. */
    public double lag(final int p)
    {
        final Partition partition = partitions.get(p);
        return partition.state() == Partition.State.OWNED ? ClusterJson.lag(partition) : Double.NaN;
    }

    /** @return ms from the last acquire of partition {@code p} here to serving it, or -1 when it was never served here. */
    public long takeoverMs(final int p)
    {
        return takeoverMs.get(p);
    }

    /**
     * Releases every partition (each drained, checkpointed and closed) and leaves the group, so that the others take
     * them at once; then stops the recovery and view threads.
     */
    @Override
    public void close()
    {
        deadNodes.shutdownNow();
        view.shutdownNow();
        final PartitionOwnership running = ownership;
        if (running != null)
        {
            running.close();
        }
        recovery.shutdownNow();
    }
}
