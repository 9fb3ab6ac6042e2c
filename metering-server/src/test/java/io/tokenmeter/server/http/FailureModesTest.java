package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.core.log.Faults;
import io.tokenmeter.server.TokenmeterServer;
import io.tokenmeter.server.config.Settings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What users see when the log cannot be written (a full or failing disk) and when the journal cannot keep up: 503 with
 * Retry-After, nothing of a refused request counted or remembered, readiness saying why, recovery by itself.
 */
class FailureModesTest
{
    @TempDir
    Path dataDir;

    private final Faults faults = new Faults();
    private TokenmeterServer server;
    private Client client;

    @AfterEach
    void stop()
    {
        if (server != null)
        {
            server.close();
        }
    }

    private void start(final Map<String, String> extra) throws Exception
    {
        final Map<String, String> settings = new HashMap<>(Map.of("port", "0", "data-dir", dataDir.toString()));
        settings.putAll(extra);
        server = TokenmeterServer.start(Settings.of(io.tokenmeter.server.TestPartitions.apply(settings)), faults);
        for (int i = 0; i < 1000 && !server.isReady(); i++)
        {
            LockSupport.parkNanos(10_000_000);
        }
        assertTrue(server.isReady());
        client = new Client(server.port());
    }

    private static String batch(final String prefix, final int events)
    {
        final StringBuilder body = new StringBuilder("[");
        for (int i = 0; i < events; i++)
        {
            body.append(i == 0 ? "" : ",").append("{\"id\":\"").append(prefix).append(i)
                .append("\",\"tenant\":\"acme\",\"model\":\"m\",\"input_tokens\":7}");
        }
        return body.append(']').toString();
    }

    private long counted()
    {
        final JsonNode rows = client.get("/v1/usage?tenant=acme&from=1970-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&group_by="
            + "&consistent=true").json().get("rows");
        return rows.isEmpty() ? 0 : rows.get(0).get("requests").asLong();
    }

    @Test
    void aFailingLogIsAnswered503AndIngestResumesWhenItWritesAgain() throws Exception
    {
        start(Map.of());
        assertEquals(202, client.post("/v1/events", "application/json", batch("before-", 2)).status());
        faults.failAppends("No space left on device");
        final Client.Answer refused = client.post("/v1/events", "application/json", batch("during-", 3));
        assertEquals(503, refused.status(), refused.body());
        assertEquals("log_unwritable", refused.json().get("error").asText());
        assertTrue(refused.response().headers().firstValue("Retry-After").isPresent());
        final Client.Answer ready = client.get("/health/ready");
        assertEquals(503, ready.status());
        assertTrue(ready.body().contains("journal failing") && ready.body().contains("No space left on device"), ready.body());
        assertTrue(client.get("/metrics").body().contains("tokenmeter_log_append_failures_total 1.0"));

        faults.failAppends(null);
        final Client.Answer retried = client.post("/v1/events", "application/json", batch("during-", 3));
        assertEquals(202, retried.status(), retried.body());
        assertEquals(3, retried.json().get("accepted").asInt(), "the refused ids were not remembered: the retry counts");
        assertEquals(200, client.get("/health/ready").status(), "ready again after an append succeeds");
        assertEquals(5, counted());
    }

    @Test
    void aSlowJournalShedsLoadWith503AndLosesNothingItAccepted() throws Exception
    {
        start(Map.of("journal-queue", "4"));
        faults.delayAppends(150, TimeUnit.MILLISECONDS);
        final int clients = 24;
        final Map<String, Integer> status = new ConcurrentHashMap<>();
        final AtomicInteger maxDepth = new AtomicInteger();
        final CountDownLatch go = new CountDownLatch(1);
        final List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < clients; c++)
        {
            final String id = "slow-" + c;
            final Thread thread = new Thread(() ->
            {
                final Client own = new Client(server.port());
                try
                {
                    go.await();
                }
                catch (final InterruptedException ex)
                {
                    return;
                }
                status.put(id, own.post("/v1/events", "application/json", batch(id + "-", 1)).status());
            });
            thread.start();
            threads.add(thread);
        }
        go.countDown();
        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (threads.stream().anyMatch(Thread::isAlive) && System.nanoTime() < until)
        {
            maxDepth.accumulateAndGet((int)server.partitions().sum(p -> p.journal().inboxSize()), Math::max);
            LockSupport.parkNanos(1_000_000);
        }
        for (final Thread thread : threads)
        {
            thread.join(TimeUnit.SECONDS.toMillis(30));
        }
        assertEquals(clients, status.size());
        final long shed = status.values().stream().filter(s -> s == 503).count();
        final long accepted = status.values().stream().filter(s -> s == 202).count();
        assertEquals(clients, shed + accepted, "every answer is 202 or 503: " + status);
        assertTrue(shed > 0, "the bounded queue shed load: " + status);
        assertTrue(maxDepth.get() <= 4, "the queue never held more than journal-queue requests: " + maxDepth.get());
        assertEquals(accepted, counted(), "every acknowledged event is counted, no refused one");

        faults.delayAppends(0, TimeUnit.MILLISECONDS);
        for (final Map.Entry<String, Integer> entry : status.entrySet())
        {
            final Client.Answer retry = client.post("/v1/events", "application/json", batch(entry.getKey() + "-", 1));
            assertEquals(202, retry.status(), "recovered by itself");
            assertEquals(entry.getValue() == 202 ? 1 : 0, retry.json().get("duplicates").asInt(), entry.getKey());
        }
        assertEquals(clients, counted(), "each event exactly once after the retries");
    }
}
