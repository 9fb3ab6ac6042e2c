package io.tokenmeter.server.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.core.partition.DataLayout;
import io.tokenmeter.core.partition.Partitioner;
import io.tokenmeter.kafka.KafkaEventLog;
import io.tokenmeter.kafka.KafkaBrokers;
import io.tokenmeter.server.TokenmeterServer;
import io.tokenmeter.server.config.Settings;
import io.tokenmeter.server.config.SettingsException;
import io.tokenmeter.server.http.Client;
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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code serve --cluster kafka} (SPEC section 10) on one real Kafka broker (a separate JVM, shared by the tests; each
 * test has its own topic prefix) over real HTTP: answers exact as on a single node, a restart and a kill -9 that lose
 * and double nothing, a second node that fences the first, and the settings and data directories it refuses, all with
 * {@code kafka-ownership static} (the owners group is ClusterOwnershipTest's). Two
 * partitions throughout, so requests are split; not in the four-partition surefire run (its broker costs a start).
 */
class ClusterServeTest
{
    private static final String ALL_TIME = "&from=1970-01-01T00:00:00Z&to=2100-01-01T00:00:00Z";
    private static final int PARTITIONS = 2;

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

    private static Map<String, String> cluster(final Path dataDir, final String prefix, final String node)
    {
        final Map<String, String> settings = new HashMap<>(Map.of("port", "0", "data-dir", dataDir.toString(),
            "partitions", Integer.toString(PARTITIONS), "invoice-grace", "0s", "snapshot-interval", "200ms",
            "cluster", "kafka", "kafka-bootstrap", brokers.bootstrap(), "node-id", node, "kafka-topic-prefix", prefix));
        settings.put("kafka-unsafe-single-broker", "true");
        // one node writing every partition with no owners group (decision 291); ClusterOwnershipTest has the group
        settings.put("kafka-ownership", "static");
        return settings;
    }

    private TokenmeterServer start(final Map<String, String> settings) throws Exception
    {
        final TokenmeterServer server = TokenmeterServer.start(Settings.of(settings));
        servers.add(server);
        for (int i = 0; i < 2000 && !server.isReady(); i++)
        {
            LockSupport.parkNanos(10_000_000);
        }
        assertTrue(server.isReady(), "ready within 20 s");
        return server;
    }

    private void stop(final TokenmeterServer server)
    {
        servers.remove(server);
        server.close();
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

    /** {@code count} events over the tenants in turn, ids {@code prefix-N}, in October 2025. */
    private static String batch(final String prefix, final List<String> tenants, final int count)
    {
        final StringBuilder body = new StringBuilder("[");
        for (int i = 0; i < count; i++)
        {
            body.append(i == 0 ? "" : ",").append("{\"id\":\"").append(prefix).append('-').append(i)
                .append("\",\"tenant\":\"").append(tenants.get(i % tenants.size()))
                .append("\",\"model\":\"gpt-4o\",\"timestamp\":\"2025-10-0").append(1 + i % 9)
                .append("T10:00:00Z\",\"input_tokens\":1000,\"output_tokens\":").append(i + 1).append('}');
        }
        return body.append(']').toString();
    }

    /** @return "requests output_tokens" of a tenant over all time, as of every acknowledged event. */
    private static String usage(final Client client, final String tenant)
    {
        final Client.Answer answer = client.get("/v1/usage?tenant=" + tenant + ALL_TIME + "&group_by=&consistent=true");
        assertEquals(200, answer.status(), answer.body());
        final JsonNode rows = answer.json().get("rows");
        return rows.isEmpty() ? "0 0" : rows.get(0).get("requests").asLong() + " " + rows.get(0).get("output_tokens").asLong();
    }

    private static JsonNode post(final Client client, final String body, final int status)
    {
        final Client.Answer answer = client.post("/v1/events", "application/json", body);
        assertEquals(status, answer.status(), answer.body());
        return answer.json();
    }

    private static String counts(final JsonNode answer)
    {
        return answer.get("accepted").asInt() + " " + answer.get("duplicates").asInt() + " " + answer.get("conflicts").asInt();
    }

    /** @return an invoice's lines and total: what a customer pays, without the log positions and times. */
    private static String billed(final Client client, final String tenant)
    {
        final JsonNode invoice = client.get("/v1/invoices/" + tenant + "/2025-10").json();
        return invoice.get("lines").toString() + " total " + invoice.get("total").asText() + " " + invoice.get("currency").asText();
    }

    /** @return the ids of the events behind invoice line 0, read back from the log, with their log positions. */
    private static List<String> lineEvents(final Client client, final String tenant, final List<Long> positions)
        throws Exception
    {
        final Client.Answer answer = client.get("/v1/invoices/" + tenant + "/2025-10/lines/0/events");
        assertEquals(200, answer.status(), answer.body());
        final List<String> ids = new ArrayList<>();
        for (final String line : answer.body().split("\n"))
        {
            if (!line.isBlank())
            {
                final JsonNode event = Client.JSON.readTree(line);
                ids.add(event.get("id").asText());
                positions.add(Long.parseLong(event.get("log_index").asText(), 16));
            }
        }
        ids.sort(null);
        return ids;
    }

    @Test
    void answersAsASingleNodeAndARestartRecoversCountsAndDedup() throws Exception
    {
        final List<String> tenants = tenantPerPartition();
        final String first = batch("a", tenants, 40);

        final Map<String, String> single = new HashMap<>(cluster(dir.resolve("single"), "unused", "unused"));
        single.keySet().removeIf(name -> name.startsWith("kafka") || name.equals("cluster") || name.equals("node-id"));
        final TokenmeterServer reference = start(single);
        final Client referenceClient = new Client(reference.port());
        assertEquals("40 0 0", counts(post(referenceClient, first, 202)));
        final List<String> expected = new ArrayList<>();
        for (final String tenant : tenants)
        {
            expected.add(usage(referenceClient, tenant) + " | " + billed(referenceClient, tenant));
        }
        final List<String> expectedLineEvents = lineEvents(referenceClient, tenants.get(1), new ArrayList<>());
        assertEquals(20, expectedLineEvents.size());
        stop(reference);

        final Path data = dir.resolve("node");
        TokenmeterServer node = start(cluster(data, "serve", "node-1"));
        Client client = new Client(node.port());
        final JsonNode ready = client.get("/health/ready").json();
        assertEquals("degraded", ready.get("status").asText(), ready.toString());
        assertTrue(ready.get("reasons").toString().contains("replication factor 1"), ready.toString());
        assertEquals("40 0 0", counts(post(client, first, 202)));
        assertEquals("0 40 0", counts(post(client, first, 202)), "a retry is a duplicate");
        for (int p = 0; p < PARTITIONS; p++)
        {
            assertEquals(expected.get(p), usage(client, tenants.get(p)) + " | " + billed(client, tenants.get(p)),
                "partition " + p + " answers as the single node does");
        }
        final List<Long> offsets = new ArrayList<>();
        assertEquals(expectedLineEvents, lineEvents(client, tenants.get(1), offsets), "the events behind a line, from Kafka");
        assertTrue(offsets.stream().allMatch(offset -> offset == offsets.get(0) && offset > 0),
            "one document at a Kafka offset after the price book's and its commit marker: " + offsets);
        final Client.Answer finalized = client.post("/v1/invoices/" + tenants.get(0) + "/2025-10/finalize", null, "");
        assertEquals(201, finalized.status(), finalized.body());
        assertTrue(Files.readString(data.resolve(DataLayout.LAYOUT_FILE)).contains("log=kafka cluster "),
            "the data directory records its log");
        // the snapshots are written every 200 ms: the restart restores them at their Kafka offsets and replays after
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(500));
        stop(node);

        node = start(cluster(data, "serve", "node-1"));
        client = new Client(node.port());
        for (int p = 0; p < PARTITIONS; p++)
        {
            assertEquals(expected.get(p), usage(client, tenants.get(p)) + " | " + billed(client, tenants.get(p)),
                "partition " + p + " after the restart");
        }
        assertEquals(Client.JSON.readTree(finalized.body()), client.get("/v1/invoices/" + tenants.get(0) + "/2025-10").json(),
            "the final invoice is kept");
        assertEquals("0 40 0", counts(post(client, first, 202)), "dedup recovered from the snapshot and the partition");
        assertEquals("10 0 0", counts(post(client, batch("b", tenants, 10), 202)));
        assertEquals("25 " + (400 + 25), usage(client, tenants.get(0)), "20 events of the first batch, 5 of the second");
        stop(node);

        // final invoices made by a static node are files of its directory, which an owners group's next owners of the
        // partitions would not see: the directory is refused in group mode, saying what to do
        final Map<String, String> group = cluster(data, "serve", "node-1");
        group.put("kafka-ownership", "group");
        final SettingsException refused = assertThrows(SettingsException.class, () -> TokenmeterServer.start(Settings.of(group)));
        assertTrue(refused.getMessage().contains("1 final invoice(s) (INV-000001 first)") && refused.getMessage().contains(
            "Keep serving this data directory with --kafka-ownership static"), refused.getMessage());
    }

    @Test
    void aWriterOpeningAPartitionFencesTheNodeWhichAcknowledgesNothingMoreForIt() throws Exception
    {
        final List<String> tenants = tenantPerPartition();
        final TokenmeterServer first = start(cluster(dir.resolve("first"), "fence", "node-1"));
        final Client firstClient = new Client(first.port());
        assertEquals("20 0 0", counts(post(firstClient, batch("a", tenants, 20), 202)));

        // another process opens partition 0 of the topic as its writer: Kafka fences the node's writer of partition 0
        KafkaEventLog.open(new KafkaEventLog.Settings(brokers.bootstrap(), "fence"), 0).close();
        final String mixed = batch("mixed", tenants, 8);
        final Client.Answer refused = firstClient.post("/v1/events", "application/json", mixed);
        assertEquals(503, refused.status(), refused.body());
        assertEquals("partition_unavailable", refused.json().get("error").asText(), refused.body());
        assertTrue(refused.json().get("message").asText().startsWith("partition 0 "), refused.body());
        assertEquals("5", refused.response().headers().firstValue("Retry-After").orElse(null));
        assertEquals("3 0 0", counts(post(firstClient, batch("p1", List.of(tenants.get(1)), 3), 202)),
            "partition 1 is still the node's");
        final JsonNode again = post(firstClient, batch("p0", List.of(tenants.get(0)), 3), 503);
        assertEquals("partition_unavailable", again.get("error").asText(), again.toString());
        final JsonNode retried = post(firstClient, batch("a", tenants, 20), 503);
        assertEquals("partition_unavailable", retried.get("error").asText(), "not even a duplicate is acknowledged: " + retried);
        Client.Answer health = firstClient.get("/health/ready");
        assertEquals(503, health.status(), health.body());
        assertTrue(health.body().contains("partition 0 lost") && !health.body().contains("partition 1 lost"), health.body());
        final Client.Answer staleUsage = firstClient.get("/v1/usage?tenant=" + tenants.get(1) + ALL_TIME + "&group_by=");
        assertEquals(503, staleUsage.status(), "a lost partition's counters are not answered: " + staleUsage.body());

        // a second node opens every partition of the topic: the first loses partition 1 too
        final TokenmeterServer second = start(cluster(dir.resolve("second"), "fence", "node-2"));
        final Client secondClient = new Client(second.port());
        final JsonNode late = post(firstClient, batch("late", List.of(tenants.get(1)), 2), 503);
        assertEquals("partition_unavailable", late.get("error").asText(), late.toString());
        health = firstClient.get("/health/ready");
        assertTrue(health.body().contains("partition 0 lost") && health.body().contains("partition 1 lost"), health.body());
        assertTrue(firstClient.get("/metrics").body().contains("\ntokenmeter_partitions_lost 2.0\n"), "the lost partitions' gauge");

        // nothing the first node refused is anywhere; what it acknowledged is all in the second's counts and dedup
        assertEquals("10 100", usage(secondClient, tenants.get(0)));
        assertEquals("17 " + (110 + 2 + 4 + 6 + 8 + 1 + 2 + 3), usage(secondClient, tenants.get(1)));
        assertEquals("0 20 0", counts(post(secondClient, batch("a", tenants, 20), 202)), "the second knows the first's ids");
        assertEquals("4 4 0", counts(post(secondClient, mixed, 202)), "partition 0's share was refused, 1's acknowledged");
        assertEquals("2 0 0", counts(post(secondClient, batch("late", List.of(tenants.get(1)), 2), 202)));
        assertEquals("14 " + (100 + 1 + 3 + 5 + 7), usage(secondClient, tenants.get(0)));
        assertEquals("19 " + (136 + 1 + 2), usage(secondClient, tenants.get(1)));
    }

    @Test
    void killNineWhilePostingLosesAndDoublesNothing() throws Exception
    {
        final List<String> tenants = tenantPerPartition();
        final int batches = 60;
        final int perBatch = 10;
        final ServerProcess process = new ServerProcess(dir, List.of("--data-dir", dir.resolve("data").toString(),
            "--partitions", Integer.toString(PARTITIONS), "--cluster", "kafka", "--kafka-bootstrap", brokers.bootstrap(),
            "--node-id", "node-1", "--kafka-topic-prefix", "crash", "--kafka-unsafe-single-broker", "--kafka-ownership",
            "static", "--config",
            Files.writeString(dir.resolve("node.yaml"), "snapshot-interval: 100ms\n").toString()));
        try (process)
        {
            process.start();
            final AtomicInteger acknowledged = new AtomicInteger();
            final AtomicReference<Throwable> failure = new AtomicReference<>();
            final Thread gateway = new Thread(() ->
            {
                final Client client = new Client(process.port());
                try
                {
                    for (int b = 0; b < batches; b++)
                    {
                        final String body = batch("k" + b, tenants, perBatch);
                        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                        while (true)
                        {
                            assertTrue(System.nanoTime() < until, "batch " + b + " acknowledged within 60 s");
                            try
                            {
                                final Client.Answer answer = client.post("/v1/events", "application/json", body);
                                if (answer.status() == 202)
                                {
                                    final JsonNode counts = answer.json();
                                    assertEquals(perBatch, counts.get("accepted").asInt() + counts.get("duplicates").asInt(),
                                        answer.body());
                                    break;
                                }
                                assertEquals(503, answer.status(), answer.body());
                            }
                            catch (final IllegalStateException down)
                            {
                                // the node is down: retry, as a gateway does
                            }
                            LockSupport.parkNanos(20_000_000);
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
            for (int i = 0; i < 1000 && acknowledged.get() < batches / 3 && gateway.isAlive(); i++)
            {
                LockSupport.parkNanos(10_000_000);
            }
            process.killNine();
            assertTrue(acknowledged.get() < batches, "killed while posting");
            process.start();
            gateway.join(TimeUnit.SECONDS.toMillis(90));
            assertNull(failure.get(), () -> "gateway failed: " + failure.get());
            assertEquals(batches, acknowledged.get());

            final Client client = new Client(process.port());
            long tokens = 0;
            for (int i = 0; i < perBatch; i += PARTITIONS)
            {
                tokens += i + 1;
            }
            for (int p = 0; p < PARTITIONS; p++)
            {
                assertEquals(batches * perBatch / PARTITIONS + " " + batches * (tokens + p * perBatch / PARTITIONS),
                    usage(client, tenants.get(p)), "partition " + p + ": every acknowledged event counted once");
            }
            assertEquals("0 " + perBatch + " 0", counts(post(client, batch("k0", tenants, perBatch), 202)));
            assertEquals("0 " + perBatch + " 0", counts(post(client, batch("k" + (batches - 1), tenants, perBatch), 202)));
        }
    }

    @Test
    void refusesSettingsThatCannotWorkAndDirectoriesOfAnotherLog() throws Exception
    {
        final SettingsException bootstrapAlone = assertThrows(SettingsException.class,
            () -> Settings.resolve(Map.of("kafka-bootstrap", "127.0.0.1:9092"), Map.of(), null));
        assertTrue(bootstrapAlone.getMessage().contains("kafka-bootstrap") && bootstrapAlone.getMessage().contains(
            "add --cluster kafka"), bootstrapAlone.getMessage());
        final SettingsException noBootstrap = assertThrows(SettingsException.class,
            () -> Settings.resolve(Map.of("cluster", "kafka", "node-id", "n1"), Map.of(), null));
        assertTrue(noBootstrap.getMessage().contains("--kafka-bootstrap HOST:PORT"), noBootstrap.getMessage());
        final SettingsException noNode = assertThrows(SettingsException.class,
            () -> Settings.resolve(Map.of("cluster", "kafka", "kafka-bootstrap", "127.0.0.1:9092"), Map.of(), null));
        assertTrue(noNode.getMessage().contains("--node-id"), noNode.getMessage());
        final SettingsException badCluster = assertThrows(SettingsException.class,
            () -> Settings.resolve(Map.of("cluster", "zookeeper"), Map.of(), null));
        assertTrue(badCluster.getMessage().contains("none (a single node) or kafka"), badCluster.getMessage());
        final SettingsException badBootstrap = assertThrows(SettingsException.class, () -> Settings.resolve(
            Map.of("cluster", "kafka", "kafka-bootstrap", "127.0.0.1", "node-id", "n1"), Map.of(), null));
        assertTrue(badBootstrap.getMessage().contains("is not HOST:PORT"), badBootstrap.getMessage());
        final SettingsException archive = assertThrows(SettingsException.class, () -> Settings.resolve(
            Map.of("cluster", "kafka", "kafka-bootstrap", "127.0.0.1:9092", "node-id", "n1", "archive-interval", "1h"),
            Map.of(), null));
        assertTrue(archive.getMessage().contains("archive-interval 0s"), archive.getMessage());
        final SettingsException retention = assertThrows(SettingsException.class, () -> Settings.resolve(
            Map.of("cluster", "kafka", "kafka-bootstrap", "127.0.0.1:9092", "node-id", "n1", "log-retention", "400d"),
            Map.of(), null));
        assertTrue(retention.getMessage().contains("log-retention") && retention.getMessage().contains("forever"),
            retention.getMessage());
        final Settings ok = Settings.resolve(Map.of("cluster", "kafka", "kafka-bootstrap", "127.0.0.1:9092,[::1]:9093",
            "node-id", "n1", "advertise", "http://10.0.0.5:8080"), Map.of(), null);
        assertTrue(ok.clusterKafka && "tokenmeter".equals(ok.kafkaTopicPrefix) && !ok.kafkaUnsafeSingleBroker);

        // a single node's directory is not started as a cluster node, nor a cluster node's as a single node
        final Path local = dir.resolve("local");
        final Map<String, String> localSettings = new HashMap<>(Map.of("port", "0", "data-dir", local.toString()));
        stop(start(localSettings));
        final SettingsException toCluster = assertThrows(SettingsException.class,
            () -> TokenmeterServer.start(Settings.of(cluster(local, "dirs", "node-1"))));
        assertTrue(toCluster.getMessage().contains("the local logs of a single node") && toCluster.getMessage().contains(
            "without --cluster"), toCluster.getMessage());
        final Path node = dir.resolve("node");
        stop(start(cluster(node, "dirs", "node-1")));
        final SettingsException toSingle = assertThrows(SettingsException.class,
            () -> TokenmeterServer.start(Settings.of(Map.of("port", "0", "data-dir", node.toString()))));
        assertTrue(toSingle.getMessage().contains("--cluster kafka with the same Kafka cluster"), toSingle.getMessage());
        final SettingsException otherTopic = assertThrows(SettingsException.class,
            () -> TokenmeterServer.start(Settings.of(cluster(node, "other", "node-1"))));
        assertTrue(otherTopic.getMessage().contains("topic other.log"), otherTopic.getMessage());

        // a new node's directory takes the topic's partition count, and refuses another one
        final Map<String, String> three = cluster(dir.resolve("three-1"), "three", "node-1");
        three.put("partitions", "3");
        stop(start(three));
        final Map<String, String> joining = cluster(dir.resolve("three-2"), "three", "node-2");
        joining.remove("partitions");
        final TokenmeterServer joined = start(joining);
        assertEquals(3, joined.partitions().count(), "the topic's count");
        stop(joined);
        final Map<String, String> four = cluster(dir.resolve("three-3"), "three", "node-3");
        four.put("partitions", "4");
        final SettingsException otherCount = assertThrows(SettingsException.class,
            () -> TokenmeterServer.start(Settings.of(four)));
        assertTrue(otherCount.getMessage().contains("it has 3 partitions") && otherCount.getMessage().contains(
            "give --partitions 3"), otherCount.getMessage());
        assertTrue(!Files.exists(dir.resolve("three-3").resolve(DataLayout.LAYOUT_FILE)), "no layout left by a refused start");
    }
}
