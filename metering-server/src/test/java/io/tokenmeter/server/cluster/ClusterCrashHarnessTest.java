package io.tokenmeter.server.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.server.http.Client;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
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
 * The cluster crash harness (issue 18): three real Kafka brokers (replication three ways, min ISR 2) and three nodes,
 * each its own process, four partitions. Gateway threads post batches with unique ids that mix four tenants each (so
 * every batch is split across partitions and owners), each attempt to a node picked at random, and retry each batch
 * until it is acknowledged. The harness kill -9s a random node (restarted at once, within its session, or after it;
 * either way the others usually take its partitions over first, having removed it from the owners group once its URL
 * refused connections for a second, and hand some back when it rejoins) and, separately, one
 * broker at a time (restarted after some seconds of traffic on the other two); after each fault it waits until the
 * nodes agree on the owners again. At the end every acknowledged event is counted exactly once (usage with
 * {@code consistent=true} asked of any node), a retry of any acknowledged batch, through any node, is all
 * duplicates, and the final invoices made before the faults (October 2025, with usage) and after each one are
 * unchanged, each partition's series of numbers without a gap. CI runs a short form; {@code scripts/cluster-crash-harness.sh NODE_KILLS BROKER_KILLS} the long one
 * (docs/robustness.md). Parameters: {@code -Dharness.nodeKills}, {@code -Dharness.brokerKills}, {@code -Dharness.seed}.
 */
class ClusterCrashHarnessTest
{
    private static final int BROKERS = 3;
    private static final int NODES = 3;
    private static final int PARTITIONS = 4;
    private static final int GATEWAYS = 3;
    private static final int EVENTS_PER_BATCH = 20;
    private static final int TENANTS_PER_GATEWAY = 4;
    /** The nodes' session timeout is 6 s: a node restarted after this long has had its partitions taken over. */
    private static final long PAST_SESSION_MS = 8_000;
    private static final Duration SETTLE = Duration.ofSeconds(90);

    @TempDir
    Path dir;

    private final int nodeKills = Integer.getInteger("harness.nodeKills", 1);
    private final int brokerKills = Integer.getInteger("harness.brokerKills", 1);
    private final long seed = Long.getLong("harness.seed", System.nanoTime());
    private final Random random = new Random(seed);
    private ProcessCluster cluster;

    @AfterEach
    void stop()
    {
        if (cluster != null)
        {
            cluster.close();
        }
    }

    private static String tenant(final int gateway, final int t)
    {
        return "cgw" + gateway + "-" + t;
    }

    private static String batch(final int gateway, final int b)
    {
        final StringBuilder body = new StringBuilder("[");
        for (int e = 0; e < EVENTS_PER_BATCH; e++)
        {
            body.append(e == 0 ? "" : ",").append("{\"id\":\"b").append(b).append("-e").append(e).append("\",\"tenant\":\"")
                .append(tenant(gateway, e % TENANTS_PER_GATEWAY)).append("\",\"model\":\"m").append(e % 3)
                .append("\",\"output_tokens\":").append(e + 1).append('}');
        }
        return body.append(']').toString();
    }

    /** One gateway: posts its batches in order, each attempt to a random node, retrying each until acknowledged. */
    private static final class Gateway extends Thread
    {
        final int number;
        final List<Client> nodes;
        final Random random;
        final AtomicLong acknowledgedBatches = new AtomicLong();
        final AtomicLong refusals = new AtomicLong();
        final AtomicLong connectionsLost = new AtomicLong();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        volatile boolean stopping;

        Gateway(final int number, final List<Client> nodes, final long seed)
        {
            super("gateway-" + number);
            this.number = number;
            this.nodes = nodes;
            this.random = new Random(seed);
        }

