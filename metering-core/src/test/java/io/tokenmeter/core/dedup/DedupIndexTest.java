package io.tokenmeter.core.dedup;

import org.junit.jupiter.api.Test;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DedupIndexTest
{
    @Test
    void firstSightIsNewRepeatIsDuplicateOtherContentIsConflict()
    {
        final DedupIndex index = new DedupIndex(100, 60_000, 10);
        assertEquals(DedupIndex.NEW, index.checkAndInsert(1, 2, 7, 1000));
        assertEquals(DedupIndex.DUPLICATE, index.checkAndInsert(1, 2, 7, 1001));
        assertEquals(DedupIndex.CONFLICT, index.checkAndInsert(1, 2, 8, 1002));
        assertEquals(DedupIndex.NEW, index.checkAndInsert(1, 3, 7, 1003), "same high half, other low half is another key");
        assertEquals(2, index.size());
    }

    @Test
    void keysOlderThanTheWindowAreForgotten()
    {
        final DedupIndex index = new DedupIndex(100, 1000, 10);
        index.checkAndInsert(1, 1, 1, 0);
        index.checkAndInsert(2, 2, 2, 500);
        index.evict(1000);
        assertTrue(index.contains(1, 1, 1), "exactly one window old is still kept");
        index.evict(1001);
        assertFalse(index.contains(1, 1, 1));
        assertTrue(index.contains(2, 2, 2));
        assertEquals(1, index.evictedByWindow());
        assertEquals(DedupIndex.NEW, index.checkAndInsert(1, 1, 1, 1001));
    }

    @Test
    void capacityKeepsTheNewestKeys()
    {
        final DedupIndex index = new DedupIndex(3, 1_000_000, 10);
        for (int i = 1; i <= 5; i++)
        {
            index.checkAndInsert(i, i, i, i);
        }
        assertEquals(5, index.size(), "no eviction between documents");
        index.evict(5);
        assertEquals(3, index.size());
        assertEquals(2, index.evictedByCapacity());
        assertFalse(index.contains(2, 2, 2));
        assertTrue(index.contains(3, 3, 3));
        assertTrue(index.contains(5, 5, 5));
    }

    @Test
    void rollbackRemovesInsertsThatNeverReachedTheLog()
    {
        final DedupIndex index = new DedupIndex(100, 60_000, 10);
        index.checkAndInsert(1, 1, 1, 0);
        final long mark = index.tail();
        index.checkAndInsert(2, 2, 2, 0);
        index.checkAndInsert(3, 3, 3, 0);
        index.rollbackTo(mark);
        assertEquals(1, index.size());
        assertTrue(index.contains(1, 1, 1));
        assertEquals(DedupIndex.NEW, index.checkAndInsert(2, 2, 2, 0));
    }

    @Test
    void replayedKeyReplacesAStaleEntryAndEvictionSkipsIt()
    {
        final DedupIndex index = new DedupIndex(2, 1_000_000, 10);
        index.insertReplayed(1, 1, 1, 0);
        index.insertReplayed(1, 1, 9, 1);
        assertTrue(index.contains(1, 1, 9));
        index.insertReplayed(2, 2, 2, 2);
        index.evict(2);
        assertTrue(index.contains(1, 1, 9));
        assertTrue(index.contains(2, 2, 2));
    }

    /**
     * A log made by random live traffic (windows and capacity both evicting, ids accepted again after the window),
     * replayed key by key and replayed deferred: the same keys spilled in the same order with the same positions, and
     * the same index at the end, which also answers as the live index did.
     */
    @Test
    void aDeferredReplayEndsAsTheEagerReplayOfTheSameLog()
    {
        final long seed = Long.getLong("tokenmeter.test.seed", 20261205L);
        final Random random = new Random(seed);
        final int capacity = 300;
        final long windowMs = 1_500;
        final DedupIndex live = new DedupIndex(capacity, windowMs, 64);
        final java.util.List<long[]> log = new java.util.ArrayList<>();
        long now = 0;
        for (int doc = 0; doc < 3_000; doc++)
        {
            now += random.nextInt(100) == 0 ? random.nextInt(2_000) : random.nextInt(15);
            for (int e = 0, n = random.nextInt(40); e < n; e++)
            {
                final long key = random.nextInt(2_000);
                final long content = random.nextInt(3);
                if (live.checkAndInsert(key * 0x9E3779B97F4A7C15L, key, content, now) == DedupIndex.NEW)
                {
                    log.add(new long[] {doc, key, content, now});
                }
            }
            live.evict(now);
        }
        final java.util.List<String> eagerSpills = new java.util.ArrayList<>();
        final java.util.List<String> deferredSpills = new java.util.ArrayList<>();
        final DedupIndex eager = replay(log, capacity, windowMs, false, eagerSpills);
        final DedupIndex deferred = replay(log, capacity, windowMs, true, deferredSpills);
        assertTrue(eagerSpills.size() > 1_000, "capacity spilled many keys, seed " + seed);
        assertEquals(eagerSpills, deferredSpills, "the same keys spilled in the same order, seed " + seed);
        assertEquals(eager.head(), deferred.head(), "seed " + seed);
        assertEquals(eager.tail(), deferred.tail(), "seed " + seed);
        assertEquals(live.size(), deferred.size(), "seed " + seed);
        assertEquals(eager.evictedByWindow(), deferred.evictedByWindow(), "seed " + seed);
        assertEquals(eager.evictedByCapacity(), deferred.evictedByCapacity(), "seed " + seed);
        for (long key = 0; key < 2_000; key++)
        {
            for (long content = 0; content < 3; content++)
            {
                final boolean expected = live.contains(key * 0x9E3779B97F4A7C15L, key, content);
                assertEquals(expected, eager.contains(key * 0x9E3779B97F4A7C15L, key, content), "seed " + seed);
                assertEquals(expected, deferred.contains(key * 0x9E3779B97F4A7C15L, key, content), "key " + key
                    + ", seed " + seed);
            }
        }
        for (int probe = 0; probe < 2_000; probe++)
        {
            final long key = random.nextInt(4_000);
            final long content = random.nextInt(3);
            assertEquals(eager.checkAndInsert(key * 0x9E3779B97F4A7C15L, key, content, now),
                deferred.checkAndInsert(key * 0x9E3779B97F4A7C15L, key, content, now), "seed " + seed);
            if (probe % 32 == 31)
            {
                eager.evict(now);
                deferred.evict(now);
            }
        }
    }

    private static DedupIndex replay(final java.util.List<long[]> log, final int capacity, final long windowMs,
        final boolean deferred, final java.util.List<String> spills)
    {
        final DedupIndex index = new DedupIndex(capacity, windowMs, 64);
        final DedupIndex.Spill spill = (hi, lo, content, at, seq) -> spills.add(lo + "/" + content + "@" + at + "#" + seq);
        if (deferred)
        {
            index.beginDeferredReplay();
        }
        for (int i = 0; i < log.size(); i++)
        {
            final long[] event = log.get(i);
            index.insertReplayed(event[1] * 0x9E3779B97F4A7C15L, event[1], event[2], event[3]);
            if (i + 1 == log.size() || log.get(i + 1)[0] != event[0])
            {
                index.evict(event[3], spill);
            }
        }
        if (deferred)
        {
            org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> index.contains(1, 1, 1),
                "nothing is asked of a deferred replay");
            index.endDeferredReplay();
        }
        return index;
    }

    @Test
    void aDeferredReplayStartsOnAnEmptyIndexOnly()
    {
        final DedupIndex index = new DedupIndex(10, 1_000, 4);
        index.checkAndInsert(1, 1, 1, 0);
        org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, index::beginDeferredReplay);
    }

    @Test
    void agreesWithASimpleModelOnRandomTraffic()
    {
        final long seed = Long.getLong("tokenmeter.test.seed", 20261206L);
        final Random random = new Random(seed);
        final int capacity = 500;
        final long windowMs = 2_000;
        final DedupIndex index = new DedupIndex(capacity, windowMs, 64);
        final Map<Long, long[]> model = new HashMap<>();
        final ArrayDeque<long[]> order = new ArrayDeque<>();
        long now = 0;
        long evictedByWindow = 0;
        long evictedByCapacity = 0;
        for (int doc = 0; doc < 5_000; doc++)
        {
            // now and then a pause, so that some evictions are by the window, some whole, some partial
            now += random.nextInt(100) == 0 ? random.nextInt(2_500) : random.nextInt(20);
            for (int e = 0, n = random.nextInt(40); e < n; e++)
            {
                final long key = random.nextInt(3_000);
                final long content = random.nextInt(3);
                final long[] present = model.get(key);
                final int expected = present == null ? DedupIndex.NEW : present[1] == content ? DedupIndex.DUPLICATE : DedupIndex.CONFLICT;
                assertEquals(expected, index.checkAndInsert(key * 0x9E3779B97F4A7C15L, key, content, now), "seed " + seed);
                if (present == null)
                {
                    final long[] entry = {key, content, now};
                    model.put(key, entry);
                    order.add(entry);
                }
            }
            index.evict(now);
            while (!order.isEmpty() && order.peek()[2] < now - windowMs)
            {
                model.remove(order.poll()[0]);
                evictedByWindow++;
            }
            while (order.size() > capacity)
            {
                model.remove(order.poll()[0]);
                evictedByCapacity++;
            }
            assertEquals(model.size(), index.size(), "seed " + seed);
            assertEquals(evictedByWindow, index.evictedByWindow(), "seed " + seed);
            assertEquals(evictedByCapacity, index.evictedByCapacity(), "seed " + seed);
        }
        assertTrue(evictedByWindow > 0 && evictedByCapacity > 0, "both kinds of eviction exercised, seed " + seed);
    }

    @Test
    void keysSharingTheFingerprintStayApartThroughInsertsAndEvictions()
    {
        // every key has the same idHashHi, so the same 32-bit fingerprint and home: only the ring tells them apart,
        // and each deletion shifts a chain whose homes all come from the table
        final DedupIndex index = new DedupIndex(50, 1_000_000, 16);
        final long hi = 0x1234_5678_9ABC_DEF0L;
        for (long lo = 0; lo < 200; lo++)
        {
            assertEquals(DedupIndex.NEW, index.checkAndInsert(hi, lo, lo * 7, 1));
            assertEquals(DedupIndex.DUPLICATE, index.checkAndInsert(hi, lo, lo * 7, 1));
            assertEquals(DedupIndex.CONFLICT, index.checkAndInsert(hi, lo, lo * 7 + 1, 1));
            index.evict(1);
        }
        assertEquals(50, index.size());
        for (long lo = 0; lo < 200; lo++)
        {
            assertEquals(lo >= 150, index.contains(hi, lo, lo * 7), "key " + lo);
        }
        // a different hi with the same bucket (its high half) and fingerprint (its low half, made odd) is another key
        final long sameBucketAndFingerprint = hi ^ 1;
        assertEquals(DedupIndex.NEW, index.checkAndInsert(sameBucketAndFingerprint, 199, 199 * 7, 2));
        assertTrue(index.contains(hi, 199, 199 * 7));
        assertTrue(index.contains(sameBucketAndFingerprint, 199, 199 * 7));
    }

    /**
     * The bucket table against a plain map, with keys crowded into three buckets so that most of them overflow into
     * later buckets, and every operation the journal uses: inserts, requests rolled back, replays of keys already held,
     * evictions by window and by capacity with their spills. A probe that stopped before a live key's bucket, or an
     * entry written over while its key was live, shows as a NEW where the model says DUPLICATE or CONFLICT.
     */
    @Test
    void agreesWithAModelWhenKeysCrowdFewBuckets()
    {
        final long seed = Long.getLong("tokenmeter.test.seed", 20261207L);
        final Random random = new Random(seed);
        final int capacity = 200;
        final long windowMs = 3_000;
        final DedupIndex index = new DedupIndex(capacity, windowMs, 64);
        final Map<Long, long[]> model = new HashMap<>();
        final java.util.ArrayDeque<long[]> order = new java.util.ArrayDeque<>();
        final java.util.List<Long> spilled = new java.util.ArrayList<>();
        final java.util.List<Long> expectedSpills = new java.util.ArrayList<>();
        final DedupIndex.Spill spill = (hi, lo, content, at, seq) -> spilled.add(lo);
        long now = 0;
        int rollbacks = 0;
        for (int doc = 0; doc < 20_000; doc++)
        {
            now += random.nextInt(200) == 0 ? random.nextInt(4_000) : random.nextInt(10);
            final long mark = index.tail();
            final java.util.List<long[]> added = new java.util.ArrayList<>();
            for (int e = 0, n = random.nextInt(30); e < n; e++)
            {
                final long key = random.nextInt(1_500);
                final long content = random.nextInt(2);
                final long[] present = model.get(key);
                final int expected = present == null ? DedupIndex.NEW : present[1] == content ? DedupIndex.DUPLICATE : DedupIndex.CONFLICT;
                assertEquals(expected, index.checkAndInsert(crowded(key), key, content, now), "key " + key + ", seed " + seed);
                if (present == null)
                {
                    final long[] entry = {key, content, now};
                    model.put(key, entry);
                    order.add(entry);
                    added.add(entry);
                }
            }
            if (random.nextInt(8) == 0)
            {
                // a request refused after its checks: its keys are free again
                index.rollbackTo(mark);
                for (final long[] entry : added)
                {
                    model.remove(entry[0]);
                    order.removeLast();
                }
                rollbacks++;
            }
            index.evict(now, spill);
            while (!order.isEmpty() && order.peek()[2] < now - windowMs)
            {
                model.remove(order.poll()[0]);
            }
            while (order.size() > capacity)
            {
                final long[] evicted = order.poll();
                model.remove(evicted[0]);
                expectedSpills.add(evicted[0]);
            }
            assertEquals(model.size(), index.size(), "seed " + seed);
            if (doc % 1_000 == 999)
            {
                for (long key = 0; key < 1_500; key++)
                {
                    final long[] present = model.get(key);
                    for (long content = 0; content < 2; content++)
                    {
                        assertEquals(present != null && present[1] == content, index.contains(crowded(key), key, content),
                            "key " + key + ", seed " + seed);
                    }
                }
            }
        }
        assertEquals(expectedSpills, spilled, "capacity spilled the oldest keys, in order, seed " + seed);
        assertTrue(rollbacks > 1_000 && expectedSpills.size() > 10_000 && index.evictedByWindow() > 0,
            "every kind of change exercised, seed " + seed);

        // replays of keys already held move their entries; the old positions die and are not spilled
        final DedupIndex replayed = new DedupIndex(300, windowMs, 64);
        final java.util.List<Long> replaySpills = new java.util.ArrayList<>();
        final DedupIndex.Spill replaySpill = (hi, lo, content, at, seq) -> replaySpills.add(lo);
        for (long key = 0; key < 150; key++)
        {
            replayed.insertReplayed(crowded(key), key, 0, 1);
        }
        for (long key = 0; key < 150; key += 2)
        {
            replayed.insertReplayed(crowded(key), key, 1, 2); // positions 150 to 224
        }
        replayed.evict(2, replaySpill);
        assertEquals(225, replayed.size(), "positions, the dead ones included");
        for (long key = 0; key < 150; key++)
        {
            assertTrue(replayed.contains(crowded(key), key, 1 - key % 2), "the newest content, key " + key);
            assertFalse(replayed.contains(crowded(key), key, key % 2), "key " + key);
        }
        // 225 more keys, in buckets 64 to 127 of the 128 (far from the crowded ones, whose marks they leave alone),
        // take the head to position 150: every first position is gone and only the even keys' second ones (150 to 224)
        // are left of the crowded keys, most of them past their own bucket
        for (long key = 1_000; key < 1_225; key++)
        {
            replayed.insertReplayed(((64 + key % 64) << 32) | (key << 1), key, 0, 3);
            replayed.evict(3, replaySpill);
        }
        assertEquals(150, replayed.head());
        final java.util.List<Long> odd = new java.util.ArrayList<>();
        for (long key = 1; key < 150; key += 2)
        {
            odd.add(key); // positions 0 to 149 went: the odd keys' only ones; the even keys' first ones were dead
        }
        assertEquals(odd, replaySpills);
        for (long key = 0; key < 150; key++)
        {
            assertEquals(key % 2 == 0, replayed.contains(crowded(key), key, 1), "key " + key);
            assertEquals(key % 2 == 0 ? DedupIndex.DUPLICATE : DedupIndex.NEW, replayed.checkAndInsert(crowded(key), key, 1, 3),
                "an even key is found at its second position, key " + key);
        }
    }

    /** An id hash whose high half (the bucket) is one of three values, and whose low half differs per key. */
    private static long crowded(final long key)
    {
        return ((key % 3) << 32) | (key * 0x9E3779B9L & 0xFFFF_FFFEL);
    }
}
