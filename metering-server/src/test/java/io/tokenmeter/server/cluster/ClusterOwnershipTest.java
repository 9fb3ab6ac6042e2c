package io.tokenmeter.server.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.core.partition.Partitioner;
import io.tokenmeter.kafka.KafkaBrokers;
import io.tokenmeter.server.TokenmeterServer;
import io.tokenmeter.server.config.Settings;
import io.tokenmeter.server.http.Client;
import io.tokenmeter.server.http.Forwarder;
import io.tokenmeter.server.http.ServerProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code serve --cluster kafka} with the owners group ({@code kafka-ownership group}, decisions 290 to 309) on one real
 * Kafka broker shared by the class, over real HTTP, four partitions: two nodes split the partitions and agree on who
 * owns what ({@code GET /v1/cluster}); each tenant's events, reads and billing calls posted to the other node are
 * forwarded to its owner, the finance listing merged from both; a node closed gracefully hands its partitions over and the survivor
 * answers the same usage and knows every id; a node killed with kill -9 (its own process) while a gateway posts and
 * retries is taken over after its session timeout with nothing lost or doubled. Sessions of 6 s (the least the broker takes).
 */
class ClusterOwnershipTest
{
    private static final String ALL_TIME = "&from=1970-01-01T00:00:00Z&to=2100-01-01T00:00:00Z";
    private static final int PARTITIONS = 4;
    private static final int PER_TENANT = 10;
    /** requests and output tokens of one tenant's {@link #PER_TENANT} events: tokens 1 to 10. */
    private static final String COUNTED = PER_TENANT + " " + PER_TENANT * (PER_TENANT + 1) / 2;

    @TempDir
    static Path shared;
    private static KafkaBrokers brokers;

    @TempDir
    Path dir;

    private final List<TokenmeterServer> servers = new ArrayList<>();

    @BeforeAll
    static void startBroker()
    {
        brokers = KafkaBrokers.start(shared.resolve("kafka"), 1);
    }

    @AfterAll
    static void stopBroker()
    {
        if (brokers != null)
        {
            brokers.close();
        }
    }

    @AfterEach
    void stopServers()
    {
        servers.forEach(TokenmeterServer::close);
    }

    private Map<String, String> node(final String id, final String prefix)
    {
        final Map<String, String> settings = new HashMap<>(Map.of("port", "0", "data-dir", dir.resolve(id).toString(),
            "partitions", Integer.toString(PARTITIONS), "invoice-grace", "0s", "snapshot-interval", "200ms",
            "cluster", "kafka", "kafka-bootstrap", brokers.bootstrap(), "node-id", id, "kafka-topic-prefix", prefix));
        settings.put("kafka-unsafe-single-broker", "true");
        settings.put("kafka-session-timeout", "6s");
        settings.put("kafka-heartbeat-interval", "1s");
        return settings;
    }

    /** @return node {@code id} as its own process ({@code Main serve}), not started, its data in {@code dir/folder}. */
    private ServerProcess nodeProcess(final String id, final String folder, final String prefix, final String... more)
        throws java.io.IOException
    {
        final List<String> args = new ArrayList<>(List.of("--data-dir", dir.resolve(folder).toString(), "--partitions",
            Integer.toString(PARTITIONS), "--cluster", "kafka", "--kafka-bootstrap", brokers.bootstrap(), "--node-id", id,
            "--kafka-topic-prefix", prefix, "--kafka-unsafe-single-broker"));
        if (!List.of(more).contains("--kafka-session-timeout"))
        {
            args.addAll(List.of("--kafka-session-timeout", "6s"));
        }
        args.addAll(List.of(more));
        return new ServerProcess(dir, args);
    }

    private TokenmeterServer start(final Map<String, String> settings) throws Exception
    {
        final TokenmeterServer server = TokenmeterServer.start(Settings.of(settings));
        servers.add(server);
        return server;
    }

    /** @return one tenant of each partition, in partition order. */
    private static List<String> tenantPerPartition()
    {
        final Partitioner partitioner = new Partitioner(PARTITIONS);
        final String[] found = new String[PARTITIONS];
        for (int i = 0, missing = PARTITIONS; missing > 0 && i < 10_000; i++)
        {
            final String tenant = "tenant-" + i;
            if (found[partitioner.partitionOf(tenant)] == null)
            {
                found[partitioner.partitionOf(tenant)] = tenant;
                missing--;
            }
        }
        return List.of(found);
    }

