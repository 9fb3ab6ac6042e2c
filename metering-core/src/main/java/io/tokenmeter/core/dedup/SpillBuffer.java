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
 *   table[i]      slot + 1, 0 = empty               (open addressing, linear probing, load <= 1/2)
 * </pre>
 *
 * An id added twice (a replay after a restart, or an id accepted again after the window) keeps one slot with the
 * newest content.
 */
final class SpillBuffer
{
    static final long ABSENT = -1;

    final long[] hi;
    final long[] loFold;
    private final int[] table;
    private final int tableMask;
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
        final int tableLength = BitUtil.findNextPositivePowerOfTwo(capacity * 2);
        this.table = new int[tableLength];
        this.tableMask = tableLength - 1;
        clear(0);
    }

    /** @return false, adding nothing, when the buffer is full. */
    boolean add(final long idHashHi, final long idHashLo, final int contentFold, final long acceptedAtMs, final long seq)
    {
        final int lo32 = (int)(idHashLo >>> 32);
        int index = home(idHashHi);
        while (true)
        {
            final int entry = table[index];
            if (entry == 0)
            {
                break;
            }
            final int slot = entry - 1;
            if (hi[slot] == idHashHi && (int)(loFold[slot] >>> 32) == lo32)
            {
                loFold[slot] = pack(lo32, contentFold);
                newestAcceptedAtMs = Math.max(newestAcceptedAtMs, acceptedAtMs);
                return true;
            }
            index = (index + 1) & tableMask;
        }
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
        hi[size] = idHashHi;
        loFold[size] = pack(lo32, contentFold);
        table[index] = ++size;
        return true;
    }

    /** @return the content fold of the id (0 to 2^32 - 1), or {@link #ABSENT}. */
    long find(final long idHashHi, final int idLo32)
    {
        int index = home(idHashHi);
        while (true)
        {
            final int entry = table[index];
            if (entry == 0)
            {
                return ABSENT;
            }
            final int slot = entry - 1;
            final long packed = loFold[slot];
            if (hi[slot] == idHashHi && (int)(packed >>> 32) == idLo32)
            {
                return packed & 0xFFFF_FFFFL;
            }
            index = (index + 1) & tableMask;
        }
    }

    /** Empties the buffer for batch number {@code batch}. */
    void clear(final long batch)
    {
        if (size > 0)
        {
            Arrays.fill(table, 0);
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
        return (long)capacity * 2 * Long.BYTES + (long)table.length * Integer.BYTES;
    }

    static long pack(final int lo32, final int contentFold)
    {
        return ((long)lo32 << 32) | (contentFold & 0xFFFF_FFFFL);
    }

    private int home(final long idHashHi)
    {
        return (int)(idHashHi ^ (idHashHi >>> 29)) & tableMask;
    }
}
