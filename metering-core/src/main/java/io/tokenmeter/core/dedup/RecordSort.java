package io.tokenmeter.core.dedup;

import java.util.Arrays;

/**
 * Sorts a batch of spilled records by (idHashHi, idLo32) as unsigned numbers, stably: records of one id stay in the
 * order they were added, so the last of them is the newest ({@link SpillBuffer} keeps every copy). Owned by the
 * background thread; the scratch arrays are allocated once, for the largest batch.
 *
 * <p>Ids are hashes, so one pass by the top bits of {@code idHashHi} (about as many buckets as records) leaves
 * buckets of one or two records, which an insertion sort finishes where they lie: one scatter instead of the six of
 * a full least-significant-digit radix sort (each a random write per record; the sort was a sixth of the background
 * thread's samples at full rate). A bucket larger than {@value #INSERTION_MAX} records, which only ids chosen to
 * collide in those bits make, is finished by a least-significant-digit radix sort of its own range (twelve 8-bit
 * digits, so at most 256 counters a bucket of more than 32 records), so that the whole stays linear in the batch
 * whatever the ids: no input makes it slow.
 */
final class RecordSort
{
    private static final int TOP_BITS_MAX = 16;
    private static final int INSERTION_MAX = 32;
    private static final int DIGIT_BITS = 8;
    private static final int RADIX = 1 << DIGIT_BITS;

    private final long[] hiA;
    private final long[] loFoldA;
    private final long[] hiB;
    private final long[] loFoldB;
    private final int[] counts = new int[(1 << TOP_BITS_MAX) + 1];
    private final int[] digitCounts = new int[RADIX];

    RecordSort(final int capacity)
    {
        hiA = new long[capacity];
        loFoldA = new long[capacity];
        hiB = new long[capacity];
        loFoldB = new long[capacity];
    }

    /** Sorts a copy of the first {@code n} records; read them back with {@link #hi} and {@link #loFold}. */
    void sort(final long[] hi, final long[] loFold, final int n)
    {
        if (n == 0)
        {
            return;
        }
        // top bits: about one bucket per record, between 2^4 and 2^16 buckets
        final int bits = Math.max(4, Math.min(TOP_BITS_MAX, 32 - Integer.numberOfLeadingZeros(n)));
        final int shift = 64 - bits;
        final int buckets = 1 << bits;
        Arrays.fill(counts, 0, buckets + 1, 0);
        for (int i = 0; i < n; i++)
        {
            counts[(int)(hi[i] >>> shift) + 1]++;
        }
        for (int d = 0; d < buckets; d++)
        {
            counts[d + 1] += counts[d];
        }
        // counts[d] is now bucket d's start; scatter moves it to bucket d's end, which is bucket d + 1's start
        for (int i = 0; i < n; i++)
        {
            final long h = hi[i];
            final int at = counts[(int)(h >>> shift)]++;
            hiB[at] = h;
            loFoldB[at] = loFold[i];
        }
        int start = 0;
        for (int d = 0; d < buckets; d++)
        {
            final int end = counts[d];
            if (end - start > INSERTION_MAX)
            {
                radix(start, end);
            }
            else if (end - start > 1)
            {
                insertion(start, end);
            }
            start = end;
        }
    }

    long hi(final int i)
    {
        return hiB[i];
    }

    long loFold(final int i)
    {
        return loFoldB[i];
    }

    long memoryBytes()
    {
        return (long)hiA.length * 4 * Long.BYTES + (long)counts.length * Integer.BYTES;
    }

    /** Sorts {@code hiB/loFoldB[start, end)} in place. */
    private void insertion(final int start, final int end)
    {
        for (int i = start + 1; i < end; i++)
        {
            final long h = hiB[i];
            final long l = loFoldB[i];
            int j = i - 1;
            while (j >= start && less(h, l, hiB[j], loFoldB[j]))
            {
                hiB[j + 1] = hiB[j];
                loFoldB[j + 1] = loFoldB[j];
                j--;
            }
            hiB[j + 1] = h;
            loFoldB[j + 1] = l;
        }
    }

    /**
     * Sorts {@code hiB/loFoldB[start, end)} by a least-significant-digit radix sort of twelve 8-bit digits (the four
     * of idLo32, bits 32..63 of loFold, then the eight of idHashHi), with the same range of the A arrays as scratch;
     * a digit all records share (the top bits of this bucket) costs one counting pass and no scatter.
     */
    private void radix(final int start, final int end)
    {
        final int[] bucketCounts = digitCounts;
        long[] fromHi = hiB;
        long[] fromLo = loFoldB;
        long[] toHi = hiA;
        long[] toLo = loFoldA;
        for (int pass = 0; pass < 12; pass++)
        {
            final boolean ofLo = pass < 4;
            final int shift = ofLo ? 32 + pass * DIGIT_BITS : (pass - 4) * DIGIT_BITS;
            Arrays.fill(bucketCounts, 0);
            for (int i = start; i < end; i++)
            {
                bucketCounts[digit(ofLo ? fromLo[i] : fromHi[i], shift)]++;
            }
            if (bucketCounts[digit(ofLo ? fromLo[start] : fromHi[start], shift)] == end - start)
            {
                continue;
            }
            int sum = start;
            for (int d = 0; d < RADIX; d++)
            {
                final int c = bucketCounts[d];
                bucketCounts[d] = sum;
                sum += c;
            }
            for (int i = start; i < end; i++)
            {
                final long h = fromHi[i];
                final long l = fromLo[i];
                final int at = bucketCounts[digit(ofLo ? l : h, shift)]++;
                toHi[at] = h;
                toLo[at] = l;
            }
            final long[] swapHi = fromHi;
            final long[] swapLo = fromLo;
            fromHi = toHi;
            fromLo = toLo;
            toHi = swapHi;
            toLo = swapLo;
        }
        if (fromHi != hiB)
        {
            System.arraycopy(fromHi, start, hiB, start, end - start);
            System.arraycopy(fromLo, start, loFoldB, start, end - start);
        }
    }

    /** By the id alone (the fold is not a key), strictly: so insertion keeps equal ids in their order. */
    private static boolean less(final long hiA, final long loFoldA, final long hiB, final long loFoldB)
    {
        return hiA != hiB
            ? Long.compareUnsigned(hiA, hiB) < 0
            : Integer.compareUnsigned((int)(loFoldA >>> 32), (int)(loFoldB >>> 32)) < 0;
    }

    private static int digit(final long value, final int shift)
    {
        return (int)(value >>> shift) & (RADIX - 1);
    }
}
