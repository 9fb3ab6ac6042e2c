package io.tokenmeter.kafka;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Creates the cluster's log topic ({@code PREFIX.log}) when it is missing and checks it when it is there (SPEC section
 * 10): one Kafka partition per tokenmeter partition, replication factor at least 3, {@code min.insync.replicas} at least
 * 2, kept forever ({@code retention.ms=-1}, {@code retention.bytes=-1}, {@code cleanup.policy=delete}), no unclean
 * leader election, and room for the largest document. A topic that fails a check refuses the start with every problem
 * named and what to change. A one-broker trial must say so ({@code --kafka-unsafe-single-broker}): then the topic is
 * made with the replicas the cluster has, and the answer carries the warnings to print. Cold path, any thread.
 */
public final class LogTopic
{
    /** The replication factor the log needs: an acknowledged event survives the loss of any one broker. */
    public static final int REPLICATION_FACTOR = 3;
    /** The in-sync replicas a commit needs: two copies before an ack. */
    public static final int MIN_INSYNC_REPLICAS = 2;

    private LogTopic()
    {
    }

    /**
     * Makes sure {@code topic} exists with {@code partitions} partitions and the settings above.
     *
     * @param unsafeSingleBroker {@code --kafka-unsafe-single-broker}: accept fewer replicas than 3 (a trial on one broker).
     * @return warnings to print at start and on {@code /health/ready} (empty for a safe topic).
     * @throws IllegalStateException naming every problem of an existing topic, or a cluster too small for a safe one.
     */
    public static List<String> ensure(final Admin admin, final String topic, final int partitions,
        final boolean unsafeSingleBroker, final Duration timeout)
    {
        if (partitions < 1)
        {
            throw new IllegalArgumentException("partitions must be at least 1, not " + partitions);
        }
        TopicDescription description = describe(admin, topic, timeout);
        if (description == null)
        {
            create(admin, topic, partitions, unsafeSingleBroker, timeout);
            // a new topic reaches the brokers' metadata a moment after the controller has made it
            final long deadlineNs = System.nanoTime() + timeout.toNanos();
            for (int attempt = 0; description == null; attempt++)
            {
                if (System.nanoTime() > deadlineNs || attempt == 10_000)
                {
                    throw new IllegalStateException("the log topic " + topic + " was created but Kafka did not describe it "
                        + "within " + timeout.toSeconds() + " s; start again");
                }
                pause();
                description = describe(admin, topic, timeout);
            }
        }
        return check(description, config(admin, topic, timeout), partitions, unsafeSingleBroker);
    }

    /** @return the partitions of {@code topic}, or 0 when it does not exist. */
    public static int partitions(final Admin admin, final String topic, final Duration timeout)
    {
        final TopicDescription description = describe(admin, topic, timeout);
        return description == null ? 0 : description.partitions().size();
    }

    private static void pause()
    {
        try
        {
            Thread.sleep(100);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted waiting for the log topic to be described", ex);
        }
    }

    /** The topic settings tokenmeter creates the log topic with. */
    static Map<String, String> topicConfig(final int minInsyncReplicas)
    {
        final Map<String, String> config = new LinkedHashMap<>();
        config.put(TopicConfig.MIN_IN_SYNC_REPLICAS_CONFIG, Integer.toString(minInsyncReplicas));
        config.put(TopicConfig.RETENTION_MS_CONFIG, "-1");
        config.put(TopicConfig.RETENTION_BYTES_CONFIG, "-1");
        config.put(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_DELETE);
        config.put(TopicConfig.UNCLEAN_LEADER_ELECTION_ENABLE_CONFIG, "false");
        config.put(TopicConfig.MAX_MESSAGE_BYTES_CONFIG, Integer.toString(maxMessageBytes()));
        return config;
    }

    private static int maxMessageBytes()
    {
        return KafkaEventLog.MAX_DOCUMENT_BYTES + (64 << 10);
    }

