package io.tokenmeter.core.dedup;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RecordSortTest
{
    @Test
    void sortsByHighWordThenLow32AsUnsignedWhateverTheInput()
    {
        final int n = 50_000;
        final long[] hi = new long[n];
        final long[] loFold = new long[n];
        final SplittableRandom random = new SplittableRandom(5);
        for (int i = 0; i < n; i++)
        {
            // few distinct high words, so that the low 32 bits decide often; negative numbers sort last as unsigned
            hi[i] = random.nextInt(3) == 0 ? random.nextLong() : random.nextInt(4) - 2;
            loFold[i] = SpillBuffer.pack(random.nextInt(), i);
        }
        final RecordSort sort = new RecordSort(n);
        sort.sort(hi, loFold, n);
        long sumFold = 0;
        for (int i = 0; i < n; i++)
        {
            sumFold += (int)sort.loFold(i);
            if (i > 0)
            {
                assertTrue(SegmentWriter.compare(sort.hi(i - 1), (int)(sort.loFold(i - 1) >>> 32), sort.hi(i),
                    (int)(sort.loFold(i) >>> 32)) <= 0, "at " + i);
            }
        }
        assertEquals((long)n * (n - 1) / 2, sumFold, "every record kept, each with its own fold");
    }

    /**
     * Against a plain stable comparison sort by the id: hashed ids (buckets of one or two), ids colliding in their top
     * bits, and ids repeated with other folds (which keep the order they were added in, so the seal keeps the newest).
     */
    @Test
    void ordersExactlyAsAComparisonSortForHashedAndCollidingIds()
    {
        final SplittableRandom random = new SplittableRandom(17);
        for (final int n : new int[]{1, 2, 3, 17, 100, 4_096, 65_536, 131_072})
        {
            for (final String ids : new String[]{"hashed", "top bits collide", "half collide", "repeated", "equal high words"})
            {
                final long[] hi = new long[n];
                final long[] loFold = new long[n];
                for (int i = 0; i < n; i++)
                {
                    final long h = random.nextLong();
                    hi[i] = ids.equals("hashed") || (ids.equals("half collide") && i % 2 == 0) ? h : h >>> 20;
                    if (ids.equals("equal high words"))
                    {
                        // three high words, so idLo32 decides, with both signs (it sorts unsigned), in buckets small
                        // enough for the insertion sort (n <= 32) and large enough for the radix sort
                        hi[i] = random.nextInt(3) - 1;
                    }
                    loFold[i] = SpillBuffer.pack(random.nextInt(), i);
                    if (ids.equals("repeated") && i > 0 && random.nextInt(3) == 0)
                    {
                        // an id spilled again, its fold lower than before: equal ids must stay in the order added
                        final int earlier = random.nextInt(i);
                        hi[i] = hi[earlier];
                        loFold[i] = SpillBuffer.pack((int)(loFold[earlier] >>> 32), -i);
                    }
                }
                final Integer[] order = new Integer[n];
                for (int i = 0; i < n; i++)
                {
                    order[i] = i;
                }
                // by the id alone; Arrays.sort of objects is stable, as RecordSort must be
                Arrays.sort(order, Comparator.<Integer>comparingLong(i -> hi[i] ^ Long.MIN_VALUE)
                    .thenComparingLong(i -> loFold[i] >>> 32));
                final RecordSort sort = new RecordSort(n);
                sort.sort(hi, loFold, n);
                for (int i = 0; i < n; i++)
                {
                    assertEquals(hi[order[i]], sort.hi(i), ids + ", " + n + " records, at " + i);
                    assertEquals(loFold[order[i]], sort.loFold(i), ids + ", " + n + " records, at " + i);
                }
            }
        }
    }
}
