package io.tokenmeter.server.http;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Access control of the server as its own process: SIGHUP reloads the keys file, and a public bind without keys
 * stops the start with a message and a non-zero exit.
 */
class AccessProcessTest
{
    @TempDir
    Path dir;

    private ServerProcess server;

    @AfterEach
    void stop() throws InterruptedException
    {
        if (server != null)
        {
            server.close();
        }
    }

    @Test
    void bindingAPublicAddressWithoutKeysExitsNonZeroWithAMessage() throws Exception
    {
        final List<String> command = ServerProcess.javaCommand();
        command.addAll(List.of("io.tokenmeter.server.Main", "serve", "--port", "0", "--bind", "0.0.0.0",
            "--data-dir", dir.resolve("data").toString()));
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "the process ends by itself");
        final String output = new String(process.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(2, process.exitValue(), output);
        assertTrue(output.contains("refusing to bind 0.0.0.0: no API keys are configured (--keys FILE)"), output);
    }

    /** With polling off, a changed keys file is put in force by SIGHUP alone; the process survives the signal. */
    @Test
    void sighupReloadsTheKeysFile() throws Exception
    {
        final KeyFixture keys = new KeyFixture().add("first", "read", "*").add("second", "admin");
        final Path file = keys.write(dir.resolve("keys.yaml"), "first");
        server = new ServerProcess(dir, List.of("--data-dir", dir.resolve("data").toString(), "--keys", file.toString(),
            "--config", KeyFixture.writeText(dir.resolve("config.yaml"), "keys-poll: 0s\n").toString()));
        server.start();
        final Client client = new Client(server.port());
        final Client first = client.withKey(keys.secret("first"));
        final Client second = client.withKey(keys.secret("second"));
        assertEquals(200, first.get("/v1/prices").status());
        assertEquals(401, second.get("/v1/prices").status());

        keys.write(file, "second");
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(300));
        assertEquals(200, first.get("/v1/prices").status(), "with polling off nothing changes before the signal");

        // a JVM started with SIGHUP ignored (the test run under nohup) keeps it ignored, and the server says so
        Assumptions.assumeFalse(outputOf(server).contains("SIGHUP is ignored by this process"),
            "this test run ignores SIGHUP (nohup): the server cannot be sent one");
        server.signal("HUP");
        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (second.get("/v1/prices").status() != 200 && System.nanoTime() < until)
        {
            LockSupport.parkNanos(50_000_000);
        }
        assertEquals(200, second.get("/v1/prices").status(), () -> "the new key works after SIGHUP; the server wrote:\n"
            + outputOf(server));
        assertEquals(401, first.get("/v1/prices").status(), "the removed key is refused");
        assertEquals(200, client.get("/health/live").status(), "the process lives on");
        final String output = server.output();
        assertTrue(output.contains("SIGHUP received: reloading the keys file"), output);
        assertTrue(output.contains("reloaded: 1 keys: second (admin *)"), output);
        assertEquals(List.of(), keys.keyMaterialIn(output), "the server's output holds no key material");
    }

    private static String outputOf(final ServerProcess server)
    {
        try
        {
            return server.output();
        }
        catch (final IOException ex)
        {
            return "(its output cannot be read: " + ex + ")";
        }
    }
}
