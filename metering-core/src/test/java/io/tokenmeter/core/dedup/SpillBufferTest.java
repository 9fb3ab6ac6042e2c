package io.tokenmeter.core.dedup;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SpillBufferTest
{
    @Test
    void findsEveryIdAddedWithItsNewestFoldUntilCleared()
    {
        final int capacity = 1 << 12;
        final SpillBuffer buffer = new SpillBuffer(capacity);
        buffer.clear(7);
        final long[] hi = new long[capacity];
        final int[] lo = new int[capacity];
        final SplittableRandom random = new SplittableRandom(11);
        for (int i = 0; i < capacity; i++)
        {
            // a quarter of the ids share their top bits, so that some buckets hold long chains
            hi[i] = i % 4 == 0 ? random.nextLong() >>> 40 : random.nextLong();
            lo[i] = random.nextInt();
            if (i > 0 && i % 10 == 0)
            {
                // the same id again, with another fold: the newer one answers
                hi[i] = hi[i - 7];
                lo[i] = lo[i - 7];
            }
            assertTrue(buffer.add(hi[i], (long)lo[i] << 32 | 0x55, i, 1000 + i, 500 + i));
        }
        assertFalse(buffer.add(1, 1, 1, 1, 1), "full");
        assertEquals(capacity, buffer.size());
        assertEquals(500, buffer.firstSeq());
        assertEquals(1000, buffer.oldestAcceptedAtMs());
        assertEquals(1000 + capacity - 1, buffer.newestAcceptedAtMs());
        for (int i = 0; i < capacity; i++)
        {
            int newest = i;
            for (int j = i + 1; j < capacity; j++)
            {
                if (hi[j] == hi[i] && lo[j] == lo[i])
                {
                    newest = j;
                }
            }
            assertEquals(newest, buffer.find(hi[i], lo[i]), "id " + i);
        }
        assertEquals(SpillBuffer.ABSENT, buffer.find(hi[3], lo[3] + 1), "another low word is another id");
        assertEquals(SpillBuffer.ABSENT, buffer.find(hi[3] + 1, lo[3]));
        buffer.clear(8);
        assertEquals(0, buffer.size());
        assertEquals(8, buffer.batch());
        assertEquals(Long.MAX_VALUE, buffer.firstSeq());
        assertEquals(SpillBuffer.ABSENT, buffer.find(hi[3], lo[3]), "cleared");
        assertTrue(buffer.add(hi[3], (long)lo[3] << 32, 9, 1, 1));
        assertEquals(9, buffer.find(hi[3], lo[3]));
    }

    @Test
    void aBufferOfOneIdHasOneBucket()
    {
        final SpillBuffer buffer = new SpillBuffer(1);
        buffer.clear(1);
        assertTrue(buffer.add(-1L, -1L, 3, 1, 1));
        assertFalse(buffer.add(2, 2, 3, 1, 1));
        assertEquals(3, buffer.find(-1L, -1));
        assertEquals(SpillBuffer.ABSENT, buffer.find(2, 0));
    }
}
