package io.tokenmeter.core.event;

import org.agrona.DirectBuffer;

import static io.tokenmeter.core.event.LogLayout.*;

/**
 * Walks the records of one log document and calls a {@link Handler} for each. Allocates nothing; one instance per
 * reading thread. A document that does not parse is a broken invariant: it throws {@link IllegalStateException}.
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

        /** A price book put in force at this point of the log; its JSON is valid only during the call. */
        default void onPriceBook(long revision, DirectBuffer buffer, int offset, int length, long appendTimeMs)
        {
        }
    }

    private final EventRecord event = new EventRecord();

    /**
     * @return the document's append time.
     * @throws IllegalStateException when the bytes are not a document this version understands.
     */
    public long read(final DirectBuffer buffer, final int offset, final int length, final Handler handler)
    {
        if (length < DOC_HEADER_LENGTH)
        {
            throw new IllegalStateException("log document shorter than its header: " + length + " bytes");
        }
        final byte kind = buffer.getByte(offset + DOC_KIND_OFFSET);
        final byte version = buffer.getByte(offset + DOC_VERSION_OFFSET);
        if (kind == DOCUMENT_KIND_PRICE_BOOK && version == DOCUMENT_VERSION)
        {
            return readPriceBook(buffer, offset, length, handler);
        }
        if (kind != DOCUMENT_KIND_EVENTS || version != DOCUMENT_VERSION)
        {
            throw new IllegalStateException("unknown log document kind " + kind + " version " + version);
        }
        final int recordCount = buffer.getInt(offset + DOC_RECORD_COUNT_OFFSET);
        final long appendTimeMs = buffer.getLong(offset + DOC_APPEND_TIME_OFFSET);
        final int end = offset + length;
        int at = offset + DOC_HEADER_LENGTH;
        for (int i = 0; i < recordCount; i++)
        {
            if (at >= end)
            {
                throw new IllegalStateException("log document ends after " + i + " of " + recordCount + " records");
            }
            final byte type = buffer.getByte(at);
            if (type == RECORD_EVENT)
            {
                event.wrap(buffer, at);
                final int recordLength = event.encodedLength();
                checkFits(at, recordLength, end);
                handler.onEvent(event, appendTimeMs);
                at += recordLength;
            }
            else if (type == RECORD_TENANT_NAME || type == RECORD_MODEL_NAME)
            {
                final int nameLength = buffer.getByte(at + NAME_LENGTH_OFFSET) & 0xFF;
                checkFits(at, NAME_BYTES_OFFSET + nameLength, end);
                handler.onName(type, buffer.getInt(at + NAME_ID_OFFSET), buffer, at + NAME_BYTES_OFFSET, nameLength);
                at += NAME_BYTES_OFFSET + nameLength;
            }
            else
            {
                throw new IllegalStateException("unknown log record type " + type + " at document offset " + (at - offset));
            }
        }
        return appendTimeMs;
    }

    private static long readPriceBook(final DirectBuffer buffer, final int offset, final int length, final Handler handler)
    {
        if (length < PRICE_BOOK_JSON_OFFSET)
        {
            throw new IllegalStateException("price book document shorter than its header: " + length + " bytes");
        }
        final long appendTimeMs = buffer.getLong(offset + DOC_APPEND_TIME_OFFSET);
        final int jsonLength = buffer.getInt(offset + PRICE_BOOK_LENGTH_OFFSET);
        checkFits(offset + PRICE_BOOK_JSON_OFFSET, jsonLength, offset + length);
        handler.onPriceBook(buffer.getLong(offset + PRICE_BOOK_REVISION_OFFSET), buffer, offset + PRICE_BOOK_JSON_OFFSET,
            jsonLength, appendTimeMs);
        return appendTimeMs;
    }

    private static void checkFits(final int at, final int recordLength, final int end)
    {
        if (at + recordLength > end)
        {
            throw new IllegalStateException("log record overruns its document");
        }
    }
}
