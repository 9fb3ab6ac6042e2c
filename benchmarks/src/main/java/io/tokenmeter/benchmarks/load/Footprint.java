package io.tokenmeter.benchmarks.load;

import io.tokenmeter.core.aggregate.HourlyAggregator;
import io.tokenmeter.core.dedup.DedupIndex;
import io.tokenmeter.core.event.EventRecord;
import io.tokenmeter.core.event.LogDocumentWriter;
import io.tokenmeter.core.event.StagedEvent;
import io.tokenmeter.core.event.TokenClass;
import org.agrona.ExpandableArrayBuffer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.lang.management.ManagementFactory;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * Measures the heap cost of the two structures that grow with traffic: bytes per active hour bucket (aggregator) and
 * per remembered event id (dedup), as the difference in used heap after full GCs, divided by the count.
 */
@Command(name = "footprint", mixinStandardHelpOptions = true, description = "Measure heap bytes per hour bucket and per dedup id.")
public final class Footprint implements Callable<Integer>
{
    @Option(names = "--buckets", defaultValue = "1000000", description = "hour buckets to create (default ${DEFAULT-VALUE})")
    int buckets;
    @Option(names = "--ids", defaultValue = "4000000", description = "dedup capacity to fill (default ${DEFAULT-VALUE})")
    int ids;

    private static long usedAfterGc()
    {
        for (int i = 0; i < 4; i++)
        {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    @Override
    public Integer call()
    {
        final long before = usedAfterGc();
        final HourlyAggregator aggregator = new HourlyAggregator();
        final ExpandableArrayBuffer staging = new ExpandableArrayBuffer(StagedEvent.MAX_LENGTH);
        final StagedEvent staged = new StagedEvent();
        final LogDocumentWriter writer = new LogDocumentWriter(256);
        final EventRecord record = new EventRecord();
        final long[] tokens = new long[TokenClass.COUNT];
        final byte[] names = {'t', 'm', 'i'};
        tokens[0] = 10;
        final int tenants = Math.max(1, buckets / 240);
        for (int b = 0; b < buckets; b++)
        {
            // distinct (tenant, hour) pairs: 240 hours of one model per tenant
            final long hourMs = 3_600_000L * (b % 240);
            staged.wrap(staging, 0).encode(b, b, 1, 1_790_000_000_000L + hourMs, tokens, 0, 0, names, 1, 1, 1);
            writer.begin(1);
            final int offset = writer.length();
            writer.appendEvent(staged, b / 240 % tenants, 0, 0);
            aggregator.onEvent(record.wrap(writer.buffer(), offset), 0);
        }
        final long afterBuckets = usedAfterGc();
        final DedupIndex dedup = new DedupIndex(ids, 86_400_000L, 1 << 16);
        final SplittableRandom random = new SplittableRandom(1);
        for (int i = 0; i < ids; i++)
        {
            dedup.checkAndInsert(random.nextLong(), i, 7, 1_000_000);
            if ((i & 4095) == 0)
            {
                dedup.evict(1_000_000);
            }
        }
        dedup.evict(1_000_000);
        final long afterIds = usedAfterGc();
        System.out.printf(Locale.ROOT, "hour buckets: %,d in %,d bytes of heap = %.1f bytes per bucket%n", aggregator.bucketCount(),
            afterBuckets - before, (afterBuckets - before) / (double)aggregator.bucketCount());
        System.out.printf(Locale.ROOT, "dedup ids: %,d in %,d bytes of heap = %.1f bytes per id (structure says %,d bytes)%n",
            dedup.size(), afterIds - afterBuckets, (afterIds - afterBuckets) / (double)dedup.size(), dedup.memoryBytes());
        // keep both alive until measured
        return aggregator.eventCount() > 0 && dedup.size() > 0 ? 0 : 1;
    }
}
