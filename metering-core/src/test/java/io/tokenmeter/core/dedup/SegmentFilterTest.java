package io.tokenmeter.core.dedup;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
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

    @Test
    void aYoungSegmentIsSealedWithSixteenBitsAnIdAndALargeOneWithTheSetting(@TempDir final Path dir) throws IOException
    {
        assertEquals(16, SegmentWriter.bitsPerIdFor(SegmentWriter.YOUNG_MAX_IDS, 12));
        assertEquals(12, SegmentWriter.bitsPerIdFor(SegmentWriter.YOUNG_MAX_IDS + 1, 12));
        assertEquals(20, SegmentWriter.bitsPerIdFor(1000, 20), "a setting above 16 is kept");
        final SegmentWriter writer = new SegmentWriter(12, () -> false);
        final Path path = dir.resolve(SegmentFile.fileName(0, 1, 1));
        writer.begin(dir.resolve(path.getFileName() + SegmentFile.TMP_SUFFIX), 50_000);
        for (int i = 0; i < 50_000; i++)
        {
            writer.add((long)i << 40, i, 7);
        }
        final Segment sealed = writer.seal(path, 0, 1, 1, 0, 0);
        assertEquals(SegmentFilter.blocksFor(50_000, 16), sealed.filterBlocks);
        assertEquals(sealed.filterBlocks, SegmentFile.load(path).filterBlocks,
            "the filter read back on open is the one written");
    }
}
