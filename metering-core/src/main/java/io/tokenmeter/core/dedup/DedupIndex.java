package io.tokenmeter.core.dedup;

import org.agrona.BitUtil;

/**
 * The set of accepted (tenant, id) keys of the dedup window, each with the content hash it was accepted with.
 * Owned by the journal thread; allocates nothing after construction.
 *
 * <p>Keys are the 128-bit id hash of {@code tenant 0x00 id} (two longs); a chance collision of two different ids
 * is about n^2 / 2^129, negligible for any n this index can hold. Entries live in insertion order in a ring:
 *
 * <pre>
 *   ring (stride 4 longs):  [idHashHi | idHashLo | contentHash | acceptedAtMs]  oldest at head, newest at tail
 *   table (long, open addressing, linear probing, load <= 1/2): [fingerprint i32 | ring slot + 1 i32], 0 = empty
 * </pre>
 *
 * The fingerprint is the 32-bit fold of {@code idHashHi} the home position is taken from, so a probe compares it
 * before it reads the ring, and a deletion's backward shift finds each entry's home in the table alone: at capacity
 * the ring is far beyond cache, and every ring read saved is a cache miss saved (JMH: a new id at 4 M ids went from
 * 343 to 300 ns, BENCHMARKS.md).
 *
 * <p>Memory: 32 bytes of ring per slot plus 16 bytes of table (two longs) per slot, both rounded up to powers of
 * two; {@link #memoryBytes()} gives the exact figure.
 *
 * <p>Eviction happens only in {@link #evict(long)}, called after each log document: entries older than the window
 * go first, then the oldest beyond {@code capacity}. So the index after any document is a pure function of the
 * log up to it (the newest {@code capacity} accepted keys not older than the window), which is what makes a
 * replay rebuild exactly the same index. Between evictions the ring may exceed {@code capacity} by at most
 * {@code maxPendingInserts}.
 */
public final class DedupIndex
{
    /** The key was not present and is now inserted. */
    public static final int NEW = 0;
    /** The key is present with the same content: a retry. */
    public static final int DUPLICATE = 1;
    /** The key is present with other content: an id reused for different usage. */
    public static final int CONFLICT = 2;

    private static final int STRIDE = 4;
    /** Keys evicted per prefetch pass: enough misses in flight to fill the processor's queue, few enough to stay in L1. */
    private static final int EVICTION_CHUNK = 32;

    private final int capacity;
    private final long windowMs;
    private final int maxPendingInserts;
    private final long[] ring;
    private final int ringMask;
    private final long[] table;
    private final int tableMask;
    private long head;
    private long tail;
    private long evictedByWindow;
    private long evictedByCapacity;
    /** Sums the table words eviction loads ahead, so that the JIT cannot drop those loads. */
    private long prefetchSink;
    /** Between {@link #beginDeferredReplay} and {@link #endDeferredReplay}: keys in the ring only. */
    private boolean deferred;

    /**
     * @param capacity          most keys kept after each eviction.
     * @param windowMs          how long a key is kept, measured in log append time.
     * @param maxPendingInserts most inserts between two evictions (the journal's largest drain).
     */
    public DedupIndex(final int capacity, final long windowMs, final int maxPendingInserts)
    {
        if (capacity < 1 || windowMs < 1 || maxPendingInserts < 1)
        {
            throw new IllegalArgumentException("capacity, window and pending inserts must be positive");
        }
        this.capacity = capacity;
        this.windowMs = windowMs;
        this.maxPendingInserts = maxPendingInserts;
        final int slots = BitUtil.findNextPositivePowerOfTwo(capacity + maxPendingInserts);
        this.ring = new long[slots * STRIDE];
        this.ringMask = slots - 1;
        final int tableLength = BitUtil.findNextPositivePowerOfTwo(slots * 2);
        this.table = new long[tableLength];
        this.tableMask = tableLength - 1;
    }

