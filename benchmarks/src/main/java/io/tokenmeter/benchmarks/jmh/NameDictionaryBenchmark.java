package io.tokenmeter.benchmarks.jmh;

import io.tokenmeter.core.event.NameDictionary;
import org.agrona.ExpandableArrayBuffer;
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
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The journal's name lookup (two per accepted event: tenant and model): a name read from a staged request, found in
 * a dictionary of {@code names} entries, drawn Zipf(1.1) as the load generator draws tenants. Names are laid out one
 * after another in one buffer, as they sit in a request's staged events.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class NameDictionaryBenchmark
{
    private static final int LOOKUPS = 1 << 16;

    @Param({"10", "10000", "1000000"})
    public int names;

    private final ExpandableArrayBuffer staged = new ExpandableArrayBuffer(1 << 20);
    private NameDictionary dictionary;
    private int[] offsets;
    private int[] lengths;
    private int next;

    @Setup
    public void setUp()
    {
        dictionary = new NameDictionary(1 << 24);
        final ExpandableArrayBuffer name = new ExpandableArrayBuffer(64);
        for (int i = 0; i < names; i++)
        {
            final byte[] bytes = ("tenant-" + i).getBytes(StandardCharsets.US_ASCII);
            name.putBytes(0, bytes);
            dictionary.add(name, 0, bytes.length);
        }
        final Random random = new Random(3);
        final double[] cumulative = new double[names];
        double sum = 0;
        for (int i = 0; i < names; i++)
        {
            sum += 1 / Math.pow(i + 1, 1.1);
            cumulative[i] = sum;
        }
        offsets = new int[LOOKUPS];
        lengths = new int[LOOKUPS];
        int at = 0;
        for (int i = 0; i < LOOKUPS; i++)
        {
            int pick = java.util.Arrays.binarySearch(cumulative, random.nextDouble() * sum);
            pick = pick < 0 ? Math.min(-pick - 1, names - 1) : pick;
            final byte[] bytes = ("tenant-" + pick).getBytes(StandardCharsets.US_ASCII);
            staged.putBytes(at, bytes);
            offsets[i] = at;
            lengths[i] = bytes.length;
            at += bytes.length + 100; // the rest of a staged event lies between two names
        }
    }

    @Benchmark
    public int baseline()
    {
        final int i = next++ & (LOOKUPS - 1);
        return offsets[i] + lengths[i];
    }

    @Benchmark
    public int lookup()
    {
        final int i = next++ & (LOOKUPS - 1);
        return dictionary.lookup(staged, offsets[i], lengths[i]);
    }
}
