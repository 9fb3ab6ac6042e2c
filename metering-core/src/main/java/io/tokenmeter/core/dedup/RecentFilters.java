package io.tokenmeter.core.dedup;

import java.util.Arrays;

/**
 * Two blocked Bloom filters of the ids spilled lately, so that a new id costs one probe for all the young
 * segments and spill buffers they cover instead of one per segment. Journal thread only: it adds each id as it
 * spills it and asks before it looks in the buffers and segments; nothing is shared with the background.
 *
 * <pre>
 *   newer: every id spilled since it was started, in batches >= newerFrom (a batch that already held ids when it
 *          started is counted from the next one: its first ids are in older)
 *   older: the one before; both cover batches >= coveredFrom() = older's start (newer's when there is no older)
 *   rotation, when newer holds capacity ids: older is cleared and becomes newer; newer becomes older
 *   long[]:  [pad: 14 longs][pair 0: block of filter 0 (8 longs), block of filter 1 (8 longs)][pair 1] ...
 * </pre>
 *
 * The two filters are interleaved: an id's block in each is the same 128 bytes, two adjacent cache lines, and a
 * probe reads both without a branch between them, so their two cache misses overlap (and the processor's
 * adjacent-line prefetch may make them one). Which half is newer flips at each rotation.
 *
 * <p>A segment covers a contiguous range of batches, so one whose first batch is at or after {@link #coveredFrom()}
 * holds only ids these filters took: when both say no, it need not be probed. An older segment (its batches spilled
 * before, or read from disk at a restart) is probed by its own filter as before. Ids merged, expired or dropped leave
 * their bits behind until the rotation clears them: false positives only, which send the lookup to the segments'
 * own filters.
 *
 * <p>Why: with a segment filter per segment, a new id at full rate probed ten to twenty filters, each a cache miss,
 * 29 % of the journal's samples in {@code JournalBenchmark} with the tier busy. Sizing: {@value #BITS_PER_ID} bits an
 * id (0.09 % false positives a filter when full), {@code capacity} ids each, so {@code 4 x capacity} bytes of heap
 * for both: 16 MiB with the default spill batch (capacity 2^22 ids, so the newest 4 to 8 million spilled ids are
 * covered), allocated at the first spill; a rotation clears one half of each pair, 8 MiB, on the journal thread
 * (a few milliseconds, once per 4 million spilled ids).
 */
final class RecentFilters
{
    static final int BITS_PER_ID = 16;
    /** Spill batches a filter takes before rotation. */
    static final int BATCHES_PER_FILTER = 64;
    static final int MAX_CAPACITY = 1 << 22;
    /** Longs before pair 0: a humongous array starts on a region boundary, and 16 bytes of header + 14 longs = 128. */
    private static final int PAD = 14;
    private static final int BLOCK = SegmentFilter.LONGS_PER_BLOCK;
    private static final int PAIR = 2 * BLOCK;

    private final int capacity;
    private final int blocks;
    private long[] pairs;
    /** 0 or {@link #BLOCK}: where in each pair the newer filter's block is. */
    private int newerAt;
    private boolean rotated;
    private long newerFrom;
    private long olderFrom;
    private int newerIds;
    /** Sums what {@link #prefetch} loads, so that the JIT cannot drop those loads. */
    private long prefetchSink;

    /** @param capacity ids a filter takes before the two rotate. */
    RecentFilters(final int capacity)
    {
        this.capacity = capacity;
        this.blocks = SegmentFilter.blocksFor(capacity, BITS_PER_ID);
    }

    /** @return the capacity for a tier with this spill batch: {@value #BATCHES_PER_FILTER} batches, at most 2^22. */
    static int capacityFor(final int spillBatch)
    {
        return (int)Math.min(MAX_CAPACITY, (long)BATCHES_PER_FILTER * spillBatch);
    }

    /**
     * Takes an id being spilled into the buffer of batch {@code batch}, which holds {@code batchSize} ids before it.
     */
    void add(final long idHashHi, final int idLo32, final long batch, final int batchSize)
    {
        if (pairs == null)
        {
            pairs = new long[PAD + blocks * PAIR];
            newerFrom = batchSize == 0 ? batch : batch + 1;
            olderFrom = Long.MAX_VALUE;
        }
        else if (newerIds == capacity)
        {
            final int olderAt = BLOCK - newerAt;
            for (int at = PAD + olderAt; at < pairs.length; at += PAIR)
            {
                Arrays.fill(pairs, at, at + BLOCK, 0L);
            }
            newerAt = olderAt;
            olderFrom = newerFrom;
            rotated = true;
            newerFrom = batchSize == 0 ? batch : batch + 1;
            newerIds = 0;
        }
        SegmentFilter.addToBlock(pairs, pairBase(idHashHi) + newerAt, SegmentFilter.bits(idHashHi, idLo32));
        newerIds++;
    }

    /**
     * @return the first batch these filters cover wholly ({@code Long.MAX_VALUE} before the first spill: nothing);
     *     every id spilled in it or later was added.
     */
    long coveredFrom()
    {
        return pairs == null ? Long.MAX_VALUE : rotated ? olderFrom : newerFrom;
    }

    /**
     * @return false when no id of the covered batches is this one. Both blocks are read and tested branch-free (a
     * filter not yet used is all zeros and says no).
     */
    boolean mightContain(final long idHashHi, final int idLo32)
    {
        final long[] p = pairs;
        if (p == null)
        {
            return true;
        }
        final int base = pairBase(idHashHi);
        final long bits = SegmentFilter.bits(idHashHi, idLo32);
        // not ||: both blocks are read whatever the first says, so their loads are issued together
        return SegmentFilter.blockMightContain(p, base, bits) | SegmentFilter.blockMightContain(p, base + BLOCK, bits);
    }

    /** Loads the id's two blocks (one word of each cache line), so that a {@link #mightContain} soon after hits. */
    void prefetch(final long idHashHi)
    {
        final long[] p = pairs;
        if (p != null)
        {
            final int base = pairBase(idHashHi);
            prefetchSink += p[base] + p[base + BLOCK];
        }
    }

    /** Loads the id's block in the newer filter, the one an {@link #add} writes. */
    void prefetchNewer(final long idHashHi)
    {
        final long[] p = pairs;
        if (p != null)
        {
            prefetchSink += p[pairBase(idHashHi) + newerAt];
        }
    }

    long memoryBytes()
    {
        return pairs == null ? 0 : (long)pairs.length * Long.BYTES;
    }

    private int pairBase(final long idHashHi)
    {
        return PAD + (int)(((idHashHi >>> 32) * blocks) >>> 32) * PAIR;
    }
}