    /**
     * Checks the key and inserts it when new.
     *
     * @return {@link #NEW}, {@link #DUPLICATE} or {@link #CONFLICT}.
     */
    public int checkAndInsert(final long idHashHi, final long idHashLo, final long contentHash, final long nowMs)
    {
        final int fingerprint = fingerprint(idHashHi);
        int index = fingerprint & tableMask;
        while (true)
        {
            final long entry = table[index];
            if (entry == 0)
            {
                break;
            }
            if ((int)(entry >>> 32) == fingerprint)
            {
                final int at = slotOf(entry) * STRIDE;
                if (ring[at] == idHashHi && ring[at + 1] == idHashLo)
                {
                    return ring[at + 2] == contentHash ? DUPLICATE : CONFLICT;
                }
            }
            index = (index + 1) & tableMask;
        }
        append(index, fingerprint, idHashHi, idHashLo, contentHash, nowMs);
        return NEW;
    }

    /**
     * Loads the table word where a probe for this key starts, and nothing else: called for the next keys of a request
     * before they are checked, it has their cache misses overlap instead of come one after another (each probe's
     * branches stop the processor from running ahead on its own), as {@link #evict} does for its deletions.
     */
    public void prefetch(final long idHashHi)
    {
        prefetchSink += table[fingerprint(idHashHi) & tableMask];
    }

    /**
     * Inserts a key read back from the log during recovery. Should the key be present (replay may start before the
     * oldest live key, with keys the live index had already evicted), the old entry is replaced.
     */
    public void insertReplayed(final long idHashHi, final long idHashLo, final long contentHash, final long acceptedAtMs)
    {
        if (deferred)
        {
            appendToRing(idHashHi, idHashLo, contentHash, acceptedAtMs);
            return;
        }
        final int found = find(idHashHi, idHashLo);
        if (found >= 0)
        {
            removeFromTable(found);
        }
        checkAndInsert(idHashHi, idHashLo, contentHash, acceptedAtMs);
    }

    /**
     * Starts a replay whose keys go to the ring only, not into the table, until {@link #endDeferredReplay}: a replay
     * from the start of a long log (a new owner of a partition) inserts many keys that capacity evicts again before the
     * replay ends, and each would cost a table insert and a table removal (two cache misses) for nothing. Meanwhile
     * {@link #evict} moves the ring's head and spills without touching the table, and nothing else may be asked (only
     * {@link #contains} checks it; the live path's calls do not, to add nothing to them).
     * The index after {@link #endDeferredReplay} is the one {@link #insertReplayed} one key at a time would have made:
     * the newest keys, each once (a key read twice is kept as its later insert, the earlier position dead). The one
     * difference: a key read twice whose earlier insert capacity evicts before the later one is read is spilled here,
     * where the eager replay would have found it dead; a log written with this index's capacity has no such pair (the
     * later insert was accepted because the earlier was gone from the index, so window eviction dropped it first).
     *
     * @throws IllegalStateException unless the index is empty.
     */
    public void beginDeferredReplay()
    {
        if (head != tail)
        {
            throw new IllegalStateException("a deferred replay starts on an empty index, not one of " + (tail - head)
                + " keys");
        }
        deferred = true;
    }

    /** Ends a deferred replay: the ring's keys go into the table, oldest first. */
    public void endDeferredReplay()
    {
        if (!deferred)
        {
            return;
        }
        deferred = false;
        for (long seq = head; seq < tail; seq++)
        {
            final int at = slot(seq) * STRIDE;
            final long hi = ring[at];
            final int found = find(hi, ring[at + 1]);
            if (found >= 0)
            {
                removeFromTable(found);
            }
            final int fingerprint = fingerprint(hi);
            int index = fingerprint & tableMask;
            while (table[index] != 0)
            {
                index = (index + 1) & tableMask;
            }
            table[index] = ((long)fingerprint << 32) | (slot(seq) + 1);
        }
    }

    /** @return true between {@link #beginDeferredReplay} and {@link #endDeferredReplay}. */
    public boolean deferred()
    {
        return deferred;
    }

    /** @return the position of the next insert: a mark for {@link #rollbackTo(long)}. */
    public long tail()
    {
        return tail;
    }

    public long head()
    {
        return head;
    }

