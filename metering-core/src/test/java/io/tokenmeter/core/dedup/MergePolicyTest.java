package io.tokenmeter.core.dedup;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

class MergePolicyTest
{
    private static final long SPAN = 100;

    @Test
    void fourNeighboursOfOneLevelMerge()
    {
        final Segment[] list = {seg(1, 0, 0, 10), seg(0, 1, 10, 20), seg(0, 2, 20, 30), seg(0, 3, 30, 40),
            seg(0, 4, 40, 50)};
        assertEquals(range(1, 5), MergePolicy.pick(list, SPAN));
    }

    @Test
    void threeOfOneLevelWaitForAFourth()
    {
        final Segment[] list = {seg(0, 0, 0, 10), seg(0, 1, 10, 20), seg(0, 2, 20, 30)};
        assertEquals(-1, MergePolicy.pick(list, SPAN));
    }

    @Test
    void aGroupTheNextNeighbourCannotJoinMergesWithFewerThanFour()
    {
        final Segment[] list = {seg(2, 0, 0, 40), seg(2, 1, 40, 80), seg(2, 2, 80, 120), seg(2, 3, 120, 130)};
        assertEquals(range(0, 2), MergePolicy.pick(list, SPAN), "0 and 1 span 80; adding 2 would span 120");
    }

    @Test
    void aSegmentThatCannotPairWithItsNeighbourIsFinalAndSkipped()
    {
        final Segment[] list = {seg(3, 0, 0, 95), seg(3, 1, 95, 101), seg(3, 2, 101, 110), seg(3, 3, 110, 120),
            seg(3, 4, 120, 130)};
        assertEquals(range(1, 5), MergePolicy.pick(list, SPAN));
    }

    @Test
    void onlyNeighboursInTheListMerge()
    {
        final Segment[] list = {seg(1, 0, 0, 10), seg(1, 1, 10, 20), seg(2, 2, 20, 30), seg(1, 3, 30, 40),
            seg(1, 4, 40, 50)};
        assertEquals(-1, MergePolicy.pick(list, SPAN), "two runs of two level-1 segments, each waiting");
    }

    private static long range(final int from, final int to)
    {
        return ((long)from << 32) | to;
    }

    private static Segment seg(final int level, final long batch, final long oldestMs, final long newestMs)
    {
        return new Segment(Path.of("x"), level, batch, batch, 10, oldestMs, newestMs, 0, SegmentFilter.allocate(1),
            new int[]{0, 10}, 0);
    }
}