    /** {@value #PER_TENANT} events of one tenant, ids {@code prefix-N}, output tokens 1 to 10, in October 2025. */
    private static String batch(final String prefix, final String tenant)
    {
        final StringBuilder body = new StringBuilder("[");
        for (int i = 0; i < PER_TENANT; i++)
        {
            body.append(i == 0 ? "" : ",").append("{\"id\":\"").append(prefix).append('-').append(i)
                .append("\",\"tenant\":\"").append(tenant).append("\",\"model\":\"gpt-4o\",\"timestamp\":\"2025-10-0")
                .append(1 + i % 9).append("T10:00:00Z\",\"input_tokens\":1000,\"output_tokens\":").append(i + 1).append('}');
        }
        return body.append(']').toString();
    }

    private static String counts(final Client.Answer answer)
    {
        assertEquals(202, answer.status(), answer.body());
        final JsonNode json = answer.json();
        return json.get("accepted").asInt() + " " + json.get("duplicates").asInt() + " " + json.get("conflicts").asInt();
    }

    /** @return "requests output_tokens" of a tenant over all time, as of every acknowledged event. */
    private static String usage(final Client client, final String tenant)
    {
        final Client.Answer answer = client.get("/v1/usage?tenant=" + tenant + ALL_TIME + "&group_by=&consistent=true");
        assertEquals(200, answer.status(), answer.body());
        final JsonNode rows = answer.json().get("rows");
        return rows.isEmpty() ? "0 0" : rows.get(0).get("requests").asLong() + " " + rows.get(0).get("output_tokens").asLong();
    }

    /** @return the answer without the time it was computed at (a draft's {@code usage_through}). */
    private static JsonNode withoutClock(final JsonNode answer)
    {
        if (answer instanceof com.fasterxml.jackson.databind.node.ObjectNode object)
        {
            object.remove("usage_through");
        }
        return answer;
    }

    private static void assertUnavailable(final Client.Answer answer, final String owner, final String url)
    {
        assertEquals(503, answer.status(), answer.body());
        assertEquals("partition_unavailable", answer.json().get("error").asText(), answer.body());
        assertEquals("1", answer.response().headers().firstValue("Retry-After").orElse(null), answer.body());
        assertTrue(answer.json().get("message").asText().contains("owned by node " + owner + " at " + url), answer.body());
    }

    /** Waits (at most 40 s) until the nodes agree on the partitions' owners ({@link ClusterView#awaitOwners}). */
    private static Map<Integer, String> awaitOwners(final Map<String, Client> nodes, final Map<String, String> urls)
    {
        return ClusterView.awaitOwners(nodes, urls, PARTITIONS, java.time.Duration.ofSeconds(40));
    }

