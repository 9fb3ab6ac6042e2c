package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The crash harness: the server runs as its own process while several gateway threads post batches with unique ids
 * and retry each until it is acknowledged (the memory keeps 20,000 ids, so most are in the dedup disk tier); the
 * harness kill -9s the server at random moments (while it appends, while it snapshots every 100 ms, while it
 * recovers, while the dedup tier seals and merges) and restarts it. At the end every tenant's usage must be exactly
 * one count of every event sent. CI runs a short form; {@code scripts/crash-harness.sh KILLS} runs a long one
 * (docs/robustness.md). Parameters: {@code -Dharness.kills}, {@code -Dharness.seed}.
 */
class CrashHarnessTest
{
    private static final int GATEWAYS = 3;
    private static final int EVENTS_PER_BATCH = 50;
    /** Each gateway posts for this many tenants, mixed in every batch, so batches span partitions and are split. */
    private static final int TENANTS_PER_GATEWAY = 4;

    @TempDir
    Path dir;

    private final int kills = Integer.getInteger("harness.kills", 6);
    private final long seed = Long.getLong("harness.seed", System.nanoTime());
    private final Random random = new Random(seed);
    private ServerProcess server;

    @AfterEach
    void stop() throws InterruptedException
    {
        if (server != null)
        {
            server.close();
        }
    }

    private static String batch(final int gateway, final int b)
    {
        final StringBuilder body = new StringBuilder("[");
        for (int e = 0; e < EVENTS_PER_BATCH; e++)
        {
            body.append(e == 0 ? "" : ",").append("{\"id\":\"b").append(b).append("-e").append(e).append("\",\"tenant\":\"gw")
                .append(gateway).append('-').append(e % TENANTS_PER_GATEWAY).append("\",\"model\":\"m").append(e % 3).append("\",\"output_tokens\":").append(e + 1).append('}');
        }
        return body.append(']').toString();
    }

    /** One gateway: posts its batches in order, retrying each until acknowledged, until told to stop. */
    private static final class Gateway extends Thread
    {
        final int number;
        final int port;
        final AtomicLong acknowledgedBatches = new AtomicLong();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        volatile boolean stopping;

        Gateway(final int number, final int port)
        {
            super("gateway-" + number);
            this.number = number;
            this.port = port;
        }

        @Override
        public void run()
        {
            final Client client = new Client(port);
            try
            {
                for (int b = 0; !stopping; b++)
                {
                    final String body = batch(number, b);
                    while (true)
                    {
                        try
                        {
                            final Client.Answer answer = client.post("/v1/events", "application/json", body);
                            if (answer.status() == 202)
                            {
                                final JsonNode counts = answer.json();
                                assertEquals(EVENTS_PER_BATCH, counts.get("accepted").asInt() + counts.get("duplicates").asInt(), answer.body());
                                assertEquals(0, counts.get("conflicts").asInt(), answer.body());
                                break;
                            }
                            assertEquals(503, answer.status(), answer.body());
                        }
                        catch (final IllegalStateException connectionLost)
                        {
                            // the server is down: retry, as a gateway does
                        }
                        LockSupport.parkNanos(20_000_000);
                    }
                    acknowledgedBatches.incrementAndGet();
                }
            }
            catch (final Throwable t)
            {
                failure.set(t);
            }
        }
    }

    @Test
    void killNineAtRandomMomentsLosesAndDoublesNothing() throws Exception
    {
        server = new ServerProcess(dir, List.of("--data-dir", dir.resolve("data").toString(), "--dedup-capacity", "20000",
            "--config", Files.writeString(dir.resolve("harness.yaml"), "snapshot-interval: 100ms\n").toString()));
        server.start();
        final List<Gateway> gateways = new ArrayList<>();
        for (int g = 0; g < GATEWAYS; g++)
        {
            final Gateway gateway = new Gateway(g, server.port());
            gateway.start();
            gateways.add(gateway);
        }
        int duringRecovery = 0;
        final long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5 + kills / 4);
        for (int k = 0; k < kills && System.nanoTime() < deadline; k++)
        {
            if (random.nextInt(10) < 3)
            {
                // while the process starts or recovers (replaying the log, loading snapshots)
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50 + random.nextInt(1200)));
            }
            else
            {
                // while traffic flows: appends, and a snapshot every 100 ms
                server.awaitReady();
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100 + random.nextInt(1500)));
            }
            if (!server.ready())
            {
                duringRecovery++;
            }
            server.killNine();
            server.launch();
        }
        server.awaitReady();
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(500));
        gateways.forEach(g -> g.stopping = true);
        for (final Gateway gateway : gateways)
        {
            gateway.join(TimeUnit.SECONDS.toMillis(60));
            assertNull(gateway.failure.get(), () -> "seed " + seed + ": gateway failed: " + gateway.failure.get());
        }

        server.killNine();
        server.start();
        long events = 0;
        final Client client = new Client(server.port());
        for (final Gateway gateway : gateways)
        {
            final long batches = gateway.acknowledgedBatches.get();
            assertTrue(batches > 0, "seed " + seed + ": gateway " + gateway.number + " made progress");
            long counted = 0;
            long tokens = 0;
            for (int t = 0; t < TENANTS_PER_GATEWAY; t++)
            {
                final JsonNode rows = client.get("/v1/usage?tenant=gw" + gateway.number + "-" + t + "&from=1970-01-01T00:00:00Z"
                    + "&to=2100-01-01T00:00:00Z&group_by=&consistent=true").json().get("rows");
                counted += rows.get(0).get("requests").asLong();
                tokens += rows.get(0).get("output_tokens").asLong();
            }
            assertEquals(batches * EVENTS_PER_BATCH, counted, "seed " + seed + ": gateway " + gateway.number + " counted once");
            assertEquals(batches * EVENTS_PER_BATCH * (EVENTS_PER_BATCH + 1) / 2, tokens,
                "seed " + seed + ": tokens of gateway " + gateway.number);
            events += counted;
            // every acknowledged batch is remembered after the last kill: a retry is a duplicate. The memory holds
            // 20,000 ids, so the earlier batches are in the dedup disk tier, spilled while the kills came
            final List<Integer> sample = new ArrayList<>(List.of(0, 1, (int)(batches / 2), (int)(batches - 1)));
            for (int i = 0; i < 16; i++)
            {
                sample.add(random.nextInt((int)batches));
            }
            for (final int b : sample)
            {
                final JsonNode retry = client.post("/v1/events", "application/json", batch(gateway.number, b)).json();
                assertEquals(EVENTS_PER_BATCH, retry.get("duplicates").asInt(), "seed " + seed + ": gateway " + gateway.number
                    + " batch " + b + " of " + batches);
            }
        }
        final String report = String.format("crash harness: %d kills survived (%d while starting or recovering), %d events "
            + "acknowledged by %d gateways for %d tenants, %s partitions, 0 lost, 0 doubled; seed %d", kills, duringRecovery,
            events, GATEWAYS, GATEWAYS * TENANTS_PER_GATEWAY, io.tokenmeter.server.TestPartitions.ofThisRun(), seed);
        System.out.println(report);
        Files.writeString(Path.of("target", "crash-harness-report.txt"), report + "\n");
    }
}
