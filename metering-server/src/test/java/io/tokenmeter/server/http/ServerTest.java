package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.server.TokenmeterServer;
import io.tokenmeter.server.config.Settings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The whole server over real HTTP on an ephemeral port, with a real Chronicle log in a temp directory. */
class ServerTest
{
    private static final String[] CLASSES = {"input_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens",
        "output_tokens", "reasoning_tokens"};
    private static final String[] TIERS = {"standard", "batch", "flex", "priority"};

    @TempDir
    Path dataDir;

    private TokenmeterServer server;
    private Client client;

    private void start(final Map<String, String> extra)
    {
        try
        {
            server = TestServer.start(dataDir, extra);
        }
        catch (final Exception ex)
        {
            throw new IllegalStateException(ex);
        }
        client = new Client(server.port());
    }

    private void restart()
    {
        server.close();
        server = null;
        start(Map.of());
    }

    @AfterEach
    void stop()
    {
        if (server != null)
        {
            server.close();
        }
    }

    private static String event(final String id, final String tenant, final String model, final String extra)
    {
        return "{\"id\":\"" + id + "\",\"tenant\":\"" + tenant + "\",\"model\":\"" + model + "\"" + (extra.isEmpty() ? "" : "," + extra) + "}";
    }

    private JsonNode ingest(final String contentType, final String body)
    {
        final Client.Answer answer = client.post("/v1/events", contentType, body);
        assertEquals(202, answer.status(), answer.body());
        return answer.json();
    }

    private static void assertCounts(final JsonNode answer, final int accepted, final int duplicates, final int conflicts)
    {
        assertEquals(accepted, answer.get("accepted").asInt(), answer.toString());
        assertEquals(duplicates, answer.get("duplicates").asInt(), answer.toString());
        assertEquals(conflicts, answer.get("conflicts").asInt(), answer.toString());
    }

    private JsonNode usage(final String query)
    {
        final Client.Answer answer = client.get("/v1/usage?" + query + "&consistent=true");
        assertEquals(200, answer.status(), answer.body());
        return answer.json();
    }

    private JsonNode total(final String tenant)
    {
        final JsonNode rows = usage("tenant=" + tenant + "&from=1970-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&group_by=").get("rows");
        return rows.size() == 0 ? null : rows.get(0);
    }

    @Test
    void takesASingleEventAnArrayAndNdjson()
    {
        start(Map.of());
        assertCounts(ingest("application/json", event("a1", "acme", "gpt-4o", "\"input_tokens\":10,\"output_tokens\":5")), 1, 0, 0);
        assertCounts(ingest("application/json; charset=utf-8", "[" + event("a2", "acme", "gpt-4o", "\"input_tokens\":1") + ","
            + event("a3", "acme", "claude", "\"output_tokens\":7,\"reasoning_tokens\":2") + "]"), 2, 0, 0);
        assertCounts(ingest("application/x-ndjson", event("a4", "acme", "gpt-4o", "\"cache_read_tokens\":100") + "\n"
            + event("a5", "acme", "gpt-4o", "\"cache_write_1h_tokens\":3") + "\n"), 2, 0, 0);
        final JsonNode total = total("acme");
        assertEquals(5, total.get("requests").asLong());
        assertEquals(11, total.get("input_tokens").asLong());
        assertEquals(12, total.get("output_tokens").asLong());
        assertEquals(2, total.get("reasoning_tokens").asLong());
        assertEquals(100, total.get("cache_read_tokens").asLong());
        assertEquals(3, total.get("cache_write_1h_tokens").asLong());
    }

