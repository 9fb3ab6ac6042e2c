package io.tokenmeter.core.dedup;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RecentFiltersTest
{
    /**
     * Batches of 10 ids, filters of 25 (so rotations fall inside batches): after every id, each id of every batch at or
     * after coveredFrom() is a maybe, and coveredFrom() never covers a batch whose first ids went to a cleared filter.
     */
    @Test
    void everyIdOfACoveredBatchIsAMaybeAcrossRotations()
    {
        final int batchSize = 10;
        final int batches = 40;
        final RecentFilters filters = new RecentFilters(25);
        assertEquals(Long.MAX_VALUE, filters.coveredFrom(), "nothing spilled, nothing covered");
        final long[][] hi = new long[batches][batchSize];
        final int[][] lo = new int[batches][batchSize];
        final SplittableRandom random = new SplittableRandom(3);
        for (int b = 0; b < batches; b++)
        {
            for (int i = 0; i < batchSize; i++)
            {
                hi[b][i] = random.nextLong();
                lo[b][i] = random.nextInt();
                filters.add(hi[b][i], lo[b][i], b + 1, i);
                final long from = filters.coveredFrom();
                assertTrue(from <= b + 1 + 1, "the batch being filled or the next is covered");
                // 25 ids a filter, two filters: at least the newest 25 ids and at most 50 are covered
                assertTrue(from >= b + 1 - 5, "batch " + (b + 1) + ": covered from " + from + ", too far back");
                for (long c = Math.max(1, from); c <= b + 1; c++)
                {
                    final int upTo = c == b + 1 ? i + 1 : batchSize;
                    for (int j = 0; j < upTo; j++)
                    {
                        assertTrue(filters.mightContain(hi[(int)c - 1][j], lo[(int)c - 1][j]),
                            "batch " + c + " id " + j + " after adding batch " + (b + 1) + " id " + i);
                    }
                }
            }
        }
    }

    @Test
    void saysNoToMostIdsItNeverTookAndIsSizedByTheSpillBatch()
    {
        final RecentFilters filters = new RecentFilters(100_000);
        final SplittableRandom random = new SplittableRandom(9);
        for (int i = 0; i < 100_000; i++)
        {
            filters.add(random.nextLong(), random.nextInt(), 1 + i / 1000, i % 1000);
        }
        int maybes = 0;
        final SplittableRandom others = new SplittableRandom(10);
        for (int i = 0; i < 1_000_000; i++)
        {
            maybes += filters.mightContain(others.nextLong(), others.nextInt()) ? 1 : 0;
        }
        assertTrue(maybes < 2_000, maybes + " false positives in a million at 16 bits an id (0.09 % expected)");
        assertEquals(1, filters.coveredFrom(), "no rotation yet: covered from the first batch");
        assertEquals(64 * 1000, RecentFilters.capacityFor(1000));
        assertEquals(1 << 22, RecentFilters.capacityFor(1 << 16));
        assertEquals(1 << 22, RecentFilters.capacityFor(1 << 20), "at most 2^22 ids a filter");
    }

    /**
     * Filters of many blocks (313 pairs): a rotation keeps the ids of the filter that was newer (they move to the
     * older half) and the next one clears them, half by half, never the half that holds the newest ids.
     */
    @Test
    void eachRotationClearsTheOlderHalfOfEveryPair()
    {
        final int capacity = 10_000;
        final RecentFilters filters = new RecentFilters(capacity);
        final long[][] hi = new long[3][capacity];
        final int[][] lo = new int[3][capacity];
        final SplittableRandom random = new SplittableRandom(21);
        for (int g = 0; g < 3; g++)
        {
            for (int i = 0; i < capacity; i++)
            {
                hi[g][i] = random.nextLong();
                lo[g][i] = random.nextInt();
                // batches of 1,000 ids: generation g is batches 10g + 1 to 10g + 10
                filters.add(hi[g][i], lo[g][i], 10L * g + 1 + i / 1000, i % 1000);
            }
            for (int i = 0; i < capacity; i++)
            {
                assertTrue(filters.mightContain(hi[g][i], lo[g][i]), "generation " + g + " id " + i);
                if (g >= 1)
                {
                    assertTrue(filters.mightContain(hi[g - 1][i], lo[g - 1][i]),
                        "generation " + (g - 1) + " id " + i + " kept by the rotation to generation " + g);
                }
            }
        }
        assertEquals(11, filters.coveredFrom(), "the two newest generations are covered");
        int stillMaybe = 0;
        for (int i = 0; i < capacity; i++)
        {
            stillMaybe += filters.mightContain(hi[0][i], lo[0][i]) ? 1 : 0;
        }
        assertTrue(stillMaybe < 100, stillMaybe + " of the oldest generation's ids still a maybe after their half was "
            + "cleared (false positives only, about 0.2 % expected)");
    }
}