        @Override
        public void run()
        {
            try
            {
                for (int b = 0; !stopping; b++)
                {
                    final String body = batch(number, b);
                    final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                    while (true)
                    {
                        assertTrue(System.nanoTime() < until, "gateway " + number + ": batch " + b
                            + " acknowledged within 120 s");
                        try
                        {
                            final Client.Answer answer = nodes.get(random.nextInt(nodes.size())).post("/v1/events",
                                "application/json", body);
                            if (answer.status() == 202)
                            {
                                final JsonNode counts = answer.json();
                                assertEquals(EVENTS_PER_BATCH, counts.get("accepted").asInt() + counts.get("duplicates").asInt(),
                                    answer.body());
                                assertEquals(0, counts.get("conflicts").asInt(), answer.body());
                                break;
                            }
                            assertEquals(503, answer.status(), answer.body());
                            refusals.incrementAndGet();
                        }
                        catch (final IllegalStateException connectionLost)
                        {
                            // the node is down or did not answer in time: retry, as a gateway does
                            connectionsLost.incrementAndGet();
                        }
                        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
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

    /**
     * Finalizes a tenant's period through random nodes, retrying 503s and lost connections (at most 90 s), and checks
     * that a repeat through another node answers the same invoice.
     *
     * @return the final invoice.
     */
    private JsonNode makeFinal(final List<Client> clients, final String tenant, final String period)
    {
        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        String last = "";
        while (System.nanoTime() < until)
        {
            try
            {
                final Client.Answer answer = clients.get(random.nextInt(clients.size())).post("/v1/invoices/" + tenant + "/"
                    + period + "/finalize", null, "");
                if (answer.status() == 200 || answer.status() == 201)
                {
                    assertEquals("final", answer.json().get("status").asText(), answer.body());
                    return answer.json();
                }
                assertEquals(503, answer.status(), answer.body());
                last = answer.body();
            }
            catch (final IllegalStateException connectionLost)
            {
                last = connectionLost.getMessage();
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
        }
        throw new AssertionError("seed " + seed + ": " + tenant + " " + period + " not finalized within 90 s: " + last);
    }

    private void pause(final int fromMs, final int toMs)
    {
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(fromMs + random.nextInt(toMs - fromMs)));
    }

    @Test
    void killNineOfNodesAndBrokersUnderRetryingLoadLosesAndDoublesNothing() throws Exception
    {
        cluster = ProcessCluster.start(dir, BROKERS, NODES, PARTITIONS, "harness",
            List.of("--config", Files.writeString(dir.resolve("harness.yaml"), "snapshot-interval: 200ms\n").toString()));
        cluster.awaitOwners(PARTITIONS, SETTLE);
        final List<Client> clients = new ArrayList<>();
        for (int i = 0; i < NODES; i++)
        {
            clients.add(cluster.client(i));
        }
        // every tenant has October 2025 usage, made final before any fault; more periods are made final between faults
        final java.util.Map<String, JsonNode> finals = new java.util.TreeMap<>();
        for (int g = 0; g < GATEWAYS; g++)
        {
            for (int t = 0; t < TENANTS_PER_GATEWAY; t++)
            {
                final String tenant = tenant(g, t);
                final Client.Answer october = clients.get(random.nextInt(NODES)).post("/v1/events", "application/json",
                    "[{\"id\":\"october\",\"tenant\":\"" + tenant + "\",\"model\":\"m0\",\"timestamp\":"
                    + "\"2025-10-15T10:00:00Z\",\"output_tokens\":" + (1000 + t) + "}]");
                assertEquals(202, october.status(), october.body());
                finals.put(tenant + " 2025-10", makeFinal(clients, tenant, "2025-10"));
            }
        }
        final List<Gateway> gateways = new ArrayList<>();
        for (int g = 0; g < GATEWAYS; g++)
        {
            final Gateway gateway = new Gateway(g, clients, seed + g);
            gateway.start();
            gateways.add(gateway);
        }
        final List<Boolean> faults = new ArrayList<>();
        for (int k = 0; k < nodeKills; k++)
        {
            faults.add(true);
        }
        for (int k = 0; k < brokerKills; k++)
        {
            faults.add(false);
        }
        Collections.shuffle(faults, random);
        int restartedWithinSession = 0;
        int takenOver = 0;
        final StringBuilder log = new StringBuilder();
        for (final boolean nodeFault : faults)
        {
            pause(1_000, 3_000);
            for (final Gateway gateway : gateways)
            {
                assertNull(gateway.failure.get(), () -> "seed " + seed + ": gateway failed: " + gateway.failure.get()
                    + "\nfaults so far:" + log);
            }
            if (nodeFault)
            {
                final int node = random.nextInt(NODES);
                final boolean pastSession = random.nextBoolean();
                cluster.killNode(node);
                log.append("\n  kill -9 node ").append(ProcessCluster.id(node));
                if (pastSession)
                {
                    // the others take its partitions over, and hand some back when it rejoins
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(PAST_SESSION_MS + random.nextInt(3_000)));
                    takenOver++;
                }
                else
                {
                    pause(100, 2_000);
                    restartedWithinSession++;
                }
                cluster.startNode(node);
            }
            else
            {
                final int broker = random.nextInt(BROKERS);
                cluster.brokers().kill(broker);
                log.append("\n  kill -9 broker ").append(broker + 1);
                pause(3_000, 8_000);
                cluster.brokers().restart(broker);
            }
            cluster.awaitOwners(PARTITIONS, SETTLE);
            // a final invoice made right after the fault, through a random node, while the gateways post
            final String tenant = tenant(random.nextInt(GATEWAYS), random.nextInt(TENANTS_PER_GATEWAY));
            final String period = String.format("2024-%02d", 1 + finals.size() % 12);
            final JsonNode made = makeFinal(clients, tenant, period);
            final JsonNode before = finals.putIfAbsent(tenant + " " + period, made);
            assertTrue(before == null || before.equals(made), "finalizing again answers the invoice made before: " + made);
        }
        pause(500, 1_500);
        gateways.forEach(g -> g.stopping = true);
        for (final Gateway gateway : gateways)
        {
            gateway.join(TimeUnit.SECONDS.toMillis(150));
            assertNull(gateway.failure.get(), () -> "seed " + seed + ": gateway failed: " + gateway.failure.get()
                + "\nfaults:" + log);
            assertTrue(!gateway.isAlive(), "gateway " + gateway.number + " stopped");
        }

        cluster.awaitOwners(PARTITIONS, SETTLE);
        long events = 0;
        long refusals = 0;
        long connectionsLost = 0;
        for (final Gateway gateway : gateways)
        {
            final long batches = gateway.acknowledgedBatches.get();
            assertTrue(batches > 0, "seed " + seed + ": gateway " + gateway.number + " made progress");
            long counted = 0;
            long tokens = 0;
            for (int t = 0; t < TENANTS_PER_GATEWAY; t++)
            {
                // asked of any node: answered by the tenant's partition's owner, as of every event it acknowledged
                // (the gateways' events are stamped at receipt, after October 2025)
                final Client.Answer usage = clients.get(random.nextInt(NODES)).get("/v1/usage?tenant=" + tenant(gateway.number, t)
                    + "&from=2025-11-01T00:00:00Z&to=2100-01-01T00:00:00Z&group_by=&consistent=true");
                assertEquals(200, usage.status(), usage.body());
                final JsonNode rows = usage.json().get("rows");
                counted += rows.get(0).get("requests").asLong();
                tokens += rows.get(0).get("output_tokens").asLong();
            }
            assertEquals(batches * EVENTS_PER_BATCH, counted, "seed " + seed + ": gateway " + gateway.number
                + "'s events counted once; faults:" + log);
            assertEquals(batches * EVENTS_PER_BATCH * (EVENTS_PER_BATCH + 1) / 2, tokens,
                "seed " + seed + ": tokens of gateway " + gateway.number);
            events += counted;
            refusals += gateway.refusals.get();
            connectionsLost += gateway.connectionsLost.get();
            // every acknowledged batch is remembered by the owners of its partitions now: a retry is all duplicates
            final List<Integer> sample = new ArrayList<>(List.of(0, (int)(batches / 2), (int)(batches - 1)));
            for (int i = 0; i < 5; i++)
            {
                sample.add(random.nextInt((int)batches));
            }
            for (final int b : sample)
            {
                final Client.Answer retry = clients.get(random.nextInt(NODES)).post("/v1/events", "application/json",
                    batch(gateway.number, b));
                assertEquals(202, retry.status(), retry.body());
                assertEquals(EVENTS_PER_BATCH, retry.json().get("duplicates").asInt(), "seed " + seed + ": gateway "
                    + gateway.number + " batch " + b + " of " + batches + ": " + retry.body());
            }
        }
        // final invoices never changed, and each partition's series holds every number from 1 up once
        final java.util.Map<String, java.util.TreeSet<Long>> series = new java.util.TreeMap<>();
        int numbered = 0;
        for (final java.util.Map.Entry<String, JsonNode> made : finals.entrySet())
        {
            final String[] tenantAndPeriod = made.getKey().split(" ");
            final Client.Answer now = clients.get(random.nextInt(NODES)).get("/v1/invoices/" + tenantAndPeriod[0] + "/"
                + tenantAndPeriod[1]);
            assertEquals(200, now.status(), now.body());
            assertEquals(made.getValue(), now.json(), "seed " + seed + ": the final invoice of " + made.getKey()
                + " is unchanged; faults:" + log);
            final String number = made.getValue().get("invoice_number").asText();
            assertTrue(number.matches("INV-P00[0-3]-[0-9]{6}"), number);
            assertTrue(series.computeIfAbsent(number.substring(0, 8), k -> new java.util.TreeSet<>())
                .add(Long.parseLong(number.substring(9))), "seed " + seed + ": " + number + " given once");
            numbered++;
        }
        for (final java.util.Map.Entry<String, java.util.TreeSet<Long>> numbers : series.entrySet())
        {
            assertEquals(numbers.getValue().size(), numbers.getValue().last(), "seed " + seed + ": series "
                + numbers.getKey() + " has no gap: " + numbers.getValue());
        }
        final String report = String.format("cluster crash harness: %d node kills (%d restarted within the session, %d "
            + "after the others took over) and %d broker kills survived, %d brokers, %d nodes, %d partitions, %d events "
            + "acknowledged by %d gateways for %d tenants (%d refusals and %d lost connections retried), 0 lost, 0 doubled; "
            + "%d final invoices unchanged, numbered without gaps in %d series; seed %d", nodeKills, restartedWithinSession,
            takenOver, brokerKills, BROKERS, NODES, PARTITIONS, events, GATEWAYS, GATEWAYS * TENANTS_PER_GATEWAY, refusals,
            connectionsLost, numbered, series.size(), seed);
        System.out.println(report + "\nfaults:" + log);
        Files.writeString(Path.of("target", "cluster-crash-harness-report.txt"), report + "\n");
    }
}