    @Test
    void countsDuplicatesOnceAndReportsConflictsInOneRequestAndAcross()
    {
        start(Map.of());
        final String e = event("dup-1", "acme", "gpt-4o", "\"output_tokens\":5");
        assertCounts(ingest("application/json", "[" + e + "," + e + "]"), 1, 1, 0);
        assertCounts(ingest("application/json", e), 0, 1, 0);
        assertCounts(ingest("application/json", event("dup-1", "acme", "gpt-4o", "\"output_tokens\":6")), 0, 0, 1);
        assertCounts(ingest("application/json", event("dup-1", "other-tenant", "gpt-4o", "\"output_tokens\":5")), 1, 0, 0);
        assertEquals(5, total("acme").get("output_tokens").asLong());
        final String metrics = client.get("/metrics").body();
        assertTrue(metrics.contains("tokenmeter_ingest_events_total{result=\"conflict\"} 1.0"), metrics);
        assertTrue(metrics.contains("tokenmeter_ingest_events_total{result=\"duplicate\"} 2.0"), metrics);
    }

    @Test
    void aRetryWithoutTimestampIsADuplicate()
    {
        start(Map.of());
        final String e = event("no-ts", "acme", "m", "\"input_tokens\":3");
        assertCounts(ingest("application/json", e), 1, 0, 0);
        java.util.concurrent.locks.LockSupport.parkNanos(5_000_000);
        assertCounts(ingest("application/json", e), 0, 1, 0);
    }

    @Test
    void usageByHourDayMonthAndTotalMatchesSumsComputedHere()
    {
        start(Map.of());
        final long seed = System.nanoTime();
        final Random random = new Random(seed);
        final Instant from = Instant.parse("2026-09-01T00:00:00Z");
        final long spanMs = ChronoUnit.MILLIS.between(from, Instant.parse("2026-11-01T00:00:00Z"));
        final List<String> batch = new ArrayList<>();
        final Map<String, long[]> hourly = new TreeMap<>(); // "hourStartMs|model|tier" -> counters
        for (int i = 0; i < 3_000; i++)
        {
            final long ts = from.toEpochMilli() + (long)(random.nextDouble() * spanMs);
            final String model = "model-" + random.nextInt(3);
            final int tier = random.nextInt(4);
            final long[] tokens = new long[6];
            final StringBuilder fields = new StringBuilder("\"timestamp\":" + ts + ",\"service_tier\":\"" + TIERS[tier] + "\"");
            for (int c = 0; c < 5; c++)
            {
                tokens[c] = random.nextInt(50_000);
                fields.append(",\"").append(CLASSES[c]).append("\":").append(tokens[c]);
            }
            tokens[5] = tokens[4] / 2;
            fields.append(",\"reasoning_tokens\":").append(tokens[5]);
            batch.add(event("u-" + i, "zipf", model, fields.toString()));
            final long[] sums = hourly.computeIfAbsent((ts / 3_600_000L * 3_600_000L) + "|" + model + "|" + tier, k -> new long[7]);
            sums[0]++;
            for (int c = 0; c < 6; c++)
            {
                sums[1 + c] += tokens[c];
            }
            if (batch.size() == 250)
            {
                assertCounts(ingest("application/json", "[" + String.join(",", batch) + "]"), 250, 0, 0);
                batch.clear();
            }
        }
        for (final String granularity : new String[] {"hour", "day", "month", "total"})
        {
            final Map<String, long[]> expected = new TreeMap<>();
            hourly.forEach((key, sums) ->
            {
                final String[] parts = key.split("\\|");
                final Instant hour = Instant.ofEpochMilli(Long.parseLong(parts[0]));
                final String start = switch (granularity)
                {
                    case "hour" -> hour.toString();
                    case "day" -> hour.truncatedTo(ChronoUnit.DAYS).toString();
                    case "month" -> YearMonth.from(hour.atZone(ZoneOffset.UTC)).atDay(1).atStartOfDay(ZoneOffset.UTC).toInstant().toString();
                    default -> "-";
                };
                final long[] row = expected.computeIfAbsent(start + "|" + parts[1] + "|" + TIERS[Integer.parseInt(parts[2])], k -> new long[7]);
                for (int c = 0; c < 7; c++)
                {
                    row[c] += sums[c];
                }
            });
            final JsonNode answer = usage("tenant=zipf&from=2026-08-01T00:00:00Z&to=2026-12-01T00:00:00Z&granularity=" + granularity
                + "&group_by=model,service_tier");
            final Map<String, long[]> actual = new TreeMap<>();
            for (final JsonNode row : answer.get("rows"))
            {
                final String start = row.has("start") ? row.get("start").asText() : "-";
                final long[] counters = new long[7];
                counters[0] = row.get("requests").asLong();
                for (int c = 0; c < 6; c++)
                {
                    counters[1 + c] = row.get(CLASSES[c]).asLong();
                }
                actual.put(start + "|" + row.get("model").asText() + "|" + row.get("service_tier").asText(), counters);
            }
            assertEquals(expected.keySet(), actual.keySet(), granularity + " seed " + seed);
            expected.forEach((k, v) -> assertEquals(List.of(toBoxed(v)), List.of(toBoxed(actual.get(k))), k + " seed " + seed));
        }
        final JsonNode windowed = usage("tenant=zipf&from=2026-10-01T00:00:00Z&to=2026-10-01T01:00:00Z&granularity=hour&group_by=");
        long expectedRequests = 0;
        for (final Map.Entry<String, long[]> e : hourly.entrySet())
        {
            if (e.getKey().startsWith(Instant.parse("2026-10-01T00:00:00Z").toEpochMilli() + "|"))
            {
                expectedRequests += e.getValue()[0];
            }
        }
        final long got = windowed.get("rows").size() == 0 ? 0 : windowed.get("rows").get(0).get("requests").asLong();
        assertEquals(expectedRequests, got, "from inclusive, to exclusive");
    }

