package io.tokenmeter.benchmarks.load;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A server under test in its own JVM ({@code -Xmx} = {@code -Xms} = the heap, pre-touched, transparent huge pages) on a
 * free loopback port, its output in a temporary file; ready once it answers its ready path (120 s at most); stopped
 * with SIGTERM on close (forcibly after 60 s).
 */
public record ServerProcess(Process process, int port) implements AutoCloseable
{
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    /** @return tokenmeter serving {@code dataDir}, ready. */
    public static ServerProcess tokenmeter(final Path serverJar, final Path dataDir, final String durability,
        final Integer partitions, final String heap) throws IOException
    {
        final int port = freePort();
        final List<String> args = new ArrayList<>(List.of("-jar", serverJar.toString(), "serve", "--port", Integer.toString(port),
            "--data-dir", dataDir.toString(), "--durability", durability));
        if (partitions != null)
        {
            args.addAll(List.of("--partitions", partitions.toString()));
        }
        return start(args, port, "/health/ready", heap);
    }

    /**
     * @param args      the JVM's arguments after the heap flags.
     * @param readyPath a path that answers 200 once the server is ready, or any other path: ready when the port accepts.
     */
    public static ServerProcess start(final List<String> args, final int port, final String readyPath, final String heap)
        throws IOException
    {
        final List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-Xmx" + heap, "-Xms" + heap, "-XX:+AlwaysPreTouch", "-XX:+UseTransparentHugePages"));
        command.addAll(args);
        final Process process = new ProcessBuilder(command).redirectErrorStream(true)
            .redirectOutput(Files.createTempFile("bench-server", ".log").toFile()).start();
        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < until)
        {
            if (!process.isAlive())
            {
                throw new IllegalStateException("server exited: " + args);
            }
            if (answers(port, readyPath))
            {
                return new ServerProcess(process, port);
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
        }
        process.destroyForcibly();
        throw new IllegalStateException("server not ready within 120 s: " + args);
    }

    public static int freePort() throws IOException
    {
        try (ServerSocket socket = new ServerSocket(0))
        {
            return socket.getLocalPort();
        }
    }

    @Override
    public void close() throws InterruptedException
    {
        process.destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS))
        {
            process.destroyForcibly();
        }
    }

    private static boolean answers(final int port, final String path)
    {
        try (Socket probe = new Socket())
        {
            probe.connect(new InetSocketAddress("127.0.0.1", port), 200);
        }
        catch (final IOException notYet)
        {
            return false;
        }
        if (!path.startsWith("/health"))
        {
            return true;
        }
        try
        {
            return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
        }
        catch (final IOException | InterruptedException ex)
        {
            return false;
        }
    }
}
