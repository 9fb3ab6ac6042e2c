package io.tokenmeter.kafka;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.DescribeConsumerGroupsOptions;
import org.apache.kafka.clients.admin.DescribeTopicsOptions;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.MemberToRemove;
import org.apache.kafka.clients.admin.RemoveMembersFromConsumerGroupOptions;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.FencedInstanceIdException;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.UnknownMemberIdException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;

/**
 * Which partitions this node owns (cluster mode, SPEC section 10): the node is a member of the consumer group
 * {@code PREFIX.owners} subscribed to the log topic {@code PREFIX.log}, and the partitions the group assigns it are the
 * partitions it owns. Kafka's cooperative-sticky assignor moves only the partitions that must move (an owner keeps the
 * others through a rebalance), and static membership ({@code group.instance.id} = the node id) lets a node that restarts
 * within the session timeout take its own partitions back without a rebalance. No offset is ever committed and every
 * assigned partition is paused: the consumer fetches nothing, its poll only keeps the membership; the partitions' data
 * is read by each {@link KafkaEventLog}'s own {@code read_committed} readers.
 *
 * <p>The group's poll loop runs on this object's own thread ({@code ownership-NODE}), which is also where the
 * {@link Listener} is called. {@link #owns} may be asked from any thread (the journal's, when a {@link KafkaEventLog}
 * settles an append in doubt) and turns false before {@link Listener#released} or {@link Listener#lost} is called.
 * Owning is a node's own belief; the guarantee that a deposed owner acknowledges nothing is Kafka's fencing of its
 * transactional producer by the new owner's {@link KafkaEventLog#open}, not this answer.
 */
public final class PartitionOwnership implements AutoCloseable
{
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(PartitionOwnership.class);
    /** How long one poll of the group waits; also how often the lease's confirmation is looked after. */
    private static final Duration POLL = Duration.ofMillis(100);

    /**
     * What a node does with its partitions, called on the ownership thread, one partition at a time.
     */
    public interface Listener
    {
        /**
         * The group assigned {@code partition} to this node: open its {@link KafkaEventLog} (which fences any earlier
         * writer), recover, then serve it. Called within the group's poll: long work (replay) belongs on another
         * thread, or a rebalance waits for it up to {@code max.poll.interval}.
         */
        void acquired(int partition);

        /**
         * A rebalance moves {@code partition} to another node: stop acknowledging, drain what is in flight, close the
         * log. The next owner is given the partition after this returns, so a drain that ends here hands over without
         * fencing anything; it must end within {@code max.poll.interval}. {@link #owns} is already false.
         */
        void released(int partition);

        /**
         * This node's membership ended without a handover (its session expired, or another process joined with its
         * node id): another node may own {@code partition} already. Stop at once and acknowledge nothing more; what is
         * in flight fails (the new owner's open has fenced or will fence this node's writer). {@link #owns} is already
         * false.
         */
        void lost(int partition);

        /**
         * The ownership loop stopped for good (for example another running process has the same {@code --node-id}):
         * every partition was lost first. The node should stop. The default does nothing.
         */
        default void stopped(final RuntimeException cause)
        {
        }
    }

