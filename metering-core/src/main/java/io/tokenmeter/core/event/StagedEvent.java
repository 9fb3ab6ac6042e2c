package io.tokenmeter.core.event;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * Flyweight over one validated event staged by an HTTP event loop for the journal. Little-endian, variable length:
 *
 * <pre>
 *   0                   8                   16                  24
 *  +-------------------+-------------------+-------------------+-------------------+
 *  | idHashHi   i64    | idHashLo   i64    | contentHash i64   | timestampMs i64   |
 *  +-------------------+-------------------+-------------------+-------------------+
 *  | tokens: input, cache_read, cache_write, cache_write_1h, output, reasoning 6 x i64 |  32..79
 *  +----+----+----+----+----+-------------------------------------------------------+
 *  |tier|flag|tLen|mLen|iLen| tenant bytes | model bytes | id bytes                  |  80..
 *  +----+----+----+----+----+-------------------------------------------------------+
 *  then, only when flag bit 7 ({@link #FLAG_LINKED}) is set, the event's link (41 bytes):
 *  +----+---------------------+---------------------+-------------------+-------------------+-------------+
 *  |bits| reservation hash hi | reservation hash lo | stream hash hi    | stream hash lo    | seq i64     |
 *  +----+---------------------+---------------------+-------------------+-------------------+-------------+
 *  bits: {@link EventLink#RESERVATION}, {@link EventLink#STREAM}, {@link EventLink#FINAL}; hashes of absent parts are 0
 * </pre>
 *
 * The id hash is 128 bits of XXH3 over {@code tenant 0x00 id}: the dedup key. The content hash is 64 bits over the
 * fields as the client sent them (a missing timestamp hashes as absent, not as the receipt time).
 * The same instance can encode (with {@link #wrap(MutableDirectBuffer, int)}) and decode.
 */
public final class StagedEvent
{
    public static final int ID_HASH_HI_OFFSET = 0;
    public static final int ID_HASH_LO_OFFSET = 8;
    public static final int CONTENT_HASH_OFFSET = 16;
    public static final int TIMESTAMP_OFFSET = 24;
    public static final int TOKENS_OFFSET = 32;
    public static final int TIER_OFFSET = 80;
    public static final int FLAGS_OFFSET = 81;
    public static final int TENANT_LENGTH_OFFSET = 82;
    public static final int MODEL_LENGTH_OFFSET = 83;
    public static final int ID_LENGTH_OFFSET = 84;
    public static final int NAMES_OFFSET = 85;

    /** Flag: the client sent no timestamp; {@code timestampMs} is the time of receipt. */
    public static final int FLAG_STAMPED_AT_RECEIPT = LogLayout.FLAG_STAMPED_AT_RECEIPT;
    public static final int FLAG_THINKING = LogLayout.FLAG_THINKING;
    /** Flag (staged only, never written to the log's flags): the event names a reservation or is a stream checkpoint. */
    public static final int FLAG_LINKED = 1 << 7;
    /** The flags of a staged event the log keeps as they are. */
    public static final int LOGGED_FLAGS = FLAG_STAMPED_AT_RECEIPT | FLAG_THINKING;
    public static final int LINK_LENGTH = 1 + 5 * Long.BYTES;

    public static final int MAX_TENANT_LENGTH = 64;
    public static final int MAX_MODEL_LENGTH = 128;
    public static final int MAX_ID_LENGTH = 128;
    public static final int MAX_LENGTH = NAMES_OFFSET + MAX_TENANT_LENGTH + MAX_MODEL_LENGTH + MAX_ID_LENGTH + LINK_LENGTH;

    private DirectBuffer buffer;
    private MutableDirectBuffer mutableBuffer;
    private int offset;

    /**
     * Moves to the event at {@code offset} of {@code buffer}, to read it. Wrapping the same buffer again (every event of
     * a request, one after another) stores no reference: under G1 a reference store into this long-lived flyweight
     * runs a write barrier that can fence (BENCHMARKS.md, "Flyweights that keep their buffer").
     */
    public StagedEvent wrap(final DirectBuffer buffer, final int offset)
    {
        if (this.buffer != buffer)
        {
            this.buffer = buffer;
        }
        if (mutableBuffer != null)
        {
            mutableBuffer = null;
        }
        this.offset = offset;
        return this;
    }

    /**
     * Moves to {@code offset} of {@code buffer}, to read or write it; the same buffer again, wrapped writable before,
     * stores no reference ({@link #mutableBuffer} is either null or {@link #buffer}).
     */
    public StagedEvent wrap(final MutableDirectBuffer buffer, final int offset)
    {
        if (mutableBuffer != buffer)
        {
            this.buffer = buffer;
            mutableBuffer = buffer;
        }
        this.offset = offset;
        return this;
    }

    /**
     * Writes a whole staged event at the wrapped offset; names are given as byte ranges.
     *
     * @return the encoded length.
     */
    public int encode(
        final long idHashHi,
        final long idHashLo,
        final long contentHash,
        final long timestampMs,
        final long[] tokens,
        final int tierCode,
        final int flags,
        final byte[] names,
        final int tenantLength,
        final int modelLength,
        final int idLength)
    {
        assert mutableBuffer != null : "the staged event was wrapped read-only";
        final MutableDirectBuffer out = mutableBuffer;
        out.putLong(offset + ID_HASH_HI_OFFSET, idHashHi);
        out.putLong(offset + ID_HASH_LO_OFFSET, idHashLo);
        out.putLong(offset + CONTENT_HASH_OFFSET, contentHash);
        out.putLong(offset + TIMESTAMP_OFFSET, timestampMs);
        for (int i = 0; i < TokenClass.COUNT; i++)
        {
            out.putLong(offset + TOKENS_OFFSET + (i << 3), tokens[i]);
        }
        out.putByte(offset + TIER_OFFSET, (byte)tierCode);
        out.putByte(offset + FLAGS_OFFSET, (byte)flags);
        out.putByte(offset + TENANT_LENGTH_OFFSET, (byte)tenantLength);
        out.putByte(offset + MODEL_LENGTH_OFFSET, (byte)modelLength);
        out.putByte(offset + ID_LENGTH_OFFSET, (byte)idLength);
        final int namesLength = tenantLength + modelLength + idLength;
        out.putBytes(offset + NAMES_OFFSET, names, 0, namesLength);
        return NAMES_OFFSET + namesLength;
    }

    public long idHashHi()
    {
        return buffer.getLong(offset + ID_HASH_HI_OFFSET);
    }

    public long idHashLo()
    {
        return buffer.getLong(offset + ID_HASH_LO_OFFSET);
    }

    public long contentHash()
    {
        return buffer.getLong(offset + CONTENT_HASH_OFFSET);
    }

    public long timestampMs()
    {
        return buffer.getLong(offset + TIMESTAMP_OFFSET);
    }

    public long tokens(final int tokenClass)
    {
        return buffer.getLong(offset + TOKENS_OFFSET + (tokenClass << 3));
    }

    public int tierCode()
    {
        return buffer.getByte(offset + TIER_OFFSET);
    }

    public int flags()
    {
        return buffer.getByte(offset + FLAGS_OFFSET) & 0xFF;
    }

    public int tenantLength()
    {
        return buffer.getByte(offset + TENANT_LENGTH_OFFSET) & 0xFF;
    }

    public int modelLength()
    {
        return buffer.getByte(offset + MODEL_LENGTH_OFFSET) & 0xFF;
    }

    public int idLength()
    {
        return buffer.getByte(offset + ID_LENGTH_OFFSET) & 0xFF;
    }

    public int tenantOffset()
    {
        return offset + NAMES_OFFSET;
    }

    public int modelOffset()
    {
        return tenantOffset() + tenantLength();
    }

    public int idOffset()
    {
        return modelOffset() + modelLength();
    }

    public DirectBuffer buffer()
    {
        return buffer;
    }

    /**
     * Writes the link after an event just {@link #encode}d at the wrapped offset and marks it {@link #FLAG_LINKED}.
     *
     * @return the link's length.
     */
    public int encodeLink(final int bits, final long reservationHi, final long reservationLo, final long streamHi,
        final long streamLo, final long seq)
    {
        assert mutableBuffer != null : "the staged event was wrapped read-only";
        final MutableDirectBuffer out = mutableBuffer;
        final int at = linkOffset();
        out.putByte(offset + FLAGS_OFFSET, (byte)(flags() | FLAG_LINKED));
        out.putByte(at, (byte)bits);
        out.putLong(at + 1, reservationHi);
        out.putLong(at + 9, reservationLo);
        out.putLong(at + 17, streamHi);
        out.putLong(at + 25, streamLo);
        out.putLong(at + 33, seq);
        return LINK_LENGTH;
    }

    /** @return whether the event carries a link (a reservation it settles, a stream checkpoint). */
    public boolean linked()
    {
        return (flags() & FLAG_LINKED) != 0;
    }

    /** @return the link's {@link EventLink} bits; 0 when the event has no link. */
    public int linkBits()
    {
        return linked() ? buffer.getByte(linkOffset()) & 0xFF : 0;
    }

    public long reservationHashHi()
    {
        return buffer.getLong(linkOffset() + 1);
    }

    public long reservationHashLo()
    {
        return buffer.getLong(linkOffset() + 9);
    }

    public long streamHashHi()
    {
        return buffer.getLong(linkOffset() + 17);
    }

    public long streamHashLo()
    {
        return buffer.getLong(linkOffset() + 25);
    }

    public long streamSeq()
    {
        return buffer.getLong(linkOffset() + 33);
    }

    private int linkOffset()
    {
        return idOffset() + idLength();
    }

    /** @return the encoded length of the wrapped event. */
    public int encodedLength()
    {
        return NAMES_OFFSET + tenantLength() + modelLength() + idLength() + (linked() ? LINK_LENGTH : 0);
    }
}
