package io.tokenmeter.core.event;

import org.agrona.DirectBuffer;

import static io.tokenmeter.core.event.LogLayout.*;

/** Read-only flyweight over one EVENT record of the log (layout in {@link LogLayout}). */
public final class EventRecord
{
    private DirectBuffer buffer;
    private int offset;

    public EventRecord wrap(final DirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    public int tierCode()
    {
        return buffer.getByte(offset + EVENT_TIER_OFFSET) & 0x3;
    }

    public int flags()
    {
        return buffer.getByte(offset + EVENT_FLAGS_OFFSET);
    }

    public int tenantId()
    {
        return buffer.getInt(offset + EVENT_TENANT_ID_OFFSET);
    }

    public int modelId()
    {
        return buffer.getInt(offset + EVENT_MODEL_ID_OFFSET);
    }

    public long timestampMs()
    {
        return buffer.getLong(offset + EVENT_TIMESTAMP_OFFSET);
    }

    public long idHashHi()
    {
        return buffer.getLong(offset + EVENT_ID_HASH_HI_OFFSET);
    }

    public long idHashLo()
    {
        return buffer.getLong(offset + EVENT_ID_HASH_LO_OFFSET);
    }

    public long contentHash()
    {
        return buffer.getLong(offset + EVENT_CONTENT_HASH_OFFSET);
    }

    public long tokens(final int tokenClass)
    {
        return buffer.getLong(offset + EVENT_TOKENS_OFFSET + (tokenClass << 3));
    }

    public int idLength()
    {
        return buffer.getByte(offset + EVENT_ID_LENGTH_OFFSET) & 0xFF;
    }

    /** @return the client's event id; allocates, for tools and tests only. */
    public String id()
    {
        return buffer.getStringWithoutLengthUtf8(offset + EVENT_ID_OFFSET, idLength());
    }

    public int encodedLength()
    {
        return EVENT_FIXED_LENGTH + idLength();
    }
}
