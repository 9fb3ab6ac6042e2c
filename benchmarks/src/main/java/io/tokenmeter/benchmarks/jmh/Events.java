package io.tokenmeter.benchmarks.jmh;

import io.tokenmeter.core.event.EventHasher;
import io.tokenmeter.core.event.LogDocumentWriter;
import io.tokenmeter.core.event.StagedEvent;
import io.tokenmeter.core.event.TokenClass;
import org.agrona.ExpandableArrayBuffer;

import java.nio.charset.StandardCharsets;
import java.util.Random;

/** Builds log documents of random events for the benchmarks: tenants and models drawn from the given ranges. */
final class Events
{
    private Events()
    {
    }

    /** A finished log document and the offsets of its event records. */
    record Document(LogDocumentWriter writer, int length, int[] recordOffsets)
    {
    }

    static Document document(final int events, final int tenants, final int models, final long seed)
    {
        final Random random = new Random(seed);
        final EventHasher hasher = new EventHasher();
        final ExpandableArrayBuffer staging = new ExpandableArrayBuffer(StagedEvent.MAX_LENGTH);
        final StagedEvent staged = new StagedEvent();
        final LogDocumentWriter writer = new LogDocumentWriter(events * 128);
        writer.begin(1_790_000_000_000L);
        final int[] offsets = new int[events];
        final long[] tokens = new long[TokenClass.COUNT];
        for (int i = 0; i < events; i++)
        {
            final byte[] id = ("req-" + seed + "-" + i).getBytes(StandardCharsets.US_ASCII);
            final byte[] names = new byte[2 + id.length];
            names[0] = 't';
            names[1] = 'm';
            System.arraycopy(id, 0, names, 2, id.length);
            hasher.hashId(id, 0, id.length);
            for (int c = 0; c < TokenClass.COUNT - 1; c++)
            {
                tokens[c] = random.nextInt(5000);
            }
            tokens[TokenClass.REASONING.ordinal()] = tokens[TokenClass.OUTPUT.ordinal()] / 2;
            staged.wrap(staging, 0).encode(hasher.idHashHi(), hasher.idHashLo(), random.nextLong(),
                1_790_000_000_000L + random.nextInt(86_400_000), tokens, random.nextInt(4), 0, names, 1, 1, id.length);
            offsets[i] = writer.length();
            writer.appendEvent(staged, random.nextInt(tenants), random.nextInt(models), 0);
        }
        return new Document(writer, writer.finish(), offsets);
    }
}
