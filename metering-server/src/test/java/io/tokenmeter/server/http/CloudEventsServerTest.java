package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.server.TokenmeterServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** CloudEvents on POST /api/v1/events through the whole server: single, batch, either, mixed validity, dedup. */
class CloudEventsServerTest
{
    private static final String SINGLE = "application/cloudevents+json";
    private static final String BATCH = "application/cloudevents-batch+json";

    @TempDir
    Path dataDir;

    private TokenmeterServer server;
    private Client client;

    @BeforeEach
    void start() throws Exception
    {
        server = TestServer.start(dataDir, Map.of());
        client = new Client(server.port());
    }

    @AfterEach
    void stop()
    {
        server.close();
    }

    private static String cloudEvent(final String id, final String source, final String subject, final String time, final String data)
    {
        return "{\"specversion\":\"1.0\",\"id\":\"" + id + "\",\"source\":\"" + source + "\",\"type\":\"com.example.llm.usage\","
            + "\"subject\":\"" + subject + "\"" + (time == null ? "" : ",\"time\":\"" + time + "\"") + ",\"data\":" + data + "}";
    }

    private JsonNode rows(final String tenant, final String from, final String to, final String granularity)
    {
        return client.get("/v1/usage?tenant=" + tenant + "&from=" + from + "&to=" + to + "&granularity=" + granularity
            + "&group_by=model,service_tier&consistent=true").json().get("rows");
    }

    private static void assertCounts(final Client.Answer answer, final int accepted, final int duplicates, final int conflicts)
    {
        assertEquals(202, answer.status(), answer.body());
        final JsonNode counts = answer.json();
        assertEquals(accepted, counts.get("accepted").asInt(), answer.body());
        assertEquals(duplicates, counts.get("duplicates").asInt(), answer.body());
        assertEquals(conflicts, counts.get("conflicts").asInt(), answer.body());
    }

    @Test
    void aSingleCloudEventIsCountedForItsSubjectAtItsTime()
    {
        assertCounts(client.post("/api/v1/events", SINGLE, cloudEvent("5f0c1b8e", "//gateway/eu", "acme", "2026-10-05T13:20:00+02:00",
            "{\"model\":\"gpt-4o\",\"input_tokens\":1200,\"cache_read_tokens\":1000,\"output_tokens\":350,\"reasoning_tokens\":100}")), 1, 0, 0);
        final JsonNode rows = rows("acme", "2026-10-05T11:00:00Z", "2026-10-05T12:00:00Z", "hour");
        assertEquals(1, rows.size(), rows.toString());
        assertEquals("2026-10-05T11:00:00Z", rows.get(0).get("start").asText());
        assertEquals(1200, rows.get(0).get("input_tokens").asLong());
        assertEquals(1000, rows.get(0).get("cache_read_tokens").asLong());
        assertEquals(350, rows.get(0).get("output_tokens").asLong());
        assertEquals(100, rows.get(0).get("reasoning_tokens").asLong());
    }

    @Test
    void aBatchTakesTokenFieldsProviderUsageAndTheOneClassForm()
    {
        final String batch = "[" + cloudEvent("r1", "//gw", "globex", "2026-10-05T10:00:00Z",
                "{\"model\":\"claude-sonnet-4-5\",\"usage_format\":\"anthropic\",\"usage\":{\"input_tokens\":2095,"
                    + "\"cache_creation_input_tokens\":2051,\"cache_read_input_tokens\":0,\"cache_creation\":{\"ephemeral_5m_input_tokens\":51,"
                    + "\"ephemeral_1h_input_tokens\":2000},\"output_tokens\":503,\"service_tier\":\"batch\"}}") + ","
            + cloudEvent("r2", "//gw", "globex", "2026-10-05T10:10:00Z", "{\"model\":\"gpt-4o\",\"type\":\"input\",\"tokens\":\"1250\"}") + ","
            + cloudEvent("r3", "//gw", "globex", "2026-10-05T10:20:00Z", "{\"model\":\"gpt-4o\",\"type\":\"output\",\"tokens\":75}") + ","
            + cloudEvent("r4", "//gw", "globex", "2026-10-05T10:30:00Z", "{\"model\":\"gemini-2.5-pro\",\"usage_format\":\"gemini\","
                + "\"usage\":{\"promptTokenCount\":12840,\"candidatesTokenCount\":412,\"totalTokenCount\":14052,"
                + "\"cachedContentTokenCount\":8192,\"thoughtsTokenCount\":800}}") + "]";
        assertCounts(client.post("/api/v1/events", BATCH, batch), 4, 0, 0);
        final JsonNode rows = rows("globex", "2026-10-05T10:00:00Z", "2026-10-05T11:00:00Z", "total");
        assertEquals(3, rows.size(), rows.toString());
        final JsonNode claude = rows.get(0);
        assertEquals("claude-sonnet-4-5", claude.get("model").asText());
        assertEquals("batch", claude.get("service_tier").asText());
        assertEquals(List3.of(2095, 0, 51, 2000, 503), List3.of(claude.get("input_tokens").asInt(), claude.get("cache_read_tokens").asInt(),
            claude.get("cache_write_tokens").asInt(), claude.get("cache_write_1h_tokens").asInt(), claude.get("output_tokens").asInt()));
        final JsonNode gemini = rows.get(1);
        assertEquals(List3.of(4648, 8192, 1212, 800), List3.of(gemini.get("input_tokens").asInt(), gemini.get("cache_read_tokens").asInt(),
            gemini.get("output_tokens").asInt(), gemini.get("reasoning_tokens").asInt()));
        final JsonNode gpt = rows.get(2);
        assertEquals(2, gpt.get("requests").asInt(), "each one-class event is one request");
        assertEquals(1250, gpt.get("input_tokens").asInt());
        assertEquals(75, gpt.get("output_tokens").asInt());
    }

