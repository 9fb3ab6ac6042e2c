package io.tokenmeter.kafka;

import io.tokenmeter.core.event.LogDocumentWriter;
import io.tokenmeter.core.log.ChainVerifier;
import org.agrona.collections.LongHashSet;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * kill -9 of the broker while a writer appends, then a restart on the same directory: every append that returned a
 * position is in the log exactly once at that position, nothing whose append threw with its outcome known is, and
 * the hash chain holds over the whole log.
 */
class KafkaEventLogCrashTest
{
    private static final int MAX_APPENDS = 20_000;
    private static final int ACKS_BEFORE_KILL = 200;
    private static final int ACKS_AFTER_RESTART = 50;

    @TempDir
    Path dir;

    @Test
    void everyAcknowledgedAppendSurvivesAKillNineOfTheBrokerExactlyOnce() throws Exception
    {
        try (KafkaBrokers brokers = KafkaBrokers.start(dir, 1))
        {
            final KafkaEventLog.Settings settings = new KafkaEventLog.Settings(brokers.bootstrap(), "crash",
                Duration.ofSeconds(5), Duration.ofMillis(20));
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers.bootstrap())))
            {
                LogTopic.ensure(admin, settings.topic(), 1, true, Duration.ofSeconds(30));
            }
            final AtomicInteger acknowledged = new AtomicInteger();
            final CountDownLatch restarted = new CountDownLatch(1);
            final AtomicReference<Throwable> killerFailure = new AtomicReference<>();
            final AtomicBoolean killed = new AtomicBoolean();
            final Thread killer = new Thread(() ->
            {
                try
                {
                    for (int i = 0; i < 6_000 && acknowledged.get() < ACKS_BEFORE_KILL; i++)
                    {
                        Thread.sleep(10);
                    }
                    brokers.kill(0);
                    killed.set(true);
                    Thread.sleep(500);
                    brokers.restart(0);
                }
                catch (final Throwable ex)
                {
                    killerFailure.set(ex);
                }
                finally
                {
                    restarted.countDown();
                }
            }, "broker-killer");

            final Map<Long, byte[]> acked = new LinkedHashMap<>();
            final List<byte[]> failedKnown = new ArrayList<>();
            final List<byte[]> failedUnknown = new ArrayList<>();
            final LogDocumentWriter writer = new LogDocumentWriter(256);
            final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(150);
            KafkaEventLog log = KafkaEventLog.open(settings, 0);
            int reopens = 0;
            try
            {
                killer.start();
                int afterRestart = 0;
                for (int n = 0; n < MAX_APPENDS && System.nanoTime() < deadlineNs && afterRestart < ACKS_AFTER_RESTART; n++)
                {
                    final int length = KafkaEventLogTest.finishDocument(log, writer, n);
                    final byte[] document = new byte[length];
                    writer.buffer().getBytes(0, document);
                    try
                    {
                        final long position = log.append(writer.buffer(), length);
                        acked.put(position, document);
                        acknowledged.incrementAndGet();
                        if (restarted.getCount() == 0)
                        {
                            afterRestart++;
                        }
                    }
                    catch (final RuntimeException ex)
                    {
                        if (ex.getMessage() != null && ex.getMessage().contains("takes no more appends"))
                        {
                            // a document reported failed turned up in the log: the partition is recovered by a reopen
                            failedUnknown.add(document);
                            log.close();
                            log = KafkaEventLog.open(settings, 0);
                            reopens++;
                        }
                        else if (ex.getMessage() != null && (ex.getMessage().contains("nothing of it is in the log") || ex.getMessage().contains("nothing of this append is in the log")))
                        {
                            failedKnown.add(document);
                        }
                        else
                        {
                            failedUnknown.add(document);
                        }
                    }
                }
            }
            finally
            {
                killer.join(TimeUnit.SECONDS.toMillis(120));
                log.close();
            }
            assertNull(killerFailure.get(), () -> "the broker could not be killed and restarted: " + killerFailure.get());
            assertTrue(killed.get(), "the broker was killed");
            assertTrue(acked.size() >= ACKS_BEFORE_KILL + ACKS_AFTER_RESTART,
                "appends were acknowledged before the kill and after the restart: " + acked.size());

            try (KafkaEventLog reopened = KafkaEventLog.open(settings, 0))
            {
                final List<KafkaEventLogTest.Read> all = KafkaEventLogTest.readAll(reopened);
                final Map<Long, byte[]> read = new LinkedHashMap<>();
                final Set<String> seen = new HashSet<>();
                for (final KafkaEventLogTest.Read document : all)
                {
                    read.put(document.index(), document.bytes());
                    assertTrue(seen.add(Arrays.toString(document.bytes())), "a document is in the log twice, at " + document.index());
                }
                for (final Map.Entry<Long, byte[]> entry : acked.entrySet())
                {
                    assertArrayEquals(entry.getValue(), read.get(entry.getKey()),
                        "the acknowledged document at " + entry.getKey() + " is in the log as it was written");
                }
                final Set<String> known = new HashSet<>();
                failedKnown.forEach(d -> known.add(Arrays.toString(d)));
                int unacknowledged = 0;
                for (final KafkaEventLogTest.Read document : all)
                {
                    if (!acked.containsKey(document.index()))
                    {
                        assertFalse(known.contains(Arrays.toString(document.bytes())),
                            "a document whose append said nothing of it is in the log is there, at " + document.index());
                        unacknowledged++;
                    }
                }
                assertTrue(unacknowledged <= failedUnknown.size(), "documents in the log that were not acknowledged ("
                    + unacknowledged + ") are only ones whose outcome was unknown (" + failedUnknown.size() + ")");
                final ChainVerifier.Result chain = ChainVerifier.verify(reopened, ChainVerifier.startOfLog(), new LongHashSet());
                assertTrue(chain.holds(), () -> "breaks: " + chain.breaks());
                System.out.printf("kill -9 of the broker: %d acknowledged, %d failed with nothing written, %d failed with the "
                    + "outcome unknown, %d reopens, %d documents in the log%n", acked.size(), failedKnown.size(),
                    failedUnknown.size(), reopens, all.size());
            }
        }
    }
}
