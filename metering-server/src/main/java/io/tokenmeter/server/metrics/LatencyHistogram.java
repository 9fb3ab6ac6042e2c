package io.tokenmeter.server.metrics;

import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Quantile;
import io.prometheus.metrics.model.snapshots.Quantiles;
import io.prometheus.metrics.model.snapshots.SummarySnapshot;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.SingleWriterRecorder;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A latency distribution recorded into HdrHistogram and exposed to Prometheus as two families:
 * {@code NAME_seconds} (a classic histogram with fixed buckets, cumulative since start, for
 * {@code histogram_quantile} and alerts) and {@code NAME_window_seconds} (a summary: HdrHistogram's exact percentiles
 * p50, p99, p99.9 and max over the last one to two minutes).
 *
 * <p>Each recording thread has its own {@link SingleWriterRecorder} (wait-free for the writer), so the hot path never
 * contends with another writer and never waits for a scrape; a scrape swaps each recorder's interval histogram out
 * and merges it on the scraping thread.
 */
final class LatencyHistogram implements MultiCollector
{
    private static final long HIGHEST_NS = TimeUnit.SECONDS.toNanos(60);
    private static final int SIGNIFICANT_DIGITS = 2;
    private static final long WINDOW_MS = 60_000;
    /** Upper bounds of the classic buckets, in seconds: 10 us to 10 s. */
    private static final double[] BOUNDS_SECONDS = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
        0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, Double.POSITIVE_INFINITY};
    private static final double[] QUANTILES = {0.5, 0.99, 0.999, 1.0};

    /** One thread's recorder and its exact sum. */
    private static final class ThreadRecorder
    {
        final SingleWriterRecorder recorder = new SingleWriterRecorder(HIGHEST_NS, SIGNIFICANT_DIGITS);
        final AtomicLong sumNs = new AtomicLong();
        Histogram spare;
    }

    private final String name;
    private final String help;
    private final List<ThreadRecorder> recorders = new CopyOnWriteArrayList<>();
    private final ThreadLocal<ThreadRecorder> local = ThreadLocal.withInitial(this::newRecorder);
    private final Histogram cumulative = new Histogram(HIGHEST_NS, SIGNIFICANT_DIGITS);
    private Histogram window = new Histogram(HIGHEST_NS, SIGNIFICANT_DIGITS);
    private Histogram previousWindow = new Histogram(HIGHEST_NS, SIGNIFICANT_DIGITS);
    private long windowStartMs = System.currentTimeMillis();

    /** @param name the Prometheus name without unit, e.g. {@code tokenmeter_ingest_latency}. */
    LatencyHistogram(final String name, final String help)
    {
        this.name = name;
        this.help = help;
    }

    private ThreadRecorder newRecorder()
    {
        final ThreadRecorder recorder = new ThreadRecorder();
        recorders.add(recorder);
        return recorder;
    }

    /** Records one latency; wait-free, allocation-free after the thread's first call. */
    void record(final long nanos)
    {
        final ThreadRecorder recorder = local.get();
        final long value = Math.max(1, Math.min(nanos, HIGHEST_NS));
        recorder.recorder.recordValue(value);
        recorder.sumNs.lazySet(recorder.sumNs.get() + value);
    }

    /** Merges what every thread recorded since the last call; scrape threads only. */
    private void drain()
    {
        final long now = System.currentTimeMillis();
        if (now - windowStartMs >= WINDOW_MS)
        {
            final Histogram oldest = previousWindow;
            previousWindow = window;
            window = oldest;
            window.reset();
            windowStartMs = now;
        }
        for (final ThreadRecorder recorder : recorders)
        {
            final Histogram interval = recorder.recorder.getIntervalHistogram(recorder.spare);
            cumulative.add(interval);
            window.add(interval);
            recorder.spare = interval;
        }
    }

    @Override
    public synchronized MetricSnapshots collect()
    {
        drain();
        long sumNs = 0;
        for (final ThreadRecorder recorder : recorders)
        {
            sumNs += recorder.sumNs.get();
        }
        final long[] counts = new long[BOUNDS_SECONDS.length];
        for (int i = 0; i < BOUNDS_SECONDS.length; i++)
        {
            counts[i] = Double.isInfinite(BOUNDS_SECONDS[i])
                ? cumulative.getTotalCount()
                : cumulative.getCountBetweenValues(0, (long)(BOUNDS_SECONDS[i] * 1e9));
        }
        // classic buckets are per-bucket counts, not cumulative ones
        for (int i = counts.length - 1; i > 0; i--)
        {
            counts[i] -= counts[i - 1];
        }
        final HistogramSnapshot histogram = HistogramSnapshot.builder()
            .name(name + "_seconds")
            .help(help)
            .dataPoint(HistogramSnapshot.HistogramDataPointSnapshot.builder()
                .classicHistogramBuckets(ClassicHistogramBuckets.of(BOUNDS_SECONDS, counts))
                .sum(sumNs / 1e9)
                .build())
            .build();

        final Histogram recent = previousWindow.copy();
        recent.add(window);
        final Quantile[] quantiles = new Quantile[QUANTILES.length];
        for (int i = 0; i < QUANTILES.length; i++)
        {
            final long valueNs = QUANTILES[i] == 1.0 ? recent.getMaxValue() : recent.getValueAtPercentile(QUANTILES[i] * 100);
            quantiles[i] = new Quantile(QUANTILES[i], valueNs / 1e9);
        }
        final SummarySnapshot summary = SummarySnapshot.builder()
            .name(name + "_window_seconds")
            .help(help + " (HdrHistogram percentiles over the last one to two minutes)")
            .dataPoint(SummarySnapshot.SummaryDataPointSnapshot.builder()
                .quantiles(Quantiles.of(quantiles))
                .count(recent.getTotalCount())
                .sum(recent.getTotalCount() == 0 ? 0 : recent.getMean() * recent.getTotalCount() / 1e9)
                .build())
            .build();
        return new MetricSnapshots(histogram, summary);
    }

    @Override
    public List<String> getPrometheusNames()
    {
        return List.of(name + "_seconds", name + "_window_seconds");
    }
}
