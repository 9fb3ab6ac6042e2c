package io.tokenmeter.kafka;

import io.tokenmeter.core.event.EventRecord;
import io.tokenmeter.core.event.LogDocumentReader;
import io.tokenmeter.core.event.LogDocumentWriter;
import io.tokenmeter.core.event.LogLayout;
import io.tokenmeter.core.log.ChainVerifier;
import io.tokenmeter.core.log.DocumentSha256;
import io.tokenmeter.core.log.Durability;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.log.Faults;
import org.agrona.DirectBuffer;
import org.agrona.collections.LongHashSet;
import org.agrona.concurrent.UnsafeBuffer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Kafka log of one partition on a real broker (a separate JVM on loopback): documents go in one transaction each
 * and come back in order at growing positions, readers start at and after positions, a reopen continues the hash
 * chain, and a second writer of the partition fences the first. Each test uses its own topic prefix.
 */
class KafkaEventLogTest
{
    private static final int PARTITIONS = 2;
    private static final AtomicInteger PREFIXES = new AtomicInteger();

    @TempDir
    static Path dir;

    private static KafkaBrokers brokers;

    @BeforeAll
    static void startBroker()
    {
        brokers = KafkaBrokers.start(dir, 1);
    }

    @AfterAll
    static void stopBroker()
    {
        if (brokers != null)
        {
            brokers.close();
        }
    }

