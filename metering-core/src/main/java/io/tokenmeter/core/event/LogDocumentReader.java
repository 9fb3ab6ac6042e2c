package io.tokenmeter.core.event;

import org.agrona.DirectBuffer;

import static io.tokenmeter.core.event.LogLayout.*;

/**
 * Walks the records of one log document and calls a {@link Handler} for each, after checking the whole document.
 * Allocates nothing (for native memory); one instance per reading thread. A damaged document throws
 * {@link DamagedDocumentException} before any record is handled.
 */
public final class LogDocumentReader
{
    /** Callbacks for the records of a document, in log order. */
    public interface Handler
    {
        /** A name definition; {@code recordType} is {@link LogLayout#RECORD_TENANT_NAME} or {@code _MODEL_NAME}. */
        void onName(byte recordType, int id, DirectBuffer buffer, int offset, int length);

        /** An accepted event; the flyweight is valid only during the call. */
        void onEvent(EventRecord event, long appendTimeMs);

        /**
         * A control record (a price book put in force, ...) at this point of the log; {@code controlKind} is one of
         * {@link LogLayout}'s {@code CONTROL_*}. The payload is valid only during the call.
         */
        default void onControl(int controlKind, long revision, DirectBuffer buffer, int offset, int length, long appendTimeMs)
        {
        }

        /**
         * The link of the event handed to {@link #onEvent} just before ({@link EventLink}): the reservation it settles
         * (its tenant-scoped hash), the stream checkpoint it is. Absent parts are 0.
         */
        default void onEventLink(int bits, long reservationHi, long reservationLo, long streamHi, long streamLo, long seq)
        {
        }

        /**
         * One hour bucket of events whose log file retention deleted, as its digest keeps it ({@code [key, counters...,
         * variant]}, {@code HourlyAggregator}'s export): handed out at the kept document that ends the events it sums,
         * in place of those events. A handler that counts events adds it; others ignore it.
         */
        default void onRetainedBucket(long[] bucket)
        {
        }

        /** The number of events the buckets just handed out sum (retention's digest keeps it). */
        default void onRetainedEvents(long events)
        {
        }
    }

    private final EventRecord event = new EventRecord();
    private final java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    private byte[] scratch = new byte[4096];

    /**
     * Checks the whole document first (its checksum, then that its records fit), and only then hands its records to
     * the handler, so a damaged document is skipped whole, never half applied.
     *
     * @return the document's append time.
     * @throws DamagedDocumentException when the bytes are not what was written; no record has been handled.
     * @throws IllegalStateException when the document is of a kind or version this version does not know.
     */
    public long read(final DirectBuffer buffer, final int offset, final int length, final Handler handler)
    {
        if (length < DOC_HEADER_LENGTH)
        {
            throw new DamagedDocumentException("shorter than a document header: " + length + " bytes");
        }
        final byte kind = buffer.getByte(offset + DOC_KIND_OFFSET);
        final byte version = buffer.getByte(offset + DOC_VERSION_OFFSET);
        if (kind == 0 && version == 0)
        {
            throw new DamagedDocumentException("zeros where a document header belongs");
        }
        if (kind != DOCUMENT_KIND_EVENTS && kind != DOCUMENT_KIND_PRICE_BOOK && kind != DOCUMENT_KIND_CONTROL
            || version != DOCUMENT_VERSION && version != DOCUMENT_VERSION_WITHOUT_CHAIN
            && version != DOCUMENT_VERSION_WITHOUT_CHECKSUM)
        {
            throw new IllegalStateException("log document of kind " + kind + " version " + version
                + " was written by another version of tokenmeter");
        }
        int contentLength = length;
        if (version != DOCUMENT_VERSION_WITHOUT_CHECKSUM)
        {
            final int checkedLength = length - CHECKSUM_LENGTH;
            contentLength = version == DOCUMENT_VERSION ? checkedLength - CHAIN_HASH_LENGTH : checkedLength;
            if (contentLength < DOC_HEADER_LENGTH)
            {
                throw new DamagedDocumentException("shorter than a document header and its trailer: " + length + " bytes");
            }
            final int expected = buffer.getInt(offset + checkedLength);
            if (checksum(buffer, offset, checkedLength) != expected)
            {
                throw new DamagedDocumentException("checksum mismatch over " + checkedLength + " bytes");
            }
        }
        if (kind == DOCUMENT_KIND_CONTROL)
        {
            return readControl(buffer, offset, contentLength, handler);
        }
        if (kind == DOCUMENT_KIND_PRICE_BOOK)
        {
            return readPriceBook(buffer, offset, contentLength, handler);
        }
        final int recordCount = buffer.getInt(offset + DOC_RECORD_COUNT_OFFSET);
        final long appendTimeMs = buffer.getLong(offset + DOC_APPEND_TIME_OFFSET);
        walk(buffer, offset, contentLength, recordCount, null, appendTimeMs);
        walk(buffer, offset, contentLength, recordCount, handler, appendTimeMs);
        return appendTimeMs;
    }