    private static Long[] toBoxed(final long[] values)
    {
        final Long[] boxed = new Long[values.length];
        for (int i = 0; i < values.length; i++)
        {
            boxed[i] = values[i];
        }
        return boxed;
    }

    @Test
    void everyChineseProviderFormatIsBilledAsItsProviderBillsThroughTheWholeServer()
    {
        start(Map.of());
        final String t = "\"timestamp\":\"2026-11-20T08:00:00Z\",\"usage_format\":";
        final String batch = "[" + event("ds-1", "cn", "deepseek-chat", t + "\"deepseek\",\"usage\":{\"prompt_tokens\":2386,"
                + "\"completion_tokens\":152,\"total_tokens\":2538,\"prompt_tokens_details\":{\"cached_tokens\":2304},"
                + "\"prompt_cache_hit_tokens\":2304,\"prompt_cache_miss_tokens\":82}") + ","
            + event("qw-1", "cn", "qwen3.6-plus", t + "\"dashscope\",\"usage\":{\"prompt_tokens\":29719,\"completion_tokens\":435,"
                + "\"total_tokens\":30154,\"completion_tokens_details\":{\"reasoning_tokens\":382},\"prompt_tokens_details\":"
                + "{\"cache_creation\":{\"ephemeral_5m_input_tokens\":29713,\"ephemeral_9m_input_tokens\":7},"
                + "\"cache_creation_input_tokens\":29713,\"cache_type\":\"ephemeral\",\"cached_tokens\":0}}") + ","
            + event("km-1", "cn", "kimi-k2.6", t + "\"moonshot\",\"usage\":{\"prompt_tokens\":2187,\"completion_tokens\":96,"
                + "\"total_tokens\":2283,\"cached_tokens\":2048}") + ","
            + event("glm-1", "cn", "glm-4.6", t + "\"zhipu\",\"usage\":{\"prompt_tokens\":1520,\"completion_tokens\":310,"
                + "\"total_tokens\":1830,\"prompt_tokens_details\":{\"cached_tokens\":1280}}") + ","
            + event("ark-1", "cn", "doubao-seed-1-6", t + "\"volcengine_ark\",\"usage\":{\"prompt_tokens\":812,"
                + "\"completion_tokens\":2304,\"total_tokens\":3116,\"prompt_tokens_details\":{\"cached_tokens\":512,"
                + "\"provisioned_tokens\":812},\"completion_tokens_details\":{\"reasoning_tokens\":1850},\"service_tier\":\"scale\"}")
            + "]";
        assertCounts(ingest("application/json", batch), 5, 0, 0);
        final JsonNode rows = usage("tenant=cn&from=2026-11-20T08:00:00Z&to=2026-11-20T09:00:00Z&granularity=total"
            + "&group_by=model,service_tier").get("rows");
        final Map<String, List<Long>> byModel = new TreeMap<>();
        for (final JsonNode row : rows)
        {
            final List<Long> classes = new ArrayList<>();
            for (final String name : CLASSES)
            {
                classes.add(row.get(name).asLong());
            }
            byModel.put(row.get("model").asText() + " " + row.get("service_tier").asText(), classes);
        }
        assertEquals(Map.of(
            "deepseek-chat standard", List.of(82L, 2304L, 0L, 0L, 152L, 0L),
            "qwen3.6-plus standard", List.of(6L, 0L, 29713L, 0L, 435L, 382L),
            "kimi-k2.6 standard", List.of(139L, 2048L, 0L, 0L, 96L, 0L),
            "glm-4.6 standard", List.of(240L, 1280L, 0L, 0L, 310L, 0L),
            "doubao-seed-1-6 priority", List.of(300L, 512L, 0L, 0L, 2304L, 1850L)), byModel, rows.toString());
        final String metrics = client.get("/metrics").body();
        assertTrue(metrics.contains("tokenmeter_usage_fields_ignored_total{field=\"prompt_tokens_details.provisioned_tokens\","
            + "format=\"volcengine_ark\"} 1.0"), metrics);
        assertTrue(metrics.contains("tokenmeter_usage_fields_ignored_total{field=\"prompt_tokens_details.cache_creation."
            + "ephemeral_9m_input_tokens\",format=\"dashscope\"} 1.0"), metrics);
        final Client.Answer refused = client.post("/v1/events", "application/json", event("ds-2", "cn", "deepseek-chat", t
            + "\"deepseek\",\"usage\":{\"prompt_tokens\":100,\"prompt_cache_hit_tokens\":90,\"prompt_cache_miss_tokens\":100}"));
        assertEquals(400, refused.status(), refused.body());
        assertEquals("usage.prompt_cache_hit_tokens", refused.json().get("details").get(0).get("field").asText(), refused.body());
    }