    private static void create(final Admin admin, final String topic, final int partitions, final boolean unsafeSingleBroker,
        final Duration timeout)
    {
        final int brokers = get(admin.describeCluster().nodes(), timeout, "describe the Kafka cluster").size();
        final int replicas;
        if (brokers >= REPLICATION_FACTOR)
        {
            replicas = REPLICATION_FACTOR;
        }
        else if (unsafeSingleBroker)
        {
            replicas = brokers;
        }
        else
        {
            throw new IllegalStateException("the Kafka cluster has " + brokers + " broker(s), but the log topic " + topic
                + " needs replication factor " + REPLICATION_FACTOR + " so that an acknowledged event survives the loss of a "
                + "broker: run at least " + REPLICATION_FACTOR + " brokers, or give --kafka-unsafe-single-broker for a trial "
                + "that may lose acknowledged events");
        }
        final int minInsync = replicas >= REPLICATION_FACTOR ? MIN_INSYNC_REPLICAS : 1;
        final NewTopic newTopic = new NewTopic(topic, partitions, (short)replicas).configs(topicConfig(minInsync));
        try
        {
            admin.createTopics(List.of(newTopic)).all().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }
        catch (final ExecutionException ex)
        {
            if (!(ex.getCause() instanceof TopicExistsException))
            {
                throw new IllegalStateException("could not create the log topic " + topic + ": " + ex.getCause(), ex);
            }
            // another node created it first: it is checked like any existing topic
        }
        catch (final TimeoutException ex)
        {
            throw new IllegalStateException("creating the log topic " + topic + " took over " + timeout.toSeconds() + " s", ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted creating the log topic " + topic, ex);
        }
    }

    /** @return the warnings of an acceptable topic; throws naming every problem of one that is not. */
    static List<String> check(final TopicDescription description, final Config config, final int partitions,
        final boolean unsafeSingleBroker)
    {
        final String topic = description.name();
        final String alter = "kafka-configs.sh --bootstrap-server ... --alter --entity-type topics --entity-name " + topic
            + " --add-config ";
        final List<String> problems = new ArrayList<>();
        final List<String> warnings = new ArrayList<>();
        final int count = description.partitions().size();
        if (count != partitions)
        {
            problems.add("it has " + count + " partitions but tokenmeter runs " + partitions + " (--partitions): a tenant's "
                + "partition is computed from the count, so give --partitions " + count + ", or use a new "
                + "--kafka-topic-prefix for a cluster of " + partitions + " partitions");
        }
        int replicas = Integer.MAX_VALUE;
        for (final TopicPartitionInfo info : description.partitions())
        {
            replicas = Math.min(replicas, info.replicas().size());
        }
        final int minInsync = intValue(config, TopicConfig.MIN_IN_SYNC_REPLICAS_CONFIG, 1);
        if (replicas < REPLICATION_FACTOR)
        {
            if (unsafeSingleBroker)
            {
                warnings.add("the log topic " + topic + " has replication factor " + replicas + " (--kafka-unsafe-single-broker): "
                    + "losing a broker's disk loses acknowledged events");
            }
            else
            {
                problems.add("its replication factor is " + replicas + ", under " + REPLICATION_FACTOR + ": add replicas with "
                    + "kafka-reassign-partitions.sh, or give --kafka-unsafe-single-broker for a trial");
            }
        }
        if (minInsync < MIN_INSYNC_REPLICAS)
        {
            if (unsafeSingleBroker)
            {
                warnings.add("the log topic " + topic + " has min.insync.replicas=" + minInsync
                    + " (--kafka-unsafe-single-broker): an ack may rest on one copy");
            }
            else
            {
                problems.add("min.insync.replicas is " + minInsync + ", under " + MIN_INSYNC_REPLICAS + ": " + alter
                    + "min.insync.replicas=" + MIN_INSYNC_REPLICAS);
            }
        }
        if (minInsync > replicas)
        {
            problems.add("min.insync.replicas is " + minInsync + " but it has only " + replicas + " replicas, so no write "
                + "can succeed: " + alter + "min.insync.replicas=" + Math.min(replicas, MIN_INSYNC_REPLICAS));
        }
        for (final String forever : List.of(TopicConfig.RETENTION_MS_CONFIG, TopicConfig.RETENTION_BYTES_CONFIG))
        {
            final String value = value(config, forever);
            if (!"-1".equals(value))
            {
                problems.add(forever + " is " + value + ": the log is the billing record and must be kept forever: "
                    + alter + forever + "=-1");
            }
        }
        final String cleanup = value(config, TopicConfig.CLEANUP_POLICY_CONFIG);
        if (!TopicConfig.CLEANUP_POLICY_DELETE.equals(cleanup))
        {
            problems.add("cleanup.policy is " + cleanup + ": compaction would drop documents: " + alter
                + "cleanup.policy=delete");
        }
        if (!"false".equals(value(config, TopicConfig.UNCLEAN_LEADER_ELECTION_ENABLE_CONFIG)))
        {
            problems.add("unclean.leader.election.enable is on: an out-of-sync replica could become leader and drop "
                + "acknowledged events: " + alter + "unclean.leader.election.enable=false");
        }
        final int maxMessage = intValue(config, TopicConfig.MAX_MESSAGE_BYTES_CONFIG, 0);
        if (maxMessage < maxMessageBytes())
        {
            problems.add("max.message.bytes is " + maxMessage + ", under the " + maxMessageBytes() + " a document may take: "
                + alter + "max.message.bytes=" + maxMessageBytes());
        }
        if (!problems.isEmpty())
        {
            throw new IllegalStateException("the Kafka log topic " + topic + " cannot hold tokenmeter's log: "
                + String.join("; ", problems));
        }
        return List.copyOf(warnings);
    }

    private static String value(final Config config, final String name)
    {
        final ConfigEntry entry = config.get(name);
        return entry == null ? null : entry.value();
    }

    private static int intValue(final Config config, final String name, final int missing)
    {
        final String value = value(config, name);
        if (value == null)
        {
            return missing;
        }
        try
        {
            return Integer.parseInt(value.trim());
        }
        catch (final NumberFormatException ex)
        {
            return missing;
        }
    }

    /** @return the topic's description, or null when it does not exist. */
    private static TopicDescription describe(final Admin admin, final String topic, final Duration timeout)
    {
        try
        {
            return admin.describeTopics(List.of(topic)).allTopicNames().get(timeout.toMillis(), TimeUnit.MILLISECONDS)
                .get(topic);
        }
        catch (final ExecutionException ex)
        {
            if (ex.getCause() instanceof UnknownTopicOrPartitionException)
            {
                return null;
            }
            throw new IllegalStateException("could not describe the log topic " + topic + ": " + ex.getCause(), ex);
        }
        catch (final TimeoutException ex)
        {
            throw new IllegalStateException("Kafka did not describe the log topic " + topic + " within "
                + timeout.toSeconds() + " s: check --kafka-bootstrap", ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted describing the log topic " + topic, ex);
        }
    }

    private static Config config(final Admin admin, final String topic, final Duration timeout)
    {
        final ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        return get(admin.describeConfigs(List.of(resource)).all(), timeout, "describe the settings of " + topic).get(resource);
    }

    private static <T> T get(final KafkaFuture<T> future, final Duration timeout, final String what)
    {
        try
        {
            return future.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }
        catch (final ExecutionException ex)
        {
            throw new IllegalStateException("could not " + what + ": " + ex.getCause(), ex);
        }
        catch (final TimeoutException ex)
        {
            throw new IllegalStateException("could not " + what + " within " + timeout.toSeconds()
                + " s: check --kafka-bootstrap", ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted trying to " + what, ex);
        }
    }
}
