package io.tokenmeter.server.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tokenmeter.server.TokenmeterServer;
import io.tokenmeter.server.auth.KeyTool;
import io.tokenmeter.server.config.Settings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.DoublePredicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A real Prometheus (Debian's package) scrapes a running server with the job and alert rules of deploy/prometheus,
 * authenticating with a read key as the deploy config does; the test asks Prometheus's own HTTP API that the
 * tokenmeter series arrive and move with traffic and that the alert rules are loaded.
 */
class PrometheusScrapeTest
{
    private static final Path PROMETHEUS = Path.of("/usr/bin/prometheus");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long WAIT_NS = TimeUnit.SECONDS.toNanos(60);

    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private TokenmeterServer server;
    private Process prometheus;
    private int prometheusPort;

    @AfterEach
    void stop() throws InterruptedException
    {
        if (prometheus != null)
        {
            prometheus.destroy();
            if (!prometheus.waitFor(20, TimeUnit.SECONDS))
            {
                prometheus.destroyForcibly();
            }
        }
        if (server != null)
        {
            server.close();
        }
    }

    @Test
    void prometheusScrapesTheSeriesAndTheyMoveWithTraffic() throws Exception
    {
        final boolean installed = Files.isExecutable(PROMETHEUS);
        if ("true".equals(System.getenv("CI")))
        {
            assertTrue(installed, "CI installs Prometheus from Debian's packages: see .ci/run");
        }
        assumeTrue(installed, "prometheus is not installed (apt-get install prometheus); CI runs this test");

        final String ingestKey = KeyTool.newSecret();
        final String scrapeKey = KeyTool.newSecret();
        final Path keys = Files.writeString(dir.resolve("keys.yaml"), "keys:\n"
            + KeyTool.entry("gateway", "ingest", List.of("*"), KeyTool.sha256Hex(ingestKey))
            + KeyTool.entry("prometheus", "read", List.of("*"), KeyTool.sha256Hex(scrapeKey)));
        server = TokenmeterServer.start(Settings.of(io.tokenmeter.server.TestPartitions.apply(Map.of("port", "0",
            "data-dir", dir.resolve("data").toString(), "keys", keys.toString()))));
        for (int i = 0; i < 1000 && !server.isReady(); i++)
        {
            LockSupport.parkNanos(10_000_000);
        }
        startPrometheus(scrapeKey);

        post(ingestKey, 0, 10);
        assertTrue(waitFor("tokenmeter_ingest_events_total{result=\"accepted\"}", v -> v == 10),
            "Prometheus sees the 10 accepted events");
        post(ingestKey, 10, 35);
        assertTrue(waitFor("tokenmeter_ingest_events_total{result=\"accepted\"}", v -> v == 35), "and then 35");
        assertTrue(waitFor("up{job=\"tokenmeter\"}", v -> v == 1), "the target is up");
        assertTrue(waitFor("sum(tokenmeter_ingest_latency_seconds_count)", v -> v >= 2), "the latency histogram moves");
        assertTrue(waitFor("tokenmeter_ready", v -> v == 1), "ready");
        assertTrue(waitFor("tokenmeter_build_info", v -> v == 1), "build info");

        final JsonNode groups = get("/api/v1/rules").get("data").get("groups");
        assertEquals("tokenmeter", groups.get(0).get("name").asText());
        final long rules = DeployFilesTest.yamlDocuments(DeployFilesTest.DEPLOY.resolve("prometheus/alerts.yml")).get(0)
            .get("groups").get(0).get("rules").size();
        assertEquals(rules, groups.get(0).get("rules").size(), "every alert rule loaded");
        groups.get(0).get("rules").forEach(rule -> assertEquals("ok", rule.get("health").asText(), rule.toString()));
    }

    private void startPrometheus(final String scrapeKey) throws Exception
    {
        try (ServerSocket socket = new ServerSocket(0))
        {
            prometheusPort = socket.getLocalPort();
        }
        final Path config = dir.resolve("prometheus");
        Files.createDirectories(config);
        Files.writeString(config.resolve("tokenmeter.key"), scrapeKey + "\n");
        Files.copy(DeployFilesTest.DEPLOY.resolve("prometheus/alerts.yml"), config.resolve("alerts.yml"));
        Files.writeString(config.resolve("prometheus.yml"), Files.readString(DeployFilesTest.DEPLOY.resolve("prometheus/prometheus.yml"))
            .replace("scrape_interval: 15s", "scrape_interval: 1s")
            .replace("evaluation_interval: 15s", "evaluation_interval: 1s")
            .replace("/etc/prometheus/tokenmeter.key", config.resolve("tokenmeter.key").toString())
            .replace("127.0.0.1:8080", "127.0.0.1:" + server.port()));
        prometheus = new ProcessBuilder(PROMETHEUS.toString(), "--config.file=" + config.resolve("prometheus.yml"),
            "--storage.tsdb.path=" + dir.resolve("tsdb"), "--web.listen-address=127.0.0.1:" + prometheusPort, "--log.level=warn")
            .redirectErrorStream(true).redirectOutput(dir.resolve("prometheus.log").toFile()).start();
        final long until = System.nanoTime() + WAIT_NS;
        while (System.nanoTime() < until)
        {
            assertTrue(prometheus.isAlive(), () -> "prometheus exited: " + log());
            try
            {
                if (http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + prometheusPort + "/-/ready")).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode() == 200)
                {
                    return;
                }
            }
            catch (final java.io.IOException notYet)
            {
                // not listening yet
            }
            LockSupport.parkNanos(100_000_000);
        }
        throw new AssertionError("prometheus not ready within 60 s: " + log());
    }

    private String log()
    {
        try
        {
            return Files.readString(dir.resolve("prometheus.log"));
        }
        catch (final java.io.IOException ex)
        {
            return ex.toString();
        }
    }

    private void post(final String key, final int from, final int to) throws Exception
    {
        final StringBuilder batch = new StringBuilder("[");
        for (int i = from; i < to; i++)
        {
            batch.append(i == from ? "" : ",").append("{\"id\":\"p").append(i).append("\",\"tenant\":\"acme\",\"model\":\"m\",\"input_tokens\":5}");
        }
        final HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/events"))
            .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(batch.append(']').toString())).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(202, answer.statusCode(), answer.body());
    }

    private JsonNode get(final String pathAndQuery) throws Exception
    {
        final HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + prometheusPort + pathAndQuery))
            .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, answer.statusCode(), answer.body());
        return JSON.readTree(answer.body());
    }

    /** Polls an instant query (at most 60 s) until its single value satisfies the condition. */
    private boolean waitFor(final String query, final DoublePredicate condition) throws Exception
    {
        final long until = System.nanoTime() + WAIT_NS;
        String last = "";
        while (System.nanoTime() < until)
        {
            final JsonNode result = get("/api/v1/query?query=" + URLEncoder.encode(query, StandardCharsets.UTF_8)).get("data").get("result");
            last = result.toString();
            if (result.size() == 1 && condition.test(result.get(0).get("value").get(1).asDouble()))
            {
                return true;
            }
            LockSupport.parkNanos(200_000_000);
        }
        System.out.println("last answer to " + query + ": " + last + "\n" + log());
        return false;
    }
}
