package io.tokenmeter.core.event;

import net.openhft.hashing.LongHashFunction;
import net.openhft.hashing.LongTupleHashFunction;

/**
 * The two hashes of an event, without allocation: the 128-bit dedup key over {@code tenant 0x00 id} and the
 * 64-bit content hash over a canonical encoding of what the client sent. XXH3 (OpenHFT zero-allocation-hashing).
 * One instance per thread: it keeps the 128-bit result in a scratch array.
 */
public final class EventHasher
{
    private static final LongTupleHashFunction ID_HASH = LongTupleHashFunction.xx128();
    private static final LongHashFunction CONTENT_HASH = LongHashFunction.xx3();

    private final long[] idHash = ID_HASH.newResultArray();

    /** Hashes {@code bytes[offset, offset + length)}; read the result with {@link #idHashHi()} and {@link #idHashLo()}. */
    public void hashId(final byte[] bytes, final int offset, final int length)
    {
        ID_HASH.hashBytes(bytes, offset, length, idHash);
    }

    public long idHashHi()
    {
        return idHash[1];
    }

    public long idHashLo()
    {
        return idHash[0];
    }

    public static long contentHash(final byte[] bytes, final int offset, final int length)
    {
        return CONTENT_HASH.hashBytes(bytes, offset, length);
    }
}
