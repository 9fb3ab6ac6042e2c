package io.tokenmeter.core.dedup;

/**
 * Which neighbouring segments to merge next: size-tiered and time-adjacent. Pure functions over the segment list,
 * oldest first.
 *
 * <p>Segments of one level that are neighbours in the list form a run. Within a run, from the oldest, a group is
 * the longest series of up to {@value #FAN_IN} neighbours whose merged time span (newest id of the last minus oldest
 * id of the first) is at most {@code maxSpanMs} and whose ids fit in {@link SegmentFile#MAX_IDS}. A group of
 * {@value #FAN_IN} merges; so does a group of 2 or 3 that its next neighbour could not join (it can never grow);
 * a group of one that its neighbour cannot join is final and stays at its level; a group at the run's end waits for
 * more segments. So every segment covers a contiguous range of batches and of time, expiry stays whole-segment, and
 * the oldest segment leaves at most {@code maxSpanMs} after its newest id crossed the window.
 */
final class MergePolicy
{
    static final int FAN_IN = 4;

    private MergePolicy()
    {
    }

    /** @return {@code from << 32 | to} of the segments {@code [from, to)} to merge, or -1 for none. */
    static long pick(final Segment[] segments, final long maxSpanMs)
    {
        final int n = segments.length;
        int runStart = 0;
        while (runStart < n)
        {
            final int level = segments[runStart].level;
            int runEnd = runStart + 1;
            while (runEnd < n && segments[runEnd].level == level)
            {
                runEnd++;
            }
            int first = runStart;
            while (first < runEnd)
            {
                int end = first + 1;
                long ids = segments[first].ids;
                while (end < runEnd && end - first < FAN_IN
                    && segments[end].newestAcceptedAtMs - segments[first].oldestAcceptedAtMs <= maxSpanMs
                    && ids + segments[end].ids <= SegmentFile.MAX_IDS)
                {
                    ids += segments[end].ids;
                    end++;
                }
                final int group = end - first;
                if (group == FAN_IN || (group >= 2 && end < runEnd))
                {
                    return ((long)first << 32) | end;
                }
                if (group == 1 && end < runEnd)
                {
                    first++;
                    continue;
                }
                break;
            }
            runStart = runEnd;
        }
        return -1;
    }
}