    /** Walks the records; with a null handler it only checks that they fit. */
    private void walk(final DirectBuffer buffer, final int offset, final int length, final int recordCount, final Handler handler,
        final long appendTimeMs)
    {
        final int end = offset + length;
        int at = offset + DOC_HEADER_LENGTH;
        for (int i = 0; i < recordCount; i++)
        {
            if (at >= end)
            {
                throw new DamagedDocumentException("ends after " + i + " of " + recordCount + " records");
            }
            final byte type = buffer.getByte(at);
            if (type == RECORD_EVENT_COMPACT || type == RECORD_EVENT)
            {
                final int recordLength;
                if (handler == null)
                {
                    recordLength = EventRecord.lengthAt(buffer, at, end);
                    checkFits(at, recordLength, end);
                }
                else
                {
                    recordLength = event.wrap(buffer, at, appendTimeMs, end).encodedLength();
                    handler.onEvent(event, appendTimeMs);
                }
                at += recordLength;
            }
            else if (type == RECORD_EVENT_LINK)
            {
                checkFits(at, LINK_LENGTH, end);
                if (handler != null)
                {
                    handler.onEventLink(buffer.getByte(at + LINK_BITS_OFFSET) & 0xFF, buffer.getLong(at + LINK_RESERVATION_HI_OFFSET),
                        buffer.getLong(at + LINK_RESERVATION_LO_OFFSET), buffer.getLong(at + LINK_STREAM_HI_OFFSET),
                        buffer.getLong(at + LINK_STREAM_LO_OFFSET), buffer.getLong(at + LINK_SEQ_OFFSET));
                }
                at += LINK_LENGTH;
            }
            else if (type == RECORD_TENANT_NAME || type == RECORD_MODEL_NAME)
            {
                final int nameLength = buffer.getByte(at + NAME_LENGTH_OFFSET) & 0xFF;
                checkFits(at, NAME_BYTES_OFFSET + nameLength, end);
                if (handler != null)
                {
                    handler.onName(type, buffer.getInt(at + NAME_ID_OFFSET), buffer, at + NAME_BYTES_OFFSET, nameLength);
                }
                at += NAME_BYTES_OFFSET + nameLength;
            }
            else
            {
                throw new DamagedDocumentException("unknown record type " + type + " at document offset " + (at - offset));
            }
        }
        if (at != end)
        {
            throw new DamagedDocumentException((end - at) + " bytes after its " + recordCount + " records");
        }
    }

    /**
     * Where a document holds the previous document's SHA-256, read from its header alone (no check).
     *
     * @return the offset of the 32 bytes within the buffer, or -1 when the document is of a version before the chain or
     * too short to hold one.
     */
    public static int previousSha256Offset(final DirectBuffer buffer, final int offset, final int length)
    {
        if (length < DOC_HEADER_LENGTH + CHAINED_TRAILER_LENGTH || buffer.getByte(offset + DOC_VERSION_OFFSET) != DOCUMENT_VERSION)
        {
            return -1;
        }
        return offset + length - CHAINED_TRAILER_LENGTH;
    }

    /** CRC32C with the JDK's intrinsic; the document is copied into a reused array first (no allocation once grown). */
    private int checksum(final DirectBuffer buffer, final int offset, final int length)
    {
        if (scratch.length < length)
        {
            scratch = new byte[Math.max(length, scratch.length * 2)];
        }
        buffer.getBytes(offset, scratch, 0, length);
        crc.reset();
        crc.update(scratch, 0, length);
        return (int)crc.getValue();
    }

    private static long readPriceBook(final DirectBuffer buffer, final int offset, final int length, final Handler handler)
    {
        if (length < PRICE_BOOK_JSON_OFFSET)
        {
            throw new DamagedDocumentException("price book document shorter than its header: " + length + " bytes");
        }
        final long appendTimeMs = buffer.getLong(offset + DOC_APPEND_TIME_OFFSET);
        final int jsonLength = buffer.getInt(offset + PRICE_BOOK_LENGTH_OFFSET);
        checkFits(offset + PRICE_BOOK_JSON_OFFSET, jsonLength, offset + length);
        handler.onControl(CONTROL_PRICE_BOOK, buffer.getLong(offset + PRICE_BOOK_REVISION_OFFSET), buffer,
            offset + PRICE_BOOK_JSON_OFFSET, jsonLength, appendTimeMs);
        return appendTimeMs;
    }

    private static long readControl(final DirectBuffer buffer, final int offset, final int length, final Handler handler)
    {
        if (length < CONTROL_PAYLOAD_OFFSET)
        {
            throw new DamagedDocumentException("control document shorter than its header: " + length + " bytes");
        }
        final long appendTimeMs = buffer.getLong(offset + DOC_APPEND_TIME_OFFSET);
        final int payloadLength = buffer.getInt(offset + CONTROL_LENGTH_OFFSET);
        if (payloadLength < 0 || offset + CONTROL_PAYLOAD_OFFSET + payloadLength != offset + length)
        {
            throw new DamagedDocumentException("control payload of " + payloadLength + " bytes does not fill the document");
        }
        handler.onControl(buffer.getInt(offset + CONTROL_KIND_OFFSET), buffer.getLong(offset + CONTROL_REVISION_OFFSET), buffer,
            offset + CONTROL_PAYLOAD_OFFSET, payloadLength, appendTimeMs);
        return appendTimeMs;
    }

    private static void checkFits(final int at, final int recordLength, final int end)
    {
        if (at + recordLength > end)
        {
            throw new DamagedDocumentException("a record overruns the document");
        }
    }
}
