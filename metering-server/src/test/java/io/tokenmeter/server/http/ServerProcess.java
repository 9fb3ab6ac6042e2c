package io.tokenmeter.server.http;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The server as its own process ({@code Main serve}) on a fixed loopback port, with its output in a log file per start. */
public final class ServerProcess implements AutoCloseable
{
    private final Path dir;
    private final int port;
    private final List<String> args;
    private Process process;
    private Path log;
    private int starts;

    /** @param args {@code serve} flags besides the port. */
    public ServerProcess(final Path dir, final List<String> args) throws IOException
    {
        this.dir = dir;
        this.args = List.copyOf(args);
        try (ServerSocket socket = new ServerSocket(0))
        {
            port = socket.getLocalPort();
        }
    }

    public int port()
    {
        return port;
    }

    public long pid()
    {
        return process.pid();
    }

    /** @return everything the current process has written so far. */
    public String output() throws IOException
    {
        return Files.readString(log);
    }

    /** @return {@code java}, the JVM flags the server needs and this test's class path, ready for a main class. */
    public static List<String> javaCommand()
    {
        final List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (final String flag : System.getProperty("tokenmeter.test.jvmFlags", "").trim().split("\\s+"))
        {
            if (!flag.isEmpty())
            {
                command.add(flag);
            }
        }
        command.addAll(List.of("-Xmx512m", "-cp", System.getProperty("java.class.path")));
        return command;
    }

    /** Starts the process and waits (at most 60 s) until {@code /health/ready} answers 200. */
    public void start() throws IOException
    {
        launch();
        awaitReady();
    }

    /** Starts the process without waiting for it. */
    public void launch() throws IOException
    {
        final List<String> command = javaCommand();
        command.addAll(List.of("io.tokenmeter.server.Main", "serve", "--port", Integer.toString(port)));
        command.addAll(args);
        log = dir.resolve("server-" + (starts++) + ".log");
        process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    /** @return true if {@code /health/ready} answers 200 now. */
    public boolean ready()
    {
        try
        {
            return new Client(port).get("/health/ready").status() == 200;
        }
        catch (final IllegalStateException notListening)
        {
            return false;
        }
    }

    /** Waits (at most 60 s) until {@code /health/ready} answers 200. */
    public void awaitReady() throws IOException
    {
        final Client client = new Client(port);
        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < until)
        {
            try
            {
                if (client.get("/health/ready").status() == 200)
                {
                    return;
                }
            }
            catch (final IllegalStateException notYet)
            {
                // not listening yet
            }
            assertTrue(process.isAlive(), "server process died; see " + log);
            LockSupport.parkNanos(50_000_000);
        }
        throw new AssertionError("server not ready within 60 s; see " + log);
    }

    /** SIGKILL, and waits for the process to be gone. */
    public void killNine() throws InterruptedException
    {
        process.destroyForcibly();
        assertTrue(process.waitFor(10, TimeUnit.SECONDS));
    }

    /**
     * Waits (at most {@code seconds}) for the process to exit on its own.
     *
     * @return its exit code.
     */
    public int awaitExit(final long seconds) throws InterruptedException
    {
        assertTrue(process.waitFor(seconds, TimeUnit.SECONDS), "the server process did not exit within " + seconds
            + " s; see " + log);
        return process.exitValue();
    }

    /** Sends a signal by name (e.g. HUP) with kill(1). */
    public void signal(final String name) throws IOException, InterruptedException
    {
        final Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start();
        assertTrue(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0, "kill -" + name);
    }

    @Override
    public void close() throws InterruptedException
    {
        if (process != null)
        {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
