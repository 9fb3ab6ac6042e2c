package io.tokenmeter.core.log;

import io.tokenmeter.core.archive.RetainedDigest;
import io.tokenmeter.core.event.LogDocumentReader;
import org.agrona.DirectBuffer;

/**
 * The log of one partition, as the journal, the aggregator, recovery and the audit see it: append a document (one
 * journal drain) and learn its position; read documents in order from a position; read one at a position. A
 * position only grows within a partition and {@link #NO_INDEX} is below all of them, so "everything up to position X"
 * is a consistency token. Implemented by a Chronicle queue per partition ({@link ChronicleEventLog}); the cluster mode
 * implements it on a Kafka partition, whose offsets have the same properties.
 *
 * <p>The appending side belongs to one thread (the partition's journal); each reader belongs to the thread that made it.
 */
public interface EventLog extends AutoCloseable
{
    /** Position of "nothing yet": below every real position. */
    long NO_INDEX = -1L;

    /**
     * Appends one document whole (durably as {@link #durability()} says) before it returns. Journal thread only.
     *
     * @return the document's position.
     * @throws RuntimeException when it could not be written: nothing of it is in the log.
     */
    long append(DirectBuffer document, int length);

    /**
     * The head of the partition's hash chain: the SHA-256 of the whole last document in the log (32 zero bytes when the
     * log is empty), which the next document written must hold ({@link io.tokenmeter.core.event.LogLayout}). Appending
     * thread only.
     *
     * @return the log's own 32-byte array, valid until the next {@link #append}; never modify it.
     */
    byte[] lastDocumentSha256();

    /** @return the position of the last document in the log, or {@link #NO_INDEX} when empty. Any thread. */
    long lastIndex();

    /** @return a new reader at the start of the log, for the calling thread. */
    Reader newReader();

    Durability durability();

    /** @return where the log is, for messages (a directory, or a topic and partition). */
    String describe();

    /** Lets a test inject append faults (see {@link Faults}); null for none. */
    void useFaults(Faults faults);

    /**
     * Whether this writer has lost the log to another: a Kafka partition's writer is fenced when another process opens
     * the partition, and from then on appends nothing (a local log is never lost). Set by a failed append, or
     * when the writer learns that its node no longer owns the partition. Any thread.
     *
     * @return why this writer may no longer append, or null while it may.
     */
    default String lostReason()
    {
        return null;
    }

    @Override
    void close();

    /**
     * Reads documents in log order and hands each, checked whole, to a {@link LogDocumentReader.Handler}. A damaged
     * document is skipped whole and logged at ERROR with its position. Owned by one thread.
     */
    interface Reader extends AutoCloseable
    {
        /** Positions the reader just after the document at {@code index}; {@link #NO_INDEX} means the start. */
        void startAfter(long index);

        /** Positions the reader at the document at {@code index} (it is read next); {@link #NO_INDEX} is the start. */
        void startAt(long index);

        /**
         * Reads the next document, if any.
         *
         * @return the document's position, or {@link #NO_INDEX} when there is none yet.
         */
        long readNext(LogDocumentReader.Handler handler, DocumentListener listener);

        /**
         * Reads the next document's bytes as they are, unchecked and unparsed (for the hash chain and copies).
         *
         * @return the document's position, or {@link #NO_INDEX} when there is none yet.
         */
        long readNextRaw(RawDocumentListener listener);

        /**
         * Reads the one document at {@code index}.
         *
         * @return true when it was there.
         */
        default boolean readAt(final long index, final LogDocumentReader.Handler handler)
        {
            startAt(index);
            return readNext(handler, (i, t) -> { }) == index;
        }

        /** @return the position of the last document read, {@link #NO_INDEX} before the first. */
        long lastReadIndex();

        @Override
        void close();
    }

    /** Sees one document's bytes, valid only during the call. */
    @FunctionalInterface
    interface RawDocumentListener
    {
        void onDocument(long index, DirectBuffer buffer, int offset, int length);

        /**
         * Sees a whole log file retention deleted, in place of its documents (which are gone): its digest. The reader
         * then returns the file's last position. A listener that needs the bytes refuses, as this default does.
         *
         * @throws RetainedFileException unless the listener can do without the documents.
         */
        default void onRetained(final RetainedDigest digest)
        {
            throw new RetainedFileException(digest);
        }
    }

    /** Called after all records of a document were handed out. */
    @FunctionalInterface
    interface DocumentListener
    {
        void onDocumentEnd(long index, long appendTimeMs);
    }
}
