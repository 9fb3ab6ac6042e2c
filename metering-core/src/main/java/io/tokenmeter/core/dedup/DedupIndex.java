package io.tokenmeter.core.dedup;

import org.agrona.BitUtil;

/**
 * The set of accepted (tenant, id) keys of the dedup window, each with the content hash it was accepted with.
 * Owned by the journal thread; allocates nothing after construction.
 *
 * <p>Keys are the 128-bit id hash of {@code tenant 0x00 id} (two longs); a chance collision of two different ids
 * is about n^2 / 2^129, negligible for any n this index can hold. Entries live in insertion order in a ring, and a
 * table of buckets finds them:
 *
 * <pre>
 *   ring (stride 4 longs):  [idHashHi | idHashLo | contentHash | acceptedAtMs, sign bit = dead]  oldest at head
 *   table: buckets of 8 longs, one 64-byte cache line each:
 *          7 entries [fingerprint i32, odd | ring sequence, low 32 bits]  0 = never used
 *          1 overflow mark: 1 + the newest sequence of a key placed in a later bucket because this one was full
 * </pre>
 *
 * An entry is live while its sequence is in {@code [head, tail)}; every other entry is free. So eviction only moves
 * the ring's head: it never touches the table, whose entries behind the head die by themselves and are written over
 * by later keys (decision 355). Before, each evicted key cost a table probe and a backward-shift deletion, a cache
 * miss each at capacity, and a quarter of the journal's samples. A key is placed in the first free entry of its
 * bucket (the bucket from {@code idHashHi}'s high half, the fingerprint from its low half, so independent bits);
 * when its bucket is full, in the next bucket with room, and every bucket passed over records the key's sequence as
 * its overflow mark. A probe reads its bucket's line, compares the 7 fingerprints and, only on a match, the ring; it
 * goes on to the next bucket only while the mark says a key placed past this bucket is still live. With 4 keys a
 * bucket on average at capacity (as much memory as the open-addressing table before), about 5 % of buckets overflow.
 * A live entry is never written over, and every bucket between a live key's bucket and its entry carries a mark at
 * or above its sequence, so a probe cannot stop before it: that is the invariant the tests check against a model.
 * The low 32 bits of the sequence are enough: a live entry's distance from the head is below 2^31; an entry that
 * died 2^32 keys ago may look live again, which only keeps its slot from reuse until the head passes, since a probe
 * confirms every fingerprint match in the ring.
 *
 * <p>Memory: 32 bytes of ring per slot plus 16 bytes of table per slot (a bucket of 8 longs per 4 slots), both
 * rounded up to powers of two; {@link #memoryBytes()} gives the exact figure.
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
    /** Ids spilled per prefetch pass: enough misses in flight to fill the processor's queue, few enough to stay in L1. */
    private static final int EVICTION_CHUNK = 32;
    /** Longs per bucket: {@link #ENTRIES} entries and the overflow mark, one 64-byte cache line. */
    private static final int BUCKET = 8;
    private static final int ENTRIES = BUCKET - 1;
    /**
     * Longs before the first bucket: after a long[]'s 16-byte header, 6 of them end on a 64-byte boundary, so that
     * each bucket is one cache line when the array starts on one (as G1 places an array of this size, at the start of a
     * region of its own). Elsewhere a bucket spans two lines, which costs speed only.
     */
    private static final int TABLE_BASE = 6;
    /** The sign bit of a ring slot's time word: the position is dead (its key was accepted again later, in a replay). */
    private static final long DEAD = Long.MIN_VALUE;

    private final int capacity;
    private final long windowMs;
    private final int maxPendingInserts;
    private final long[] ring;
    private final int ringMask;
    private final long[] table;
    private final int bucketMask;
    private long head;
    private long tail;
    private long evictedByWindow;
    private long evictedByCapacity;
    /** Sums the table words {@link #prefetch} loads, so that the JIT cannot drop those loads. */
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
        final int buckets = Math.max(1, slots / 4);
        this.table = new long[TABLE_BASE + buckets * BUCKET];
        this.bucketMask = buckets - 1;
    }

    /**
     * Checks the key and inserts it when new.
     *
     * @return {@link #NEW}, {@link #DUPLICATE} or {@link #CONFLICT}.
     */
    public int checkAndInsert(final long idHashHi, final long idHashLo, final long contentHash, final long nowMs)
    {
        final int found = find(idHashHi, idHashLo);
        if (found >= 0)
        {
            return ring[slotOf(table[found]) * STRIDE + 2] == contentHash ? DUPLICATE : CONFLICT;
        }
        place(idHashHi, appendToRing(idHashHi, idHashLo, contentHash, nowMs));
        return NEW;
    }

    /**
     * Loads the bucket a probe for this key reads, and nothing else: called for the next keys of a request before they
     * are checked, it has their cache misses overlap instead of come one after another (each probe's branches stop the
     * processor from running ahead on its own).
     */
    public void prefetch(final long idHashHi)
    {
        prefetchSink += table[TABLE_BASE + bucketOf(idHashHi) * BUCKET];
    }

    /**
     * Inserts a key read back from the log during recovery. Should the key be present (replay may start before the
     * oldest live key, with keys the live index had already evicted), the old position dies and the entry moves to the
     * new one.
     */
    public void insertReplayed(final long idHashHi, final long idHashLo, final long contentHash, final long acceptedAtMs)
    {
        if (deferred)
        {
            appendToRing(idHashHi, idHashLo, contentHash, acceptedAtMs);
            return;
        }
        final int found = find(idHashHi, idHashLo);
        final long seq = appendToRing(idHashHi, idHashLo, contentHash, acceptedAtMs);
        if (found >= 0)
        {
            move(found, idHashHi, seq);
        }
        else
        {
            place(idHashHi, seq);
        }
    }

    /**
     * Starts a replay whose keys go to the ring only, not into the table, until {@link #endDeferredReplay}: a replay
     * from the start of a long log (a new owner of a partition) inserts many keys that capacity evicts again before the
     * replay ends, and each would cost a table insert (a cache miss) for nothing. Meanwhile {@link #evict} moves the
     * ring's head and spills without touching the table, and nothing else may be asked (only {@link #contains} checks
     * it; the live path's calls do not, to add nothing to them).
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
        if (tail != 0)
        {
            // entries of keys long gone name sequences the replay will reuse: none may look live when it ends
            java.util.Arrays.fill(table, 0L);
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
        final long end = tail;
        for (long seq = head; seq < end; seq++)
        {
            final int at = slot(seq) * STRIDE;
            final long hi = ring[at];
            // the table holds the keys before seq only (an entry for a later one cannot exist yet): a key found is an
            // earlier insert of the same key, whose position dies
            final int found = find(hi, ring[at + 1]);
            if (found >= 0)
            {
                move(found, hi, seq);
            }
            else
            {
                place(hi, seq);
            }
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
            // cleared, not left to die: the next inserts reuse these sequences, and a stale entry would then look live
            // (a probe confirms it in the ring, so only its slot would be lost until the head passes)
            final int index = locate(seq);
            if (index >= 0)
            {
                table[index] = 0;
            }
            tail = seq;
        }
    }

    /**
     * Evicts keys older than the window before {@code nowMs}, then the oldest beyond capacity: moves the ring's head,
     * and the table's entries behind it are free from then on.
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
     * evicted because of the window are dropped, as are dead positions. Works in chunks: the spill first loads what
     * each of a chunk's keys will touch ({@link Spill#prefetch}), by loads that depend on nothing but the ring (read in
     * order), so the processor overlaps their cache misses.
     */
    public void evict(final long nowMs, final Spill spill)
    {
        final long oldestKeptMs = nowMs - windowMs;
        long windowEnd = head;
        while (windowEnd < tail && (ring[slot(windowEnd) * STRIDE + 3] & ~DEAD) < oldestKeptMs)
        {
            windowEnd++;
        }
        final long end = Math.max(windowEnd, tail - capacity);
        evictedByWindow += windowEnd - head;
        evictedByCapacity += end - windowEnd;
        if (spill == null || end <= windowEnd)
        {
            head = end;
            return;
        }
        head = windowEnd;
        while (head < end)
        {
            final long chunkEnd = Math.min(end, head + EVICTION_CHUNK);
            for (long seq = head; seq < chunkEnd; seq++)
            {
                spill.prefetch(ring[slot(seq) * STRIDE]);
            }
            for (; head < chunkEnd; head++)
            {
                final int at = slot(head) * STRIDE;
                final long acceptedAtMs = ring[at + 3];
                if (acceptedAtMs >= 0)
                {
                    spill.spill(ring[at], ring[at + 1], ring[at + 2], acceptedAtMs, head);
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

    /** @return the accept time of the oldest key held, or Long.MAX_VALUE when empty. */
    public long oldestAcceptedAtMs()
    {
        return head == tail ? Long.MAX_VALUE : ring[slot(head) * STRIDE + 3] & ~DEAD;
    }

    /** @return the sequence of the key appended at the tail, which moves on. */
    private long appendToRing(final long hi, final long lo, final long contentHash, final long nowMs)
    {
        if (tail - head > ringMask)
        {
            throw new IllegalStateException("dedup ring overrun: more inserts between evictions than configured");
        }
        final int at = slot(tail) * STRIDE;
        ring[at] = hi;
        ring[at + 1] = lo;
        ring[at + 2] = contentHash;
        ring[at + 3] = nowMs;
        return tail++;
    }

    /** @return the table index of the key's live entry, or -1. */
    private int find(final long hi, final long lo)
    {
        final int fingerprint = fingerprint(hi);
        int bucket = bucketOf(hi);
        for (int hops = 0; hops <= bucketMask; hops++)
        {
            final int base = TABLE_BASE + bucket * BUCKET;
            for (int i = base; i < base + ENTRIES; i++)
            {
                final long entry = table[i];
                if ((int)(entry >>> 32) == fingerprint && live(entry))
                {
                    final int at = slotOf(entry) * STRIDE;
                    if (ring[at] == hi && ring[at + 1] == lo)
                    {
                        return i;
                    }
                }
            }
            if (table[base + ENTRIES] <= head)
            {
                return -1; // no key placed past this bucket is still live
            }
            bucket = (bucket + 1) & bucketMask;
        }
        return -1;
    }

    /** @return the table index of the entry of ring position {@code seq} (live), or -1 for a dead position. */
    private int locate(final long seq)
    {
        final long hi = ring[slot(seq) * STRIDE];
        final long wanted = ((long)fingerprint(hi) << 32) | (seq & 0xFFFF_FFFFL);
        int bucket = bucketOf(hi);
        for (int hops = 0; hops <= bucketMask; hops++)
        {
            final int base = TABLE_BASE + bucket * BUCKET;
            for (int i = base; i < base + ENTRIES; i++)
            {
                if (table[i] == wanted)
                {
                    return i;
                }
            }
            if (table[base + ENTRIES] <= seq)
            {
                return -1;
            }
            bucket = (bucket + 1) & bucketMask;
        }
        return -1;
    }

    /** Writes the entry of the key at {@code seq} into the first free entry from its bucket on, marking full ones. */
    private void place(final long hi, final long seq)
    {
        final long entry = ((long)fingerprint(hi) << 32) | (seq & 0xFFFF_FFFFL);
        int bucket = bucketOf(hi);
        for (int hops = 0; hops <= bucketMask; hops++)
        {
            final int base = TABLE_BASE + bucket * BUCKET;
            for (int i = base; i < base + ENTRIES; i++)
            {
                if (!live(table[i]))
                {
                    table[i] = entry;
                    return;
                }
            }
            raiseMark(base, seq);
            bucket = (bucket + 1) & bucketMask;
        }
        throw new IllegalStateException("dedup table full: " + (tail - head) + " keys in " + (bucketMask + 1) + " buckets");
    }

    /**
     * Moves the live entry at {@code index} to the key's newer position {@code seq}: the old position dies (eviction
     * will not spill it), and the buckets the entry lies past are marked for the newer sequence.
     */
    private void move(final int index, final long hi, final long seq)
    {
        final long old = table[index];
        ring[slotOf(old) * STRIDE + 3] |= DEAD;
        table[index] = (old & 0xFFFF_FFFF_0000_0000L) | (seq & 0xFFFF_FFFFL);
        final int entryBucket = (index - TABLE_BASE) / BUCKET;
        for (int bucket = bucketOf(hi); bucket != entryBucket; bucket = (bucket + 1) & bucketMask)
        {
            raiseMark(TABLE_BASE + bucket * BUCKET, seq);
        }
    }

    private void raiseMark(final int bucketBase, final long seq)
    {
        final int mark = bucketBase + ENTRIES;
        table[mark] = Math.max(table[mark], seq + 1);
    }

    /** @return whether the entry names a position in {@code [head, tail)}; 0, never used, is not live. */
    private boolean live(final long entry)
    {
        return entry != 0 && Integer.compareUnsigned((int)entry - (int)head, (int)(tail - head)) < 0;
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

    /** The ring slot an entry names: the low bits of its sequence. */
    private int slotOf(final long entry)
    {
        return (int)entry & ringMask;
    }

    private int bucketOf(final long idHashHi)
    {
        return (int)(idHashHi >>> 32) & bucketMask;
    }

    /** The low half of the id hash, odd, so that no entry is 0; the bucket comes from the high half. */
    private static int fingerprint(final long idHashHi)
    {
        return (int)idHashHi | 1;
    }
}
