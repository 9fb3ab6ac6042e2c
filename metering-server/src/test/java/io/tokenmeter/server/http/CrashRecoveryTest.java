package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * kill -9 of a server running as its own process while a client posts batches and retries each until acknowledged:
 * afterwards every event is counted exactly once.
 */
class CrashRecoveryTest
{
    private static final int BATCHES = 60;
    private static final int EVENTS_PER_BATCH = 100;
    private static final long DEADLINE_NS = TimeUnit.SECONDS.toNanos(120);

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

    private static String batch(final int b)
    {
        final StringBuilder body = new StringBuilder("[");
        for (int e = 0; e < EVENTS_PER_BATCH; e++)
        {
            body.append(e == 0 ? "" : ",").append("{\"id\":\"b").append(b).append("-e").append(e)
                .append("\",\"tenant\":\"crash\",\"model\":\"m").append(e % 3).append("\",\"output_tokens\":").append(e + 1).append('}');
        }
        return body.append(']').toString();
    }

    @Test
    void killNineDuringTrafficLosesAndDoublesNothing() throws Exception
    {
        server = new ServerProcess(dir, List.of("--data-dir", dir.resolve("data").toString(), "--dedup-capacity", "100000"));
        final int port = server.port();
        server.start();
        final AtomicInteger acked = new AtomicInteger();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final long deadline = System.nanoTime() + DEADLINE_NS;
        final Thread gateway = new Thread(() ->
        {
            final Client client = new Client(port);
            try
            {
                for (int b = 0; b < BATCHES; b++)
                {
                    final String body = batch(b);
                    while (true)
                    {
                        if (System.nanoTime() > deadline)
                        {
                            throw new AssertionError("batch " + b + " not acknowledged before the deadline");
                        }
                        try
                        {
                            final Client.Answer answer = client.post("/v1/events", "application/json", body);
                            if (answer.status() == 202)
                            {
                                final JsonNode counts = answer.json();
                                assertEquals(EVENTS_PER_BATCH, counts.get("accepted").asInt() + counts.get("duplicates").asInt(),
                                    answer.body());
                                assertEquals(0, counts.get("conflicts").asInt());
                                break;
                            }
                        }
                        catch (final IllegalStateException connectionLost)
                        {
                            // the server is down: retry, as a gateway does
                        }
                        LockSupport.parkNanos(20_000_000);
                    }
                    acked.incrementAndGet();
                }
            }
            catch (final Throwable t)
            {
                failure.set(t);
            }
        }, "gateway");
        gateway.start();

        for (final int killAfter : new int[] {10, 25, 40})
        {
            while (acked.get() < killAfter && gateway.isAlive() && System.nanoTime() < deadline)
            {
                LockSupport.parkNanos(1_000_000);
            }
            server.killNine();
            server.start();
        }
        gateway.join(TimeUnit.NANOSECONDS.toMillis(Math.max(1, deadline - System.nanoTime())));
        assertNull(failure.get(), () -> "gateway failed: " + failure.get());
        assertEquals(BATCHES, acked.get());

        final Client client = new Client(port);
        final JsonNode rows = client.get("/v1/usage?tenant=crash&from=1970-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"
            + "&group_by=&consistent=true").json().get("rows");
        final long expectedOutput = (long)BATCHES * EVENTS_PER_BATCH * (EVENTS_PER_BATCH + 1) / 2;
        assertEquals(BATCHES * EVENTS_PER_BATCH, rows.get(0).get("requests").asLong(), "every event counted once");
        assertEquals(expectedOutput, rows.get(0).get("output_tokens").asLong());

        server.killNine();
        server.start();
        for (int b = 0; b < BATCHES; b += 7)
        {
            final JsonNode counts = client.post("/v1/events", "application/json", batch(b)).json();
            assertEquals(EVENTS_PER_BATCH, counts.get("duplicates").asInt(), "batch " + b + " remembered after kill -9");
        }
    }
}
