package io.tokenmeter.server.http;

import io.tokenmeter.server.TokenmeterServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * docs/metrics.md lists exactly the tokenmeter_ families a real scrape holds, with their types; and the latency
 * families move with traffic.
 */
class MetricsDocTest
{
    @TempDir
    Path dataDir;

    private TokenmeterServer server;

    @AfterEach
    void stop()
    {
        if (server != null)
        {
            server.close();
        }
    }

    private static Map<String, String> documented() throws Exception
    {
        final List<String> lines = Files.readAllLines(Path.of("..", "docs", "metrics.md"));
        final int start = lines.indexOf("<!-- metrics-table: MetricsDocTest reads this table -->");
        final int end = lines.indexOf("<!-- end metrics-table -->");
        assertTrue(start >= 0 && end > start, "docs/metrics.md holds the marked table");
        final Map<String, String> types = new TreeMap<>();
        for (final String line : lines.subList(start + 3, end))
        {
            final String[] cells = line.split("\\|");
            types.put(cells[1].trim().replace("`", ""), cells[2].trim());
        }
        return types;
    }

    private static Map<String, String> scraped(final String exposition)
    {
        final Map<String, String> types = new TreeMap<>();
        for (final String line : exposition.split("\n"))
        {
            if (line.startsWith("# TYPE tokenmeter_"))
            {
                final String[] words = line.split(" ");
                final String type = words[3];
                // the text format names a counter's family without _total; its samples carry it
                types.put(type.equals("counter") && !words[2].endsWith("_total") ? words[2] + "_total" : words[2], type);
            }
        }
        return types;
    }

    @Test
    void everyScrapedFamilyIsDocumentedAndEveryDocumentedOneIsScraped() throws Exception
    {
        server = TestServer.start(dataDir, Map.of());
        final Client client = new Client(server.port());
        assertEquals(202, client.post("/v1/events", "application/json", "{\"id\":\"a\",\"tenant\":\"t\",\"model\":\"m\","
            + "\"usage_format\":\"anthropic\",\"usage\":{\"input_tokens\":1,\"output_tokens\":2,\"new_field\":3}}").status());
        final String exposition = client.get("/metrics").body();
        assertEquals(documented(), scraped(exposition));
    }

    @Test
    void latencyFamiliesMoveWithTraffic()
    {
        try
        {
            server = TestServer.start(dataDir, Map.of());
        }
        catch (final Exception ex)
        {
            throw new IllegalStateException(ex);
        }
        final Client client = new Client(server.port());
        for (int i = 0; i < 20; i++)
        {
            assertEquals(202, client.post("/v1/events", "application/json", "{\"id\":\"e" + i + "\",\"tenant\":\"t\",\"model\":\"m\"}").status());
        }
        final String exposition = client.get("/metrics").body();
        assertTrue(exposition.contains("tokenmeter_ingest_latency_seconds_count 20"), exposition);
        assertTrue(exposition.contains("tokenmeter_ingest_latency_seconds_bucket{le=\"+Inf\"} 20"), exposition);
        assertTrue(exposition.contains("tokenmeter_ingest_latency_window_seconds_count 20"), exposition);
        assertTrue(exposition.contains("tokenmeter_log_append_latency_seconds_count"), exposition);
        assertTrue(exposition.contains("tokenmeter_ingest_events_total{result=\"accepted\"} 20.0"), exposition);
        final double p99 = sample(exposition, "tokenmeter_ingest_latency_window_seconds{quantile=\"0.99\"}");
        final double max = sample(exposition, "tokenmeter_ingest_latency_window_seconds{quantile=\"1.0\"}");
        assertTrue(p99 > 0 && p99 <= max, "p99 " + p99 + " <= max " + max);
    }

    private static double sample(final String exposition, final String series)
    {
        for (final String line : exposition.split("\n"))
        {
            if (line.startsWith(series + " "))
            {
                return Double.parseDouble(line.substring(series.length() + 1).trim());
            }
        }
        throw new AssertionError(series + " not in " + exposition);
    }
}