    /** @return settings of a new cluster prefix whose log topic exists (one broker, so the unsafe mode). */
    static KafkaEventLog.Settings newTopic(final KafkaBrokers on, final int partitions)
    {
        final KafkaEventLog.Settings settings = new KafkaEventLog.Settings(on.bootstrap(), "t" + PREFIXES.incrementAndGet(),
            Duration.ofSeconds(20), Duration.ofMillis(20));
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, on.bootstrap())))
        {
            LogTopic.ensure(admin, settings.topic(), partitions, true, Duration.ofSeconds(30));
        }
        return settings;
    }

    /** Appends one document of one name record, "doc-N", chained by the log. @return its position. */
    static long appendDocument(final EventLog log, final LogDocumentWriter writer, final int n)
    {
        return log.append(writer.buffer(), finishDocument(log, writer, n));
    }

    /** Writes the document {@link #appendDocument} appends into {@code writer}. @return its length. */
    static int finishDocument(final EventLog log, final LogDocumentWriter writer, final int n)
    {
        writer.begin(1_000L + n);
        final byte[] name = name(n);
        writer.appendName(LogLayout.RECORD_TENANT_NAME, n, new UnsafeBuffer(name), 0, name.length);
        return writer.finish(log.lastDocumentSha256());
    }

    static byte[] name(final int n)
    {
        return String.format("doc-%06d", n).getBytes(StandardCharsets.US_ASCII);
    }

    /** A document as read back: its position and bytes. */
    record Read(long index, byte[] bytes)
    {
    }

    /** @return every document from the start of the log, read raw. */
    static List<Read> readAll(final EventLog log)
    {
        final List<Read> all = new ArrayList<>();
        try (EventLog.Reader reader = log.newReader())
        {
            reader.startAt(EventLog.NO_INDEX);
            for (int i = 0; i < 100_000 && reader.readNextRaw((index, buffer, offset, length) ->
            {
                final byte[] bytes = new byte[length];
                buffer.getBytes(offset, bytes);
                all.add(new Read(index, bytes));
            }) != EventLog.NO_INDEX; i++)
            {
                // collected by the listener
            }
        }
        return all;
    }

    /** Collects the names a reader hands out. */
    static final class Names implements LogDocumentReader.Handler
    {
        final List<String> names = new ArrayList<>();

        @Override
        public void onName(final byte recordType, final int id, final DirectBuffer buffer, final int offset, final int length)
        {
            names.add(buffer.getStringWithoutLengthAscii(offset, length));
        }

        @Override
        public void onEvent(final EventRecord event, final long appendTimeMs)
        {
            throw new AssertionError("no events were written");
        }
    }

    @Test
    void documentsComeBackInOrderAtGrowingPositions()
    {
        final KafkaEventLog.Settings settings = newTopic(brokers, PARTITIONS);
        final LogDocumentWriter writer = new LogDocumentWriter(256);
        final List<Long> positions = new ArrayList<>();
        try (KafkaEventLog log = KafkaEventLog.open(settings, 1))
        {
            assertEquals(EventLog.NO_INDEX, log.lastIndex());
            assertArrayEquals(new byte[DocumentSha256.LENGTH], log.lastDocumentSha256(), "an empty log's chain head is zeros");
            assertEquals(Durability.REPLICATED, log.durability());
            assertTrue(log.describe().contains(settings.topic()) && log.describe().contains("partition 1"), log.describe());
            for (int n = 0; n < 10; n++)
            {
                final long position = appendDocument(log, writer, n);
                if (!positions.isEmpty())
                {
                    assertTrue(position > positions.get(positions.size() - 1), "positions grow: " + positions + " then " + position);
                }
                positions.add(position);
                assertEquals(position, log.lastIndex());
            }
            final Names names = new Names();
            final List<Long> read = new ArrayList<>();
            final List<Long> appendTimes = new ArrayList<>();
            try (EventLog.Reader reader = log.newReader())
            {
                for (int i = 0; i < 100; i++)
                {
                    final long index = reader.readNext(names, (at, appendTimeMs) -> appendTimes.add(appendTimeMs));
                    if (index == EventLog.NO_INDEX)
                    {
                        break;
                    }
                    read.add(index);
                    assertEquals(index, reader.lastReadIndex());
                }
                assertEquals(EventLog.NO_INDEX, reader.readNext(names, (at, t) -> { }), "nothing more yet");
            }
            assertEquals(positions, read);
            assertEquals(1_000L, appendTimes.get(0));
            assertEquals(1_009L, appendTimes.get(9));
            assertEquals("doc-000000", names.names.get(0));
            assertEquals("doc-000009", names.names.get(9));
        }
        try (KafkaEventLog other = KafkaEventLog.open(settings, 0))
        {
            assertEquals(EventLog.NO_INDEX, other.lastIndex(), "partition 0 of the topic is another log");
            assertTrue(readAll(other).isEmpty());
        }
    }

    @Test
    void aReaderStartsAtAndAfterAPositionAndRefusesOnesThatHoldNoDocument()
    {
        final KafkaEventLog.Settings settings = newTopic(brokers, PARTITIONS);
        final LogDocumentWriter writer = new LogDocumentWriter(256);
        try (KafkaEventLog log = KafkaEventLog.open(settings, 0))
        {
            final List<Long> positions = new ArrayList<>();
            for (int n = 0; n < 8; n++)
            {
                positions.add(appendDocument(log, writer, n));
            }
            try (EventLog.Reader reader = log.newReader())
            {
                final Names names = new Names();
                reader.startAt(positions.get(3));
                assertEquals(positions.get(3), reader.readNext(names, (i, t) -> { }));
                assertEquals(List.of("doc-000003"), names.names);

                reader.startAfter(positions.get(5));
                assertEquals(positions.get(5), reader.lastReadIndex());
                assertEquals(positions.get(6), reader.readNext(names, (i, t) -> { }));
                assertEquals("doc-000006", names.names.get(1));

                reader.startAfter(EventLog.NO_INDEX);
                assertEquals(positions.get(0), reader.readNext(names, (i, t) -> { }), "after nothing is the start");

                final Names at = new Names();
                assertTrue(reader.readAt(positions.get(4), at));
                assertEquals(List.of("doc-000004"), at.names);

                // each transaction's commit marker takes the offset after its document
                final long marker = positions.get(2) + 1;
                assertTrue(marker < positions.get(3), "positions are not dense: " + positions);
                reader.startAt(marker);
                final IllegalStateException notThere = assertThrows(IllegalStateException.class,
                    () -> reader.readNext(names, (i, t) -> { }));
                assertTrue(notThere.getMessage().contains("holds no committed document"), notThere.getMessage());

                final long end = positions.get(7) + 2;
                final IllegalStateException beyond = assertThrows(IllegalStateException.class, () -> reader.startAt(end + 10));
                assertTrue(beyond.getMessage().contains("is not in"), beyond.getMessage());
            }
        }
    }

    @Test
    void aReopenReadsTheChainHeadBackAndContinuesTheChain()
    {
        final KafkaEventLog.Settings settings = newTopic(brokers, PARTITIONS);
        final LogDocumentWriter writer = new LogDocumentWriter(256);
        final long lastBefore;
        final byte[] headBefore;
        try (KafkaEventLog log = KafkaEventLog.open(settings, 1))
        {
            for (int n = 0; n < 6; n++)
            {
                appendDocument(log, writer, n);
            }
            lastBefore = log.lastIndex();
            headBefore = log.lastDocumentSha256().clone();
        }
        try (KafkaEventLog log = KafkaEventLog.open(settings, 1))
        {
            assertEquals(lastBefore, log.lastIndex(), "a reopen finds the last committed document");
            assertArrayEquals(headBefore, log.lastDocumentSha256(), "and its SHA-256");
            assertEquals(DocumentSha256.sha256At(log, lastBefore), DocumentSha256.hex(log.lastDocumentSha256()));
            for (int n = 6; n < 12; n++)
            {
                appendDocument(log, writer, n);
            }
            final ChainVerifier.Result result = ChainVerifier.verify(log, ChainVerifier.startOfLog(), new LongHashSet());
            assertTrue(result.holds(), () -> "breaks: " + result.breaks());
            assertEquals(12, result.documents());
            assertEquals(12, result.chained());
            assertEquals(log.lastIndex(), result.lastIndex());
            assertEquals(DocumentSha256.hex(log.lastDocumentSha256()), result.headSha256());
        }
    }

    @Test
    void aSecondWriterOfThePartitionFencesTheFirst()
    {
        final KafkaEventLog.Settings settings = newTopic(brokers, PARTITIONS);
        final LogDocumentWriter writer = new LogDocumentWriter(256);
        try (KafkaEventLog first = KafkaEventLog.open(settings, 0))
        {
            appendDocument(first, writer, 0);
            appendDocument(first, writer, 1);
            try (KafkaEventLog second = KafkaEventLog.open(settings, 0))
            {
                assertEquals(first.lastIndex(), second.lastIndex(), "the new writer starts from the old one's last document");
                assertNull(first.lostReason(), "the first learns it at its next append");
                final IllegalStateException fenced = assertThrows(IllegalStateException.class,
                    () -> appendDocument(first, writer, 2));
                assertTrue(fenced.getMessage().contains("fenced"), fenced.getMessage());
                assertTrue(first.lostReason() != null && first.lostReason().contains("fenced"), first.lostReason());
                assertNull(second.lostReason());
                final IllegalStateException refused = assertThrows(IllegalStateException.class,
                    () -> appendDocument(first, writer, 3));
                assertTrue(refused.getMessage().contains("takes no more appends"), refused.getMessage());

                appendDocument(second, writer, 4);
                final List<Read> all = readAll(second);
                final List<String> names = new ArrayList<>();
                for (final Read read : all)
                {
                    final Names handler = new Names();
                    new LogDocumentReader().read(new UnsafeBuffer(read.bytes()), 0, read.bytes().length, handler);
                    names.addAll(handler.names);
                }
                assertEquals(List.of("doc-000000", "doc-000001", "doc-000004"), names,
                    "nothing the fenced writer tried is read by read_committed");
                final ChainVerifier.Result result = ChainVerifier.verify(second, ChainVerifier.startOfLog(), new LongHashSet());
                assertTrue(result.holds(), () -> "breaks: " + result.breaks());
            }
        }
    }

    @Test
    void anInjectedFaultFailsTheAppendAndWritesNothing()
    {
        final KafkaEventLog.Settings settings = newTopic(brokers, PARTITIONS);
        final LogDocumentWriter writer = new LogDocumentWriter(256);
        try (KafkaEventLog log = KafkaEventLog.open(settings, 1))
        {
            final long first = appendDocument(log, writer, 0);
            final Faults faults = new Faults();
            log.useFaults(faults);
            faults.failAppends("No space left on device");
            assertThrows(UncheckedIOException.class, () -> appendDocument(log, writer, 1));
            faults.failAppends(null);
            final long second = appendDocument(log, writer, 2);
            assertTrue(second > first);
            final List<Read> all = readAll(log);
            assertEquals(List.of(first, second), all.stream().map(Read::index).toList());
            assertFalse(Arrays.equals(all.get(0).bytes(), all.get(1).bytes()));
        }
    }

    @Test
    void aSafeLogTopicIsRefusedOnOneBrokerAndAnExistingTopicOfAnotherPartitionCountIsRefused()
    {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers.bootstrap())))
        {
            final IllegalStateException small = assertThrows(IllegalStateException.class,
                () -> LogTopic.ensure(admin, "safe.log", PARTITIONS, false, Duration.ofSeconds(30)));
            assertTrue(small.getMessage().contains("has 1 broker(s)") && small.getMessage().contains("--kafka-unsafe-single-broker"),
                small.getMessage());

            final KafkaEventLog.Settings settings = newTopic(brokers, PARTITIONS);
            final List<String> warnings = LogTopic.ensure(admin, settings.topic(), PARTITIONS, true, Duration.ofSeconds(30));
            assertEquals(2, warnings.size(), "an unsafe topic is said so: " + warnings);
            final IllegalStateException count = assertThrows(IllegalStateException.class,
                () -> LogTopic.ensure(admin, settings.topic(), PARTITIONS + 1, true, Duration.ofSeconds(30)));
            assertTrue(count.getMessage().contains("has 2 partitions but tokenmeter runs 3"), count.getMessage());
            final IllegalStateException unsafe = assertThrows(IllegalStateException.class,
                () -> LogTopic.ensure(admin, settings.topic(), PARTITIONS, false, Duration.ofSeconds(30)));
            assertTrue(unsafe.getMessage().contains("replication factor is 1"), unsafe.getMessage());
        }
    }

    /** @return settings of a topic that takes documents of at most {@code maxMessageBytes} (made without LogTopic). */
    private static KafkaEventLog.Settings smallMessageTopic(final int maxMessageBytes) throws Exception
    {
        final KafkaEventLog.Settings settings = new KafkaEventLog.Settings(brokers.bootstrap(), "t" + PREFIXES.incrementAndGet(),
            Duration.ofSeconds(20), Duration.ofMillis(20));
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers.bootstrap())))
        {
            admin.createTopics(List.of(new NewTopic(settings.topic(), 1, (short)1)
                .configs(Map.of("max.message.bytes", Integer.toString(maxMessageBytes))))).all().get(30, TimeUnit.SECONDS);
        }
        return settings;
    }

    /** Appends one document of {@code names} name records of 90 bytes each. */
    private static long appendLarge(final EventLog log, final LogDocumentWriter writer, final int names)
    {
        writer.begin(5_000L);
        for (int n = 0; n < names; n++)
        {
            final byte[] name = String.format("%090d", n).getBytes(StandardCharsets.US_ASCII);
            writer.appendName(LogLayout.RECORD_TENANT_NAME, 1_000 + n, new UnsafeBuffer(name), 0, name.length);
        }
        return log.append(writer.buffer(), writer.finish(log.lastDocumentSha256()));
    }

    @Test
    void aCommitTheBrokerRefusesIsSettledAsNotWrittenAndTheChainGoesOn() throws Exception
    {
        final KafkaEventLog.Settings settings = smallMessageTopic(1_000);
        final LogDocumentWriter writer = new LogDocumentWriter(256);
        try (KafkaEventLog log = KafkaEventLog.open(settings, 0))
        {
            final long first = appendDocument(log, writer, 0);
            final byte[] head = log.lastDocumentSha256().clone();
            final IllegalStateException failed = assertThrows(IllegalStateException.class, () -> appendLarge(log, writer, 40));
            assertTrue(failed.getMessage().contains("nothing of it is in the log"), failed.getMessage());
            assertEquals(first, log.lastIndex());
            assertArrayEquals(head, log.lastDocumentSha256(), "a document not written is not the chain's head");
            final long second = appendDocument(log, writer, 1);
            assertEquals(List.of(first, second), readAll(log).stream().map(Read::index).toList());
            final ChainVerifier.Result chain = ChainVerifier.verify(log, ChainVerifier.startOfLog(), new LongHashSet());
            assertTrue(chain.holds(), () -> "breaks: " + chain.breaks());
        }
    }

    @Test
    void aWriterThatNoLongerOwnsThePartitionRefusesRatherThanSettleAnAppendInDoubt() throws Exception
    {
        final KafkaEventLog.Settings settings = smallMessageTopic(1_000);
        final LogDocumentWriter writer = new LogDocumentWriter(256);
        final AtomicBoolean owner = new AtomicBoolean(true);
        try (KafkaEventLog log = KafkaEventLog.open(settings, 0, owner::get))
        {
            appendDocument(log, writer, 0);
            owner.set(false);
            final IllegalStateException failed = assertThrows(IllegalStateException.class, () -> appendLarge(log, writer, 40));
            assertTrue(failed.getMessage().contains("no longer owns the partition"), failed.getMessage());
            owner.set(true);
            final IllegalStateException refused = assertThrows(IllegalStateException.class, () -> appendDocument(log, writer, 1));
            assertTrue(refused.getMessage().contains("takes no more appends"), refused.getMessage());
        }
        try (KafkaEventLog next = KafkaEventLog.open(settings, 0))
        {
            assertEquals(1, readAll(next).size(), "the new owner's open ended the transaction in doubt: it is not in the log");
            appendDocument(next, writer, 2);
        }
    }
}
