package io.tokenmeter.core.aggregate;

import io.tokenmeter.core.event.EventRecord;
import io.tokenmeter.core.event.LogDocumentWriter;
import io.tokenmeter.core.event.LogLayout;
import io.tokenmeter.core.event.RateVariant;
import io.tokenmeter.core.event.StagedEvent;
import io.tokenmeter.core.event.TokenClass;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Hour buckets keyed by rate variant: one bucket per variant, counted apart, and kept exactly by a snapshot. */
class HourlyAggregatorTest
{
    private static final long HOUR_MS = 3_600_000L;
    private static final long START_MS = 1_759_276_800_000L; // 2025-10-01T00:00:00Z
    private static final int[] VARIANTS = {0, 1, RateVariant.of(0, true, 0), RateVariant.of(2, true, 3), RateVariant.COUNT - 1};

    /** Each variant's events in hour 0 and hour 1 of one tenant and model; variant v carries 1000 + v input tokens. */
    private static HourlyAggregator fed()
    {
        final HourlyAggregator aggregator = new HourlyAggregator();
        final UnsafeBuffer name = new UnsafeBuffer(new byte[8]);
        name.putBytes(0, "acme".getBytes(StandardCharsets.US_ASCII));
        aggregator.onName(LogLayout.RECORD_TENANT_NAME, 0, name, 0, 4);
        name.putBytes(0, "m".getBytes(StandardCharsets.US_ASCII));
        aggregator.onName(LogLayout.RECORD_MODEL_NAME, 0, name, 0, 1);
        final LogDocumentWriter writer = new LogDocumentWriter(1 << 16);
        writer.begin(START_MS);
        final ExpandableArrayBuffer staging = new ExpandableArrayBuffer(StagedEvent.MAX_LENGTH);
        final byte[] names = "acmemid".getBytes(StandardCharsets.US_ASCII);
        final int[] offsets = new int[VARIANTS.length * 4];
        int n = 0;
        for (int hour = 0; hour < 2; hour++)
        {
            for (final int variant : VARIANTS)
            {
                for (int copy = 0; copy < 2; copy++)
                {
                    final long[] tokens = new long[TokenClass.COUNT];
                    tokens[0] = 1000 + variant;
                    new StagedEvent().wrap(staging, 0).encode(n, n, n, START_MS + hour * HOUR_MS + copy, tokens, 0, 0, names, 4, 1, 2);
                    offsets[n++] = writer.length();
                    writer.appendEvent(new StagedEvent().wrap(staging, 0), 0, 0, RateVariant.toFlags(variant));
                }
            }
        }
        final int length = writer.finish(new byte[LogLayout.CHAIN_HASH_LENGTH]);
        final UnsafeBuffer document = new UnsafeBuffer(writer.buffer(), 0, length);
        final EventRecord record = new EventRecord();
        for (int i = 0; i < n; i++)
        {
            aggregator.onEvent(record.wrap(document, offsets[i], START_MS, length), START_MS);
        }
        return aggregator;
    }

    private static List<String> text(final List<TenantBucket> buckets)
    {
        return buckets.stream().map(b -> b.hour() + " " + b.model() + " " + b.tierCode() + " " + b.variant() + " "
            + Arrays.toString(b.counters())).toList();
    }

    @Test
    void everyVariantIsABucketOfItsOwn()
    {
        final HourlyAggregator aggregator = fed();
        final long hour0 = START_MS / HOUR_MS;
        final List<TenantBucket> buckets = aggregator.buckets("acme", hour0, hour0 + 2);
        assertEquals(2 * VARIANTS.length, buckets.size(), buckets.toString());
        for (final TenantBucket bucket : buckets)
        {
            assertEquals(2, bucket.requests(), "two events each");
            assertEquals(2 * (1000 + bucket.variant()), bucket.tokens(0), "variant " + bucket.variant());
        }
        final TenantBucket last = buckets.get(buckets.size() - 1);
        assertEquals(RateVariant.COUNT - 1, last.variant());
        assertEquals(7, last.contextTier());
        assertTrue(last.thinking());
        assertEquals(7, last.window());
        // a usage answer sums the variants of an hour
        assertEquals(2 * Arrays.stream(VARIANTS).mapToLong(v -> 2 * (1000 + v)).sum(),
            aggregator.query(new UsageQuery("acme", hour0, hour0 + 2, Granularity.TOTAL, false, false, 0)).get(0).tokens(0));
    }

    @Test
    void aSnapshotKeepsEveryVariantAndOneWithoutTheVariantListReadsItsKeys()
    {
        final HourlyAggregator aggregator = fed();
        final ByteBuffer snapshot = ByteBuffer.allocate(aggregator.encodedLength()).order(ByteOrder.LITTLE_ENDIAN);
        aggregator.writeTo(snapshot);
        assertEquals(0, snapshot.remaining(), "encodedLength is exact");
        final HourlyAggregator restored = new HourlyAggregator();
        restored.readFrom(snapshot.flip());
        assertTrue(Arrays.deepEquals(aggregator.exportBuckets(), restored.exportBuckets()), "restored exactly");
        final long hour0 = START_MS / HOUR_MS;
        assertEquals(text(aggregator.buckets("acme", hour0, hour0 + 2)), text(restored.buckets("acme", hour0, hour0 + 2)));

        // a snapshot written before the variant list: the buckets of variants 0 and 1 only, the list cut off
        final HourlyAggregator old = new HourlyAggregator();
        final ByteBuffer full = ByteBuffer.allocate(aggregator.encodedLength()).order(ByteOrder.LITTLE_ENDIAN);
        aggregator.writeTo(full);
        final int listed = 3 * 2;
        final ByteBuffer cut = ByteBuffer.wrap(full.array(), 0, full.position() - Integer.BYTES - listed * (Integer.BYTES + 1))
            .slice().order(ByteOrder.LITTLE_ENDIAN);
        old.readFrom(cut);
        final List<TenantBucket> read = old.buckets("acme", hour0, hour0 + 2);
        assertEquals(0, read.get(0).variant());
        assertEquals(1, read.get(1).variant(), "the v bit of a listed bucket reads as variant 1 (long context)");
    }
}
