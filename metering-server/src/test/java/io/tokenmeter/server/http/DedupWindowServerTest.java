package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.server.TokenmeterServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The dedup window holds beyond the memory's capacity, over real HTTP: with {@code dedup-capacity} far below the ids
 * posted, retries of the earliest events are still duplicates (the disk tier holds them), across a restart; one
 * tenant's flood does not shorten another's window; and a disk budget too small to hold the window is said so in the
 * metrics and in {@code /health/ready}.
 */
class DedupWindowServerTest
{
    private static final int CAPACITY = 8_000;
    private static final int BATCH = 1_000;

    @TempDir
    Path dir;

    private TokenmeterServer server;

    @AfterEach
    void stop()
    {
        if (server != null)
        {
            server.close();
        }
    }

    private Client start(final Map<String, String> extra) throws Exception
    {
        final Map<String, String> settings = new HashMap<>(Map.of("data-dir", dir.resolve("data").toString(),
            "dedup-capacity", Integer.toString(CAPACITY)));
        settings.putAll(extra);
        server = TestServer.start(dir, settings);
        return new Client(server.port());
    }

    private static String batch(final String tenant, final int b)
    {
        final StringBuilder body = new StringBuilder();
        for (int e = 0; e < BATCH; e++)
        {
            body.append("{\"id\":\"").append(tenant).append('-').append(b).append('-').append(e).append("\",\"tenant\":\"")
                .append(tenant).append("\",\"model\":\"m\",\"output_tokens\":1}\n");
        }
        return body.toString();
    }

    private static JsonNode post(final Client client, final String tenant, final int b)
    {
        final Client.Answer answer = client.post("/v1/events", "application/x-ndjson", batch(tenant, b));
        assertEquals(202, answer.status(), answer.body());
        return answer.json();
    }

    private static void postNew(final Client client, final String tenant, final int first, final int last)
    {
        for (int b = first; b < last; b++)
        {
            assertEquals(BATCH, post(client, tenant, b).get("accepted").asInt(), tenant + " batch " + b + " is new");
        }
    }

    private static void assertDuplicates(final Client client, final String tenant, final int b, final String when)
    {
        final JsonNode answer = post(client, tenant, b);
        assertEquals(BATCH, answer.get("duplicates").asInt(), when + ": a retry of " + tenant + " batch " + b + ": " + answer);
    }

    private static long requests(final Client client, final String tenant)
    {
        final JsonNode rows = client.get("/v1/usage?tenant=" + tenant + "&from=1970-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"
            + "&group_by=&consistent=true").json().get("rows");
        return rows.size() == 0 ? 0 : rows.get(0).get("requests").asLong();
    }

    @Test
    void retriesOfEventsFarBeyondTheMemoryCapacityAreDuplicatesAcrossARestart() throws Exception
    {
        Client client = start(Map.of());
        postNew(client, "acme", 0, 40);
        for (final int b : new int[] {0, 1, 20, 39})
        {
            assertDuplicates(client, "acme", b, "5 times the memory capacity later");
        }
        assertEquals(40 * BATCH, requests(client, "acme"));
        final String scrape = client.get("/metrics").body();
        assertTrue(metric(scrape, "tokenmeter_dedup_disk_ids") > 0, "ids were spilled to disk");
        assertEquals(metric(scrape, "tokenmeter_dedup_window_seconds"), metric(scrape, "tokenmeter_dedup_effective_window_seconds"),
            "the window holds");
        assertEquals(0.0, metric(scrape, "tokenmeter_dedup_evictions_total{reason=\"capacity\"}"), "nothing forgotten early");

        server.close();
        client = start(Map.of());
        for (final int b : new int[] {0, 2, 21, 38})
        {
            assertDuplicates(client, "acme", b, "after a restart");
        }
        assertEquals(40 * BATCH, requests(client, "acme"), "counted once");
    }

    @Test
    void oneTenantsFloodLeavesAnotherTenantsRetriesDuplicates() throws Exception
    {
        final Client client = start(Map.of());
        postNew(client, "globex", 0, 2);
        postNew(client, "acme", 0, 50);
        assertDuplicates(client, "globex", 0, "after acme's flood of 50,000 ids");
        assertDuplicates(client, "globex", 1, "after acme's flood of 50,000 ids");
        assertEquals(2 * BATCH, requests(client, "globex"));
        assertEquals("ready", client.get("/health/ready").json().get("status").asText());
    }

    @Test
    void aDiskBudgetTooSmallForTheWindowIsSaidInMetricsAndReadiness() throws Exception
    {
        final Client client = start(Map.of("dedup-disk-budget", "64KiB"));
        postNew(client, "acme", 0, 60);
        final String scrape = client.get("/metrics").body();
        assertTrue(metric(scrape, "tokenmeter_dedup_evictions_total{reason=\"capacity\"}") > 0, "ids forgotten early");
        assertTrue(metric(scrape, "tokenmeter_dedup_effective_window_seconds") < metric(scrape, "tokenmeter_dedup_window_seconds"),
            "the effective window is shorter than the configured one");
        final Client.Answer ready = client.get("/health/ready");
        assertEquals(200, ready.status(), "still serving: " + ready.body());
        assertEquals("degraded", ready.json().get("status").asText(), ready.body());
        assertTrue(ready.json().get("reasons").get(0).asText().startsWith("dedup window shortened"), ready.body());
        assertEquals(202, client.post("/v1/events", "application/json", "{\"id\":\"still\",\"tenant\":\"acme\",\"model\":\"m\"}").status());
    }

    /** @return the value of a series, summed over its lines when it has labels beyond those given (partitions). */
    private static double metric(final String scrape, final String series)
    {
        double sum = 0;
        boolean found = false;
        for (final String line : scrape.lines().toList())
        {
            if (line.startsWith(series + " ") || line.startsWith(series + "{"))
            {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                found = true;
            }
        }
        assertTrue(found, series + " is scraped");
        return sum;
    }
}