    @Test
    void gracefulRestartKeepsCountsAndDedup()
    {
        start(Map.of());
        final StringBuilder batch = new StringBuilder("[");
        for (int i = 0; i < 100; i++)
        {
            batch.append(i == 0 ? "" : ",").append(event("r-" + i, "acme", "m", "\"output_tokens\":" + i));
        }
        batch.append(']');
        assertCounts(ingest("application/json", batch.toString()), 100, 0, 0);
        restart();
        assertEquals(4950, total("acme").get("output_tokens").asLong());
        assertCounts(ingest("application/json", batch.toString()), 0, 100, 0);
        restart();
        assertEquals(100, total("acme").get("requests").asLong());
    }

    @Test
    void invalidRequestIsRefusedWholeWithEveryProblem()
    {
        start(Map.of());
        final Client.Answer answer = client.post("/v1/events", "application/json", "[" + event("ok", "acme", "m", "") + ","
            + event("bad", "acme", "m", "\"output_tokens\":-5,\"typo_tokens\":1") + "]");
        assertEquals(400, answer.status());
        final JsonNode body = answer.json();
        assertEquals("invalid_events", body.get("error").asText());
        assertEquals(2, body.get("details").size());
        assertEquals(1, body.get("details").get(0).get("index").asInt());
        assertNull(total("acme"), "nothing of the request was counted");
    }

    private static void assertNull(final Object value, final String message)
    {
        assertTrue(value == null, message);
    }

