package io.tokenmeter.kafka;

import io.tokenmeter.core.event.DamagedDocumentException;
import io.tokenmeter.core.event.LogDocumentReader;
import io.tokenmeter.core.log.DocumentSha256;
import io.tokenmeter.core.log.Durability;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.log.Faults;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.TransactionalIdAuthorizationException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.time.Duration;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/**
 * One partition's log on a Kafka topic partition (cluster mode, SPEC section 10): partition N of tokenmeter is
 * partition N of the topic {@code PREFIX.log}, one Kafka record per document (the bytes of
 * {@link io.tokenmeter.core.event.LogLayout}, no key), and a position is the record's offset.
 *
 * <p>Each {@link #append} is one transaction of a transactional producer whose {@code transactional.id} is
 * {@code PREFIX-p{N}} ({@code acks=all}, idempotent): it returns once the transaction is committed to the in-sync
 * replicas. Opening the log initialises the producer, which fences any earlier writer of the partition and aborts
 * whatever transaction it left open; a fenced log refuses every later append. Readers are {@code read_committed}
 * consumers assigned to the partition (no consumer group), so they see committed documents only. Offsets are not
 * dense: each transaction's commit marker takes an offset too, and an aborted document keeps its offset but is never
 * read. Positions only grow, which is all {@link EventLog} promises.
 *
 * <p>When a commit fails in a way that leaves its outcome unknown (a broker lost mid-commit, a timeout), the log
 * finds out before it answers: a new producer with the same {@code transactional.id} completes or aborts the
 * transaction, and the partition's tail says whether the document is there. Only when that cannot be learnt either
 * does {@link #append} throw with the outcome unknown; the log then settles it before its next append, and refuses all
 * appends if the document turns out to be in the log after all (its events were refused to their clients, so the
 * partition must be recovered from its log before it takes more).
 *
 * <p>The appending side (append, {@link #lastDocumentSha256}) belongs to the partition's journal thread;
 * {@link #lastIndex} may be read by any thread; each {@link Reader} belongs to the thread that made it.
 */
public final class KafkaEventLog implements EventLog
{
    /** The largest document a topic partition takes: the topic's {@code max.message.bytes} and the producer's limit. */
    public static final int MAX_DOCUMENT_BYTES = 16 << 20;

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(KafkaEventLog.class);
    /** Room for a record batch's own header and the record's framing around the largest document. */
    private static final int BATCH_OVERHEAD_BYTES = 64 << 10;
    /** How far back from the end a reopen first looks for the last committed document (doubled until found). */
    private static final int TAIL_WINDOW = 16;

    private static final AtomicInteger READERS = new AtomicInteger();

    /**
     * Where the cluster's logs are.
     *
     * @param bootstrapServers Kafka's bootstrap servers, {@code HOST:PORT[,...]}.
     * @param prefix           the topic prefix ({@code --kafka-topic-prefix}): the log topic is {@code PREFIX.log}
     *                         and partition N's {@code transactional.id} is {@code PREFIX-pN}.
     * @param timeout          the longest any one call to Kafka may block (open, commit, a reader's seek).
     * @param readPoll         how long a reader's {@code readNext} waits for a new document before it says "none yet".
     */
    public record Settings(String bootstrapServers, String prefix, Duration timeout, Duration readPoll)
    {
        public Settings
        {
            ClusterNames.requireBootstrap(bootstrapServers);
            ClusterNames.requirePrefix(prefix);
            if (timeout.toMillis() < 1_000 || readPoll.isNegative())
            {
                throw new IllegalArgumentException("a Kafka log's timeout must be at least 1 s and its read poll not negative");
            }
        }

        /** Settings with a 30 s timeout and a 20 ms read poll. */
        public Settings(final String bootstrapServers, final String prefix)
        {
            this(bootstrapServers, prefix, Duration.ofSeconds(30), Duration.ofMillis(20));
        }

        /** @return the log topic, {@code PREFIX.log}. */
        public String topic()
        {
            return prefix + ".log";
        }

