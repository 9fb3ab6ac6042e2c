package io.tokenmeter.server.cluster;

import io.tokenmeter.core.partition.DataLayout;
import io.tokenmeter.core.partition.Partitions;
import io.tokenmeter.kafka.KafkaEventLog;
import io.tokenmeter.kafka.LogTopic;
import io.tokenmeter.server.config.Settings;
import io.tokenmeter.server.config.SettingsException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The start of a node in cluster mode ({@code serve --cluster kafka}): learns the Kafka cluster's id, opens the data
 * directory's layout recording that cluster and the log topic (so that its snapshots are never read against another
 * log), creates or checks the topic {@code PREFIX.log} with the layout's partition count ({@link LogTopic}), and gives
 * the partitions' log factory: partition N's log is partition N of the topic, a {@link KafkaEventLog} opened as its
 * writer (which fences any earlier writer): every partition with {@code kafka-ownership static}, the partitions the
 * owners group assigns this node with {@code group} ({@link OwnedPartitions}). Cold path, the starting thread.
 *
 * <p>A new data directory takes its partition count from {@code --partitions}, else from the topic when it exists
 * (a node joining a running cluster), else the default of a new directory.
 */
public final class KafkaLogs
{
    private static final Logger LOG = LoggerFactory.getLogger(KafkaLogs.class);
    /** The longest a call to Kafka may take at start (cluster id, topic checks) and in the log's own calls. */
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private final DataLayout layout;
    private final KafkaEventLog.Settings logSettings;
    private final List<String> warnings;

    private KafkaLogs(final DataLayout layout, final KafkaEventLog.Settings logSettings, final List<String> warnings)
    {
        this.layout = layout;
        this.logSettings = logSettings;
        this.warnings = warnings;
    }

    /**
     * Connects to Kafka, opens (or creates) the layout of {@code dataDir} and creates or checks the log topic.
     *
     * @param newDefault the partitions of a new directory when neither {@code --partitions} nor an existing topic says.
     * @throws SettingsException naming what to change: Kafka not reachable, a data directory of another log, a topic that
     *     fails its checks.
     */
    public static KafkaLogs open(final Settings settings, final Path dataDir, final int newDefault)
    {
        final KafkaEventLog.Settings logSettings = new KafkaEventLog.Settings(settings.kafkaBootstrap,
            settings.kafkaTopicPrefix, TIMEOUT, Duration.ofMillis(20));
        final String topic = logSettings.topic();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, settings.kafkaBootstrap,
            AdminClientConfig.CLIENT_ID_CONFIG, "tokenmeter-" + settings.nodeId + "-admin",
            AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int)TIMEOUT.toMillis(),
            AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int)TIMEOUT.toMillis() / 2,
            AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 1_000)))
        {
            final String clusterId = clusterId(admin, settings.kafkaBootstrap);
            final String log = "kafka cluster " + clusterId + " topic " + topic;
            final DataLayout layout;
            final List<String> warnings;
            try
            {
                if (DataLayout.existing(dataDir) != null)
                {
                    // the directory's own log is checked before anything is made in Kafka
                    layout = DataLayout.openOrCreate(dataDir, settings.partitions, newDefault, log);
                    warnings = LogTopic.ensure(admin, topic, layout.partitions(), settings.kafkaUnsafeSingleBroker, TIMEOUT);
                }
                else
                {
                    final int existing = LogTopic.partitions(admin, topic, TIMEOUT);
                    final int count = settings.partitions > 0 ? settings.partitions : existing > 0 ? existing : newDefault;
                    // the topic first: a refused topic leaves no layout behind that would then disagree with it
                    warnings = LogTopic.ensure(admin, topic, count, settings.kafkaUnsafeSingleBroker, TIMEOUT);
                    layout = DataLayout.openOrCreate(dataDir, count, count, log);
                }
            }
            catch (final DataLayout.LayoutException ex)
            {
                throw new SettingsException(ex.getMessage());
            }
            catch (final IllegalStateException ex)
            {
                throw new SettingsException(ex.getMessage());
            }
            LOG.info("cluster mode: node {}{}, {} partition{} on Kafka topic {} of cluster {} at {}; {}", settings.nodeId,
                settings.advertise == null ? "" : " (advertised at " + settings.advertise + ")", layout.partitions(),
                layout.partitions() == 1 ? "" : "s", topic, clusterId, settings.kafkaBootstrap, settings.kafkaOwnershipGroup
                    ? "it serves the partitions the owners group " + settings.kafkaTopicPrefix + ".owners assigns it"
                    : "this node owns every partition (kafka-ownership static)");
            warnings.forEach(warning -> LOG.warn("UNSAFE: {}", warning));
            return new KafkaLogs(layout, logSettings, warnings);
        }
    }

    private static String clusterId(final Admin admin, final String bootstrap)
    {
        try
        {
            return admin.describeCluster().clusterId().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        }
        catch (final ExecutionException | TimeoutException ex)
        {
            throw new SettingsException("cannot reach Kafka at " + bootstrap + " (kafka-bootstrap) within "
                + TIMEOUT.toSeconds() + " s (" + (ex.getCause() == null ? ex : ex.getCause()) + "): start the brokers, or "
                + "correct --kafka-bootstrap");
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while asking Kafka for its cluster id", ex);
        }
    }

    /** @return the data directory's layout (its partition count is the topic's). */
    public DataLayout layout()
    {
        return layout;
    }

    /** @return the partitions' logs: partition N is partition N of the topic, opened as its writer. */
    public Partitions.LogFactory logFactory()
    {
        return p -> KafkaEventLog.open(logSettings, p);
    }

    /** @return the settings each partition's {@link KafkaEventLog} is opened with. */
    public KafkaEventLog.Settings logSettings()
    {
        return logSettings;
    }

    /** @return what is unsafe about the topic ({@code --kafka-unsafe-single-broker}), for the start log and /health/ready. */
    public List<String> warnings()
    {
        return warnings;
    }
}