    @Test
    void applicationJsonTakesEitherShapeAndOtherTypesAreRefused()
    {
        final String event = cloudEvent("j1", "//gw", "acme", null, "{\"model\":\"m\",\"output_tokens\":5}");
        assertCounts(client.post("/api/v1/events", "application/json; charset=utf-8", event), 1, 0, 0);
        assertCounts(client.post("/api/v1/events", "application/json", "[" + event.replace("j1", "j2") + "]"), 1, 0, 0);
        final Client.Answer arrayAsSingle = client.post("/api/v1/events", SINGLE, "[" + event.replace("j1", "j3") + "]");
        assertEquals(400, arrayAsSingle.status());
        assertTrue(arrayAsSingle.json().get("message").asText().contains("application/cloudevents-batch+json"), arrayAsSingle.body());
        assertEquals(400, client.post("/api/v1/events", BATCH, event.replace("j1", "j4")).status());
        final Client.Answer text = client.post("/api/v1/events", "text/plain", event.replace("j1", "j5"));
        assertEquals(415, text.status());
        assertEquals("unsupported_media_type", text.json().get("error").asText());
        assertEquals(415, client.post("/v1/events", SINGLE, "{}").status(), "/v1/events does not take CloudEvents");
        assertEquals(2, rows("acme", "1970-01-01T00:00:00Z", "2100-01-01T00:00:00Z", "total").get(0).get("requests").asInt());
    }

    @Test
    void oneInvalidCloudEventRefusesTheWholeBatchWithEveryProblem()
    {
        final String batch = "[" + cloudEvent("ok-1", "//gw", "acme", null, "{\"model\":\"m\",\"input_tokens\":1}") + ","
            + "{\"specversion\":\"1.0\",\"id\":\"bad\",\"source\":\"//gw\",\"type\":\"t\",\"data\":{\"model\":\"m\",\"type\":\"input\","
            + "\"tokens\":\"12x\",\"outpt_tokens\":3}},"
            + cloudEvent("ok-2", "//gw", "acme", "2026-10-05T10:00:00", "{\"model\":\"m\",\"usage_format\":\"openai_chat\","
                + "\"usage\":{\"prompt_tokens\":10,\"prompt_tokens_details\":{\"cached_tokens\":11}}}") + "]";
        final Client.Answer answer = client.post("/api/v1/events", BATCH, batch);
        assertEquals(400, answer.status(), answer.body());
        final JsonNode details = answer.json().get("details");
        assertEquals("invalid_events", answer.json().get("error").asText());
        final java.util.Set<String> found = new java.util.TreeSet<>();
        details.forEach(d -> found.add(d.get("index").asInt() + " " + d.get("field").asText()));
        assertEquals(new java.util.TreeSet<>(java.util.List.of("1 data.outpt_tokens", "1 data.tokens", "1 subject", "2 time",
            "2 data.usage.prompt_tokens_details.cached_tokens")), found, answer.body());
        assertEquals(0, rows("acme", "1970-01-01T00:00:00Z", "2100-01-01T00:00:00Z", "total").size(), "nothing was counted");
    }