        /** @return the {@code transactional.id} of the writer of {@code partition}, {@code PREFIX-pN}. */
        public String transactionalId(final int partition)
        {
            return prefix + "-p" + partition;
        }
    }

    private final Settings settings;
    private final int partition;
    private final TopicPartition topicPartition;
    private final String transactionalId;
    private final BooleanSupplier ownsPartition;
    private final DocumentSha256 hasher = new DocumentSha256();
    private final byte[] lastDocumentSha256 = new byte[DocumentSha256.LENGTH];
    private final UnsafeBuffer acceptedView = new UnsafeBuffer(0, 0);
    private KafkaProducer<byte[], byte[]> producer;
    private volatile long lastIndex = NO_INDEX;
    private volatile Faults faults;
    /** Why the log takes no more appends (fenced, or a refused document found in it); null while it does. */
    private String refusal;
    /** Why another writer has the partition now (fenced, or the node no longer owns it); null while this one may write. */
    private volatile String lost;
    /** The document whose append ended with its outcome unknown; null when every append's outcome is known. */
    private byte[] inDoubt;

    private KafkaEventLog(final Settings settings, final int partition, final BooleanSupplier ownsPartition)
    {
        this.settings = settings;
        this.ownsPartition = ownsPartition;
        this.partition = partition;
        this.topicPartition = new TopicPartition(settings.topic(), partition);
        this.transactionalId = settings.transactionalId(partition);
    }

    /**
     * Opens partition {@code partition}'s log as its writer: initialises the transactional producer (fencing any
     * earlier writer and ending its open transaction) and reads the last committed document back for the hash chain.
     *
     * @throws IllegalStateException when Kafka does not answer within the timeout, or the topic has no such partition.
     */
    public static KafkaEventLog open(final Settings settings, final int partition)
    {
        return open(settings, partition, () -> true);
    }

    /**
     * Opens partition {@code partition}'s log as its writer, as {@link #open(Settings, int)}, for a node whose ownership
     * of the partition can end.
     *
     * @param ownsPartition asked before the log settles an append in doubt by initialising a new producer (which
     *                      would fence whoever writes the partition now): false makes the log refuse all appends
     *                      instead. Called on the appending thread.
     */
    public static KafkaEventLog open(final Settings settings, final int partition, final BooleanSupplier ownsPartition)
    {
        if (partition < 0)
        {
            throw new IllegalArgumentException("partition must not be negative, not " + partition);
        }
        final KafkaEventLog log = new KafkaEventLog(settings, partition, ownsPartition);
        try
        {
            log.producer = log.newProducer();
            log.producer.initTransactions();
            final Tail tail = log.scanTail();
            if (tail != null)
            {
                log.accept(tail.offset, tail.value);
            }
        }
        catch (final RuntimeException ex)
        {
            log.close();
            throw new IllegalStateException("could not open " + log.describe() + " as its writer (" + ex
                + "): check that --kafka-bootstrap names running brokers and that the topic exists with this partition", ex);
        }
        return log;
    }

    @Override
    public void useFaults(final Faults faults)
    {
        this.faults = faults;
    }

