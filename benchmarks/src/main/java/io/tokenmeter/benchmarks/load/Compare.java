package io.tokenmeter.benchmarks.load;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * One comparison run, all in the same conditions: the same traffic against the {@code accept} reference server, the
 * {@code parse} reference server and tokenmeter (each its own process, started and stopped in turn), closed loop;
 * then tokenmeter again, open loop at half its closed-loop rate, for latency and aggregation lag, and the {@code parse}
 * reference open loop at half of its own closed-loop rate: the latency floor of a server that only parses, on the same
 * machine. Prints a table with tokenmeter's throughput as ratios to the references, and writes JSON with {@code --json}.
 */
@Command(name = "compare", mixinStandardHelpOptions = true,
    description = "Run the same load against the reference servers and tokenmeter; print throughput ratios and latency.")
public final class Compare implements Callable<Integer>
{
    @Option(names = "--server-jar", defaultValue = "metering-server/target/tokenmeter.jar", description = "tokenmeter's jar")
    Path serverJar;
    @Option(names = "--benchmarks-jar", defaultValue = "benchmarks/target/benchmarks.jar", description = "this jar")
    Path benchmarksJar;
    @Option(names = "--batch", defaultValue = "100", description = "events per request (default ${DEFAULT-VALUE})")
    int batch;
    @Option(names = "--connections", defaultValue = "32", description = "connections (default ${DEFAULT-VALUE})")
    int connections;
    @Option(names = "--duration", defaultValue = "20s", description = "measured time per run (default ${DEFAULT-VALUE})")
    String duration;
    @Option(names = "--warmup", defaultValue = "10s", description = "unmeasured time first (default ${DEFAULT-VALUE})")
    String warmup;
    @Option(names = "--durability", defaultValue = "process", description = "tokenmeter's durability: process or sync")
    String durability;
    @Option(names = "--partitions", description = "tokenmeter's partitions (default: the server's default for a new directory)")
    Integer partitions;
    @Option(names = "--heap", defaultValue = "2g", description = "-Xmx of the servers (default ${DEFAULT-VALUE})")
    String heap;
    @Option(names = "--open-connections", defaultValue = "64", description = "connections of the open-loop run (default ${DEFAULT-VALUE})")
    int openConnections;
    @Option(names = "--skip-open-loop", description = "only the closed-loop throughput runs")
    boolean skipOpenLoop;
    @Option(names = "--json", description = "write the results as JSON to this file")
    Path json;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @Override
    public Integer call() throws Exception
    {
        final List<LoadGenerator.Result> results = new ArrayList<>();
        final LoadGenerator.Result accept = runAgainst("reference-accept", reference("accept"), 0);
        results.add(accept);
        final LoadGenerator.Result parse = runAgainst("reference-parse", reference("parse"), 0);
        results.add(parse);
        final Path data = Files.createTempDirectory("tokenmeter-bench");
        try
        {
            return compare(results, accept, parse, data);
        }
        finally
        {
            // a run leaves gigabytes of log and dedup segments: gone with the run
            deleteRecursively(data);
        }
    }

    /** Deletes {@code dir} and everything in it. */
    static void deleteRecursively(final Path dir) throws IOException
    {
        try (java.util.stream.Stream<Path> paths = Files.walk(dir))
        {
            for (final Path path : paths.sorted(java.util.Comparator.reverseOrder()).toList())
            {
                Files.deleteIfExists(path);
            }
        }
    }

    private Integer compare(final List<LoadGenerator.Result> results, final LoadGenerator.Result accept,
        final LoadGenerator.Result parse, final Path data) throws Exception
    {
        final LoadGenerator.Result closed = runAgainst("tokenmeter", tokenmeter(data), 0);
        results.add(closed);
        LoadGenerator.Result open = null;
        LoadGenerator.Result parseOpen = null;
        double[] lag = null;
        if (!skipOpenLoop)
        {
            final double halfRate = closed.requestsPerSecond() / 2;
            final ServerProcess server = tokenmeter(data);
            final List<Double> samples = new ArrayList<>();
            final AtomicBoolean sampling = new AtomicBoolean(true);
            final Thread sampler = new Thread(() -> sampleLag(server.port(), samples, sampling), "lag-sampler");
            try (server)
            {
                sampler.start();
                open = load("tokenmeter-open-loop", server.port(), halfRate, openConnections);
            }
            finally
            {
                sampling.set(false);
                sampler.join(5_000);
            }
            results.add(open);
            lag = percentiles(samples);
            parseOpen = runAgainst("reference-parse-open-loop", reference("parse"), parse.requestsPerSecond() / 2, openConnections);
            results.add(parseOpen);
        }
        report(accept, parse, closed, open, lag, parseOpen);
        if (json != null)
        {
            final ObjectMapper mapper = new ObjectMapper();
            final ObjectNode root = mapper.createObjectNode();
            root.put("batch", batch).put("connections", connections).put("durability", durability)
                .put("partitions", partitions == null ? "default" : partitions.toString());
            final ArrayNode runs = root.putArray("runs");
            for (final LoadGenerator.Result result : results)
            {
                runs.add(mapper.readTree(LoadGenerator.toJson(result)));
            }
            root.put("ratio_to_parse", closed.eventsPerSecond() / parse.eventsPerSecond());
            root.put("ratio_to_accept", closed.eventsPerSecond() / accept.eventsPerSecond());
            if (lag != null)
            {
                root.putObject("aggregation_lag_ms").put("p50", lag[0]).put("p99", lag[1]).put("max", lag[2])
                    .put("samples", lag[3]);
            }
            Files.writeString(json, root.toPrettyString());
        }
        return 0;
    }

