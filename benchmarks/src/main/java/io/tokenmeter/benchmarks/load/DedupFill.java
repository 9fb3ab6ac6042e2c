package io.tokenmeter.benchmarks.load;

import io.tokenmeter.core.dedup.DedupDiskTier;
import io.tokenmeter.core.dedup.DedupIndex;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * Fills a {@link DedupDiskTier} with {@code --ids} random ids as fast as it takes them, as a journal spilling at
 * {@code --rate} ids per second of journal time would (so the window and the merge span rule see realistic times),
 * then measures {@code find} when full: a new id and a repeat of a held id (sampled evenly over the fill), each over
 * {@code --lookups} lookups after a pass of the same size to warm up. Wall time and the thread's CPU time are both
 * printed: on a shared machine the first includes time the thread was not running.
 */
@Command(name = "dedup-fill", mixinStandardHelpOptions = true,
    description = "Fill a dedup disk tier with N ids; print ids/s, disk and memory bytes, segments and ns per lookup.")
public final class DedupFill implements Callable<Integer>
{
    @Option(names = "--ids", required = true, description = "ids to spill")
    long ids;
    @Option(names = "--dir", required = true, description = "folder of the tier (created; left in place)")
    Path dir;
    @Option(names = "--batch", defaultValue = "1048576", description = "spill batch (default ${DEFAULT-VALUE})")
    int batch;
    @Option(names = "--window-ms", defaultValue = "86400000", description = "window (default ${DEFAULT-VALUE})")
    long windowMs;
    @Option(names = "--rate", defaultValue = "20000", description = "ids per second of journal time (default ${DEFAULT-VALUE})")
    long rate;
    @Option(names = "--bits", defaultValue = "12", description = "filter bits per id (default ${DEFAULT-VALUE})")
    int bits;
    @Option(names = "--lookups", defaultValue = "1000000", description = "lookups per measurement (default ${DEFAULT-VALUE})")
    int lookups;

    @Override
    public Integer call() throws Exception
    {
        Files.createDirectories(dir);
        final int sampleEvery = (int)Math.max(1, ids / lookups);
        final long[] sampleHi = new long[lookups];
        final long[] sampleLo = new long[lookups];
        int samples = 0;
        try (DedupDiskTier tier = DedupDiskTier.open(dir, windowMs, Long.MAX_VALUE, batch, bits,
            r -> new Thread(r, "dedup-disk-fill")))
        {
            final SplittableRandom random = new SplittableRandom(42);
            final long start = System.nanoTime();
            long nextReport = start + 10_000_000_000L;
            long nowMs = 0;
            for (long i = 0; i < ids; i++)
            {
                final long hi = random.nextLong();
                final long lo = random.nextLong();
                nowMs = i * 1000 / rate;
                if (!tier.spill(hi, lo, 7, nowMs, i))
                {
                    throw new IllegalStateException("spill refused at " + i);
                }
                if (i % sampleEvery == 0 && samples < lookups)
                {
                    sampleHi[samples] = hi;
                    sampleLo[samples] = lo;
                    samples++;
                }
                if ((i & 1023) == 1023 && tier.endOfDocument(nowMs) && !tier.awaitCaughtUp(600_000))
                {
                    throw new IllegalStateException("background stalled at " + i);
                }
                if ((i & 0xFFFFF) == 0 && System.nanoTime() > nextReport)
                {
                    nextReport += 10_000_000_000L;
                    System.out.printf(Locale.ROOT, "  %,d ids, %,.0f ids/s, %d segments, %,d disk bytes%n", i,
                        i / ((System.nanoTime() - start) / 1e9), tier.segments(), tier.diskBytes());
                }
            }
            tier.endOfDocument(nowMs);
            final boolean caughtUp = tier.awaitCaughtUp(600_000);
            final double spillSeconds = (System.nanoTime() - start) / 1e9;
            final boolean idle = tier.awaitIdle(1_800_000);
            final double idleSeconds = (System.nanoTime() - start) / 1e9;
            System.out.printf(Locale.ROOT, "filled %,d ids in %.1f s: %,.0f ids/s (caught up %s); merges done after %.1f s "
                + "(idle %s), %d merges%n", ids, spillSeconds, ids / spillSeconds, caughtUp, idleSeconds, idle, tier.merges());
            System.out.printf(Locale.ROOT, "held %,d ids in %d segments: %,d disk bytes (%.2f per id), %,d memory bytes "
                + "(%.2f per id)%n", tier.ids(), tier.segments(), tier.diskBytes(), tier.diskBytes() / (double)tier.ids(),
                tier.memoryBytes(), tier.memoryBytes() / (double)tier.ids());

            final SplittableRandom fresh = new SplittableRandom(4242);
            final ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
            for (int pass = 0; pass < 2; pass++)
            {
                long c0 = cpu.getCurrentThreadCpuTime();
                long t0 = System.nanoTime();
                int held = 0;
                for (int i = 0; i < lookups; i++)
                {
                    held += tier.find(fresh.nextLong(), fresh.nextLong(), 7) == DedupIndex.NEW ? 0 : 1;
                }
                final double newNs = (System.nanoTime() - t0) / (double)lookups;
                final double newCpuNs = (cpu.getCurrentThreadCpuTime() - c0) / (double)lookups;
                c0 = cpu.getCurrentThreadCpuTime();
                t0 = System.nanoTime();
                int found = 0;
                for (int i = 0; i < lookups; i++)
                {
                    final int at = (int)((i * 0x9E3779B97F4A7C15L >>> 1) % samples);
                    found += tier.find(sampleHi[at], sampleLo[at], 7) == DedupIndex.DUPLICATE ? 1 : 0;
                }
                final double repeatNs = (System.nanoTime() - t0) / (double)lookups;
                final double repeatCpuNs = (cpu.getCurrentThreadCpuTime() - c0) / (double)lookups;
                System.out.printf(Locale.ROOT, "%s: new id %.0f ns (%.0f ns of CPU; %d of %,d not NEW), repeated id %.0f ns "
                    + "(%.0f ns of CPU; %,d of %,d found)%n", pass == 0 ? "warm-up pass" : "lookups when full", newNs,
                    newCpuNs, held, lookups, repeatNs, repeatCpuNs, found, lookups);
                if (found != lookups || held != 0)
                {
                    return 1;
                }
            }
        }
        return 0;
    }
}
