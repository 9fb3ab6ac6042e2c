package io.tokenmeter.kafka;

import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartitionInfo;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The checks of an existing log topic, on the descriptions Kafka's admin client returns: what tokenmeter creates passes,
 * and each unsafe or wrong setting refuses the start with the setting named and what to change.
 */
class LogTopicTest
{
    private static TopicDescription topic(final int partitions, final int replicas)
    {
        final List<Node> nodes = new ArrayList<>();
        for (int i = 0; i < replicas; i++)
        {
            nodes.add(new Node(i + 1, "127.0.0.1", 9092 + i));
        }
        final List<TopicPartitionInfo> infos = new ArrayList<>();
        for (int p = 0; p < partitions; p++)
        {
            infos.add(new TopicPartitionInfo(p, nodes.get(0), nodes, nodes));
        }
        return new TopicDescription("tm.log", false, infos);
    }

    private static Config config(final Map<String, String> overrides)
    {
        final Map<String, String> values = new HashMap<>(LogTopic.topicConfig(LogTopic.MIN_INSYNC_REPLICAS));
        values.putAll(overrides);
        final List<ConfigEntry> entries = new ArrayList<>();
        values.forEach((name, value) -> entries.add(new ConfigEntry(name, value)));
        return new Config(entries);
    }

    private static String refusal(final TopicDescription description, final Config config, final int partitions)
    {
        return assertThrows(IllegalStateException.class, () -> LogTopic.check(description, config, partitions, false))
            .getMessage();
    }

    @Test
    void theTopicTokenmeterCreatesPassesWithoutWarnings()
    {
        assertEquals(List.of(), LogTopic.check(topic(4, 3), config(Map.of()), 4, false));
    }

    @Test
    void aDifferentPartitionCountIsRefusedNamingBothCounts()
    {
        final String message = refusal(topic(4, 3), config(Map.of()), 8);
        assertTrue(message.contains("has 4 partitions but tokenmeter runs 8 (--partitions)"), message);
        assertTrue(message.contains("--kafka-topic-prefix"), message);
    }

    @Test
    void fewerThanThreeReplicasAreRefusedUnlessTheUnsafeOneBrokerModeIsGiven()
    {
        final String message = refusal(topic(2, 1), config(Map.of("min.insync.replicas", "1")), 2);
        assertTrue(message.contains("replication factor is 1, under 3"), message);
        assertTrue(message.contains("min.insync.replicas is 1, under 2"), message);
        assertTrue(message.contains("--kafka-unsafe-single-broker"), message);

        final List<String> warnings = LogTopic.check(topic(2, 1), config(Map.of("min.insync.replicas", "1")), 2, true);
        assertEquals(2, warnings.size(), warnings::toString);
        assertTrue(warnings.get(0).contains("replication factor 1"), warnings::toString);
    }

    @Test
    void aMinimumOfInSyncReplicasUnderTwoIsRefusedWithTheCommandThatFixesIt()
    {
        final String message = refusal(topic(2, 3), config(Map.of("min.insync.replicas", "1")), 2);
        assertTrue(message.contains("--add-config min.insync.replicas=2"), message);
    }

    @Test
    void retentionCompactionUncleanElectionAndASmallMessageLimitAreEachRefused()
    {
        final String message = refusal(topic(2, 3), config(Map.of("retention.ms", "604800000", "retention.bytes", "1000",
            "cleanup.policy", "compact", "unclean.leader.election.enable", "true", "max.message.bytes", "1048588")), 2);
        assertTrue(message.contains("retention.ms is 604800000") && message.contains("retention.ms=-1"), message);
        assertTrue(message.contains("retention.bytes is 1000"), message);
        assertTrue(message.contains("cleanup.policy is compact"), message);
        assertTrue(message.contains("unclean.leader.election.enable=false"), message);
        assertTrue(message.contains("max.message.bytes is 1048588"), message);
    }

    @Test
    void aMinimumOfInSyncReplicasAboveTheReplicasIsRefusedEvenInTheUnsafeMode()
    {
        final IllegalStateException refused = assertThrows(IllegalStateException.class,
            () -> LogTopic.check(topic(1, 1), config(Map.of("min.insync.replicas", "2")), 1, true));
        assertTrue(refused.getMessage().contains("no write can succeed"), refused.getMessage());
    }
}
