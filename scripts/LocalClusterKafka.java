import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeMetadataQuorumOptions;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.QuorumInfo;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;

/**
 * The Kafka side of scripts/local-cluster.sh, run as a single-file program on the kafka_2.13 class path (the Admin
 * client):
 * <ul>
 *   <li>{@code await BOOTSTRAP COUNT SECONDS}: waits until the metadata quorum has a leader and COUNT voters and COUNT
 *       brokers are registered; exit 0, or 1 naming what was missing when SECONDS have passed.</li>
 *   <li>{@code describe BOOTSTRAP}: prints the quorum (leader, voters and their lag), the brokers, and every topic with
 *       its partitions, replicas, in-sync replicas and the settings tokenmeter's log topic is checked for.</li>
 * </ul>
 */
public final class LocalClusterKafka
{
    private static final List<String> SETTINGS = List.of("min.insync.replicas", "retention.ms", "retention.bytes",
        "cleanup.policy", "unclean.leader.election.enable", "max.message.bytes");

    private LocalClusterKafka()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        if (args.length == 4 && "await".equals(args[0]))
        {
            System.exit(await(args[1], Integer.parseInt(args[2]), Integer.parseInt(args[3])));
        }
        if (args.length == 2 && "describe".equals(args[0]))
        {
            System.exit(describe(args[1]));
        }
        System.err.println("usage: LocalClusterKafka await BOOTSTRAP COUNT SECONDS | describe BOOTSTRAP");
        System.exit(2);
    }

    /** An Admin client whose calls give up after {@code apiTimeoutMs} (retrying a broker that is starting within it). */
    private static Admin admin(final String bootstrap, final int apiTimeoutMs)
    {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
            AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 2_000, AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, apiTimeoutMs,
            AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 500));
    }

    private static int await(final String bootstrap, final int count, final int seconds) throws InterruptedException
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        String last = "no answer yet";
        try (Admin admin = admin(bootstrap, 3_000))
        {
            for (int attempt = 0; attempt < 10_000 && System.nanoTime() < deadlineNs; attempt++)
            {
                try
                {
                    final QuorumInfo quorum = admin.describeMetadataQuorum(new DescribeMetadataQuorumOptions().timeoutMs(2_000))
                        .quorumInfo().get(3, TimeUnit.SECONDS);
                    final Set<Integer> brokers = admin.describeCluster(new DescribeClusterOptions().timeoutMs(2_000))
                        .nodes().get(3, TimeUnit.SECONDS).stream().map(Node::id).collect(Collectors.toCollection(TreeSet::new));
                    if (quorum.leaderId() >= 0 && quorum.voters().size() == count && brokers.size() == count)
                    {
                        System.out.println("quorum leader " + quorum.leaderId() + " voters " + quorum.voters().size()
                            + " brokers " + brokers);
                        return 0;
                    }
                    last = "quorum leader " + quorum.leaderId() + ", " + quorum.voters().size() + " voters, brokers " + brokers;
                }
                catch (final ExecutionException | TimeoutException ex)
                {
                    last = ex.getCause() == null ? ex.toString() : ex.getCause().toString();
                }
                Thread.sleep(250);
            }
        }
        System.err.println("Kafka at " + bootstrap + " did not have a quorum leader, " + count + " voters and " + count
            + " brokers within " + seconds + " s (last: " + last + ")");
        return 1;
    }

    private static int describe(final String bootstrap) throws Exception
    {
        try (Admin admin = admin(bootstrap, 20_000))
        {
            final QuorumInfo quorum = admin.describeMetadataQuorum().quorumInfo().get(30, TimeUnit.SECONDS);
            final List<String> voters = new ArrayList<>();
            for (final QuorumInfo.ReplicaState voter : quorum.voters())
            {
                voters.add(voter.replicaId() + " (lag " + (quorum.highWatermark() - voter.logEndOffset()) + ")");
            }
            System.out.println("quorum leader " + quorum.leaderId() + " epoch " + quorum.leaderEpoch() + " voters "
                + String.join(", ", voters));
            for (final Node node : admin.describeCluster().nodes().get(30, TimeUnit.SECONDS))
            {
                System.out.println("broker " + node.id() + " " + node.host() + ":" + node.port());
            }
            final Set<String> names = new TreeSet<>(admin.listTopics(new ListTopicsOptions().listInternal(true)).names()
                .get(30, TimeUnit.SECONDS));
            final Map<String, TopicDescription> topics = admin.describeTopics(names).allTopicNames().get(30, TimeUnit.SECONDS);
            final List<ConfigResource> resources = names.stream()
                .map(name -> new ConfigResource(ConfigResource.Type.TOPIC, name)).toList();
            final Map<ConfigResource, Config> configs = admin.describeConfigs(resources).all().get(30, TimeUnit.SECONDS);
            for (final String name : names)
            {
                final List<TopicPartitionInfo> partitions = topics.get(name).partitions();
                final int replicas = partitions.stream().mapToInt(p -> p.replicas().size()).min().orElse(0);
                final int inSync = partitions.stream().mapToInt(p -> p.isr().size()).min().orElse(0);
                final Config config = configs.get(new ConfigResource(ConfigResource.Type.TOPIC, name));
                final List<String> settings = new ArrayList<>();
                for (final String setting : SETTINGS)
                {
                    settings.add(setting + "=" + config.get(setting).value());
                }
                System.out.println("topic " + name + " partitions " + partitions.size() + " replicas " + replicas
                    + " in-sync " + inSync + " " + String.join(" ", settings));
            }
        }
        return 0;
    }
}
