package io.tokenmeter.benchmarks.jmh;

import io.tokenmeter.core.aggregate.HourlyAggregator;
import io.tokenmeter.core.event.EventRecord;
import io.tokenmeter.core.event.LogLayout;
import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * The aggregator's update per event: an event record added to its hour bucket, with 100 tenants x 10 models (buckets
 * in cache) and 100,000 tenants x 100 models (far beyond cache), events spread over a day, none or 30 % of them in a
 * rate variant (context tier, thinking mode, time window); and an empty baseline.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class AggregatorBenchmark
{
    private static final int RECORDS = 1 << 16;

    @Param({"100x10", "100000x100"})
    public String tenantsByModels;

    /** Percent of events in a rate variant other than 0 (context tier, thinking, window): a second map lookup each. */
    @Param({"0", "30"})
    public int variantPercent;

    private final HourlyAggregator aggregator = new HourlyAggregator();
    private final EventRecord record = new EventRecord();
    private UnsafeBuffer buffer;
    private int[] offsets;
    private int next;

    @Setup
    public void setUp()
    {
        final String[] parts = tenantsByModels.split("x");
        final int tenants = Integer.parseInt(parts[0]);
        final int models = Integer.parseInt(parts[1]);
        final UnsafeBuffer name = new UnsafeBuffer(new byte[16]);
        for (int t = 0; t < tenants; t++)
        {
            final byte[] bytes = ("t" + t).getBytes(StandardCharsets.US_ASCII);
            name.putBytes(0, bytes);
            aggregator.onName(LogLayout.RECORD_TENANT_NAME, t, name, 0, bytes.length);
        }
        for (int m = 0; m < models; m++)
        {
            final byte[] bytes = ("m" + m).getBytes(StandardCharsets.US_ASCII);
            name.putBytes(0, bytes);
            aggregator.onName(LogLayout.RECORD_MODEL_NAME, m, name, 0, bytes.length);
        }
        final Events.Document document = Events.document(RECORDS, tenants, models, 5, variantPercent);
        buffer = new UnsafeBuffer(document.writer().buffer(), 0, document.length());
        offsets = document.recordOffsets();
        // every bucket exists before measuring: steady state, no allocation
        for (final int offset : offsets)
        {
            aggregator.onEvent(record.wrap(buffer, offset), 0);
        }
    }

    @Benchmark
    public int baseline()
    {
        return offsets[next++ & (RECORDS - 1)];
    }

    @Benchmark
    public long update()
    {
        aggregator.onEvent(record.wrap(buffer, offsets[next++ & (RECORDS - 1)]), 0);
        return aggregator.eventCount();
    }
}
