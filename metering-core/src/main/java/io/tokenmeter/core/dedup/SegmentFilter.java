package io.tokenmeter.core.dedup;

/**
 * The blocked Bloom filter of one disk segment: static functions over a {@code long[]}, so a lookup touches one
 * 64-byte block and allocates nothing. Written by the thread that builds the segment, read by the journal thread
 * after the segment is published (the volatile publication orders the writes before the reads).
 *
 * <pre>
 *   long[]:  [pad: 6 longs][block 0: 8 longs = 64 B][block 1] ... [block blocks-1]
 *   block  = (idHashHi >>> 32) * blocks >>> 32                      (multiply-shift range reduction)
 *   bits   = 48 bits: idLo32 (32) then the low 16 bits of idHashHi; 6 bits per word, one bit in each of the 8 words
 * </pre>
 *
 * Only the 96 bits a record keeps ({@code idHashHi} and the high half of {@code idHashLo}) feed the filter, so a
 * merge can rebuild it from records alone. The block index uses bits of the id that the bit positions do not, so the
 * two are independent for hashed ids.
 *
 * <p>Why the pad: a filter large enough to matter is a humongous array in G1, which starts on a region boundary,
 * and the array's 16-byte header plus 6 longs puts every block on one cache line. For smaller arrays the pad costs
 * 48 bytes and changes nothing.
 *
 * <p>False-positive rate with one bit per 64-bit word (k = 8): at {@code b} bits per id a block holds {@code 512 / b}
 * ids, so a word has a bit set with chance {@code f = 1 - e^(-8 / b)} and a false positive has chance about
 * {@code f^8}: 0.85 % at 10 bits, 0.31 % at 12, 0.06 % at 16. The spread of ids over blocks adds to it; measured
 * ({@code SegmentFilterTest}, 200,000 ids, 2 million probes): 1.05 %, 0.43 % and 0.09 %.
 */
final class SegmentFilter
{
    /** Longs before block 0: see the class comment. */
    static final int PAD = 6;
    static final int LONGS_PER_BLOCK = 8;
    static final int BLOCK_BYTES = LONGS_PER_BLOCK * Long.BYTES;

    private SegmentFilter()
    {
    }

    /** @return the number of 64-byte blocks for {@code ids} at {@code bitsPerId}, at least 1. */
    static int blocksFor(final long ids, final int bitsPerId)
    {
        final long blocks = (Math.max(1, ids) * bitsPerId + 511) / 512;
        if (blocks > Integer.MAX_VALUE / LONGS_PER_BLOCK - PAD)
        {
            throw new IllegalArgumentException("filter too large for " + ids + " ids");
        }
        return (int)blocks;
    }

    static long[] allocate(final int blocks)
    {
        return new long[PAD + blocks * LONGS_PER_BLOCK];
    }

    static int blocks(final long[] filter)
    {
        return (filter.length - PAD) / LONGS_PER_BLOCK;
    }

    static void add(final long[] filter, final int blocks, final long idHashHi, final int idLo32)
    {
        addToBlock(filter, base(blocks, idHashHi), bits(idHashHi, idLo32));
    }

    /** @return false when the id is certainly not in the segment. */
    static boolean mightContain(final long[] filter, final int blocks, final long idHashHi, final int idLo32)
    {
        return blockMightContain(filter, base(blocks, idHashHi), bits(idHashHi, idLo32));
    }

    /** Sets the id's {@link #bits} in the block at {@code base}: one bit in each of its eight words. */
    static void addToBlock(final long[] filter, final int base, final long idBits)
    {
        long bits = idBits;
        for (int i = 0; i < LONGS_PER_BLOCK; i++)
        {
            filter[base + i] |= 1L << bits;
            bits >>>= 6;
        }
    }

    /** @return whether the block at {@code base} has all of the id's {@link #bits}. Branch-free across its words. */
    static boolean blockMightContain(final long[] filter, final int base, final long bits)
    {
        long m = filter[base] >>> bits;
        m &= filter[base + 1] >>> (bits >>> 6);
        m &= filter[base + 2] >>> (bits >>> 12);
        m &= filter[base + 3] >>> (bits >>> 18);
        m &= filter[base + 4] >>> (bits >>> 24);
        m &= filter[base + 5] >>> (bits >>> 30);
        m &= filter[base + 6] >>> (bits >>> 36);
        m &= filter[base + 7] >>> (bits >>> 42);
        return (m & 1) != 0;
    }

    private static int base(final int blocks, final long idHashHi)
    {
        return PAD + (int)(((idHashHi >>> 32) * blocks) >>> 32) * LONGS_PER_BLOCK;
    }

    /** 48 bits, consumed 6 at a time (a shift by a long uses only its low 6 bits). */
    static long bits(final long idHashHi, final int idLo32)
    {
        return ((idLo32 & 0xFFFF_FFFFL) << 16) | (idHashHi & 0xFFFF);
    }
}