    /** Removes every key inserted since {@code mark}: undoes inserts that never reached the log. */
    public void rollbackTo(final long mark)
    {
        if (mark < head || mark > tail)
        {
            throw new IllegalStateException("rollback mark " + mark + " outside [" + head + ", " + tail + "]");
        }
        while (tail > mark)
        {
            final long seq = tail - 1;
            final int index = locate(seq);
            if (index >= 0)
            {
                removeFromTable(index);
            }
            tail = seq;
        }
    }

    /**
     * Evicts keys older than the window before {@code nowMs}, then the oldest beyond capacity. Works in chunks: the
     * table slots where the chunk's keys sit are loaded first, by loads that depend on nothing but the ring (read in
     * order), so the processor overlaps their cache misses; the deletions then find them in cache. A deletion's
     * probe and backward shift branch unpredictably, which stops the processor from running ahead on its own (JMH:
     * a new id at 4 M ids, eviction included, 1.4 times faster in two pairs of runs; BENCHMARKS.md). With a
     * {@link Spill}, the same pass has it load what each spilled key will touch ({@link Spill#prefetch}).
     */
    public void evict(final long nowMs)
    {
        evict(nowMs, null);
    }

    /** What capacity evicts, in ring order, for the {@link DedupDiskTier} to hold for the rest of the window. */
    @FunctionalInterface
    public interface Spill
    {
        void spill(long idHashHi, long idHashLo, long contentHash, long acceptedAtMs, long seq);

        /** Loads what {@link #spill} of this id will touch first; called for a chunk of ids before they are spilled. */
        default void prefetch(final long idHashHi)
        {
        }
    }

    /**
     * {@link #evict(long)}, handing each key evicted because of capacity (not the window) to {@code spill} first; keys
     * evicted because of the window are dropped, as are dead positions.
     */
    public void evict(final long nowMs, final Spill spill)
    {
        final long oldestKeptMs = nowMs - windowMs;
        long windowEnd = head;
        while (windowEnd < tail && ring[slot(windowEnd) * STRIDE + 3] < oldestKeptMs)
        {
            windowEnd++;
        }
        final long end = Math.max(windowEnd, tail - capacity);
        evictedByWindow += windowEnd - head;
        evictedByCapacity += end - windowEnd;
        if (deferred)
        {
            // nothing of the ring is in the table yet: spill what capacity evicts, in order, and move the head
            for (; head < end; head++)
            {
                if (spill != null && head >= windowEnd)
                {
                    final int at = slot(head) * STRIDE;
                    spill.spill(ring[at], ring[at + 1], ring[at + 2], ring[at + 3], head);
                }
            }
            return;
        }
        while (head < end)
        {
            final long chunkEnd = Math.min(end, head + EVICTION_CHUNK);
            for (long seq = head; seq < chunkEnd; seq++)
            {
                final long hi = ring[slot(seq) * STRIDE];
                prefetchSink += table[fingerprint(hi) & tableMask];
                if (spill != null && seq >= windowEnd)
                {
                    spill.prefetch(hi);
                }
            }
            while (head < chunkEnd)
            {
                if (spill != null && head >= windowEnd)
                {
                    removeHeadSpilling(spill);
                }
                else
                {
                    removeHead();
                }
            }
        }
    }

    public int size()
    {
        return (int)(tail - head);
    }

    public int capacity()
    {
        return capacity;
    }

    /** @return the most keys inserted between two evictions, so the most one eviction beyond capacity can evict. */
    public int maxPendingInserts()
    {
        return maxPendingInserts;
    }

    public long windowMs()
    {
        return windowMs;
    }

    public long evictedByWindow()
    {
        return evictedByWindow;
    }

    public long evictedByCapacity()
    {
        return evictedByCapacity;
    }

    /** @return the bytes held by the ring and the table arrays. */
    public long memoryBytes()
    {
        return (long)ring.length * Long.BYTES + (long)table.length * Long.BYTES;
    }