    /**
     * The node's place in the group and the group's timing.
     *
     * @param bootstrapServers  Kafka's bootstrap servers, {@code HOST:PORT[,...]}.
     * @param prefix            the topic prefix: the group is {@code PREFIX.owners}, the topic {@code PREFIX.log}.
     * @param nodeId            the node id ({@code --node-id}), the member's {@code group.instance.id}.
     * @param advertisedUrl     the node's URL for other nodes ({@code --advertise}), carried as the member's
     *                          {@code client.id} so that every node can learn it from the group's description.
     * @param sessionTimeout    {@code session.timeout.ms}: how long the group waits for a silent member before it gives
     *                          its partitions to the others. A dead node's partitions move only after it, so it is most
     *                          of the takeover time. The broker bounds it ({@code group.min.session.timeout.ms},
     *                          default 6 s, to {@code group.max.session.timeout.ms}).
     * @param heartbeatInterval {@code heartbeat.interval.ms}; at most a third of the session timeout.
     * @param maxPollInterval   {@code max.poll.interval.ms}: the longest a {@link Listener} call may take before the
     *                          node is put out of the group, and how long a rebalance waits for a live member.
     */
    public record Settings(String bootstrapServers, String prefix, String nodeId, String advertisedUrl,
        Duration sessionTimeout, Duration heartbeatInterval, Duration maxPollInterval)
    {
        /** The default session timeout: the least a broker accepts by default, for a takeover within 10 s. */
        public static final Duration DEFAULT_SESSION_TIMEOUT = Duration.ofSeconds(6);
        /** The default heartbeat interval: six heartbeats a session, so a few lost ones do not end it. */
        public static final Duration DEFAULT_HEARTBEAT_INTERVAL = Duration.ofSeconds(1);
        /** The default bound on one listener call (a drain at handover) and on a rebalance's wait for a member. */
        public static final Duration DEFAULT_MAX_POLL_INTERVAL = Duration.ofSeconds(30);

        public Settings
        {
            ClusterNames.requireBootstrap(bootstrapServers);
            ClusterNames.requirePrefix(prefix);
            if (nodeId == null || !nodeId.matches("[A-Za-z0-9._-]{1,100}"))
            {
                throw new IllegalArgumentException("node-id: give 1 to 100 letters, digits, '.', '_' or '-' (Kafka's "
                    + "group.instance.id), not " + nodeId);
            }
            checkUrl(advertisedUrl);
            if (sessionTimeout.toMillis() < 1_000 || heartbeatInterval.toMillis() < 100)
            {
                throw new IllegalArgumentException("the owners group's session timeout must be at least 1 s and its "
                    + "heartbeat interval at least 100 ms, not " + sessionTimeout.toMillis() + " ms and "
                    + heartbeatInterval.toMillis() + " ms");
            }
            if (heartbeatInterval.toMillis() * 3 > sessionTimeout.toMillis())
            {
                throw new IllegalArgumentException("the owners group's heartbeat interval (" + heartbeatInterval.toMillis()
                    + " ms) must be at most a third of its session timeout (" + sessionTimeout.toMillis() + " ms), so "
                    + "that one lost heartbeat does not end the session");
            }
            if (maxPollInterval.compareTo(sessionTimeout) < 0)
            {
                throw new IllegalArgumentException("the owners group's max poll interval (" + maxPollInterval.toMillis()
                    + " ms) must not be under its session timeout (" + sessionTimeout.toMillis() + " ms)");
            }
        }

        /** Settings with the default timing (session 6 s, heartbeat 1 s, max poll interval 30 s). */
        public Settings(final String bootstrapServers, final String prefix, final String nodeId, final String advertisedUrl)
        {
            this(bootstrapServers, prefix, nodeId, advertisedUrl, DEFAULT_SESSION_TIMEOUT, DEFAULT_HEARTBEAT_INTERVAL,
                DEFAULT_MAX_POLL_INTERVAL);
        }

        /** @return these settings with another session timeout and heartbeat interval. */
        public Settings withSession(final Duration session, final Duration heartbeat)
        {
            return new Settings(bootstrapServers, prefix, nodeId, advertisedUrl, session, heartbeat,
                maxPollInterval.compareTo(session) < 0 ? session : maxPollInterval);
        }

        /** @return the owners group, {@code PREFIX.owners}. */
        public String group()
        {
            return prefix + ".owners";
        }

        /** @return the log topic, {@code PREFIX.log}. */
        public String topic()
        {
            return prefix + ".log";
        }

        /**
         * @return how long the coordinator's word that this node's session is live counts (half the session timeout):
         * the coordinator counts a session from the last heartbeat it received, which may be a heartbeat interval and a
         * round trip older than the answer, and a node that has not heard that word for this long (its process stood
         * still, or it is cut off from the coordinator) may have been put out of the group already.
         */
        public Duration lease()
        {
            return sessionTimeout.dividedBy(2);
        }

        private static void checkUrl(final String url)
        {
            final String problem = "advertise: give the node's URL for the other nodes, http(s)://HOST:PORT, not " + url;
            if (url == null || url.length() > 200)
            {
                throw new IllegalArgumentException(problem);
            }
            try
            {
                final URI uri = new URI(url);
                if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null
                    || uri.getRawQuery() != null || uri.getRawFragment() != null || url.chars().anyMatch(c -> c <= ' '))
                {
                    throw new IllegalArgumentException(problem);
                }
            }
            catch (final URISyntaxException ex)
            {
                throw new IllegalArgumentException(problem, ex);
            }
        }
    }

    /**
     * A member of the owners group as the group coordinator describes it.
     *
     * @param nodeId   its {@code group.instance.id} (empty for a member that is not a tokenmeter node).
     * @param url      its advertised URL (its {@code client.id}).
     * @param memberId the coordinator's id of its current session.
     * @param host     the address the coordinator sees it at.
     */
    public record Member(String nodeId, String url, String memberId, String host)
    {
    }

    /**
     * The group's view of who owns what, for {@code GET /v1/cluster} and forwarding. Kafka describes a classic group's
     * assignments only while it is {@code Stable}: during a rebalance every member is listed with nothing assigned, so
     * every partition shows no owner (members keep the partitions that do not move, so a caller that forwards may keep
     * the last stable view until the next one).
     *
     * @param groupState the group's state ({@code Stable}, {@code PreparingRebalance}, {@code CompletingRebalance},
     *                   {@code Empty}, {@code Dead} when nobody ever joined or the group is gone).
     * @param partitions the log topic's partition count.
     * @param members    every member, by node id.
     * @param owners     each partition that has an owner, to its owner; a partition missing here has none.
     */
    public record Owners(String groupState, int partitions, List<Member> members, Map<Integer, Member> owners)
    {
        /** @return the owner of {@code partition}, or empty when no member holds it (none now: answer 503). */
        public Optional<Member> ownerOf(final int partition)
        {
            return Optional.ofNullable(owners.get(partition));
        }

        /** @return whether the group is {@code Stable}, the only state whose description carries the assignments. */
        public boolean stable()
        {
            return "Stable".equals(groupState);
        }
    }

    private final Settings settings;
    private final Listener listener;
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final Admin admin;
    private final Thread thread;
    private final long leaseNs;
    /** The partitions owned, replaced whole by the ownership thread (read by any). */
    private volatile Set<Integer> owned = Set.of();
    /**
     * When the request was sent whose answer last showed this node's session live in the group (an assignment, or the
     * group's description listing its member id); {@link #owns} holds for {@link Settings#lease} after it.
     */
    private volatile long confirmedNs;
    private volatile boolean closing;
    private volatile RuntimeException failure;
    /** The ownership thread's description of the group under way, to confirm the session; null between them. */
    private KafkaFuture<Map<String, ConsumerGroupDescription>> confirming;
    private long confirmSentNs;
    private long nextConfirmNs;
    private boolean leaseLapsedLogged;

    private PartitionOwnership(final Settings settings, final Listener listener)
    {
        this.settings = settings;
        this.listener = listener;
        this.consumer = new KafkaConsumer<>(consumerConfig(settings));
        try
        {
            this.admin = Admin.create(adminConfig(settings));
        }
        catch (final RuntimeException ex)
        {
            consumer.close(CloseOptions.timeout(Duration.ZERO));
            throw ex;
        }
        this.thread = new Thread(this::run, "ownership-" + settings.nodeId());
        this.leaseNs = settings.lease().toNanos();
        this.confirmedNs = System.nanoTime() - leaseNs;
        thread.setDaemon(true);
    }

    /**
     * Joins the owners group and starts the poll loop on its own thread. Partitions come to the listener as the group
     * assigns them (the first within a few seconds of a broker that answers).
     */
    public static PartitionOwnership start(final Settings settings, final Listener listener)
    {
        final PartitionOwnership ownership = new PartitionOwnership(settings, listener);
        ownership.thread.start();
        return ownership;
    }

    /**
     * @return whether this node owns {@code partition} now: assigned by the group, not being revoked or lost, and the
     * group coordinator has shown this node's session live within the {@linkplain Settings#lease lease} (so a node
     * whose process stood still, or that is cut off from the coordinator, stops owning before the group can have given
     * its partitions to another node, give or take a heartbeat).
     */
    public boolean owns(final int partition)
    {
        return owned.contains(partition) && System.nanoTime() - confirmedNs < leaseNs;
    }

    /** @return {@link #owns} of {@code partition}, for {@link KafkaEventLog#open(KafkaEventLog.Settings, int, BooleanSupplier)}. */
    public BooleanSupplier ownsPartition(final int partition)
    {
        return () -> owns(partition);
    }

    /**
     * Opens {@code partition}'s log as its writer with this node's ownership wired in: the log asks {@link #owns} before
     * it settles an append in doubt (decision 249). Fences any earlier writer of the partition.
     */
    public KafkaEventLog openLog(final KafkaEventLog.Settings logSettings, final int partition)
    {
        if (!logSettings.topic().equals(settings.topic()))
        {
            throw new IllegalArgumentException("the log topic " + logSettings.topic() + " is not the owners group's topic "
                + settings.topic() + ": give both the same --kafka-topic-prefix");
        }
        return KafkaEventLog.open(logSettings, partition, ownsPartition(partition));
    }

    /** @return the partitions assigned to this node (the assignment alone, without the stall check of {@link #owns}). */
    public Set<Integer> assigned()
    {
        return owned;
    }

    /** @return why the ownership loop stopped for good, or null while it runs (or after a {@link #close}). */
    public RuntimeException failure()
    {
        return failure;
    }

    /** @return the settings this node joined with. */
    public Settings settings()
    {
        return settings;
    }

    /**
     * Asks the group coordinator who owns what: every member with its node id and advertised URL, and each partition's
     * owner. A member whose process died stays in the description, owning its partitions, until its session timeout;
     * while the group rebalances no partition has an owner in the description (see {@link Owners}).
     *
     * @throws IllegalStateException when Kafka does not answer within {@code timeout}.
     */
    public Owners owners(final Duration timeout)
    {
        return owners(admin, settings.prefix(), timeout);
    }

    /**
     * Asks the group coordinator who owns what in the owners group of {@code prefix}, as {@link #owners(Duration)}, with
     * an admin client of the caller's (for a node or a tool that is not a member).
     *
     * @throws IllegalStateException when Kafka does not answer within {@code timeout} or the log topic is missing.
     */
    public static Owners owners(final Admin admin, final String prefix, final Duration timeout)
    {
        final String group = prefix + ".owners";
        final String topic = prefix + ".log";
        final long timeoutMs = timeout.toMillis();
        int partitions = 0;
        try
        {
            partitions = admin.describeTopics(List.of(topic), new DescribeTopicsOptions().timeoutMs((int)timeoutMs))
                .allTopicNames().get(timeoutMs, TimeUnit.MILLISECONDS).get(topic).partitions().size();
            final ConsumerGroupDescription description = admin.describeConsumerGroups(List.of(group),
                    new DescribeConsumerGroupsOptions().timeoutMs((int)timeoutMs))
                .all().get(timeoutMs, TimeUnit.MILLISECONDS).get(group);
            final List<Member> members = new ArrayList<>();
            final Map<Integer, Member> owners = new TreeMap<>();
            for (final MemberDescription member : description.members())
            {
                final Member seen = new Member(member.groupInstanceId().orElse(""), member.clientId(), member.consumerId(),
                    member.host());
                members.add(seen);
                for (final TopicPartition partition : member.assignment().topicPartitions())
                {
                    if (partition.topic().equals(topic))
                    {
                        owners.put(partition.partition(), seen);
                    }
                }
            }
            members.sort((a, b) -> a.nodeId().compareTo(b.nodeId()));
            return new Owners(description.groupState().toString(), partitions, List.copyOf(members),
                Collections.unmodifiableMap(owners));
        }
        catch (final ExecutionException ex)
        {
            if (ex.getCause() instanceof GroupIdNotFoundException && partitions > 0)
            {
                return new Owners(GroupState.DEAD.toString(), partitions, List.of(), Map.of());
            }
            throw new IllegalStateException("could not describe the owners group " + group + " or the log topic " + topic
                + " (" + ex.getCause() + ")", ex);
        }
        catch (final TimeoutException ex)
        {
            throw new IllegalStateException("could not describe the owners group " + group + " and the log topic " + topic
                + " within " + timeoutMs + " ms", ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted describing the owners group " + group, ex);
        }
    }

    /**
     * Removes another node from the owners group now, as a leave of its own would (KIP-345's removal of a static
     * member by its {@code group.instance.id}), so that the group gives its partitions to the others at once rather
     * than after its session timeout. For a node known to be dead: a live node removed this way learns it at its next
     * heartbeat and joins again (its partitions may move meanwhile, and its writers are fenced by the partitions' next
     * owners, so nothing is lost or doubled, only moved).
     *
     * @return true when it was removed; false when it was no member (already gone, or removed by another node).
     * @throws IllegalStateException when Kafka does not answer within {@code timeout}, or refuses for another reason.
     */
    public boolean removeMember(final String nodeId, final Duration timeout)
    {
        if (nodeId.equals(settings.nodeId()))
        {
            throw new IllegalArgumentException("a node does not remove itself from the owners group: it leaves on close");
        }
        final long timeoutMs = timeout.toMillis();
        try
        {
            admin.removeMembersFromConsumerGroup(settings.group(), new RemoveMembersFromConsumerGroupOptions(
                    List.of(new MemberToRemove(nodeId))).timeoutMs((int)timeoutMs))
                .all().get(timeoutMs, TimeUnit.MILLISECONDS);
            return true;
        }
        catch (final ExecutionException ex)
        {
            if (ex.getCause() instanceof UnknownMemberIdException || ex.getCause() instanceof GroupIdNotFoundException)
            {
                return false;
            }
            throw new IllegalStateException("could not remove node " + nodeId + " from the owners group " + settings.group()
                + " (" + ex.getCause() + ")", ex);
        }
        catch (final TimeoutException ex)
        {
            throw new IllegalStateException("could not remove node " + nodeId + " from the owners group "
                + settings.group() + " within " + timeoutMs + " ms", ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted removing node " + nodeId + " from the owners group", ex);
        }
    }

    /**
     * Releases every owned partition ({@link Listener#released}, on the ownership thread) and then leaves the group, so
     * the other nodes are given them at once rather than after the session timeout. Waits until that is done, bounded
     * by the max poll interval and a few seconds.
     */
    @Override
    public void close()
    {
        closing = true;
        consumer.wakeup();
        try
        {
            final long waitMs = settings.maxPollInterval().toMillis() + 10_000;
            if (Thread.currentThread() != thread)
            {
                thread.join(waitMs);
                if (thread.isAlive())
                {
                    LOG.error("ownership of node {}: the poll loop did not stop within {} ms", settings.nodeId(), waitMs);
                }
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        finally
        {
            admin.close(Duration.ofSeconds(5));
        }
    }

    /** The ownership thread: polls the group (paused, so nothing is fetched) until closed or fenced. */
    private void run()
    {
        try
        {
            consumer.subscribe(List.of(settings.topic()), new Rebalances());
            while (!closing)
            {
                try
                {
                    consumer.poll(POLL);
                }
                catch (final WakeupException ex)
                {
                    continue;
                }
                confirmSession();
            }
            loseOrReleaseAll(false);
            consumer.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                .withTimeout(Duration.ofSeconds(10)));
        }
        catch (final RuntimeException ex)
        {
            if (closing && owned.isEmpty())
            {
                LOG.warn("ownership of node {}: leaving the group failed ({}); the others take its partitions after the "
                    + "session timeout", settings.nodeId(), ex.toString());
                return;
            }
            final RuntimeException cause = ex instanceof FencedInstanceIdException
                ? new IllegalStateException("another running process joined the owners group " + settings.group()
                    + " with node id " + settings.nodeId() + ": every node needs its own --node-id", ex)
                : ex;
            LOG.error("ownership of node {} stopped: {}", settings.nodeId(), cause.toString());
            failure = cause;
            loseOrReleaseAll(true);
            try
            {
                consumer.close(CloseOptions.timeout(Duration.ofSeconds(5)));
            }
            catch (final RuntimeException closeFailure)
            {
                LOG.warn("ownership of node {}: closing the consumer failed: {}", settings.nodeId(), closeFailure.toString());
            }
            try
            {
                listener.stopped(cause);
            }
            catch (final RuntimeException listenerFailure)
            {
                LOG.error("ownership of node {}: the listener failed on stop: {}", settings.nodeId(),
                    listenerFailure.toString());
            }
        }
    }

    /**
     * On the ownership thread, once a heartbeat interval while it owns partitions: asks the coordinator to describe the
     * group, and renews the lease when the description lists this node's current session (its member id). A member that
     * is listed keeps the partitions it holds until it is told to release them (cooperative rebalancing), so the
     * description need not be {@code Stable}. An answer that does not list it leaves the lease to lapse; the consumer
     * reports the loss when its own heartbeat learns it.
     */
    private void confirmSession()
    {
        final long now = System.nanoTime();
        if (owned.isEmpty())
        {
            confirming = null;
            return;
        }
        if (confirming == null)
        {
            if (now - nextConfirmNs >= 0)
            {
                confirmSentNs = now;
                nextConfirmNs = now + settings.heartbeatInterval().toNanos();
                confirming = admin.describeConsumerGroups(List.of(settings.group()),
                    new DescribeConsumerGroupsOptions().timeoutMs((int)settings.sessionTimeout().toMillis())).all();
            }
        }
        else if (confirming.isDone())
        {
            final KafkaFuture<Map<String, ConsumerGroupDescription>> done = confirming;
            confirming = null;
            if (listsThisSession(done))
            {
                renew(confirmSentNs);
            }
        }
        if (!leaseLapsedLogged && !owned.isEmpty() && now - confirmedNs >= leaseNs)
        {
            leaseLapsedLogged = true;
            LOG.warn("ownership of node {}: the group coordinator has not shown this node's session live for {} ms "
                + "(the process stood still, or the coordinator is out of reach); partitions {} count as not owned until "
                + "it does", settings.nodeId(), (now - confirmedNs) / 1_000_000, owned);
        }
    }

    private boolean listsThisSession(final KafkaFuture<Map<String, ConsumerGroupDescription>> done)
    {
        if (done.isCompletedExceptionally())
        {
            return false;
        }
        final ConsumerGroupDescription group;
        try
        {
            group = done.get().get(settings.group());
        }
        catch (final ExecutionException ex)
        {
            return false;
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return false;
        }
        final String memberId = consumer.groupMetadata().memberId();
        if (group == null || memberId.isEmpty())
        {
            return false;
        }
        for (final MemberDescription member : group.members())
        {
            if (member.consumerId().equals(memberId) && member.groupInstanceId().orElse("").equals(settings.nodeId()))
            {
                return true;
            }
        }
        return false;
    }

    /** Renews the lease from {@code sentNs}, the moment the confirming request left. */
    private void renew(final long sentNs)
    {
        if (sentNs - confirmedNs > 0)
        {
            confirmedNs = sentNs;
        }
        if (leaseLapsedLogged)
        {
            leaseLapsedLogged = false;
            LOG.info("ownership of node {}: the group coordinator shows this node's session live again; partitions {}",
                settings.nodeId(), owned);
        }
    }

    /** Ends the ownership of every owned partition: lost (without handover) or released. */
    private void loseOrReleaseAll(final boolean lost)
    {
        final Set<Integer> partitions = owned;
        owned = Set.of();
        for (final int partition : partitions)
        {
            if (lost)
            {
                callLost(partition);
            }
            else
            {
                callReleased(partition);
            }
        }
    }

    private void callLost(final int partition)
    {
        LOG.warn("ownership of node {}: partition {} lost", settings.nodeId(), partition);
        try
        {
            listener.lost(partition);
        }
        catch (final RuntimeException ex)
        {
            LOG.error("ownership of node {}: the listener failed on the loss of partition {}: {}", settings.nodeId(),
                partition, ex.toString());
        }
    }

    private void callReleased(final int partition)
    {
        LOG.info("ownership of node {}: partition {} released", settings.nodeId(), partition);
        try
        {
            listener.released(partition);
        }
        catch (final RuntimeException ex)
        {
            LOG.error("ownership of node {}: the listener failed on the release of partition {}: {}", settings.nodeId(),
                partition, ex.toString());
        }
    }

    /** The group's rebalance callbacks, called by the consumer within its poll on the ownership thread. */
    private final class Rebalances implements ConsumerRebalanceListener
    {
        @Override
        public void onPartitionsAssigned(final Collection<TopicPartition> partitions)
        {
            consumer.pause(partitions);
            // a completed rebalance is the coordinator's word that this session is live (its answer came just now)
            renew(System.nanoTime() - settings.heartbeatInterval().toNanos());
            final Set<Integer> now = new TreeSet<>(owned);
            final List<Integer> added = new ArrayList<>();
            for (final TopicPartition partition : partitions)
            {
                if (now.add(partition.partition()))
                {
                    added.add(partition.partition());
                }
            }
            owned = Collections.unmodifiableSet(now);
            for (final int partition : added)
            {
                LOG.info("ownership of node {}: partition {} acquired", settings.nodeId(), partition);
                try
                {
                    listener.acquired(partition);
                }
                catch (final RuntimeException ex)
                {
                    LOG.error("ownership of node {}: the listener failed on the acquisition of partition {}: {}",
                        settings.nodeId(), partition, ex.toString());
                }
            }
        }

        @Override
        public void onPartitionsRevoked(final Collection<TopicPartition> partitions)
        {
            end(partitions, false);
        }

        @Override
        public void onPartitionsLost(final Collection<TopicPartition> partitions)
        {
            end(partitions, true);
        }

        private void end(final Collection<TopicPartition> partitions, final boolean lost)
        {
            final Set<Integer> now = new TreeSet<>(owned);
            final List<Integer> ended = new ArrayList<>();
            for (final TopicPartition partition : partitions)
            {
                if (now.remove(partition.partition()))
                {
                    ended.add(partition.partition());
                }
            }
            owned = Collections.unmodifiableSet(now);
            for (final int partition : ended)
            {
                if (lost)
                {
                    callLost(partition);
                }
                else
                {
                    callReleased(partition);
                }
            }
        }
    }

    private static Map<String, Object> consumerConfig(final Settings settings)
    {
        final Map<String, Object> config = new HashMap<>();
        config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers());
        config.put(ConsumerConfig.GROUP_ID_CONFIG, settings.group());
        config.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, settings.nodeId());
        config.put(ConsumerConfig.CLIENT_ID_CONFIG, settings.advertisedUrl());
        config.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
        config.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, List.of(CooperativeStickyAssignor.class.getName()));
        config.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, (int)settings.sessionTimeout().toMillis());
        config.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, (int)settings.heartbeatInterval().toMillis());
        config.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, (int)settings.maxPollInterval().toMillis());
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        // positions are never used (every partition is paused); "latest" only keeps their lookup cheap
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        config.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 1);
        config.put(ConsumerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 1_000);
        config.put(ConsumerConfig.RETRY_BACKOFF_MAX_MS_CONFIG, 1_000);
        config.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        config.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        return config;
    }

    private static Map<String, Object> adminConfig(final Settings settings)
    {
        final Map<String, Object> config = new HashMap<>();
        config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers());
        config.put(AdminClientConfig.CLIENT_ID_CONFIG, settings.advertisedUrl() + "-admin");
        config.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 5_000);
        config.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 10_000);
        config.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 1_000);
        return config;
    }
}