    /**
     * Waits (at most 20 s) until node {@code id}'s counters have applied everything it acknowledged: in its
     * {@code GET /v1/cluster} each partition it serves has lag 0 and each other partition a null lag, and its
     * {@code tokenmeter_partition_lag} is 0 for the former and NaN for the latter; its own entry in {@code nodes} says
     * it is ready and the other nodes' readiness is null (not known here).
     */
    private static void awaitNoLag(final String id, final Client client, final Map<Integer, String> owners)
    {
        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        String last = "";
        while (System.nanoTime() < until)
        {
            final JsonNode cluster = client.get("/v1/cluster").json();
            final String metrics = client.get("/metrics").body();
            last = cluster + "\n" + metrics;
            boolean caughtUp = true;
            for (final JsonNode partition : cluster.get("partitions"))
            {
                final int p = partition.get("partition").asInt();
                final boolean here = owners.get(p).equals(id);
                final JsonNode lag = partition.get("lag");
                assertTrue(lag != null && (here ? lag.isIntegralNumber() && lag.asLong() >= 0 : lag.isNull()),
                    "partition " + p + "'s lag on node " + id + ": " + cluster);
                assertTrue(Pattern.compile("tokenmeter_partition_lag\\{partition=\"" + p + "\"} " + (here ? "[0-9]" : "NaN"))
                    .matcher(metrics).find(), "node " + id + "'s lag gauge of partition " + p + ": " + metrics);
                caughtUp &= !here || (lag.asLong() == 0
                    && metrics.contains("tokenmeter_partition_lag{partition=\"" + p + "\"} 0.0"));
            }
            boolean self = false;
            for (final JsonNode member : cluster.get("nodes"))
            {
                if (member.get("id").asText().equals(id))
                {
                    self = member.get("ready").asBoolean(false);
                }
                else
                {
                    assertTrue(member.get("ready").isNull(), "another node's readiness is not known here: " + cluster);
                }
            }
            if (caughtUp && self)
            {
                return;
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
        }
        throw new AssertionError("node " + id + " did not report lag 0 for its partitions and itself ready within 20 s: "
            + last);
    }

    @Test
    void nodesSplitThePartitionsRefuseTheOthersAndHandOverOnAGracefulClose() throws Exception
    {
        final List<String> tenants = tenantPerPartition();
        final TokenmeterServer a = start(node("a", "split"));
        final Client clientA = new Client(a.port());
        final Map<String, String> urls = new HashMap<>();
        awaitOwners(Map.of("a", clientA), urls);
        assertEquals("http://127.0.0.1:" + a.port(), urls.get("a"), "the node's own URL when --advertise is not given");
        final TokenmeterServer b = start(node("b", "split"));
        final Client clientB = new Client(b.port());
        final Map<String, Client> both = Map.of("a", clientA, "b", clientB);
        final Map<Integer, String> owners = awaitOwners(both, urls);

        final Map<String, JsonNode> finals = new HashMap<>();
        for (int p = 0; p < PARTITIONS; p++)
        {
            final String owner = owners.get(p);
            final String other = owner.equals("a") ? "b" : "a";
            final String tenant = tenants.get(p);
            // a request another node forwarded already is answered where it arrives: nothing is done for the share
            final Client.Answer refused = both.get(other).post("/v1/events", "application/json", batch("e" + p, tenant),
                Forwarder.HOP_HEADER, "test");
            assertUnavailable(refused, owner, urls.get(owner));
            assertTrue(refused.json().get("message").asText().startsWith("partition " + p + " "), refused.body());
            // posted to the node that does not own the partition, the events are forwarded to the owner and counted there
            assertEquals("10 0 0", counts(both.get(other).post("/v1/events", "application/json", batch("e" + p, tenant))),
                "partition " + p + "'s events, posted to " + other + " and forwarded to its owner " + owner);
            assertEquals(COUNTED, usage(both.get(owner), tenant));
            assertEquals("0 10 0", counts(both.get(owner).post("/v1/events", "application/json", batch("e" + p, tenant))),
                "the owner counted them: a retry there is a duplicate");
            // reads and billing calls of the tenant are forwarded to its owner and answered by it, as the owner answers
            for (final String path : List.of("/v1/usage?tenant=" + tenant + ALL_TIME + "&group_by=&consistent=true",
                "/v1/invoices/" + tenant + "/2025-10", "/v1/budgets/" + tenant, "/v1/tenants/" + tenant + "/credits"))
            {
                final Client.Answer direct = both.get(owner).get(path);
                final Client.Answer forwarded = both.get(other).get(path);
                assertEquals(direct.status(), forwarded.status(), path + ": " + forwarded.body());
                assertEquals(withoutClock(direct.json()), withoutClock(forwarded.json()), path + " answered by the owner "
                    + "through " + other);
                assertEquals(urls.get(owner), forwarded.response().headers().firstValue(Forwarder.ANSWERED_BY_HEADER)
                    .orElse(null), path);
                // a request another node forwarded already is answered where it arrives, never sent on
                assertUnavailable(both.get(other).get(path, Forwarder.HOP_HEADER, "test"), owner, urls.get(owner));
            }
            assertEquals(200, both.get(owner).get("/v1/invoices/" + tenant + "/2025-10").status());
            // a line's events are listed by the owner and streamed on by the other node as they come (decision 341)
            final String lineEvents = "/v1/invoices/" + tenant + "/2025-10/lines/0/events";
            final Client.Answer listed = both.get(owner).get(lineEvents);
            final Client.Answer relayed = both.get(other).get(lineEvents);
            assertEquals(200, listed.status(), listed.body());
            assertEquals(200, relayed.status(), relayed.body());
            assertEquals(listed.body(), relayed.body(), lineEvents + " relayed by " + other);
            assertEquals(urls.get(owner), relayed.response().headers().firstValue(Forwarder.ANSWERED_BY_HEADER).orElse(null));
            assertUnavailable(both.get(other).get(lineEvents, Forwarder.HOP_HEADER, "test"), owner, urls.get(owner));
            // a final invoice is a record of the tenant's partition log (invoice-grace is 0s): made through the other
            // node (forwarded to the owner), numbered in the partition's own series, and the same when asked again
            final Client.Answer finalized = both.get(other).post("/v1/invoices/" + tenant + "/2025-10/finalize", null, "");
            assertEquals(201, finalized.status(), finalized.body());
            assertEquals("final", finalized.json().get("status").asText(), finalized.body());
            assertEquals(String.format("INV-P%03d-000001", p), finalized.json().get("invoice_number").asText(),
                "partition " + p + "'s first final invoice: " + finalized.body());
            final Client.Answer again = both.get(owner).post("/v1/invoices/" + tenant + "/2025-10/finalize", null, "");
            assertEquals(200, again.status(), "finalizing again answers the invoice made before: " + again.body());
            assertEquals(finalized.json(), again.json());
            assertEquals(finalized.json(), both.get(other).get("/v1/invoices/" + tenant + "/2025-10").json());
            finals.put(tenant, finalized.json());
        }
        // one request with every partition's tenant: each node takes its own shares and forwards the others, one answer
        final StringBuilder mixed = new StringBuilder("[");
        for (int p = 0; p < PARTITIONS; p++)
        {
            final String events = batch("e" + p, tenants.get(p));
            mixed.append(p == 0 ? "" : ",").append(events, 1, events.length() - 1);
        }
        final String all = mixed.append(']').toString();
        final String fresh = all.replace("\"e", "\"m");
        assertEquals(PARTITIONS * PER_TENANT + " 0 0", counts(clientA.post("/v1/events", "application/json", fresh)),
            "new events of every partition through a: counted once each, the answer summed over the owners");
        for (final Client client : both.values())
        {
            assertEquals("0 " + PARTITIONS * PER_TENANT + " 0", counts(client.post("/v1/events", "application/json", all)),
                "every partition's events again through either node: all duplicates");
        }
        for (int p = 0; p < PARTITIONS; p++)
        {
            assertEquals(2 * PER_TENANT + " " + 2 * PER_TENANT * (PER_TENANT + 1) / 2, usage(clientB, tenants.get(p)),
                "partition " + p + " asked of b: its own or forwarded to a");
            assertEquals("0 10 0", counts(clientB.post("/v1/events", "application/json", batch("m" + p, tenants.get(p)))));
        }
        for (final Map.Entry<String, Client> node : both.entrySet())
        {
            final String metrics = node.getValue().get("/metrics").body();
            for (int p = 0; p < PARTITIONS; p++)
            {
                final boolean here = owners.get(p).equals(node.getKey());
                assertTrue(metrics.contains("tokenmeter_partition_served{partition=\"" + p + "\"} " + (here ? "1.0" : "0.0")),
                    "node " + node.getKey() + " says whether it serves partition " + p + ": " + metrics);
                // a node that once held a partition keeps its last takeover time after handing it over
                assertTrue(!here || Pattern.compile("tokenmeter_partition_takeover_seconds\\{partition=\"" + p + "\"} [0-9]")
                    .matcher(metrics).find(), "a takeover time for a partition it serves: " + metrics);
            }
        }
        for (final Map.Entry<String, Client> node : both.entrySet())
        {
            awaitNoLag(node.getKey(), node.getValue(), owners);
        }
        final List<String> listings = new ArrayList<>();
        for (final Map.Entry<String, Client> node : both.entrySet())
        {
            final Client client = node.getValue();
            assertEquals(200, client.get("/health/ready").status(), "ready: every partition it owns is recovered");
            final Client.Answer listing = client.get("/v1/invoices?period=2025-10");
            assertEquals(200, listing.status(), "the listing merges the other node's partitions: " + listing.body());
            assertEquals(PARTITIONS, listing.json().get("invoices").size(), "no tenant left out: " + listing.body());
            listings.add(listing.body());
            // asked by another node for the share of a partition it does not serve, a node refuses rather than leave it out
            final int other = owners.entrySet().stream().filter(e -> !e.getValue().equals(node.getKey())).findFirst()
                .orElseThrow().getKey();
            final Client.Answer share = client.get("/v1/invoices?period=2025-10", Map.of(Forwarder.HOP_HEADER, "test",
                Forwarder.PARTITIONS_HEADER, Integer.toString(other)));
            assertEquals(503, share.status(), share.body());
            assertEquals("partition_unavailable", share.json().get("error").asText(), share.body());
        }
        assertEquals(listings.get(0), listings.get(1), "both nodes list the same invoices");

        // a graceful close hands a's partitions over: b serves every partition, with a's counts and ids
        servers.remove(a);
        a.close();
        final Map<Integer, String> after = awaitOwners(Map.of("b", clientB), urls);
        assertEquals(PARTITIONS, after.size());
        for (int p = 0; p < PARTITIONS; p++)
        {
            assertEquals(2 * PER_TENANT + " " + 2 * PER_TENANT * (PER_TENANT + 1) / 2, usage(clientB, tenants.get(p)),
                "partition " + p + " on b after the handover");
            assertEquals("0 10 0", counts(clientB.post("/v1/events", "application/json", batch("e" + p, tenants.get(p)))),
                "partition " + p + ": a retry of what its earlier owner acknowledged is a duplicate");
            // the final invoice moved with the partition: the same invoice, and finalizing again makes no second one
            assertEquals(finals.get(tenants.get(p)), clientB.get("/v1/invoices/" + tenants.get(p) + "/2025-10").json(),
                "partition " + p + "'s final invoice on b after the handover");
            final Client.Answer again = clientB.post("/v1/invoices/" + tenants.get(p) + "/2025-10/finalize", null, "");
            assertEquals(200, again.status(), again.body());
            assertEquals(finals.get(tenants.get(p)), again.json());
            // the partition's next final invoice takes the series' next number, whichever node made the one before
            final Client.Answer next = clientB.post("/v1/invoices/" + tenants.get(p) + "/2025-09/finalize", null, "");
            assertEquals(201, next.status(), next.body());
            assertEquals(String.format("INV-P%03d-000002", p), next.json().get("invoice_number").asText(), next.body());
        }
        assertEquals(2 * PER_TENANT + " " + 2 * PER_TENANT * (PER_TENANT + 1) / 2, usage(clientB, tenants.get(0)),
            "the duplicates counted nothing");
        final Client.Answer listing = clientB.get("/v1/invoices?period=2025-10");
        assertEquals(200, listing.status(), "b owns every partition: " + listing.body());
        assertEquals(PARTITIONS, listing.json().get("invoices").size(), listing.body());
    }

    @Test
    void aNodeKilledWithKillNineIsTakenOverWithNothingLostOrDoubled() throws Exception
    {
        final List<String> tenants = tenantPerPartition();
        // c's session is 60 s: d takes its partitions over long before it ends, because d sees that nothing listens at
        // c's URL any more and removes c from the owners group (kafka-dead-node-after, 1 s by default)
        final ServerProcess c = nodeProcess("c", "c", "kill", "--config",
            Files.writeString(dir.resolve("c.yaml"), "snapshot-interval: 100ms\n").toString(), "--kafka-session-timeout",
            "60s", "--kafka-max-poll-interval", "60s");
        try (c)
        {
            c.start();
            final Client clientC = new Client(c.port());
            final Map<String, String> urls = new HashMap<>();
            awaitOwners(Map.of("c", clientC), urls);
            final TokenmeterServer d = start(node("d", "kill"));
            final Client clientD = new Client(d.port());
            final Map<String, Client> both = Map.of("c", clientC, "d", clientD);
            final Map<Integer, String> owners = awaitOwners(both, urls);
            for (int p = 0; p < PARTITIONS; p++)
            {
                final Client owner = both.get(owners.get(p));
                assertEquals("10 0 0", counts(owner.post("/v1/events", "application/json", batch("k" + p, tenants.get(p)))));
                assertEquals(COUNTED, usage(owner, tenants.get(p)));
            }
            // each tenant's October is final (invoice-grace 0s) before the kill, on whichever node owns its partition
            final Map<String, JsonNode> finals = new HashMap<>();
            for (int p = 0; p < PARTITIONS; p++)
            {
                final Client.Answer finalized = clientD.post("/v1/invoices/" + tenants.get(p) + "/2025-10/finalize", null, "");
                assertEquals(201, finalized.status(), finalized.body());
                finals.put(tenants.get(p), finalized.json());
            }

            // a gateway posts batches of one of c's partitions, retrying each on either node until one acknowledges it
            final int ofC = owners.entrySet().stream().filter(e -> e.getValue().equals("c")).findFirst().orElseThrow().getKey();
            final String tenantOfC = tenants.get(ofC);
            final int batches = 40;
            final AtomicInteger acknowledged = new AtomicInteger();
            final AtomicReference<Throwable> failure = new AtomicReference<>();
            final Thread gateway = new Thread(() ->
            {
                try
                {
                    for (int b = 0; b < batches; b++)
                    {
                        final String body = batch("g" + b, tenantOfC);
                        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                        for (int attempt = 0; ; attempt++)
                        {
                            assertTrue(System.nanoTime() < until, "batch " + b + " acknowledged within 60 s");
                            try
                            {
                                final Client.Answer answer = (attempt % 2 == 0 ? clientC : clientD).post("/v1/events",
                                    "application/json", body);
                                if (answer.status() == 202)
                                {
                                    final JsonNode json = answer.json();
                                    assertEquals(PER_TENANT, json.get("accepted").asInt() + json.get("duplicates").asInt(),
                                        answer.body());
                                    break;
                                }
                                assertEquals(503, answer.status(), answer.body());
                                assertEquals("partition_unavailable", answer.json().get("error").asText(), answer.body());
                            }
                            catch (final IllegalStateException down)
                            {
                                // c is down: retry, as a gateway does
                            }
                            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
                        }
                        acknowledged.incrementAndGet();
                    }
                }
                catch (final Throwable t)
                {
                    failure.set(t);
                }
            }, "gateway");
            gateway.start();
            for (int i = 0; i < 1000 && acknowledged.get() < batches / 4 && gateway.isAlive(); i++)
            {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
            }
            c.killNine();
            assertTrue(acknowledged.get() < batches, "killed while the gateway posts");

            // at most 40 s, so within c's 60 s session: only d's removal of c from the group lets this pass
            awaitOwners(Map.of("d", clientD), urls);
            gateway.join(TimeUnit.SECONDS.toMillis(90));
            assertNull(failure.get(), () -> "gateway failed: " + failure.get());
            assertEquals(batches, acknowledged.get());
            for (int p = 0; p < PARTITIONS; p++)
            {
                final int rounds = p == ofC ? 1 + batches : 1;
                final String expected = rounds * PER_TENANT + " " + rounds * PER_TENANT * (PER_TENANT + 1) / 2;
                assertEquals(expected, usage(clientD, tenants.get(p)), "partition " + p + " on d after the takeover: "
                    + "every acknowledged event counted once");
                assertEquals("0 10 0", counts(clientD.post("/v1/events", "application/json", batch("k" + p, tenants.get(p)))),
                    "partition " + p + ": every id c acknowledged is known");
                assertEquals(expected, usage(clientD, tenants.get(p)), "nothing doubled");
                // the final invoice c made is a record of the partition's log: d answers it unchanged, the events
                // posted after it (late for October) go to no final invoice, and finalizing again makes no second one
                assertEquals(finals.get(tenants.get(p)), clientD.get("/v1/invoices/" + tenants.get(p) + "/2025-10").json(),
                    "partition " + p + "'s final invoice after the takeover");
                assertEquals(finals.get(tenants.get(p)), clientD.post("/v1/invoices/" + tenants.get(p) + "/2025-10/finalize",
                    null, "").json());
            }
            for (final int b : new int[] {0, batches - 1})
            {
                assertEquals("0 10 0", counts(clientD.post("/v1/events", "application/json", batch("g" + b, tenantOfC))));
            }
            assertEquals(200, clientD.get("/health/ready").status());
        }
    }

    @Test
    void aNodeWhoseIdAnotherProcessJoinsWithStopsAndExitsThree() throws Exception
    {
        final ServerProcess first = nodeProcess("e", "e1", "twice");
        try (first)
        {
            first.start();
            final Map<String, String> urls = new HashMap<>();
            awaitOwners(Map.of("e", new Client(first.port())), urls);
            // a second process with the same node id (another data directory: a misconfigured second machine)
            final Map<String, String> settings = node("e", "twice");
            settings.put("data-dir", dir.resolve("e2").toString());
            final TokenmeterServer second = start(settings);
            assertEquals(3, first.awaitExit(60), first.output());
            assertTrue(first.output().contains("stopping (exit 3)"), first.output());
            assertTrue(first.output().contains("the owners group stopped this node for good"), first.output());
            awaitOwners(Map.of("e", new Client(second.port())), urls);
        }
    }

    @Test
    void aNodeStoppedPastItsSessionAcknowledgesNothingForThePartitionsItLostAndNothingItSendsIsCounted() throws Exception
    {
        final List<String> tenants = tenantPerPartition();
        final ServerProcess paused = nodeProcess("f", "f", "pause");
        try (paused)
        {
            paused.start();
            final Client clientF = new Client(paused.port());
            final Map<String, String> urls = new HashMap<>();
            awaitOwners(Map.of("f", clientF), urls);
            final TokenmeterServer g = start(node("g", "pause"));
            final Client clientG = new Client(g.port());
            final Map<String, Client> both = Map.of("f", clientF, "g", clientG);
            final Map<Integer, String> owners = awaitOwners(both, urls);
            final List<Integer> ofF = owners.entrySet().stream().filter(e -> e.getValue().equals("f")).map(Map.Entry::getKey)
                .toList();
            for (final int p : ofF)
            {
                assertEquals("10 0 0", counts(clientF.post("/v1/events", "application/json", batch("before" + p, tenants.get(p)))));
            }

            // f stands still past its session; g takes its partitions over (and fences f's writers by opening their logs)
            paused.signal("STOP");
            final java.util.concurrent.CompletableFuture<Client.Answer> sentWhilePaused;
            try
            {
                awaitOwners(Map.of("g", clientG), urls);
                // a request for f's lost partitions reaches f while it is stopped; f reads it once resumed
                final StringBuilder body = new StringBuilder("[");
                for (final int p : ofF)
                {
                    final String events = batch("after" + p, tenants.get(p));
                    body.append(body.length() == 1 ? "" : ",").append(events, 1, events.length() - 1);
                }
                final String request = body.append(']').toString();
                // marked as forwarded already, so that f answers it itself rather than forward it to g once resumed
                sentWhilePaused = java.util.concurrent.CompletableFuture.supplyAsync(
                    () -> clientF.post("/v1/events", "application/json", request, Forwarder.HOP_HEADER, "gateway"));
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(500));
            }
            finally
            {
                paused.signal("CONT");
            }
            final Client.Answer answer = sentWhilePaused.get(30, TimeUnit.SECONDS);
            assertEquals(503, answer.status(), "a node resumed after losing its partitions acknowledges nothing for them: "
                + answer.body());
            assertEquals("partition_unavailable", answer.json().get("error").asText(), answer.body());

            // f rejoins; wherever the partitions are now, what f acknowledged is counted once and what it was sent after
            // losing them is not counted at all
            final Map<Integer, String> now = awaitOwners(both, urls);
            for (final int p : ofF)
            {
                final Client owner = both.get(now.get(p));
                assertEquals(COUNTED, usage(owner, tenants.get(p)), "partition " + p + ": f's acknowledged events, once");
                assertEquals("0 10 0", counts(owner.post("/v1/events", "application/json", batch("before" + p, tenants.get(p)))));
                assertEquals("10 0 0", counts(owner.post("/v1/events", "application/json", batch("after" + p, tenants.get(p)))),
                    "partition " + p + ": nothing f was sent after losing the partition went into its log");
            }
        }
    }
}