    /** @return whether the key is present with that content hash (for tests and tools). */
    public boolean contains(final long idHashHi, final long idHashLo, final long contentHash)
    {
        requireTable();
        final int found = find(idHashHi, idHashLo);
        return found >= 0 && ring[slotOf(table[found]) * STRIDE + 2] == contentHash;
    }

    private void append(final int tableIndex, final int fingerprint, final long hi, final long lo, final long contentHash,
        final long nowMs)
    {
        final int slot = appendToRing(hi, lo, contentHash, nowMs);
        table[tableIndex] = ((long)fingerprint << 32) | (slot + 1);
    }

    /** @return the ring slot the key was written to, at the tail, which moves on. */
    private int appendToRing(final long hi, final long lo, final long contentHash, final long nowMs)
    {
        if (tail - head > ringMask)
        {
            throw new IllegalStateException("dedup ring overrun: more inserts between evictions than configured");
        }
        final int slot = slot(tail);
        final int at = slot * STRIDE;
        ring[at] = hi;
        ring[at + 1] = lo;
        ring[at + 2] = contentHash;
        ring[at + 3] = nowMs;
        tail++;
        return slot;
    }

    private void removeHeadSpilling(final Spill spill)
    {
        final int index = locate(head);
        if (index >= 0)
        {
            final int at = slot(head) * STRIDE;
            spill.spill(ring[at], ring[at + 1], ring[at + 2], ring[at + 3], head);
            removeFromTable(index);
        }
        head++;
    }

    /** @return the accept time of the oldest key held, or Long.MAX_VALUE when empty. */
    public long oldestAcceptedAtMs()
    {
        return head == tail ? Long.MAX_VALUE : ring[slot(head) * STRIDE + 3];
    }

    private void removeHead()
    {
        final int index = locate(head);
        if (index >= 0)
        {
            removeFromTable(index);
        }
        head++;
    }

    /**
     * @return the table index holding ring position {@code seq}, or -1 for a dead position (one whose key was
     * replaced by {@link #insertReplayed}).
     */
    private int locate(final long seq)
    {
        final int slot = slot(seq);
        int index = fingerprint(ring[slot * STRIDE]) & tableMask;
        while (true)
        {
            final long entry = table[index];
            if (entry != 0 && slotOf(entry) == slot)
            {
                return index;
            }
            if (entry == 0)
            {
                return -1;
            }
            index = (index + 1) & tableMask;
        }
    }

    private int find(final long hi, final long lo)
    {
        final int fingerprint = fingerprint(hi);
        int index = fingerprint & tableMask;
        while (true)
        {
            final long entry = table[index];
            if (entry == 0)
            {
                return -1;
            }
            final int at = slotOf(entry) * STRIDE;
            if ((int)(entry >>> 32) == fingerprint && ring[at] == hi && ring[at + 1] == lo)
            {
                return index;
            }
            index = (index + 1) & tableMask;
        }
    }

    /** Backward-shift deletion: keeps every probe chain unbroken without tombstones. */
    private void removeFromTable(final int removedIndex)
    {
        int hole = removedIndex;
        int index = removedIndex;
        while (true)
        {
            index = (index + 1) & tableMask;
            final long entry = table[index];
            if (entry == 0)
            {
                break;
            }
            final int homeIndex = (int)(entry >>> 32) & tableMask;
            final boolean staysPut = hole <= index
                ? hole < homeIndex && homeIndex <= index
                : hole < homeIndex || homeIndex <= index;
            if (!staysPut)
            {
                table[hole] = entry;
                hole = index;
            }
        }
        table[hole] = 0;
    }

    private void requireTable()
    {
        if (deferred)
        {
            throw new IllegalStateException("the index is in a deferred replay: its keys are not in the table until it "
                + "ends");
        }
    }

    private int slot(final long seq)
    {
        return (int)seq & ringMask;
    }

    /** The 32-bit fold of the id hash kept in the table; its low bits are the home position. */
    private static int fingerprint(final long idHashHi)
    {
        return (int)(idHashHi ^ (idHashHi >>> 32));
    }

    private static int slotOf(final long entry)
    {
        return (int)entry - 1;
    }
}
