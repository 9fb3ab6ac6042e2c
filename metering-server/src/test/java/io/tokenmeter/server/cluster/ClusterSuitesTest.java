package io.tokenmeter.server.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tokenmeter.core.partition.Partitioner;
import io.tokenmeter.server.TokenmeterServer;
import io.tokenmeter.server.config.Settings;
import io.tokenmeter.server.http.Client;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The ingest, usage and invoice suites against a cluster (issue 18): three real Kafka brokers (replication three ways)
 * and three nodes, each its own process, four partitions split by the owners group; beside it a single node in this
 * JVM with the same price book and partitions, the reference. Every request goes to both: to the cluster through the
 * nodes in turn, so that most are forwarded (a request's tenants span partitions of several owners), and the answers
 * must be equal, status and body, but for what a cluster writes differently by design ({@link #VOLATILE}: log positions
 * and document hashes, the times things were recorded, and invoice numbers, a series per partition by decision 349,
 * checked here for form and gaps). The requests cover our event format (JSON and NDJSON), every provider usage
 * format, CloudEvents, OpenTelemetry spans, all-or-nothing validation across partitions, duplicates and conflicts
 * posted through another node; usage at every granularity, grouping and filter; invoices as JSON, CSV and with their
 * basis, priced with tiers, thinking rates, time windows, volume bands, a commitment, a cost book and prepaid
 * credits; the finance listing and margins, merged across nodes; a line's events through every node; finalizing
 * through any node. Then a node is killed with kill -9 and the
 * survivors, once they have taken its partitions, give the same answers again and still know every id.
 *
 * <p>The tests share the cluster and run in order; each first makes sure the events are in ({@link #ingested}), so any
 * one can run alone.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterSuitesTest
{
    private static final int PARTITIONS = 4;
    private static final Duration SPLIT = Duration.ofSeconds(90);
    /**
     * What a cluster writes differently by design: positions in its logs, the hashes of its log documents and chain
     * heads (a document holds what its writer drained at once and links to the one before, so the same events lie in
     * other documents; ClusterServeTest reads them back from their Kafka offsets), times of recording, and invoice
     * numbers.
     */
    private static final Set<String> VOLATILE = Set.of("log_index", "log_indexes", "document_sha256", "log_sha256",
        "recorded_at", "finalized_at", "invoice_number", "generated_at", "as_of");
    private static final Pattern INSTANT = Pattern.compile("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d{1,9})?Z");
    private static final Pattern CLUSTER_NUMBER = Pattern.compile("INV-P(\\d{3})-(\\d{6})");
    private static final String BOOK = """
        {"currency": "USD",
         "models": {
           "gpt-4o*": [{"effective_from": "2024-08-06T00:00:00Z",
                        "per_million": {"input": "2.50", "cache_read": "1.25", "cache_write": "0", "output": "10.00"},
                        "service_tier_multiplier": {"batch": "0.5", "priority": "1.7"}}],
           "o4-mini*": [{"effective_from": "2025-01-01T00:00:00Z",
                        "per_million": {"input": "1.10", "cache_read": "0.275", "output": "4.40"}}],
           "claude*": [{"effective_from": "2025-01-01T00:00:00Z",
                        "per_million": {"input": "3.00", "cache_read": "0.30", "cache_write": "3.75",
                                        "cache_write_1h": "6.00", "output": "15.00"}}],
           "gemini-2.5-pro*": [{"effective_from": "2025-06-17T00:00:00Z",
                        "per_million": {"input": "1.25", "cache_read": "0.31", "output": "10.00"},
                        "long_context": {"above_input_tokens": 200000,
                                         "per_million": {"input": "2.50", "cache_read": "0.625", "output": "15.00"}}}],
           "qwen-plus*": [{"effective_from": "2025-01-01T00:00:00Z",
                        "per_million": {"input": "0.80", "output": "2.00"},
                        "thinking": {"per_million": {"output": "8.00"}},
                        "context_tiers": [{"above_input_tokens": 128000, "per_million": {"input": "2.40", "output": "20.00"}}]}],
           "deepseek*": [{"effective_from": "2025-01-01T00:00:00Z",
                        "per_million": {"input": "0.27", "cache_read": "0.07", "output": "1.10"},
                        "time_windows": [{"name": "off_peak", "timezone": "UTC", "from": "16:30", "to": "00:30",
                                          "multiplier": "0.5"}]}],
           "*": [{"effective_from": "2024-01-01T00:00:00Z",
                        "per_million": {"input": {"tiers": {"mode": "graduated", "bands": [
                                          {"up_to": 5000, "per_million": "1.00"}, {"up_to": null, "per_million": "0.50"}]}},
                                        "cache_read": "0.10", "cache_write": "1.00", "output": "4.00"}}]},
         "tenants": {
           "%s": {"discount_percent": "10"},
           "%s": {"minimum_commit": "100.00", "commit_from": "2025-10"}},
         "cost": {"currency": "USD", "models": {
           "gpt-4o*": [{"effective_from": "2024-08-06T00:00:00Z", "per_million": {"input": "1.00", "output": "5.00"}}],
           "claude*": [{"effective_from": "2025-01-01T00:00:00Z", "per_million": {"input": "1.50", "output": "7.00"}}]}}}
        """;

    @TempDir
    static Path dir;
    private static ProcessCluster cluster;
    private static TokenmeterServer reference;
    private static Client referenceClient;
    /** Two tenants of each partition, partition by partition. */
    private static List<String> tenants;
    private static final Partitioner partitioner = new Partitioner(PARTITIONS);
    private static int turn;
    private static boolean ingested;
    private static Throwable ingestFailure;
    /** Every read of the usage and invoice suites, in order, with the reference's normalized answer. */
    private static final Map<String, String> READS = new java.util.LinkedHashMap<>();
    /** The events acknowledged, as their batches, for the retries after the kill. */
    private static final List<String[]> ACKNOWLEDGED = new ArrayList<>();
    /** The OTLP exports acknowledged, for the retries after the kill. */
    private static final List<String> acknowledgedTraces = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception
    {
        tenants = tenantsPerPartition(2);
        final Path prices = dir.resolve("prices.json");
        Files.writeString(prices, BOOK.formatted(tenants.get(0), tenants.get(2)));
        final Map<String, String> single = new HashMap<>(Map.of("port", "0", "data-dir", dir.resolve("reference").toString(),
            "partitions", Integer.toString(PARTITIONS), "prices", prices.toString(), "invoice-grace", "0s"));
        reference = TokenmeterServer.start(Settings.of(single));
        for (int i = 0; i < 2000 && !reference.isReady(); i++)
        {
            LockSupport.parkNanos(10_000_000);
        }
        assertTrue(reference.isReady(), "the reference is ready within 20 s");
        referenceClient = new Client(reference.port());
        cluster = ProcessCluster.start(dir.resolve("cluster"), 3, 3, PARTITIONS, "suites",
            List.of("--prices", prices.toString(), "--invoice-grace", "0s"));
        cluster.awaitOwners(PARTITIONS, SPLIT);
    }

    @AfterAll
    static void stop()
    {
        if (cluster != null)
        {
            cluster.close();
        }
        if (reference != null)
        {
            reference.close();
        }
    }

    private static List<String> tenantsPerPartition(final int each)
    {
        final List<List<String>> found = new ArrayList<>();
        for (int p = 0; p < PARTITIONS; p++)
        {
            found.add(new ArrayList<>());
        }
        for (int i = 0; i < 10_000 && found.stream().anyMatch(list -> list.size() < each); i++)
        {
            final String tenant = "suite-" + i;
            final List<String> list = found.get(partitioner.partitionOf(tenant));
            if (list.size() < each)
            {
                list.add(tenant);
            }
        }
        final List<String> all = new ArrayList<>();
        found.forEach(all::addAll);
        return all;
    }

    /** @return the next running node's client, in turn. */
    private static Client nextNode()
    {
        final List<Client> running = new ArrayList<>(cluster.runningClients().values());
        return running.get(turn++ % running.size());
    }

    /** The parts of an answer that must be equal: status, content type and body, minus the {@link #VOLATILE} fields. */
    static String normalized(final Client.Answer answer)
    {
        final String type = answer.response().headers().firstValue("Content-Type").orElse("");
        String body = answer.body();
        if (type.startsWith("application/json"))
        {
            try
            {
                final JsonNode tree = Client.JSON.readTree(body);
                strip(tree);
                body = tree.toString();
            }
            catch (final java.io.IOException notJson)
            {
                throw new AssertionError("not JSON though " + type + ": " + body, notJson);
            }
        }
        else if (type.startsWith("application/x-ndjson"))
        {
            final StringBuilder lines = new StringBuilder();
            for (final String line : body.split("\n"))
            {
                if (!line.isBlank())
                {
                    try
                    {
                        final JsonNode tree = Client.JSON.readTree(line);
                        strip(tree);
                        lines.append(tree).append('\n');
                    }
                    catch (final java.io.IOException notJson)
                    {
                        throw new AssertionError("not NDJSON: " + body, notJson);
                    }
                }
            }
            body = lines.toString();
        }
        return answer.status() + " " + type + "\n" + recentTimes(body);
    }

    /** @return {@code text} with each instant of the last hour (when something was recorded) as {@code <now>}. */
    private static String recentTimes(final String text)
    {
        final Matcher instant = INSTANT.matcher(text);
        final StringBuilder out = new StringBuilder();
        final java.time.Instant now = java.time.Instant.now();
        while (instant.find())
        {
            final java.time.Instant at = java.time.Instant.parse(instant.group());
            instant.appendReplacement(out, Duration.between(at, now).abs().toHours() < 1 ? "<now>" : instant.group());
        }
        return instant.appendTail(out).toString();
    }

    private static void strip(final JsonNode node)
    {
        if (node instanceof ObjectNode object)
        {
            object.remove(VOLATILE);
            object.forEach(ClusterSuitesTest::strip);
        }
        else if (node instanceof ArrayNode array)
        {
            array.forEach(ClusterSuitesTest::strip);
        }
    }

    /** Sends one request to the reference and to the next node, asserts the answers equal, and returns the cluster's. */
    private static Client.Answer both(final String method, final String path, final String contentType, final String body)
    {
        final Client.Answer expected = referenceClient.request(method, path, contentType, body);
        final Client node = nextNode();
        final Client.Answer actual = node.request(method, path, contentType, body);
        assertEquals(normalized(expected), normalized(actual), method + " " + path + " on the cluster (" + node + ")");
        return actual;
    }

    private static Client.Answer post(final String path, final String contentType, final String body, final int status)
    {
        final Client.Answer answer = both("POST", path, contentType, body);
        assertEquals(status, answer.status(), answer.body());
        return answer;
    }

    /** A read of the suites: compared now, and remembered to be asked again after the kill. */
    private static Client.Answer read(final String path)
    {
        final Client.Answer expected = referenceClient.get(path);
        READS.put(path, normalized(expected));
        final Client node = nextNode();
        final Client.Answer actual = node.get(path);
        assertEquals(normalized(expected), normalized(actual), "GET " + path + " on the cluster");
        return actual;
    }

    private static String event(final String id, final String tenant, final String model, final String timestamp,
        final String fields)
    {
        return "{\"id\":\"" + id + "\",\"tenant\":\"" + tenant + "\",\"model\":\"" + model + "\",\"timestamp\":\""
            + timestamp + "\"" + (fields.isEmpty() ? "" : "," + fields) + "}";
    }

    private static String usageEvent(final String id, final String tenant, final String model, final String format,
        final String usage)
    {
        return "{\"id\":\"" + id + "\",\"tenant\":\"" + tenant + "\",\"model\":\"" + model
            + "\",\"timestamp\":\"2025-10-14T09:00:00Z\",\"usage_format\":\"" + format + "\",\"usage\":" + usage + "}";
    }

    /** Our format: every tenant, several models, tiers, thinking, every token class, October and November 2025. */
    private static String ourBatch(final String prefix, final int count)
    {
        final String[] models = {"gpt-4o-2024-08-06", "claude-sonnet-4-5", "gemini-2.5-pro", "qwen-plus", "deepseek-chat",
            "llama-3-70b"};
        final String[] tiers = {"standard", "batch", "priority", "flex"};
        final StringBuilder body = new StringBuilder("[");
        for (int i = 0; i < count; i++)
        {
            final String tenant = tenants.get(i % tenants.size());
            final String model = models[i % models.length];
            final String timestamp = "2025-" + (i % 3 == 0 ? "11" : "10") + "-" + String.format("%02d", 1 + i % 28) + "T"
                + String.format("%02d", (i * 7) % 24) + ":" + String.format("%02d", i % 60) + ":00Z";
            final long input = i % 5 == 0 ? 250_000 + i : 1_000L * (i + 1);
            final String fields = "\"input_tokens\":" + input + ",\"cache_read_tokens\":" + (i * 31 % 4000)
                + ",\"cache_write_tokens\":" + (i % 4 == 0 ? 700 : 0) + ",\"cache_write_1h_tokens\":" + (i % 6 == 1 ? 300 : 0)
                + ",\"output_tokens\":" + (200 + i * 13) + ",\"reasoning_tokens\":" + (i % 7 == 0 ? 150 : 0)
                + ",\"service_tier\":\"" + tiers[i % tiers.length] + "\"" + (i % 9 == 2 ? ",\"thinking\":true" : "");
            body.append(i == 0 ? "" : ",").append(event(prefix + "-" + i, tenant, model, timestamp, fields));
        }
        return body.append(']').toString();
    }

    /** An OTLP/JSON export: per tenant a resource with {@code tenant.id} and two chat spans in October 2025. */
    private static String otlp(final int extraOutput)
    {
        final long endNanos = 1_760_529_600_000_000_000L;
        final StringBuilder resources = new StringBuilder();
        for (int t = 0; t < tenants.size(); t++)
        {
            final StringBuilder spans = new StringBuilder();
            for (int s = 0; s < 2; s++)
            {
                spans.append(s == 0 ? "" : ",").append("{\"traceId\":\"").append(String.format("%032X", 0xC0FFEE00L + t))
                    .append("\",\"spanId\":\"").append(String.format("%016X", 0x5A00L + s)).append("\",\"name\":\"chat\","
                        + "\"kind\":3,\"startTimeUnixNano\":\"").append(endNanos - 900_000_000L).append("\",\"endTimeUnixNano\":\"")
                    .append(endNanos + t * 3_600_000_000_000L).append("\",\"attributes\":[")
                    .append("{\"key\":\"gen_ai.operation.name\",\"value\":{\"stringValue\":\"chat\"}},")
                    .append("{\"key\":\"gen_ai.response.model\",\"value\":{\"stringValue\":\"gpt-4o-2024-08-06\"}},")
                    .append("{\"key\":\"gen_ai.usage.input_tokens\",\"value\":{\"intValue\":\"").append(1200 + t)
                    .append("\"}},{\"key\":\"gen_ai.usage.output_tokens\",\"value\":{\"intValue\":")
                    .append(300 + s + extraOutput).append("}}]}");
            }
            resources.append(t == 0 ? "" : ",").append("{\"resource\":{\"attributes\":[{\"key\":\"tenant.id\",\"value\":"
                + "{\"stringValue\":\"").append(tenants.get(t)).append("\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":"
                + "\"gateway\"},\"spans\":[").append(spans).append("]}]}");
        }
        return "{\"resourceSpans\":[" + resources + "]}";
    }

    private static void acknowledged(final String path, final String contentType, final String body)
    {
        ACKNOWLEDGED.add(new String[] {path, contentType, body});
    }

    /** Posts the ingest suite once: to the reference and through the cluster's nodes in turn, answers compared. */
    private static synchronized void ingested()
    {
        if (ingestFailure != null)
        {
            throw new AssertionError("the ingest suite failed, so the cluster's data is not the reference's", ingestFailure);
        }
        if (!ingested)
        {
            try
            {
                ingest();
                ingested = true;
            }
            catch (final RuntimeException | Error ex)
            {
                ingestFailure = ex;
                throw ex;
            }
        }
    }

    private static void ingest()
    {
        // our format, an array mixing every partition's tenants
        final String first = ourBatch("ours", 96);
        assertEquals(96, post("/v1/events", "application/json", first, 202).json().get("accepted").asInt());
        acknowledged("/v1/events", "application/json", first);

        // NDJSON, one event per line, a blank line skipped
        final StringBuilder ndjson = new StringBuilder();
        for (int i = 0; i < 16; i++)
        {
            ndjson.append(event("nd-" + i, tenants.get((i * 3) % tenants.size()), "gpt-4o-mini", "2025-10-20T1" + (i % 10)
                + ":00:00Z", "\"input_tokens\":" + (500 + i) + ",\"output_tokens\":" + (40 + i))).append(i == 7 ? "\n\n" : "\n");
        }
        assertEquals(16, post("/v1/events", "application/x-ndjson", ndjson.toString(), 202).json().get("accepted").asInt());
        acknowledged("/v1/events", "application/x-ndjson", ndjson.toString());

        // every provider's usage object as it returned it
        final List<String> usage = List.of(
            usageEvent("pv-1", tenants.get(0), "o4-mini-2025-04-16", "openai_chat", "{\"prompt_tokens\":2006,"
                + "\"completion_tokens\":300,\"total_tokens\":2306,\"prompt_tokens_details\":{\"cached_tokens\":1920,"
                + "\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":192,\"audio_tokens\":0,"
                + "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}"),
            usageEvent("pv-2", tenants.get(1), "gpt-4o", "openai_responses", "{\"input_tokens\":328,"
                + "\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":52,\"output_tokens_details\":"
                + "{\"reasoning_tokens\":0},\"total_tokens\":380}"),
            usageEvent("pv-3", tenants.get(2), "claude-opus-4-1-20250805", "anthropic", "{\"input_tokens\":12,"
                + "\"cache_creation_input_tokens\":3000,\"cache_read_input_tokens\":45000,\"cache_creation\":"
                + "{\"ephemeral_5m_input_tokens\":1000,\"ephemeral_1h_input_tokens\":2000},\"output_tokens\":812,"
                + "\"service_tier\":\"priority\"}"),
            usageEvent("pv-4", tenants.get(3), "gemini-2.5-pro", "gemini", "{\"promptTokenCount\":250000,"
                + "\"candidatesTokenCount\":600,\"totalTokenCount\":250900,\"thoughtsTokenCount\":300}"),
            usageEvent("pv-5", tenants.get(4), "anthropic.claude-3-haiku", "bedrock", "{\"inputTokens\":12,"
                + "\"outputTokens\":240,\"totalTokens\":2006,\"cacheReadInputTokens\":1754,\"cacheWriteInputTokens\":0}"),
            usageEvent("pv-6", tenants.get(5), "deepseek-reasoner", "deepseek", "{\"prompt_tokens\":31,"
                + "\"completion_tokens\":1288,\"total_tokens\":1319,\"prompt_tokens_details\":{\"cached_tokens\":0},"
                + "\"completion_tokens_details\":{\"reasoning_tokens\":1102},\"prompt_cache_hit_tokens\":0,"
                + "\"prompt_cache_miss_tokens\":31}"),
            usageEvent("pv-7", tenants.get(6), "qwen-plus", "dashscope", "{\"prompt_tokens\":3019,"
                + "\"completion_tokens\":104,\"total_tokens\":3123}"),
            usageEvent("pv-8", tenants.get(7), "kimi-k2", "moonshot", "{\"prompt_tokens\":120,\"completion_tokens\":80,"
                + "\"total_tokens\":200}"),
            usageEvent("pv-9", tenants.get(0), "glm-4.6", "zhipu", "{\"prompt_tokens\":90,\"completion_tokens\":40,"
                + "\"total_tokens\":130}"),
            usageEvent("pv-10", tenants.get(1), "doubao-seed-1-6", "volcengine_ark", "{\"prompt_tokens\":70,"
                + "\"completion_tokens\":30,\"total_tokens\":100}"));
        final String providers = "[" + String.join(",", usage) + "]";
        assertEquals(10, post("/v1/events", "application/json", providers, 202).json().get("accepted").asInt());
        acknowledged("/v1/events", "application/json", providers);

        // CloudEvents, a batch over the partitions: subject the tenant, source + id the id
        final StringBuilder cloud = new StringBuilder("[");
        for (int i = 0; i < 8; i++)
        {
            cloud.append(i == 0 ? "" : ",").append("{\"specversion\":\"1.0\",\"type\":\"io.tokenmeter.usage\",\"source\":"
                + "\"//gateway/eu\",\"id\":\"ce-").append(i).append("\",\"subject\":\"").append(tenants.get(i))
                .append("\",\"time\":\"2025-10-0").append(1 + i).append("T12:00:00Z\",\"datacontenttype\":\"application/json\","
                    + "\"data\":{\"model\":\"claude-sonnet-4-5\",\"input_tokens\":").append(4000 + i)
                .append(",\"output_tokens\":").append(90 + i).append("}}");
        }
        cloud.append(']');
        assertEquals(8, post("/api/v1/events", "application/cloudevents-batch+json", cloud.toString(), 202).json()
            .get("accepted").asInt());
        acknowledged("/api/v1/events", "application/cloudevents-batch+json", cloud.toString());

        // OpenTelemetry spans (OTLP/JSON), one resource per tenant: each owner takes its partitions' spans, one answer
        final String traces = otlp(0);
        assertEquals("{}", post("/v1/traces", "application/json", traces, 200).body());
        acknowledgedTraces.add(traces);
        assertTrue(post("/v1/traces", "application/json", traces, 200).body().contains("already accepted"),
            "a retried export, through another node: duplicates");
        assertTrue(post("/v1/traces", "application/json", otlp(1), 200).body().contains("\"rejectedSpans\":\"16\""),
            "the same spans with other counts: conflicts, rejected");

        // all or nothing across partitions: one bad event refuses the whole request, nothing of it is taken anywhere
        final String bad = "[" + event("bad-0", tenants.get(0), "gpt-4o", "2025-10-03T10:00:00Z", "\"input_tokens\":5")
            + "," + event("bad-1", tenants.get(5), "gpt-4o", "2025-10-03T10:00:00Z", "\"input_tokens\":-5")
            + "," + event("bad-2", tenants.get(7), "gpt-4o", "2025-10-03T10:00:00Z", "\"output_tokens\":\"7\"") + "]";
        assertEquals("invalid_events", post("/v1/events", "application/json", bad, 400).json().get("error").asText());
        final String good = bad.replace("\"input_tokens\":-5", "\"input_tokens\":5").replace("\"7\"", "7");
        assertEquals(3, post("/v1/events", "application/json", good, 202).json().get("accepted").asInt(),
            "none of the refused request was taken, so all of it is new now");
        acknowledged("/v1/events", "application/json", good);
        post("/v1/events", "application/json", "[{\"id\":\"x\",", 400);
        post("/v1/events", "text/plain", first, 415);

        // retries through other nodes: duplicates; the same id with other content: conflicts, not counted
        final JsonNode retry = post("/v1/events", "application/json", first, 202).json();
        assertEquals(96, retry.get("duplicates").asInt(), retry.toString());
        final JsonNode retryAgain = post("/v1/events", "application/json", first, 202).json();
        assertEquals(96, retryAgain.get("duplicates").asInt(), retryAgain.toString());
        final String changed = ourBatch("ours", 8).replace("\"output_tokens\":2", "\"output_tokens\":9");
        final JsonNode conflicts = post("/v1/events", "application/json", changed, 202).json();
        assertTrue(conflicts.get("conflicts").asInt() > 0, conflicts.toString());

        // one tenant's single events, each its own request
        for (int i = 0; i < 6; i++)
        {
            final String single = event("one-" + i, tenants.get(i), "gpt-4o", "2025-11-0" + (i + 1) + "T08:00:00Z",
                "\"input_tokens\":1000000,\"output_tokens\":100000");
            post("/v1/events", "application/json", single, 202);
            acknowledged("/v1/events", "application/json", single);
        }

        // prepaid credits, recorded in the tenant's partition through any node
        for (int i = 0; i < 3; i++)
        {
            post("/v1/tenants/" + tenants.get(i * 2 + 1) + "/credits", "application/json", "{\"id\":\"welcome-" + i
                + "\",\"amount\":\"" + (2 + i) + ".50\",\"effective_at\":\"2025-10-01T00:00:00Z\",\"expires_at\":"
                + "\"2026-01-01T00:00:00Z\",\"priority\":" + i + (i == 2 ? ",\"models\":[\"gpt-4o*\"]" : "") + "}", 201);
        }
        post("/v1/tenants/" + tenants.get(1) + "/credits", "application/json", "{\"id\":\"welcome-0\",\"amount\":\"2.5\","
            + "\"effective_at\":\"2025-10-01T00:00:00Z\",\"expires_at\":\"2026-01-01T00:00:00Z\"}", 200);
        post("/v1/tenants/" + tenants.get(1) + "/credits", "application/json", "{\"id\":\"welcome-0\",\"amount\":\"9.00\","
            + "\"effective_at\":\"2025-10-01T00:00:00Z\",\"expires_at\":\"2026-01-01T00:00:00Z\"}", 409);
    }

    @Test
    @Order(1)
    void ingestAnswersAsASingleNode()
    {
        ingested();
        assertTrue(ACKNOWLEDGED.size() >= 10, "the suite posted its requests");
    }

    @Test
    @Order(2)
    void usageAnswersAsASingleNode()
    {
        ingested();
        final String all = "&from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z";
        for (final String tenant : tenants)
        {
            final JsonNode total = read("/v1/usage?tenant=" + tenant + all + "&group_by=&consistent=true").json();
            assertTrue(total.get("rows").get(0).get("requests").asLong() > 10, total.toString());
            read("/v1/usage?tenant=" + tenant + all + "&consistent=true");
            read("/v1/usage?tenant=" + tenant + all + "&granularity=month&group_by=model,service_tier&consistent=true");
            read("/v1/usage?tenant=" + tenant + "&from=2025-10-01T00:00:00Z&to=2025-11-01T00:00:00Z&granularity=day"
                + "&consistent=true");
            read("/v1/usage?tenant=" + tenant + "&from=2025-10-01T00:00:00Z&to=2025-10-08T00:00:00Z&granularity=hour"
                + "&group_by=service_tier&consistent=true");
        }
        read("/v1/usage?tenant=nobody-here" + all + "&consistent=true");
        read("/v1/usage?tenant=" + tenants.get(0) + "&from=2025-10-01T00:30:00Z&to=2025-11-01T00:00:00Z");
        read("/v1/usage?tenant=" + tenants.get(1) + all + "&granularity=week");
        read("/v1/usage?tenant=" + tenants.get(2) + all + "&group_by=color");
        read("/v1/usage?tenant=bad%20name" + all);
    }

    @Test
    @Order(3)
    void invoicesAnswerAsASingleNode()
    {
        ingested();
        for (final String tenant : tenants)
        {
            for (final String period : List.of("2025-10", "2025-11"))
            {
                final JsonNode invoice = read("/v1/invoices/" + tenant + "/" + period).json();
                assertEquals("draft", invoice.get("status").asText(), invoice.toString());
                assertTrue(invoice.get("lines").size() > 0, invoice.toString());
                read("/v1/invoices/" + tenant + "/" + period + "?format=csv");
                read("/v1/invoices/" + tenant + "/" + period + "?basis=true");
            }
            read("/v1/tenants/" + tenant + "/credits");
        }
        final JsonNode listing = read("/v1/invoices?period=2025-10").json();
        assertEquals(tenants.size(), listing.get("invoices").size(), listing.toString());
        read("/v1/invoices?period=2025-11");
        read("/v1/invoices?period=2024-01");
        final JsonNode margins = read("/v1/margins?period=2025-10").json();
        assertTrue(margins.get("margins").size() >= tenants.size(), margins.toString());
        read("/v1/margins?period=2025-11");
        read("/v1/invoices/" + tenants.get(0) + "/2025-13");
        read("/v1/invoices?period=October");

        // a line's events are read from the log of the partition's owner, streamed on by any other node
        for (final String tenant : List.of(tenants.get(0), tenants.get(7)))
        {
            for (final String line : List.of("0", "1", "99"))
            {
                final String path = "/v1/invoices/" + tenant + "/2025-10/lines/" + line + "/events";
                final Client.Answer expected = referenceClient.get(path);
                assertEquals("99".equals(line) ? 404 : 200, expected.status(), expected.body());
                for (int node = 0; node < cluster.nodeCount(); node++)
                {
                    final Client.Answer actual = cluster.client(node).get(path);
                    assertEquals(normalized(expected), normalized(actual), path + " of node " + ProcessCluster.id(node));
                    assertEquals(expected.response().headers().firstValue("Tokenmeter-Line-Quantity"),
                        actual.response().headers().firstValue("Tokenmeter-Line-Quantity"), path);
                }
            }
        }

        // final invoices through any node: the same invoices, numbered in each partition's own gapless series
        final Map<Integer, List<Integer>> numbers = new TreeMap<>();
        for (final String tenant : tenants)
        {
            final String path = "/v1/invoices/" + tenant + "/2025-10/finalize";
            final Client.Answer made = post(path, null, "", 201);
            final Matcher number = CLUSTER_NUMBER.matcher(made.json().get("invoice_number").asText());
            assertTrue(number.matches(), made.body());
            final int partition = Integer.parseInt(number.group(1));
            assertEquals(partitioner.partitionOf(tenant), partition, made.body());
            numbers.computeIfAbsent(partition, p -> new ArrayList<>()).add(Integer.parseInt(number.group(2)));
            final Client.Answer again = post(path, null, "", 200);
            assertEquals(made.json().get("invoice_number"), again.json().get("invoice_number"), again.body());
        }
        numbers.values().forEach(series -> assertEquals(List.of(1, 2), series, "a partition's series: " + numbers));
        for (final String tenant : tenants)
        {
            final JsonNode fin = read("/v1/invoices/" + tenant + "/2025-10").json();
            assertEquals("final", fin.get("status").asText(), fin.toString());
            read("/v1/invoices/" + tenant + "/2025-10?format=csv");
            read("/v1/invoices/" + tenant + "/2025-10?basis=true");
            read("/v1/invoices/" + tenant + "/2025-11");
            read("/v1/tenants/" + tenant + "/credits");
        }
        read("/v1/invoices?period=2025-10");
        read("/v1/margins?period=2025-10");
        post("/v1/invoices/" + tenants.get(3) + "/2026-12/finalize", null, "", 409);
    }

    @Test
    @Order(4)
    void afterAKillTheSurvivorsAnswerTheSameAndKnowEveryId() throws Exception
    {
        ingested();
        if (READS.isEmpty())
        {
            usageAnswersAsASingleNode();
            invoicesAnswerAsASingleNode();
        }
        final Map<Integer, String> before = cluster.awaitOwners(PARTITIONS, SPLIT);
        final int victim = Integer.parseInt(before.get(0).substring(1)) - 1;
        cluster.killNode(victim);
        final Map<Integer, String> after = cluster.awaitOwners(PARTITIONS, SPLIT);
        assertTrue(!after.containsValue(ProcessCluster.id(victim)), "the killed node owns nothing: " + after);

        for (final Map.Entry<String, String> read : READS.entrySet())
        {
            assertEquals(read.getValue(), normalized(nextNode().get(read.getKey())), "GET " + read.getKey() + " after the kill");
        }
        for (final String traces : acknowledgedTraces)
        {
            final Client.Answer retry = nextNode().post("/v1/traces", "application/json", traces);
            assertEquals(200, retry.status(), retry.body());
            assertTrue(retry.body().contains("0 spans with GenAI usage accepted, 16 spans already accepted"),
                "every acknowledged span is known after the kill: " + retry.body());
        }
        for (final String[] request : ACKNOWLEDGED)
        {
            final Client.Answer retry = nextNode().post(request[0], request[1], request[2]);
            assertEquals(202, retry.status(), retry.body());
            assertEquals(0, retry.json().get("accepted").asInt(), "every acknowledged event is known after the kill: "
                + retry.body());
        }
        final String late = ourBatch("late", 24);
        assertEquals(24, post("/v1/events", "application/json", late, 202).json().get("accepted").asInt());
        for (final String tenant : tenants)
        {
            both("GET", "/v1/usage?tenant=" + tenant + "&from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z"
                + "&granularity=month&consistent=true", null, null);
            both("GET", "/v1/invoices/" + tenant + "/2025-11", null, null);
            both("GET", "/v1/invoices/" + tenant + "/2025-10", null, null);
        }
        both("GET", "/v1/invoices?period=2025-10", null, null);
    }
}