    @Test
    void everyErrorIsJsonWithCodeAndMessage()
    {
        start(Map.of("max-body-bytes", "4096", "max-events-per-request", "3"));
        assertError(client.post("/v1/events", "application/json", "[" + " ".repeat(5000) + "]"), 413, "body_too_large");
        client = new Client(server.port()); // the 413 closed that connection
        final String four = "[" + String.join(",", event("1", "t", "m", ""), event("2", "t", "m", ""), event("3", "t", "m", ""),
            event("4", "t", "m", "")) + "]";
        assertError(client.post("/v1/events", "application/json", four), 413, "too_many_events");
        assertError(client.post("/v1/events", "text/plain", "{}"), 415, "unsupported_media_type");
        assertError(client.post("/v1/events", null, "{}"), 415, "unsupported_media_type");
        assertError(client.post("/v1/events", "application/json", "{\"id\":"), 400, "malformed_json");
        assertError(client.get("/v1/events"), 405, "method_not_allowed");
        assertError(client.get("/nowhere"), 404, "not_found");
        assertError(client.get("/v1/usage?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z"), 400, "invalid_query");
        assertError(client.get("/v1/usage?tenant=a&from=2026-11-01T00:30:00Z&to=2026-12-01T00:00:00Z"), 400, "invalid_query");
        assertError(client.get("/v1/usage?tenant=a&from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z"), 400, "invalid_query");
        assertError(client.get("/v1/usage?tenant=a&from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z&granularty=day"), 400, "invalid_query");
        assertError(client.get("/v1/usage?tenant=a&from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z&group_by=region"), 400, "invalid_query");
    }

    private static void assertError(final Client.Answer answer, final int status, final String code)
    {
        assertEquals(status, answer.status(), answer.body());
        final JsonNode body = answer.json();
        assertEquals(code, body.get("error").asText(), answer.body());
        assertFalse(body.get("message").asText().isBlank());
        assertFalse(answer.body().contains("Exception"), answer.body());
    }

