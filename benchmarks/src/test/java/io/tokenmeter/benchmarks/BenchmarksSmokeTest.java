package io.tokenmeter.benchmarks;

import io.tokenmeter.benchmarks.load.LoadGenerator;
import io.tokenmeter.benchmarks.load.Reservations;
import io.tokenmeter.benchmarks.load.Traffic;
import io.tokenmeter.benchmarks.reference.ReferenceServer;
import io.tokenmeter.server.TokenmeterServer;
import io.tokenmeter.server.config.Settings;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The smoke version of the benchmarks that CI runs (seconds, no figures asserted): every JMH benchmark runs one short
 * iteration in this JVM, and the load generator drives the reference servers and tokenmeter for a second each.
 */
class BenchmarksSmokeTest
{
    @TempDir
    Path dir;

    @Test
    void everyJmhBenchmarkRuns() throws Exception
    {
        final Collection<RunResult> results = new Runner(new OptionsBuilder()
            .include("io.tokenmeter.benchmarks.jmh.*")
            .param("eventsPerRequest", "100")
            .param("capacity", "65536")
            .param("tenantsByModels", "100x10")
            .param("names", "10000")
            .param("ids", "200000")
            .param("spillBatch", "16384")
            .forks(0)
            .warmupIterations(0)
            .measurementIterations(1)
            .measurementTime(TimeValue.milliseconds(100))
            .build()).run();
        final Set<String> ran = new HashSet<>();
        for (final RunResult result : results)
        {
            assertTrue(result.getPrimaryResult().getScore() > 0, result.getParams().getBenchmark());
            ran.add(result.getParams().getBenchmark().replaceAll(".*\\.(\\w+Benchmark)\\..*", "$1"));
        }
        assertEquals(Set.of("ParseBenchmark", "CodecBenchmark", "DedupBenchmark", "AggregatorBenchmark", "RatingBenchmark",
            "NameDictionaryBenchmark", "JournalBenchmark", "DedupDiskTierBenchmark", "ReservationBenchmark"), ran);
    }

    @Test
    void jmhForksGetChroniclesFlagsBeforeTheUsersOwn()
    {
        final String[] args = Main.withForkFlags(new String[] {"-f", "1", "-jvmArgsAppend", "-XX:+UseTransparentHugePages", "Journal"});
        assertEquals(Main.FORK_FLAGS + " -XX:+UseTransparentHugePages", args[3]);
        assertEquals("Journal", args[4]);
        final String[] none = Main.withForkFlags(new String[] {"Dedup"});
        assertEquals(List.of("Dedup", "-jvmArgsAppend", Main.FORK_FLAGS), List.of(none));
    }

    @Test
    void trafficIsValidUniqueAndRepeatable()
    {
        final Traffic traffic = new Traffic("s", 3, 100, 1.1, 1);
        final byte[] a = new byte[traffic.length(5)];
        traffic.write(5, a, 0);
        final byte[] again = new byte[traffic.length(5)];
        traffic.write(5, again, 0);
        final byte[] b = new byte[traffic.length(6)];
        traffic.write(6, b, 0);
        assertEquals(new String(a, StandardCharsets.US_ASCII), new String(again, StandardCharsets.US_ASCII), "a sequence number repeats");
        assertTrue(new String(a, StandardCharsets.US_ASCII).contains("\"id\":\"s-000000000005-0\""));
        assertTrue(new String(b, StandardCharsets.US_ASCII).contains("\"id\":\"s-000000000006-2\""));
    }

    private static LoadGenerator.Result load(final int port, final double rate, final double retryShare) throws Exception
    {
        final LoadGenerator generator = LoadGenerator.of(URI.create("http://127.0.0.1:" + port + "/v1/events"), 4, 10, rate, "1s",
            "200ms", "smoke");
        generator.tenants = 100;
        generator.retryShare = retryShare;
        return generator.run();
    }

    @Test
    void theLoadGeneratorDrivesTheReferencesAndTokenmeter() throws Exception
    {
        for (final ReferenceServer.Mode mode : ReferenceServer.Mode.values())
        {
            try (ReferenceServer reference = new ReferenceServer(mode, 0).start())
            {
                final LoadGenerator.Result result = load(reference.port(), 0, 0);
                assertTrue(result.requests() > 0 && result.statuses().keySet().equals(Set.of(202)), mode + ": " + result.statuses());
                assertEquals(result.requests() * 10, result.events());
            }
        }
        final TokenmeterServer server = TokenmeterServer.start(Settings.of(Map.of("port", "0", "data-dir", dir.toString())));
        try
        {
            for (int i = 0; i < 1000 && !server.isReady(); i++)
            {
                LockSupport.parkNanos(10_000_000);
            }
            final LoadGenerator.Result closed = load(server.port(), 0, 0.1);
            assertTrue(closed.requests() > 0 && closed.statuses().keySet().equals(Set.of(202)), closed.statuses().toString());
            final LoadGenerator.Result open = load(server.port(), 200, 0);
            assertTrue(open.latency().getTotalCount() > 100, "open loop at 200 requests/s for 1 s: " + open.latency().getTotalCount());
            assertTrue(LoadGenerator.toJson(open).contains("\"p99_9\""));
            assertTrue(server.partitions().sum(p -> p.journal().duplicateEvents()) > 0, "retries reach the server as duplicates");
        }
        finally
        {
            server.close();
        }
    }

    @Test
    void theReservationLoopsAreGrantedAndSettled() throws Exception
    {
        final TokenmeterServer server = TokenmeterServer.start(Settings.of(Map.of("port", "0", "data-dir", dir.toString())));
        try
        {
            for (int i = 0; i < 1000 && !server.isReady(); i++)
            {
                LockSupport.parkNanos(10_000_000);
            }
            final Reservations driver = Reservations.of(4, 2, 1, 0, 1);
            for (final Reservations.Loop loop : Reservations.Loop.values())
            {
                final Reservations.Result result = driver.run(server.port(), loop);
                final long completed = Arrays.stream(result.perSecond()).sum();
                assertTrue(completed > 0 && result.allGranted(), loop + ": " + completed + " cycles, reservations "
                    + result.reservationStatuses() + ", events " + result.eventStatuses());
                assertEquals(loop == Reservations.Loop.SETTLE ? completed : 0, result.eventLatency().getTotalCount(),
                    loop + ": one settling event per cycle in the settle loop, none in the other");
            }
        }
        finally
        {
            server.close();
        }
    }
}
