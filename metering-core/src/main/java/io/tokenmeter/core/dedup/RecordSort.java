package io.tokenmeter.core.dedup;

/**
 * Sorts a batch of spilled records by (idHashHi, idLo32) as unsigned numbers: a least-significant-digit radix sort
 * of six 16-bit digits, linear in the batch whatever the ids (no input makes it slow). Owned by the background
 * thread; the scratch arrays are allocated once, for the largest batch.
 */
final class RecordSort
{
    private static final int DIGIT_BITS = 16;
    private static final int RADIX = 1 << DIGIT_BITS;

    private final long[] hiA;
    private final long[] loFoldA;
    private final long[] hiB;
    private final long[] loFoldB;
    private final int[] counts = new int[RADIX];
    private long[] sortedHi;
    private long[] sortedLoFold;

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
        System.arraycopy(hi, 0, hiA, 0, n);
        System.arraycopy(loFold, 0, loFoldA, 0, n);
        long[] fromHi = hiA;
        long[] fromLo = loFoldA;
        long[] toHi = hiB;
        long[] toLo = loFoldB;
        // digits from least significant: the two of idLo32 (bits 32..63 of loFold), then the four of idHashHi
        for (int pass = 0; pass < 6; pass++)
        {
            final boolean ofLo = pass < 2;
            final int shift = ofLo ? 32 + pass * DIGIT_BITS : (pass - 2) * DIGIT_BITS;
            java.util.Arrays.fill(counts, 0);
            for (int i = 0; i < n; i++)
            {
                counts[digit(ofLo ? fromLo[i] : fromHi[i], shift)]++;
            }
            if (counts[digit(ofLo ? fromLo[0] : fromHi[0], shift)] == n)
            {
                continue;
            }
            int sum = 0;
            for (int d = 0; d < RADIX; d++)
            {
                final int c = counts[d];
                counts[d] = sum;
                sum += c;
            }
            for (int i = 0; i < n; i++)
            {
                final long h = fromHi[i];
                final long l = fromLo[i];
                final int at = counts[digit(ofLo ? l : h, shift)]++;
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
        sortedHi = fromHi;
        sortedLoFold = fromLo;
    }

    long hi(final int i)
    {
        return sortedHi[i];
    }

    long loFold(final int i)
    {
        return sortedLoFold[i];
    }

    long memoryBytes()
    {
        return (long)hiA.length * 4 * Long.BYTES + (long)counts.length * Integer.BYTES;
    }

    private static int digit(final long value, final int shift)
    {
        return (int)(value >>> shift) & (RADIX - 1);
    }
}
