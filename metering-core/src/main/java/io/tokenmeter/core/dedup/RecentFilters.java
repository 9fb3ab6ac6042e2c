package io.tokenmeter.core.dedup;

import java.util.Arrays;

/**
 * Two blocked Bloom filters of the ids spilled lately, so that a new id costs one or two probes for all the young
 * segments and spill buffers they cover instead of one per segment. Journal thread only: it adds each id as it
 * spills it and asks before it looks in the buffers and segments; nothing is shared with the background.
 *
 * <pre>
 *   newer: every id spilled since it was started, in batches >= newerFrom (a batch that already held ids when it
 *          started is counted from the next one: its first ids are in older)
 *   older: the one before; both cover batches >= coveredFrom() = older's start (newer's when there is no older)
 *   rotation, when newer holds capacity ids: older is cleared and becomes newer; newer becomes older
 * </pre>
 *
 * A segment covers a contiguous range of batches, so one whose first batch is at or after {@link #coveredFrom()}
 * holds only ids these filters took: when both say no, it need not be probed. An older segment (its batches spilled
 * before, or read from disk at a restart) is probed by its own filter as before. Ids merged, expired or dropped leave
 * their bits behind until the rotation clears them: false positives only, which send the lookup to the segments'
 * own filters.
 *
 * <p>Why: with a segment filter per segment, a new id at full rate probed ten to twenty filters, each a cache miss,
 * 29 % of the journal's samples in {@code JournalBenchmark} with the tier busy. Sizing: {@value #BITS_PER_ID} bits an
 * id (0.09 % false positives when full), {@code capacity} ids each, so {@code 4 x capacity} bytes of heap for both:
 * 16 MiB with the default spill batch (capacity 2^22 ids, so the newest 4 to 8 million spilled ids are covered),
 * allocated at the first spill and at the first rotation; a rotation clears 8 MiB on the journal thread (about 2 ms,
 * once per 4 million spilled ids).
 */
final class RecentFilters
{
    static final int BITS_PER_ID = 16;
    /** Spill batches a filter takes before rotation. */
    static final int BATCHES_PER_FILTER = 64;
    static final int MAX_CAPACITY = 1 << 22;

    private final int capacity;
    private final int blocks;
    private long[] newer;
    private long[] older;
    private long newerFrom;
    private long olderFrom;
    private int newerIds;

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
        if (newer == null)
        {
            newer = SegmentFilter.allocate(blocks);
            newerFrom = batchSize == 0 ? batch : batch + 1;
            olderFrom = Long.MAX_VALUE;
        }
        else if (newerIds == capacity)
        {
            final long[] recycled = older == null ? SegmentFilter.allocate(blocks) : older;
            Arrays.fill(recycled, 0);
            older = newer;
            olderFrom = newerFrom;
            newer = recycled;
            newerFrom = batchSize == 0 ? batch : batch + 1;
            newerIds = 0;
        }
        SegmentFilter.add(newer, blocks, idHashHi, idLo32);
        newerIds++;
    }

    /**
     * @return the first batch these filters cover wholly ({@code Long.MAX_VALUE} before the first spill: nothing);
     *     every id spilled in it or later was added.
     */
    long coveredFrom()
    {
        return newer == null ? Long.MAX_VALUE : older == null ? newerFrom : olderFrom;
    }

    /** @return false when no id of the covered batches is this one. */
    boolean mightContain(final long idHashHi, final int idLo32)
    {
        final long[] n = newer;
        if (n == null)
        {
            return true;
        }
        final long[] o = older;
        return SegmentFilter.mightContain(n, blocks, idHashHi, idLo32)
            || o != null && SegmentFilter.mightContain(o, blocks, idHashHi, idLo32);
    }

    long memoryBytes()
    {
        final long one = (long)(SegmentFilter.PAD + blocks * SegmentFilter.LONGS_PER_BLOCK) * Long.BYTES;
        return (newer == null ? 0 : one) + (older == null ? 0 : one);
    }
}
