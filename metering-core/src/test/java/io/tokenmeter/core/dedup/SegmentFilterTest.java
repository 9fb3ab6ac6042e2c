package io.tokenmeter.core.dedup;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

class SegmentFilterTest
{
    @Test
    void everyAddedIdIsFoundAndFalsePositivesStayNearTheComputedRate()
    {
        final int ids = 200_000;
        for (final int bits : new int[]{10, 12, 16})
        {
            final int blocks = SegmentFilter.blocksFor(ids, bits);
            final long[] filter = SegmentFilter.allocate(blocks);
            final SplittableRandom random = new SplittableRandom(bits);
            for (int i = 0; i < ids; i++)
            {
                SegmentFilter.add(filter, blocks, random.nextLong(), random.nextInt());
            }
            final SplittableRandom again = new SplittableRandom(bits);
            for (int i = 0; i < ids; i++)
            {
                assertTrue(SegmentFilter.mightContain(filter, blocks, again.nextLong(), again.nextInt()));
            }
            final SplittableRandom others = new SplittableRandom(1000 + bits);
            final int probes = 2_000_000;
            int positives = 0;
            for (int i = 0; i < probes; i++)
            {
                positives += SegmentFilter.mightContain(filter, blocks, others.nextLong(), others.nextInt()) ? 1 : 0;
            }
            final double rate = positives / (double)probes;
            final double f = 1 - Math.exp(-8.0 / bits);
            final double computed = Math.pow(f, 8);
            System.out.printf("filter at %d bits per id: false positives %.4f %% (f^8 = %.4f %%)%n", bits, 100 * rate,
                100 * computed);
            assertTrue(rate < computed * 1.6, bits + " bits: rate " + rate + " against " + computed);
        }
    }
}