    @Override
    public long append(final DirectBuffer document, final int length)
    {
        final Faults injected = faults;
        if (injected != null)
        {
            injected.beforeAppend();
        }
        if (refusal != null)
        {
            throw new IllegalStateException(describe() + " takes no more appends: " + refusal);
        }
        if (inDoubt != null)
        {
            settleEarlierDoubt();
        }
        if (length > MAX_DOCUMENT_BYTES)
        {
            throw new IllegalArgumentException("a document of " + length + " bytes is over the Kafka log's limit of "
                + MAX_DOCUMENT_BYTES + " bytes: nothing of it was written");
        }
        final byte[] value = new byte[length];
        document.getBytes(0, value, 0, length);
        try
        {
            producer.beginTransaction();
            final Future<RecordMetadata> sent = producer.send(new ProducerRecord<>(topicPartition.topic(), partition, null, value));
            producer.commitTransaction();
            final long offset = sent.get(settings.timeout().toMillis(), TimeUnit.MILLISECONDS).offset();
            accept(offset, value);
            return offset;
        }
        catch (final RuntimeException | ExecutionException | TimeoutException ex)
        {
            if (isFencing(ex))
            {
                lost = "fenced: another writer with transactional.id " + transactionalId + " opened the partition";
                refuse("another writer with transactional.id " + transactionalId + " took the partition over (" + ex
                    + "); this node no longer owns it");
                throw new IllegalStateException("the append to " + describe() + " was fenced by a newer writer: nothing of "
                    + "it is in the log, and this log takes no more appends", ex);
            }
            return settleFailedAppend(value, ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return settleFailedAppend(value, ex);
        }
    }

    /** Learns whether a document whose commit failed is in the log: @return its position when it is. */
    private long settleFailedAppend(final byte[] value, final Exception failure)
    {
        inDoubt = value;
        final long found;
        try
        {
            found = settle();
        }
        catch (final RuntimeException ex)
        {
            if (refusal != null)
            {
                throw new IllegalStateException("the append to " + describe() + " failed (" + failure + ") and the log "
                    + "takes no more appends: " + refusal, ex);
            }
            LOG.error("{}: an append failed ({}) and whether it is in the log could not be learnt yet ({}); the next append "
                + "settles it first", describe(), failure.toString(), ex.toString());
            throw new IllegalStateException("the append to " + describe() + " failed (" + failure + ") and Kafka did not "
                + "say whether it is in the log (" + ex + "); it is settled before the next append", failure);
        }
        if (found != NO_INDEX)
        {
            LOG.warn("{}: an append's commit failed ({}) but the document is in the log at offset {}", describe(),
                failure.toString(), found);
            return found;
        }
        throw new IllegalStateException("the append to " + describe() + " failed (" + failure + "): nothing of it is in "
            + "the log", failure);
    }

    /** Before an append: settles the document an earlier append left in doubt, refusing all appends if it is there. */
    private void settleEarlierDoubt()
    {
        final long found;
        try
        {
            found = settle();
        }
        catch (final RuntimeException ex)
        {
            if (refusal != null)
            {
                throw new IllegalStateException(describe() + " takes no more appends: " + refusal, ex);
            }
            throw new IllegalStateException("an earlier append to " + describe() + " is still of unknown outcome and Kafka "
                + "did not settle it (" + ex + "): nothing of this append is in the log", ex);
        }
        if (found != NO_INDEX)
        {
            refuse("a document whose append was reported failed (its events were refused) is in the log at offset " + found
                + "; restart the node so the partition is recovered from its log");
            throw new IllegalStateException(describe() + " takes no more appends: " + refusal);
        }
    }

    /**
     * Ends the transaction in doubt with a new producer of the same {@code transactional.id} (Kafka completes a commit
     * it had prepared and aborts anything else), then reads what the partition holds after the last known document.
     *
     * @return the position of the document in doubt when it is in the log, {@link #NO_INDEX} when it is not.
     */
    private long settle()
    {
        if (!ownsPartition.getAsBoolean())
        {
            lost = "this node no longer owns the partition";
            refuse("this node no longer owns the partition, so it leaves the append in doubt to the new owner (whose "
                + "open settles it) rather than fence it");
            throw new IllegalStateException(describe() + " takes no more appends: " + refusal);
        }
        closeProducer();
        producer = newProducer();
        try
        {
            producer.initTransactions();
        }
        catch (final RuntimeException ex)
        {
            if (isFencing(ex))
            {
                lost = "fenced: another writer with transactional.id " + transactionalId + " opened the partition";
                refuse("another writer with transactional.id " + transactionalId + " took the partition over (" + ex + ")");
            }
            closeProducer();
            throw ex;
        }
        // a Kafka offset, not a log position: the first offset after the last known document
        final long from = lastIndex == NO_INDEX ? beginningOffset() : lastIndex + 1;
        final Tail tail = scan(from);
        final byte[] document = inDoubt;
        inDoubt = null;
        if (tail == null)
        {
            return NO_INDEX;
        }
        if (tail.count == 1 && Arrays.equals(tail.value, document))
        {
            accept(tail.offset, tail.value);
            return tail.offset;
        }
        accept(tail.offset, tail.value);
        lost = "another writer with transactional.id " + transactionalId + " wrote the partition";
        refuse(tail.count + " document(s) this log did not write are at offsets " + from + " to " + tail.offset + " of the "
            + "partition: another writer used transactional.id " + transactionalId);
        throw new IllegalStateException(describe() + " takes no more appends: " + refusal);
    }

    private void refuse(final String why)
    {
        if (refusal == null)
        {
            refusal = why;
            LOG.error("{} takes no more appends: {}", describe(), why);
        }
    }

    /** Makes the committed document at {@code offset} the log's last: its position and the chain's head. */
    private void accept(final long offset, final byte[] value)
    {
        acceptedView.wrap(value);
        hasher.hash(acceptedView, 0, value.length, lastDocumentSha256);
        lastIndex = offset;
    }

    private static boolean isFencing(final Throwable failure)
    {
        for (Throwable t = failure; t != null; t = t.getCause())
        {
            if (t instanceof ProducerFencedException || t instanceof InvalidProducerEpochException
                || t instanceof TransactionalIdAuthorizationException)
            {
                return true;
            }
        }
        return false;
    }

    /** @return why another writer has the partition now (this one was fenced, or its node lost it), or null. */
    @Override
    public String lostReason()
    {
        return lost;
    }

    @Override
    public byte[] lastDocumentSha256()
    {
        return lastDocumentSha256;
    }

    /** @return the position of the last committed document as this writer knows it (at open and after each append). */
    @Override
    public long lastIndex()
    {
        return lastIndex;
    }

    @Override
    public Reader newReader()
    {
        return new PartitionReader(newConsumer("reader-" + READERS.incrementAndGet()));
    }

    @Override
    public Durability durability()
    {
        return Durability.REPLICATED;
    }

    /** @return the topic, the partition and the bootstrap servers. */
    @Override
    public String describe()
    {
        return "Kafka topic " + topicPartition.topic() + " partition " + partition + " at " + settings.bootstrapServers();
    }

    @Override
    public void close()
    {
        closeProducer();
    }

    private void closeProducer()
    {
        if (producer != null)
        {
            try
            {
                producer.close(settings.timeout());
            }
            catch (final RuntimeException ex)
            {
                LOG.warn("{}: closing the producer failed: {}", describe(), ex.toString());
            }
            producer = null;
        }
    }

    private KafkaProducer<byte[], byte[]> newProducer()
    {
        final int timeoutMs = (int)Math.min(Integer.MAX_VALUE, settings.timeout().toMillis());
        final Map<String, Object> config = new HashMap<>();
        config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers());
        config.put(ProducerConfig.CLIENT_ID_CONFIG, transactionalId + "-writer");
        config.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        config.put(ProducerConfig.ACKS_CONFIG, "all");
        config.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        config.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, MAX_DOCUMENT_BYTES + BATCH_OVERHEAD_BYTES);
        config.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, timeoutMs);
        config.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, timeoutMs);
        config.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, Math.max(500, timeoutMs / 2));
        config.put(ProducerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 1_000);
        config.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        config.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        return new KafkaProducer<>(config);
    }

    private KafkaConsumer<byte[], byte[]> newConsumer(final String role)
    {
        final Map<String, Object> config = new HashMap<>();
        config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers());
        config.put(ConsumerConfig.CLIENT_ID_CONFIG, transactionalId + "-" + role);
        config.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, IsolationLevel.READ_COMMITTED.toString());
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        config.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, MAX_DOCUMENT_BYTES + BATCH_OVERHEAD_BYTES);
        config.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 100);
        config.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int)Math.min(Integer.MAX_VALUE, settings.timeout().toMillis()));
        config.put(ConsumerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 1_000);
        config.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        config.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        final KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(config);
        consumer.assign(List.of(topicPartition));
        return consumer;
    }

    /** The last committed document at or after some offset, and how many there were. */
    private record Tail(long offset, byte[] value, int count)
    {
    }

    private long beginningOffset()
    {
        try (KafkaConsumer<byte[], byte[]> consumer = newConsumer("tail"))
        {
            return consumer.beginningOffsets(List.of(topicPartition), settings.timeout()).get(topicPartition);
        }
    }

    /** @return the partition's last committed document, or null when it has none. */
    private Tail scanTail()
    {
        try (KafkaConsumer<byte[], byte[]> consumer = newConsumer("tail"))
        {
            final long start = consumer.beginningOffsets(List.of(topicPartition), settings.timeout()).get(topicPartition);
            final long end = consumer.endOffsets(List.of(topicPartition), settings.timeout()).get(topicPartition);
            long window = TAIL_WINDOW;
            for (int attempt = 0; attempt < 64; attempt++)
            {
                final long from = Math.max(start, end - window);
                final Tail tail = scan(consumer, from, end);
                if (tail != null || from == start)
                {
                    return tail;
                }
                window = Math.min(Long.MAX_VALUE / 2, window * 8);
            }
            throw new IllegalStateException("no committed document found in the last offsets of " + describe());
        }
    }

    /** @return the last committed document from {@code from} to the partition's committed end, or null when none. */
    private Tail scan(final long from)
    {
        try (KafkaConsumer<byte[], byte[]> consumer = newConsumer("tail"))
        {
            return scan(consumer, from, consumer.endOffsets(List.of(topicPartition), settings.timeout()).get(topicPartition));
        }
    }

    private Tail scan(final KafkaConsumer<byte[], byte[]> consumer, final long from, final long end)
    {
        consumer.seek(topicPartition, from);
        final long deadlineNs = System.nanoTime() + settings.timeout().toNanos();
        ConsumerRecord<byte[], byte[]> last = null;
        int count = 0;
        while (consumer.position(topicPartition, settings.timeout()) < end)
        {
            if (System.nanoTime() > deadlineNs)
            {
                throw new IllegalStateException("reading " + describe() + " from offset " + from + " to " + end
                    + " took over " + settings.timeout().toSeconds() + " s");
            }
            for (final ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(100)).records(topicPartition))
            {
                if (record.offset() < end)
                {
                    last = record;
                    count++;
                }
            }
        }
        return last == null ? null : new Tail(last.offset(), last.value(), count);
    }

    /**
     * A {@code read_committed} consumer assigned to the partition, handing each document to a {@link LogDocumentReader};
     * owned by one thread. "None yet" means the reader has reached the partition's committed end (its last stable
     * offset), so a reader that returns {@link #NO_INDEX} has read every document committed before it looked.
     */
    private final class PartitionReader implements Reader
    {
        private final KafkaConsumer<byte[], byte[]> consumer;
        private final UnsafeBuffer view = new UnsafeBuffer(0, 0);
        private final LogDocumentReader documentReader = new LogDocumentReader();
        private Iterator<ConsumerRecord<byte[], byte[]>> fetched = Collections.emptyIterator();
        private long lastReadIndex = NO_INDEX;
        private long lastAppendTimeMs;
        /** The position the next document must be at after a {@link #startAt}; NO_INDEX when any will do. */
        private long expected = NO_INDEX;

        private PartitionReader(final KafkaConsumer<byte[], byte[]> consumer)
        {
            this.consumer = consumer;
            consumer.seekToBeginning(List.of(topicPartition));
        }

        @Override
        public void startAfter(final long index)
        {
            startAt(index);
            if (index == NO_INDEX)
            {
                return;
            }
            if (next(settings.timeout()) == null)
            {
                throw new IllegalStateException("log position " + index + " of " + describe() + " could not be read within "
                    + settings.timeout().toSeconds() + " s");
            }
            lastReadIndex = index;
        }

        @Override
        public void startAt(final long index)
        {
            fetched = Collections.emptyIterator();
            expected = NO_INDEX;
            if (index == NO_INDEX)
            {
                consumer.seekToBeginning(List.of(topicPartition));
                return;
            }
            final long end = consumer.endOffsets(List.of(topicPartition), settings.timeout()).get(topicPartition);
            if (index < 0 || index >= end)
            {
                throw new IllegalStateException("log position " + index + " is not in " + describe() + " (its committed "
                    + "end is " + end + ")");
            }
            consumer.seek(topicPartition, index);
            expected = index;
        }

        /**
         * @return the next committed document, waiting up to {@code wait} while there are documents ahead of the reader
         * (and one short poll when there are none), or null when the reader is at the committed end.
         */
        private ConsumerRecord<byte[], byte[]> next(final Duration wait)
        {
            final long deadlineNs = System.nanoTime() + wait.toNanos();
            while (!fetched.hasNext())
            {
                fetched = consumer.poll(settings.readPoll()).records(topicPartition).iterator();
                if (fetched.hasNext())
                {
                    break;
                }
                if (atCommittedEnd())
                {
                    final long position = consumer.position(topicPartition, settings.timeout());
                    if (expected != NO_INDEX && position > expected)
                    {
                        throw notADocument(expected, position);
                    }
                    return null;
                }
                if (System.nanoTime() > deadlineNs)
                {
                    throw new IllegalStateException("documents are committed after position " + lastReadIndex + " of "
                        + describe() + " but none could be fetched within " + wait.toSeconds() + " s");
                }
            }
            final ConsumerRecord<byte[], byte[]> record = fetched.next();
            if (expected != NO_INDEX)
            {
                if (record.offset() != expected)
                {
                    throw notADocument(expected, record.offset());
                }
                expected = NO_INDEX;
            }
            return record;
        }

        private IllegalStateException notADocument(final long index, final long next)
        {
            return new IllegalStateException("log position " + index + " of " + describe() + " holds no committed "
                + "document (a commit marker or an aborted write; the next document is at or after " + next + ")");
        }

        /** @return whether the reader's position is the partition's last stable offset (asked of Kafka when unknown). */
        private boolean atCommittedEnd()
        {
            final OptionalLong lag = consumer.currentLag(topicPartition);
            if (lag.isPresent())
            {
                return lag.getAsLong() <= 0;
            }
            final long end = consumer.endOffsets(List.of(topicPartition), settings.timeout()).get(topicPartition);
            return consumer.position(topicPartition, settings.timeout()) >= end;
        }

        @Override
        public long readNext(final LogDocumentReader.Handler handler, final DocumentListener listener)
        {
            final ConsumerRecord<byte[], byte[]> record = next(settings.timeout());
            if (record == null)
            {
                return NO_INDEX;
            }
            final byte[] value = record.value();
            view.wrap(value);
            final long index = record.offset();
            long appendTimeMs;
            try
            {
                appendTimeMs = documentReader.read(view, 0, value.length, handler);
                lastAppendTimeMs = appendTimeMs;
            }
            catch (final DamagedDocumentException ex)
            {
                // nothing of it was applied; its events were never counted, so skipping it counts nothing twice
                LOG.error("log document at offset {} of {} ({} bytes) is damaged ({}): skipped whole, none of its records "
                    + "is counted", index, describe(), value.length, ex.getMessage());
                appendTimeMs = lastAppendTimeMs;
            }
            lastReadIndex = index;
            listener.onDocumentEnd(index, appendTimeMs);
            return index;
        }

        @Override
        public long readNextRaw(final RawDocumentListener listener)
        {
            final ConsumerRecord<byte[], byte[]> record = next(settings.timeout());
            if (record == null)
            {
                return NO_INDEX;
            }
            final byte[] value = record.value();
            view.wrap(value);
            lastReadIndex = record.offset();
            listener.onDocument(record.offset(), view, 0, value.length);
            return record.offset();
        }

        @Override
        public long lastReadIndex()
        {
            return lastReadIndex;
        }

        @Override
        public void close()
        {
            consumer.close(Duration.ofSeconds(5));
        }
    }
}
