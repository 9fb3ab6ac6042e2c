package io.tokenmeter.core.dedup;

import org.agrona.BitUtil;

import java.util.Arrays;

/**
 * A batch of spilled ids in memory, searchable from the first {@link #add}: the journal thread fills it and looks
 * ids up in it; once handed to the background thread it is only read (by both) until the journal learns that its
 * segment is published, and then cleared for reuse. Allocates nothing after construction.
 *
 * <p>The background may still read a buffer after that, from a stale read of the hand-off: it takes a buffer only
 * while {@link #batch()} is the next batch to seal, which a buffer cleared for reuse never has
 * ({@code SegmentAgent.sealPending}).
 *
 * <pre>
 *   hi[slot]      idHashHi
 *   loFold[slot]  idLo32 << 32 | contentFold        (the record's other 8 bytes, in the order the sort wants)
 *   heads[b]      newest slot + 1 of bucket b, 0 = empty      (b = top bits of idHashHi; a quarter as many buckets
 *                                                             as slots, the slots rounded up to a power of two)
 *   next[slot]    the bucket's slot + 1 added before it, 0 = none
 * </pre>
 *
 * An add is an append: it writes the slot's words in order and one word of {@code heads}, a table of about
 * {@code capacity} bytes that stays in the processor's cache, and it reads no other slot. (Before, an open-addressing
 * table twice the capacity had each add probe a random word of 1 MiB and compare the ids it met, a cache miss per
 * spilled id: 11 % of the journals' samples at full rate.) A lookup walks its bucket newest first: about two slots
 * when the buffer is handed off (it holds a spill batch, half its capacity), four when full. Lookups are rare:
 * {@link RecentFilters} answer for the buffers, so only a retry of a recently spilled id or a filter's false positive
 * (0.2 %) comes here. The buckets are chosen by bits of the unseeded id hash, so a client that minted ids to share
 * them would make its own retries that reach a buffer walk long chains, as it could lengthen the probes of the table
 * before; it cannot make a new id slow (the filters answer for those).
 *
 * <p>An id added twice (a replay after a restart, or an id accepted again after the window) has two slots; a
 * lookup finds the newest first, and the seal writes only the newest ({@link RecordSort} keeps equal ids in the
 * order they were added).
 */
final class SpillBuffer
{
    static final long ABSENT = -1;
    /** Slots per bucket head (a power of two): the ids of a bucket on average when a buffer of 2^k slots is full. */
    private static final int BUCKET_IDS = 4;

    final long[] hi;
    final long[] loFold;
    private final int[] heads;
    private final int[] next;
    private final int bucketShift;
    private final int capacity;
    private int size;
    /** Volatile: the background may read it while the journal is already refilling the buffer (class comment). */
    private volatile long batch;
    private long firstSeq;
    private long oldestAcceptedAtMs;
    private long newestAcceptedAtMs;

    SpillBuffer(final int capacity)
    {
        this.capacity = capacity;
        this.hi = new long[capacity];
        this.loFold = new long[capacity];
        this.next = new int[capacity];
        final int buckets = Math.max(1, BitUtil.findNextPositivePowerOfTwo(capacity) / BUCKET_IDS);
        this.heads = new int[buckets];
        this.bucketShift = 64 - Integer.numberOfTrailingZeros(buckets);
        clear(0);
    }

    /** @return false, adding nothing, when the buffer is full. */
    boolean add(final long idHashHi, final long idHashLo, final int contentFold, final long acceptedAtMs, final long seq)
    {
        if (size == capacity)
        {
            return false;
        }
        if (size == 0)
        {
            firstSeq = seq;
            oldestAcceptedAtMs = acceptedAtMs;
        }
        oldestAcceptedAtMs = Math.min(oldestAcceptedAtMs, acceptedAtMs);
        newestAcceptedAtMs = Math.max(newestAcceptedAtMs, acceptedAtMs);
        final int slot = size;
        final int bucket = bucket(idHashHi);
        hi[slot] = idHashHi;
        loFold[slot] = pack((int)(idHashLo >>> 32), contentFold);
        next[slot] = heads[bucket];
        heads[bucket] = ++size;
        return true;
    }

    /** @return the bucket head an {@link #add} of this id reads and writes: loaded ahead, it is in cache by then. */
    int prefetch(final long idHashHi)
    {
        return heads[bucket(idHashHi)];
    }

    /** @return the content fold of the id's newest copy (0 to 2^32 - 1), or {@link #ABSENT}. */
    long find(final long idHashHi, final int idLo32)
    {
        int entry = heads[bucket(idHashHi)];
        while (entry != 0)
        {
            final int slot = entry - 1;
            final long packed = loFold[slot];
            if (hi[slot] == idHashHi && (int)(packed >>> 32) == idLo32)
            {
                return packed & 0xFFFF_FFFFL;
            }
            entry = next[slot];
        }
        return ABSENT;
    }

    /** Empties the buffer for batch number {@code batch}. */
    void clear(final long batch)
    {
        if (size > 0)
        {
            Arrays.fill(heads, 0);
        }
        this.size = 0;
        this.batch = batch;
        this.firstSeq = Long.MAX_VALUE;
        this.oldestAcceptedAtMs = Long.MAX_VALUE;
        this.newestAcceptedAtMs = Long.MIN_VALUE;
    }

    int size()
    {
        return size;
    }

    int capacity()
    {
        return capacity;
    }

    long batch()
    {
        return batch;
    }

    /** @return the seq of the first id added since {@link #clear}, Long.MAX_VALUE when empty. */
    long firstSeq()
    {
        return firstSeq;
    }

    long oldestAcceptedAtMs()
    {
        return oldestAcceptedAtMs;
    }

    long newestAcceptedAtMs()
    {
        return newestAcceptedAtMs;
    }

    long memoryBytes()
    {
        return (long)capacity * (2 * Long.BYTES + Integer.BYTES) + (long)heads.length * Integer.BYTES;
    }

    static long pack(final int lo32, final int contentFold)
    {
        return ((long)lo32 << 32) | (contentFold & 0xFFFF_FFFFL);
    }

    private int bucket(final long idHashHi)
    {
        return bucketShift == 64 ? 0 : (int)(idHashHi >>> bucketShift);
    }
}