    private ServerProcess reference(final String mode) throws Exception
    {
        final int port = ServerProcess.freePort();
        return ServerProcess.start(List.of("-jar", benchmarksJar.toString(), "reference", "--mode", mode, "--port",
            Integer.toString(port)), port, "/v1/events", heap);
    }

    private ServerProcess tokenmeter(final Path data) throws Exception
    {
        return ServerProcess.tokenmeter(serverJar, data, durability, partitions, heap);
    }

    private LoadGenerator.Result runAgainst(final String label, final ServerProcess server, final double rate) throws Exception
    {
        return runAgainst(label, server, rate, connections);
    }

    private LoadGenerator.Result runAgainst(final String label, final ServerProcess server, final double rate, final int connectionCount)
        throws Exception
    {
        try (server)
        {
            return load(label, server.port(), rate, connectionCount);
        }
    }

    private LoadGenerator.Result load(final String label, final int port, final double rate, final int connectionCount)
        throws Exception
    {
        final LoadGenerator generator = LoadGenerator.of(URI.create("http://127.0.0.1:" + port + "/v1/events"), connectionCount, batch,
            rate, duration, warmup, label);
        final LoadGenerator.Result result = generator.run();
        LoadGenerator.print(result);
        return result;
    }

    /** Samples tokenmeter_aggregation_lag_seconds every 250 ms while the open-loop run lasts. */
    private void sampleLag(final int port, final List<Double> samples, final AtomicBoolean sampling)
    {
        while (sampling.get())
        {
            try
            {
                final String metrics = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
                for (final String line : metrics.split("\n"))
                {
                    if (line.startsWith("tokenmeter_aggregation_lag_seconds "))
                    {
                        synchronized (samples)
                        {
                            samples.add(Double.parseDouble(line.substring(line.indexOf(' ') + 1)) * 1000);
                        }
                    }
                }
            }
            catch (final IOException | InterruptedException | RuntimeException ex)
            {
                // not up yet, or stopping
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(250));
        }
    }

    private static double[] percentiles(final List<Double> samples)
    {
        final double[] sorted;
        synchronized (samples)
        {
            sorted = samples.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        }
        if (sorted.length == 0)
        {
            return new double[] {Double.NaN, Double.NaN, Double.NaN, 0};
        }
        return new double[] {sorted[sorted.length / 2], sorted[(int)Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)],
            sorted[sorted.length - 1], sorted.length};
    }

    private void report(final LoadGenerator.Result accept, final LoadGenerator.Result parse, final LoadGenerator.Result closed,
        final LoadGenerator.Result open, final double[] lag, final LoadGenerator.Result parseOpen)
    {
        System.out.println();
        System.out.printf(Locale.ROOT, "batch %d, %d connections, durability %s, %d cores%n", batch, connections, durability,
            Runtime.getRuntime().availableProcessors());
        System.out.printf(Locale.ROOT, "%-22s %14s %14s %10s %10s%n", "target", "events/s", "requests/s", "vs parse", "vs accept");
        for (final LoadGenerator.Result r : Arrays.asList(accept, parse, closed))
        {
            System.out.printf(Locale.ROOT, "%-22s %,14.0f %,14.0f %10.2f %10.2f%n", r.label(), r.eventsPerSecond(), r.requestsPerSecond(),
                r.eventsPerSecond() / parse.eventsPerSecond(), r.eventsPerSecond() / accept.eventsPerSecond());
        }
        if (open != null)
        {
            System.out.printf(Locale.ROOT, "open loop at %,.0f requests/s (half of tokenmeter's closed-loop rate): ack latency ms "
                    + "p50 %.3f p99 %.3f p99.9 %.3f max %.3f; aggregation lag ms p50 %.1f p99 %.1f max %.1f (%d samples)%n",
                open.requestsPerSecond(), open.latency().getValueAtPercentile(50) / 1e6, open.latency().getValueAtPercentile(99) / 1e6,
                open.latency().getValueAtPercentile(99.9) / 1e6, open.latency().getMaxValue() / 1e6, lag[0], lag[1], lag[2], (int)lag[3]);
        }
        if (parseOpen != null)
        {
            System.out.printf(Locale.ROOT, "reference-parse open loop at %,.0f requests/s (half of its closed-loop rate): ack latency ms "
                    + "p50 %.3f p99 %.3f p99.9 %.3f max %.3f%n",
                parseOpen.requestsPerSecond(), parseOpen.latency().getValueAtPercentile(50) / 1e6,
                parseOpen.latency().getValueAtPercentile(99) / 1e6, parseOpen.latency().getValueAtPercentile(99.9) / 1e6,
                parseOpen.latency().getMaxValue() / 1e6);
        }
    }
}
