package io.tokenmeter.benchmarks.jmh;

import io.tokenmeter.core.event.EventHasher;
import io.tokenmeter.core.event.LogDocumentWriter;
import io.tokenmeter.core.event.LogLayout;
import io.tokenmeter.core.event.RateVariant;
import io.tokenmeter.core.event.StagedEvent;
import io.tokenmeter.core.event.TokenClass;
import org.agrona.ExpandableArrayBuffer;

import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.random.RandomGenerator;

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

    /** Thinking, tiers 1 and 2, a window, and combinations: what a Qwen- or DeepSeek-style book makes of traffic. */
    private static final int[] VARIANTS = {RateVariant.of(0, true, 0), RateVariant.of(1, false, 0), RateVariant.of(2, false, 0),
        RateVariant.of(0, false, 1), RateVariant.of(1, true, 0), RateVariant.of(0, true, 1), RateVariant.of(2, true, 1)};

    static Document document(final int events, final int tenants, final int models, final long seed)
    {
        return document(events, tenants, models, seed, 0);
    }

    /**
     * @param variantPercent the share of events, in percent, of a rate variant other than 0 (a context tier, thinking
     *                       mode or a time window, spread over seven variants): their buckets take the aggregator's
     *                       second lookup.
     */
    static Document document(final int events, final int tenants, final int models, final long seed, final int variantPercent)
    {
        final Random random = new Random(seed);
        final ExpandableArrayBuffer staging = new ExpandableArrayBuffer(StagedEvent.MAX_LENGTH);
        final StagedEvent staged = new StagedEvent();
        final LogDocumentWriter writer = new LogDocumentWriter(events * 128);
        writer.begin(1_790_000_000_000L);
        final int[] offsets = new int[events];
        for (int i = 0; i < events; i++)
        {
            stage(staging, 0, "t", "m", "req-" + seed + "-" + i, 1_790_000_000_000L + random.nextInt(86_400_000),
                random.nextInt(4), random);
            offsets[i] = writer.length();
            final int variant = random.nextInt(100) < variantPercent ? VARIANTS[random.nextInt(VARIANTS.length)] : 0;
            writer.appendEvent(staged.wrap(staging, 0), random.nextInt(tenants), random.nextInt(models), RateVariant.toFlags(variant));
        }
        return new Document(writer, writer.finish(new byte[LogLayout.CHAIN_HASH_LENGTH]), offsets);
    }

    /**
     * Stages one event at {@code offset} with random token counts (up to 5,000 a class, reasoning half the output) and
     * a random content hash. The id hash is taken over the id alone, which is all a benchmark needs.
     *
     * @return the staged length.
     */
    static int stage(final ExpandableArrayBuffer out, final int offset, final String tenant, final String model,
        final String id, final long timestampMs, final int tierCode, final RandomGenerator random)
    {
        final long[] tokens = new long[TokenClass.COUNT];
        for (int c = 0; c < TokenClass.COUNT; c++)
        {
            tokens[c] = random.nextInt(5000);
        }
        tokens[TokenClass.REASONING.ordinal()] = tokens[TokenClass.OUTPUT.ordinal()] / 2;
        return stage(out, offset, tenant, model, id, timestampMs, tierCode, tokens, random.nextLong());
    }

    /**
     * Stages one event at {@code offset} with the given token counts (in {@link TokenClass} order).
     *
     * @return the staged length.
     */
    static int stage(final ExpandableArrayBuffer out, final int offset, final String tenant, final String model,
        final String id, final long timestampMs, final int tierCode, final long[] tokens, final long contentHash)
    {
        final byte[] names = (tenant + model + id).getBytes(StandardCharsets.US_ASCII);
        final int idLength = id.length();
        final EventHasher hasher = new EventHasher();
        hasher.hashId(names, names.length - idLength, idLength);
        out.checkLimit(offset + StagedEvent.MAX_LENGTH);
        return new StagedEvent().wrap(out, offset).encode(hasher.idHashHi(), hasher.idHashLo(), contentHash,
            timestampMs, tokens, tierCode, 0, names, tenant.length(), model.length(), idLength);
    }
}
