package io.tokenmeter.benchmarks.jmh;

import io.tokenmeter.core.dedup.DedupDiskTier;
import io.tokenmeter.core.dedup.DedupIndex;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The dedup disk tier when full: {@code find} of a new id (every segment's filter, and a record search on a false
 * positive) and of a repeated id (sampled over the whole fill, so most are in old segments), and {@code spill}
 * throughput (the journal's side plus, once the buffers fill, waiting for the background to seal and merge).
 * Setup fills a tier of {@code ids} ids at 20,000 ids per second of journal time with a 24 h window, in a folder
 * under {@code java.io.tmpdir} (about 17.6 bytes per id) deleted after the trial.
 *
 * <pre>
 *   java -jar benchmarks/target/benchmarks.jar DedupDiskTier -p ids=100000000 -jvmArgsAppend "-Xmx6g -XX:+UseTransparentHugePages"
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class DedupDiskTierBenchmark
{
    private static final int SAMPLES = 1 << 20;
    private static final long RATE_PER_S = 20_000;

    @Param({"10000000", "100000000"})
    public long ids;

    @Param({"1048576"})
    public int spillBatch;

    private Path dir;
    private DedupDiskTier tier;
    private final long[] sampleHi = new long[SAMPLES];
    private final long[] sampleLo = new long[SAMPLES];
    private final SplittableRandom fresh = new SplittableRandom(4242);
    private final SplittableRandom spilling = new SplittableRandom(77);
    private long seq;
    private long nowMs;
    private int next;

    @Setup(Level.Trial)
    public void fill() throws IOException
    {
        dir = Files.createTempDirectory("dedup-disk-bench");
        tier = DedupDiskTier.open(dir, 86_400_000L, Long.MAX_VALUE, spillBatch, r -> new Thread(r, "dedup-disk-bench"));
        final SplittableRandom random = new SplittableRandom(42);
        final long every = Math.max(1, ids / SAMPLES);
        int samples = 0;
        for (seq = 0; seq < ids; seq++)
        {
            final long hi = random.nextLong();
            final long lo = random.nextLong();
            nowMs = seq * 1000 / RATE_PER_S;
            tier.spill(hi, lo, 7, nowMs, seq);
            if (seq % every == 0 && samples < SAMPLES)
            {
                sampleHi[samples] = hi;
                sampleLo[samples] = lo;
                samples++;
            }
            if ((seq & 1023) == 1023 && tier.endOfDocument(nowMs))
            {
                tier.awaitCaughtUp(600_000);
            }
        }
        tier.endOfDocument(nowMs);
        tier.awaitIdle(1_800_000);
    }

    @TearDown(Level.Trial)
    public void delete() throws IOException
    {
        tier.close();
        try (Stream<Path> files = Files.walk(dir))
        {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Benchmark
    public int baseline()
    {
        return next++;
    }

    @Benchmark
    public int newId()
    {
        return tier.find(fresh.nextLong(), fresh.nextLong(), 7);
    }

    @Benchmark
    public int repeatedId()
    {
        final int at = next++ & (SAMPLES - 1);
        return tier.find(sampleHi[at], sampleLo[at], 7) == DedupIndex.DUPLICATE ? 1 : 0;
    }

    /** One spill; after every 1,024 an end of document, waiting for the background when it is a batch behind. */
    @Benchmark
    public boolean spill()
    {
        final boolean held = tier.spill(spilling.nextLong(), spilling.nextLong(), 7, nowMs, seq++);
        if ((seq & 1023) == 0)
        {
            nowMs = Math.max(nowMs, seq * 1000 / RATE_PER_S);
            if (tier.endOfDocument(nowMs))
            {
                tier.awaitCaughtUp(600_000);
            }
        }
        return held;
    }
}