    @Test
    void healthAndMetricsAnswer()
    {
        start(Map.of());
        assertEquals(200, client.get("/health/live").status());
        final Client.Answer ready = client.get("/health/ready");
        assertEquals(200, ready.status());
        assertEquals("ready", ready.json().get("status").asText());
        ingest("application/json", event("m1", "acme", "m", ""));
        final Client.Answer metrics = client.get("/metrics");
        assertEquals(200, metrics.status());
        assertTrue(metrics.response().headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
        assertTrue(metrics.body().contains("tokenmeter_ingest_events_total{result=\"accepted\"} 1.0"), metrics.body());
        assertTrue(metrics.body().contains("tokenmeter_ingest_requests_total{status=\"202\"}"), metrics.body());
        assertTrue(metrics.body().contains("tokenmeter_dedup_size"), metrics.body());
        assertTrue(metrics.body().contains("jvm_memory_used_bytes"), metrics.body());
        assertFalse(metrics.body().contains("acme"), "no per-tenant labels");
    }

    @Test
    void clusterRouteOfASingleNodeListsEveryPartitionAsItsOwn()
    {
        start(Map.of());
        assertCounts(ingest("application/json", event("c1", "acme", "m", "\"input_tokens\":1")), 1, 0, 0);
        final Client.Answer answer = client.get("/v1/cluster");
        assertEquals(200, answer.status(), answer.body());
        final JsonNode cluster = answer.json();
        assertEquals("none", cluster.get("cluster").asText(), answer.body());
        assertTrue(cluster.get("node").get("id").isNull(), answer.body());
        assertEquals("http://127.0.0.1:" + server.port(), cluster.get("node").get("url").asText(), answer.body());
        assertEquals(server.partitions().count(), cluster.get("partitions").size(), answer.body());
        int positioned = 0;
        for (final JsonNode partition : cluster.get("partitions"))
        {
            assertEquals("owned", partition.get("state").asText(), answer.body());
            assertTrue(partition.get("owner").isNull(), answer.body());
            positioned += partition.get("log_position").isNumber() ? 1 : 0;
        }
        assertEquals(server.partitions().count(), positioned, "every partition holds the price book at least: " + answer.body());
    }

    @Test
    void aSingleNodesPartitionLagReachesZeroOnceItsEventsAreCounted()
    {
        start(Map.of());
        assertCounts(ingest("application/json", event("l1", "acme", "m", "\"input_tokens\":1")), 1, 0, 0);
        final long until = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(20);
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
                assertTrue(partition.get("lag").isIntegralNumber() && partition.get("lag").asLong() >= 0, cluster.toString());
                assertTrue(metrics.contains("tokenmeter_partition_lag{partition=\"" + p + "\"}"), metrics);
                caughtUp &= partition.get("lag").asLong() == 0
                    && metrics.contains("tokenmeter_partition_lag{partition=\"" + p + "\"} 0.0");
            }
            if (caughtUp)
            {
                return;
            }
            java.util.concurrent.locks.LockSupport.parkNanos(java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(100));
        }
        throw new AssertionError("the partitions' lag did not reach 0 within 20 s: " + last);
    }

    @Test
    void aDiskBelowMinFreeDiskStopsIngestAndReadinessSaysWhy() throws Exception
    {
        server = TokenmeterServer.start(Settings.of(io.tokenmeter.server.TestPartitions.apply(Map.of("port", "0", "data-dir", dataDir.toString(),
            "min-free-disk", "1000000GiB"))));
        client = new Client(server.port());
        final JsonNode ready = client.get("/health/ready").json();
        assertEquals("not_ready", ready.get("status").asText());
        assertTrue(ready.get("reasons").toString().contains("disk full"), ready.toString());
        final Client.Answer refused = client.post("/v1/events", "application/json", event("d1", "acme", "m", ""));
        assertEquals(503, refused.status());
        assertTrue(refused.response().headers().firstValue("Retry-After").isPresent());
        assertTrue(refused.json().get("message").asText().contains("disk full"), refused.body());
        final String metrics = client.get("/metrics").body();
        assertTrue(metrics.contains("tokenmeter_ready 0.0") || metrics.contains("tokenmeter_ready 0\n"), metrics.lines().filter(l -> l.startsWith("tokenmeter_ready")).toList().toString());
    }

    @Test
    void healthCommandExitsZeroWhenReadyAndOneWhenNothingAnswers() throws Exception
    {
        start(Map.of());
        final java.io.PrintStream out = System.out;
        System.setOut(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
        try
        {
            assertEquals(0, new picocli.CommandLine(new io.tokenmeter.server.Main()).execute("health", "--url",
                "http://127.0.0.1:" + server.port()));
            final int closedPort;
            try (java.net.ServerSocket socket = new java.net.ServerSocket(0))
            {
                closedPort = socket.getLocalPort();
            }
            assertEquals(1, new picocli.CommandLine(new io.tokenmeter.server.Main()).execute("health", "--url",
                "http://127.0.0.1:" + closedPort, "--timeout", "1s"));
        }
        finally
        {
            System.setOut(out);
        }
    }

    @Test
    void consistentQuerySeesEverythingAcknowledgedBeforeIt()
    {
        start(Map.of());
        for (int round = 0; round < 20; round++)
        {
            ingest("application/json", event("c-" + round, "acme", "m", "\"output_tokens\":1"));
            assertEquals(round + 1, total("acme").get("requests").asLong());
        }
    }

    @Test
    void secondServerOnTheSameDataDirectoryIsRefused()
    {
        start(Map.of());
        final Exception ex = org.junit.jupiter.api.Assertions.assertThrows(Exception.class,
            () -> TokenmeterServer.start(Settings.of(io.tokenmeter.server.TestPartitions.apply(Map.of("port", "0", "data-dir", dataDir.toString())))));
        assertNotNull(ex.getMessage());
        assertTrue(ex.getMessage().contains("in use"), ex.getMessage());
    }

    @Test
    void refusesToBindAPublicAddressWithoutKeys()
    {
        final Exception ex = org.junit.jupiter.api.Assertions.assertThrows(Exception.class,
            () -> TokenmeterServer.start(Settings.of(io.tokenmeter.server.TestPartitions.apply(Map.of("port", "0", "bind", "0.0.0.0", "data-dir", dataDir.toString())))));
        assertTrue(ex.getMessage().contains("refusing to bind"), ex.getMessage());
    }
}
