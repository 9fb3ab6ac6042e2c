package io.tokenmeter.core.event;

import org.agrona.DirectBuffer;

import static io.tokenmeter.core.event.LogLayout.*;

/**
 * One EVENT record of the log (layout in {@link LogLayout}), compact (type 4) or of the fixed layout earlier versions
 * wrote (type 1), decoded when wrapped. Reused record after record by its reader; allocates nothing but {@link #id()}.
 */
public final class EventRecord
{
    private final long[] tokens = new long[TokenClass.COUNT];
    private DirectBuffer buffer;
    private int offset;
    private int tierCode;
    private int flags;
    private int tenantId;
    private int modelId;
    private long timestampMs;
    private long idHashHi;
    private long idHashLo;
    private long contentHash;
    private int idOffset;
    private int idLength;
    private int encodedLength;
    private int at;
    private int end;

    /** Wraps a record written with a document time of 0 (benchmarks, tests); the buffer's capacity bounds it. */
    public EventRecord wrap(final DirectBuffer buffer, final int offset)
    {
        return wrap(buffer, offset, 0, buffer.capacity());
    }

    /**
     * Decodes the record at {@code offset}.
     *
     * @param appendTimeMs the document's journal time (a compact record stores its timestamp relative to it).
     * @param end          the first byte after the document: a record that does not end before it is damaged.
     * @throws DamagedDocumentException when the record runs past {@code end} or is of an unknown type.
     */
    public EventRecord wrap(final DirectBuffer buffer, final int offset, final long appendTimeMs, final int end)
    {
        if (this.buffer != buffer)
        {
            // the same document's buffer again stores no reference: a G1 write barrier that can fence (see StagedEvent)
            this.buffer = buffer;
        }
        this.offset = offset;
        final byte type = buffer.getByte(offset);
        tierCode = buffer.getByte(offset + EVENT_TIER_OFFSET) & 0x3;
        flags = buffer.getByte(offset + EVENT_FLAGS_OFFSET) & 0xFF;
        idLength = buffer.getByte(offset + EVENT_ID_LENGTH_OFFSET) & 0xFF;
        if (type == RECORD_EVENT_COMPACT)
        {
            if (offset + COMPACT_VARINTS_OFFSET > end)
            {
                throw new DamagedDocumentException("a record overruns the document");
            }
            idHashHi = buffer.getLong(offset + COMPACT_ID_HASH_HI_OFFSET);
            idHashLo = buffer.getLong(offset + COMPACT_ID_HASH_LO_OFFSET);
            contentHash = buffer.getLong(offset + COMPACT_CONTENT_HASH_OFFSET);
            // nine varints take at most 90 bytes: with that much left, no byte needs its own bounds check
            this.end = end - offset - COMPACT_VARINTS_OFFSET >= 90 ? Integer.MAX_VALUE : end;
            at = offset + COMPACT_VARINTS_OFFSET;
            tenantId = (int)varint();
            modelId = (int)varint();
            final long zigzag = varint();
            timestampMs = appendTimeMs + ((zigzag >>> 1) ^ -(zigzag & 1));
            for (int i = 0; i < TokenClass.COUNT; i++)
            {
                tokens[i] = varint();
            }
            idOffset = at;
            encodedLength = at - offset + idLength;
        }
        else if (type == RECORD_EVENT)
        {
            if (offset + EVENT_FIXED_LENGTH > end)
            {
                throw new DamagedDocumentException("a record overruns the document");
            }
            tenantId = buffer.getInt(offset + EVENT_TENANT_ID_OFFSET);
            modelId = buffer.getInt(offset + EVENT_MODEL_ID_OFFSET);
            timestampMs = buffer.getLong(offset + EVENT_TIMESTAMP_OFFSET);
            idHashHi = buffer.getLong(offset + EVENT_ID_HASH_HI_OFFSET);
            idHashLo = buffer.getLong(offset + EVENT_ID_HASH_LO_OFFSET);
            contentHash = buffer.getLong(offset + EVENT_CONTENT_HASH_OFFSET);
            for (int i = 0; i < TokenClass.COUNT; i++)
            {
                tokens[i] = buffer.getLong(offset + EVENT_TOKENS_OFFSET + (i << 3));
            }
            idOffset = offset + EVENT_ID_OFFSET;
            encodedLength = EVENT_FIXED_LENGTH + idLength;
        }
        else
        {
            throw new DamagedDocumentException("record type " + type + " is not an event");
        }
        return this;
    }

    /**
     * The length of the record at {@code offset} without decoding it (a document's first pass only checks that its
     * records fit: the varints are skipped by their continuation bits).
     *
     * @throws DamagedDocumentException when the record runs past {@code end} or is of an unknown type.
     */
    public static int lengthAt(final DirectBuffer buffer, final int offset, final int end)
    {
        final byte type = buffer.getByte(offset);
        final int idLength = buffer.getByte(offset + EVENT_ID_LENGTH_OFFSET) & 0xFF;
        if (type == RECORD_EVENT)
        {
            return EVENT_FIXED_LENGTH + idLength;
        }
        if (type != RECORD_EVENT_COMPACT)
        {
            throw new DamagedDocumentException("record type " + type + " is not an event");
        }
        int at = offset + COMPACT_VARINTS_OFFSET;
        for (int varints = 0; varints < 3 + TokenClass.COUNT; varints++)
        {
            int bytes = 0;
            do
            {
                if (at >= end || ++bytes > 10)
                {
                    throw new DamagedDocumentException("a record overruns the document");
                }
            }
            while (buffer.getByte(at++) < 0);
        }
        return at - offset + idLength;
    }

    /** Unsigned LEB128, at most 10 bytes, within the document. */
    private long varint()
    {
        if (at < end)
        {
            final byte first = buffer.getByte(at);
            if (first >= 0)
            {
                at++;
                return first;
            }
        }
        long value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (at >= end)
            {
                throw new DamagedDocumentException("a record overruns the document");
            }
            final byte b = buffer.getByte(at++);
            value |= (long)(b & 0x7F) << shift;
            if (b >= 0)
            {
                return value;
            }
        }
        throw new DamagedDocumentException("a varint of more than 10 bytes");
    }

    public int tierCode()
    {
        return tierCode;
    }

    public int flags()
    {
        return flags;
    }

    public int tenantId()
    {
        return tenantId;
    }

    public int modelId()
    {
        return modelId;
    }

    public long timestampMs()
    {
        return timestampMs;
    }

    public long idHashHi()
    {
        return idHashHi;
    }

    public long idHashLo()
    {
        return idHashLo;
    }

    public long contentHash()
    {
        return contentHash;
    }

    public long tokens(final int tokenClass)
    {
        return tokens[tokenClass];
    }

    public int idLength()
    {
        return idLength;
    }

    /** @return the client's event id; allocates, for tools and tests only. */
    public String id()
    {
        return buffer.getStringWithoutLengthUtf8(idOffset, idLength);
    }

    /** @return the record's length in the document. */
    public int encodedLength()
    {
        return encodedLength;
    }
}
