package io.tokenmeter.core.dedup;

import org.junit.jupiter.api.Test;

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
}
