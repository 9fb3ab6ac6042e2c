package io.tokenmeter.benchmarks.load;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Restart time with a large log: fills a data directory through the HTTP API up to {@code --events} events, then
 * measures from process start to {@code /health/ready} answering 200, after a graceful stop (final snapshots) and
 * after a kill -9 under load (the last periodic snapshot, then the log tail).
 */
@Command(name = "restart", mixinStandardHelpOptions = true, description = "Measure restart time with a log of N events.")
public final class Restart implements Callable<Integer>
{
    @Option(names = "--events", defaultValue = "100000000", description = "events in the log (default ${DEFAULT-VALUE})")
    long events;
    @Option(names = "--data-dir", required = true, description = "data directory (an empty one: it is filled with --events events)")
    Path dataDir;
    @Option(names = "--server-jar", defaultValue = "metering-server/target/tokenmeter.jar", description = "tokenmeter's jar")
    Path serverJar;
    @Option(names = "--heap", defaultValue = "3g", description = "-Xmx of the server (default ${DEFAULT-VALUE})")
    String heap;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @Override
    public Integer call() throws Exception
    {
        final int port;
        try (ServerSocket socket = new ServerSocket(0))
        {
            port = socket.getLocalPort();
        }
        Process server = start(port);
        awaitReady(port, System.nanoTime());
        long inLog = accepted(port);
        int round = 0;
        while (inLog < events)
        {
            final LoadGenerator generator = LoadGenerator.of(URI.create("http://127.0.0.1:" + port + "/v1/events"), 32, 1000, 0,
                "30s", "0s", "fill " + round++);
            generator.run();
            inLog = accepted(port);
            System.out.printf(Locale.ROOT, "log holds %,d events accepted by this server process%n", inLog);
        }
        stop(server, false);
        server = start(port);
        final long graceful = awaitReady(port, System.nanoTime());
        System.out.printf(Locale.ROOT, "restart after a graceful stop: ready in %.2f s%n", graceful / 1e9);
        final LoadGenerator generator = LoadGenerator.of(URI.create("http://127.0.0.1:" + port + "/v1/events"), 32, 100, 0, "20s",
            "0s", "before-kill");
        generator.run();
        stop(server, true);
        server = start(port);
        final long afterKill = awaitReady(port, System.nanoTime());
        System.out.printf(Locale.ROOT, "restart after kill -9 under load: ready in %.2f s%n", afterKill / 1e9);
        stop(server, false);
        return 0;
    }

    private Process start(final int port) throws Exception
    {
        final List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-Xmx" + heap, "-jar", serverJar.toString(), "serve", "--port", Integer.toString(port), "--data-dir", dataDir.toString()));
        return new ProcessBuilder(command).redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(Files.createDirectories(dataDir).resolve("../restart-server.log").toFile()))
            .start();
    }

    private static void stop(final Process server, final boolean kill) throws InterruptedException
    {
        if (kill)
        {
            server.destroyForcibly();
        }
        else
        {
            server.destroy();
        }
        server.waitFor(120, TimeUnit.SECONDS);
    }

    /** @return nanoseconds from {@code startNs} until ready. */
    private long awaitReady(final int port, final long startNs) throws InterruptedException
    {
        while (System.nanoTime() - startNs < TimeUnit.MINUTES.toNanos(10))
        {
            try
            {
                if (http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health/ready")).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode() == 200)
                {
                    return System.nanoTime() - startNs;
                }
            }
            catch (final java.io.IOException notYet)
            {
                // not listening yet
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
        throw new IllegalStateException("not ready within 10 minutes");
    }

    /** @return events accepted by the running server process (the fill happens in one process). */
    private long accepted(final int port) throws Exception
    {
        final String metrics = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
            HttpResponse.BodyHandlers.ofString()).body();
        for (final String line : metrics.split("\n"))
        {
            if (line.startsWith("tokenmeter_ingest_events_total{result=\"accepted\"}"))
            {
                return (long)Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return 0;
    }
}
