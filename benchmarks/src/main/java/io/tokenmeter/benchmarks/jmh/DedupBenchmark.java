package io.tokenmeter.benchmarks.jmh;

import io.tokenmeter.core.dedup.DedupIndex;
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

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The dedup index per event: a new id (lookup, insert, and at capacity the eviction of the oldest) and a repeat of a
 * remembered id, full at 64 Ki ids (in cache) and at 4 M ids (the default capacity, far beyond cache).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class DedupBenchmark
{
    @Param({"65536", "4000000"})
    public int capacity;

    private DedupIndex index;
    private final SplittableRandom random = new SplittableRandom(3);
    private long[] remembered;
    private long now = 1_000_000;
    private int next;

    @Setup
    public void setUp()
    {
        index = new DedupIndex(capacity, 86_400_000L, 1 << 16);
        remembered = new long[1 << 16];
        for (int i = 0; i < capacity; i++)
        {
            final long hi = random.nextLong();
            index.checkAndInsert(hi, i, 7, now);
            if ((i & 1023) == 0)
            {
                index.evict(now);
            }
            remembered[i & (remembered.length - 1)] = hi;
        }
        index.evict(now);
    }

    @Benchmark
    public int baseline()
    {
        return next++;
    }

    @Benchmark
    public int newId()
    {
        final int outcome = index.checkAndInsert(random.nextLong(), next++, 7, now);
        if ((next & 1023) == 0)
        {
            index.evict(++now);
        }
        return outcome;
    }

    @Benchmark
    public boolean repeatedId()
    {
        final int at = next++ & (remembered.length - 1);
        return index.contains(remembered[at], capacity - remembered.length + at, 7);
    }
}