    @Test
    void idsAreUniquePerSourceAndRetriesAreCountedOnce()
    {
        final String data = "{\"model\":\"m\",\"input_tokens\":10}";
        final String batch = "[" + cloudEvent("same-id", "//gateway/eu", "acme", "2026-10-05T10:00:00Z", data) + ","
            + cloudEvent("same-id", "//gateway/us", "acme", "2026-10-05T10:00:00Z", data) + "]";
        assertCounts(client.post("/api/v1/events", BATCH, batch), 2, 0, 0);
        assertCounts(client.post("/api/v1/events", BATCH, batch), 0, 2, 0);
        assertCounts(client.post("/api/v1/events", SINGLE, cloudEvent("same-id", "//gateway/eu", "acme", "2026-10-05T10:00:00Z",
            "{\"model\":\"m\",\"input_tokens\":11}")), 0, 0, 1);
        assertCounts(client.post("/v1/events", "application/json", "{\"id\":\"same-id\",\"tenant\":\"acme\",\"model\":\"m\","
            + "\"timestamp\":\"2026-10-05T10:00:00Z\",\"input_tokens\":10}"), 1, 0, 0);
        assertEquals(30, rows("acme", "2026-10-05T10:00:00Z", "2026-10-05T11:00:00Z", "total").get(0).get("input_tokens").asInt(),
            "two sources and the plain event, each once");
    }

    @Test
    void sourceAndIdThatWouldMeetAtANulAreRefusedInsteadOfBilledOnce()
    {
        // stored as source NUL id, both of these would be "s NUL X NUL a": the second would be a duplicate of the first
        final String data = "{\"model\":\"m\",\"input_tokens\":10}";
        final String first = cloudEvent("a", "s\\u0000X", "acme", "2026-10-05T10:00:00Z", data);
        final String second = cloudEvent("X\\u0000a", "s", "acme", "2026-10-05T10:00:00Z", data);
        final Client.Answer both = client.post("/api/v1/events", BATCH, "[" + first + "," + second + "]");
        assertEquals(400, both.status(), both.body());
        assertEquals("invalid_events", both.json().get("error").asText());
        final java.util.Set<String> found = new java.util.TreeSet<>();
        both.json().get("details").forEach(d -> found.add(d.get("index").asInt() + " " + d.get("field").asText() + ": "
            + d.get("message").asText()));
        assertEquals(new java.util.TreeSet<>(java.util.List.of(
            "0 source: must not contain control characters (U+0000 to U+001F, U+007F to U+009F); found U+0000 at character 2",
            "1 id: must not contain control characters (U+0000 to U+001F, U+007F to U+009F); found U+0000 at character 2")),
            found, both.body());
        assertEquals(400, client.post("/api/v1/events", SINGLE, first).status(), "each alone too");
        assertEquals(400, client.post("/api/v1/events", SINGLE, second).status());
        // a plain event's id follows the same rule, so it can never equal a CloudEvent's source NUL id either
        final Client.Answer plain = client.post("/v1/events", "application/json", "{\"id\":\"s\\u0000a\",\"tenant\":\"acme\","
            + "\"model\":\"m\",\"timestamp\":\"2026-10-05T10:00:00Z\",\"input_tokens\":10}");
        assertEquals(400, plain.status(), plain.body());
        assertEquals("id", plain.json().get("details").get(0).get("field").asText(), plain.body());
        assertEquals(0, rows("acme", "1970-01-01T00:00:00Z", "2100-01-01T00:00:00Z", "total").size(), "nothing was counted");

        // the same two events without the NUL are two events, each counted once
        assertCounts(client.post("/api/v1/events", BATCH, "[" + first.replace("\\u0000", "-") + ","
            + second.replace("\\u0000", "-") + "]"), 2, 0, 0);
        assertEquals(20, rows("acme", "2026-10-05T10:00:00Z", "2026-10-05T11:00:00Z", "total").get(0).get("input_tokens").asInt());
    }

    @Test
    void ignoredUsageFieldsAreCountedInMetricsOnlyForAcceptedRequests()
    {
        final String ignored = "{\"model\":\"m\",\"usage_format\":\"anthropic\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1,"
            + "\"server_tool_use\":{\"web_search_requests\":3}}}";
        final String refused = "[" + cloudEvent("i1", "//gw", "acme", null, ignored.replace("web_search_requests", "image_requests")) + ","
            + cloudEvent("i2", "//gw", "acme", null, "{\"model\":\"m\",\"input_tokens\":-1}") + "]";
        assertEquals(400, client.post("/api/v1/events", BATCH, refused).status());
        assertCounts(client.post("/api/v1/events", SINGLE, cloudEvent("i3", "//gw", "acme", null, ignored)), 1, 0, 0);
        final String metrics = client.get("/metrics").body();
        assertTrue(metrics.contains("tokenmeter_usage_fields_ignored_total{field=\"server_tool_use.web_search_requests\","
            + "format=\"anthropic\"} 1.0"), metrics);
        assertFalse(metrics.contains("image_requests"), "fields of a refused request are not counted");
    }

    /** Lists for readable equality of a few numbers. */
    private static final class List3
    {
        static java.util.List<Integer> of(final Integer... values)
        {
            return java.util.List.of(values);
        }
    }
}
