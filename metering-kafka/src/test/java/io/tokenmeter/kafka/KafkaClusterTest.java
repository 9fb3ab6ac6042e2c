package io.tokenmeter.kafka;

import io.tokenmeter.core.event.LogDocumentWriter;
import io.tokenmeter.core.log.ChainVerifier;
import org.agrona.collections.LongHashSet;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Three KRaft brokers (a three-node quorum): the log topic is made safe (replication factor 3, min.insync.replicas 2)
 * without the unsafe mode, a topic that is not safe is refused, and a kill -9 of the partition's leader while a writer
 * appends loses and doubles no acknowledged document; appends go on while it is down.
 */
class KafkaClusterTest
{
    private static final int ACKS_BEFORE_KILL = 100;
    private static final int ACKS_WHILE_DOWN = 100;
    private static final int ACKS_AFTER_RESTART = 20;

    @TempDir
    Path dir;

    @Test
    void theLeadersKillNineLosesNoAcknowledgedDocumentOnThreeReplicas() throws Exception
    {
        final long startNs = System.nanoTime();
        try (KafkaBrokers brokers = KafkaBrokers.start(dir, 3);
             Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers.bootstrap())))
        {
            System.out.printf("three brokers up after %d ms%n", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs));
            final KafkaEventLog.Settings settings = new KafkaEventLog.Settings(brokers.bootstrap(), "three",
                Duration.ofSeconds(15), Duration.ofMillis(20));
            assertEquals(List.of(), LogTopic.ensure(admin, settings.topic(), 2, false, Duration.ofSeconds(30)),
                "a safe topic has no warnings");
            assertEquals(List.of(), LogTopic.ensure(admin, settings.topic(), 2, false, Duration.ofSeconds(30)),
                "and passes its check when it is there");
            final TopicDescription description = admin.describeTopics(List.of(settings.topic())).allTopicNames()
                .get(30, TimeUnit.SECONDS).get(settings.topic());
            assertEquals(3, description.partitions().get(0).replicas().size());

            admin.createTopics(List.of(new NewTopic("loose.log", 2, (short)3).configs(Map.of("min.insync.replicas", "1"))))
                .all().get(30, TimeUnit.SECONDS);
            final IllegalStateException loose = assertThrows(IllegalStateException.class,
                () -> LogTopic.ensure(admin, "loose.log", 2, false, Duration.ofSeconds(30)));
            assertTrue(loose.getMessage().contains("min.insync.replicas is 1, under 2"), loose.getMessage());

            final int leader = description.partitions().get(0).leader().id() - 1;
            final AtomicInteger acknowledged = new AtomicInteger();
            final AtomicReference<Throwable> killerFailure = new AtomicReference<>();
            final Thread killer = new Thread(() ->
            {
                try
                {
                    for (int i = 0; i < 6_000 && acknowledged.get() < ACKS_BEFORE_KILL; i++)
                    {
                        Thread.sleep(10);
                    }
                    brokers.kill(leader);
                    System.out.printf("leader killed at %d ms%n", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs));
                }
                catch (final Throwable ex)
                {
                    killerFailure.set(ex);
                }
            }, "leader-killer");

            final Map<Long, byte[]> acked = new LinkedHashMap<>();
            final LogDocumentWriter writer = new LogDocumentWriter(256);
            int failed = 0;
            final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(150);
            try (KafkaEventLog log = KafkaEventLog.open(settings, 0))
            {
                killer.start();
                boolean restarted = false;
                int afterKill = 0;
                int afterRestart = 0;
                for (int n = 0; n < 20_000 && System.nanoTime() < deadlineNs && afterRestart < ACKS_AFTER_RESTART; n++)
                {
                    final int length = KafkaEventLogTest.finishDocument(log, writer, n);
                    final byte[] document = new byte[length];
                    writer.buffer().getBytes(0, document);
                    try
                    {
                        acked.put(log.append(writer.buffer(), length), document);
                        acknowledged.incrementAndGet();
                    }
                    catch (final RuntimeException ex)
                    {
                        failed++;
                        continue;
                    }
                    if (restarted)
                    {
                        afterRestart++;
                    }
                    else if (brokers.pid(leader) == -1 && ++afterKill >= ACKS_WHILE_DOWN)
                    {
                        killer.join(TimeUnit.SECONDS.toMillis(30));
                        System.out.printf("%d acknowledged while the leader was down, at %d ms%n", afterKill,
                            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs));
                        brokers.restart(leader);
                        System.out.printf("the leader is back at %d ms%n", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs));
                        restarted = true;
                    }
                }
                assertTrue(restarted, "the leader was killed and restarted; acknowledged: " + acked.size());
            }
            finally
            {
                killer.join(TimeUnit.SECONDS.toMillis(30));
            }
            assertNull(killerFailure.get(), () -> "the leader could not be killed: " + killerFailure.get());

            try (KafkaEventLog reopened = KafkaEventLog.open(settings, 0))
            {
                final List<KafkaEventLogTest.Read> all = KafkaEventLogTest.readAll(reopened);
                final Map<Long, byte[]> read = new LinkedHashMap<>();
                final Set<String> seen = new HashSet<>();
                for (final KafkaEventLogTest.Read document : all)
                {
                    read.put(document.index(), document.bytes());
                    assertTrue(seen.add(Arrays.toString(document.bytes())), "a document is in the log twice");
                }
                for (final Map.Entry<Long, byte[]> entry : acked.entrySet())
                {
                    assertArrayEquals(entry.getValue(), read.get(entry.getKey()),
                        "the acknowledged document at " + entry.getKey() + " is in the log as it was written");
                }
                assertTrue(all.size() - acked.size() <= failed, "only appends that failed may be in the log unacknowledged");
                final ChainVerifier.Result chain = ChainVerifier.verify(reopened, ChainVerifier.startOfLog(), new LongHashSet());
                assertTrue(chain.holds(), () -> "breaks: " + chain.breaks());
                System.out.printf("kill -9 of the leader of three: %d acknowledged, %d failed, %d documents in the log%n",
                    acked.size(), failed, all.size());
            }
        }
    }
}
