package io.tokenmeter.core.dedup;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SpillBufferTest
{
    /**
     * Capacities of one bucket (1 to 4 slots), of a few, and not powers of two; ids spread over every bucket, in the
     * first and last ones (top bits all zeros, all ones), a quarter sharing their top bits (long chains), and every
     * tenth a repeat of an earlier id with another fold.
     */
    @ParameterizedTest(name = "capacity {0}")
    @ValueSource(ints = {1, 2, 3, 5, 4_096, 100_000})
    void findsEveryIdAddedWithItsNewestFoldUntilCleared(final int capacity)
    {
        final SpillBuffer buffer = new SpillBuffer(capacity);
        buffer.clear(7);
        final long[] hi = new long[capacity];
        final int[] lo = new int[capacity];
        final Map<List<Long>, Integer> newest = new HashMap<>();
        final SplittableRandom random = new SplittableRandom(11 + capacity);
        for (int i = 0; i < capacity; i++)
        {
            switch (i % 5)
            {
                case 0 -> hi[i] = random.nextLong() >>> 40;
                case 1 -> hi[i] = -1L - random.nextInt(1000);
                default -> hi[i] = random.nextLong();
            }
            lo[i] = random.nextInt();
            if (i % 10 == 9)
            {
                hi[i] = hi[i / 2];
                lo[i] = lo[i / 2];
            }
            assertTrue(buffer.add(hi[i], (long)lo[i] << 32 | 0x55, i, 1000 + i, 500 + i), "id " + i);
            newest.put(List.of(hi[i], (long)lo[i]), i);
        }
        assertFalse(buffer.add(1, 1, 1, 1, 1), "full");
        assertEquals(capacity, buffer.size());
        assertEquals(500, buffer.firstSeq());
        assertEquals(1000, buffer.oldestAcceptedAtMs());
        assertEquals(1000 + capacity - 1, buffer.newestAcceptedAtMs());
        for (int i = 0; i < capacity; i++)
        {
            assertEquals((long)newest.get(List.of(hi[i], (long)lo[i])), buffer.find(hi[i], lo[i]), "id " + i);
        }
        final int last = capacity - 1;
        assertEquals(SpillBuffer.ABSENT, buffer.find(hi[last], lo[last] + 1), "another low word is another id");
        assertEquals(SpillBuffer.ABSENT, buffer.find(hi[last] + 1, lo[last]));
        buffer.clear(8);
        assertEquals(0, buffer.size());
        assertEquals(8, buffer.batch());
        assertEquals(Long.MAX_VALUE, buffer.firstSeq());
        assertEquals(SpillBuffer.ABSENT, buffer.find(hi[last], lo[last]), "cleared");
        assertTrue(buffer.add(hi[last], (long)lo[last] << 32, 9, 1, 1));
        assertEquals(9, buffer.find(hi[last], lo[last]));
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
