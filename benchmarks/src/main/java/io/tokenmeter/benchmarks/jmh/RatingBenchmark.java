package io.tokenmeter.benchmarks.jmh;

import io.tokenmeter.core.money.Money;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.concurrent.TimeUnit;

/**
 * Rating one invoice line (cold path: once per line per invoice, not per event): the exact amount of a month's
 * quantity at a price, a tier multiplier and a discount, rounded once, half-even; and an empty baseline.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class RatingBenchmark
{
    private final BigInteger quantity = BigInteger.valueOf(1_234_567_890_123L);
    private final BigDecimal price = new BigDecimal("2.50");
    private final BigDecimal multiplier = new BigDecimal("0.5");
    private final BigDecimal discount = new BigDecimal("12.5");

    @Benchmark
    public BigInteger baseline()
    {
        return quantity;
    }

    @Benchmark
    public BigDecimal rateLine()
    {
        return Money.round(Money.exactAmount(quantity, price, multiplier, discount), 2);
    }
}
