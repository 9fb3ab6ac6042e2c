package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;
import io.opentelemetry.proto.common.v1.AnyValue;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.resource.v1.Resource;
import io.opentelemetry.proto.trace.v1.ResourceSpans;
import io.opentelemetry.proto.trace.v1.ScopeSpans;
import io.opentelemetry.proto.trace.v1.Span;
import io.tokenmeter.server.TokenmeterServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code POST /v1/traces} with hand-built OTLP bodies, protobuf and JSON, through the whole server: the mapping of the
 * GenAI attributes, OTLP's answers (an empty response, partial success, {@code google.rpc.Status} errors in the
 * request's encoding), skipped and rejected spans and their metrics, dedup of a repeated request, gzip, the tenant
 * attribute setting, and keys (401, 403) as on {@code /v1/events}; what is accepted is read back through
 * {@code /v1/usage}.
 */
class TracesServerTest
{
    private static final String JSON = "application/json";
    private static final String PROTOBUF = "application/x-protobuf";
    /** 2026-10-05T11:20:00.123Z in nanoseconds. */
    private static final long END_NANOS = 1_791_199_200_123_000_000L;
    private static final String TRACE = "5B8EFFF798038103D269B633813FC60C";

    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private TokenmeterServer server;
    private Client client;
    private String key;

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
        final Map<String, String> settings = new HashMap<>(Map.of("data-dir", dir.resolve("data").toString()));
        settings.putAll(extra);
        server = TestServer.start(dir, settings);
        client = new Client(server.port()).withKey(key);
    }

    /** A span of OTLP/JSON with its attributes (each {@code "key": value-object}); ids in upper-case hex. */
    private static String jsonSpan(final String spanId, final String name, final String attributes)
    {
        return "{\"traceId\":\"" + TRACE + "\",\"spanId\":\"" + spanId + "\",\"parentSpanId\":\"\",\"name\":\"" + name
            + "\",\"kind\":3,\"startTimeUnixNano\":\"" + (END_NANOS - 900_000_000L) + "\",\"endTimeUnixNano\":\"" + END_NANOS
            + "\",\"attributes\":[" + attributes + "],\"droppedAttributesCount\":0,\"events\":[],\"links\":[],"
            + "\"status\":{\"code\":0},\"flags\":257,\"futureField\":{\"nested\":[1,2,3]}}";
    }

    private static String attr(final String key, final String value)
    {
        return "{\"key\":\"" + key + "\",\"value\":" + value + "}";
    }

    private static String str(final String text)
    {
        return "{\"stringValue\":\"" + text + "\"}";
    }

    private static String num(final long value, final boolean asString)
    {
        return asString ? "{\"intValue\":\"" + value + "\"}" : "{\"intValue\":" + value + "}";
    }

    /** An ExportTraceServiceRequest of OTLP/JSON: one resource with {@code tenant.id = resourceTenant}, one scope. */
    private static String jsonRequest(final String resourceTenant, final String... spans)
    {
        return "{\"resourceSpans\":[{\"resource\":{\"attributes\":[" + attr("service.name", str("gateway"))
            + (resourceTenant == null ? "" : "," + attr("tenant.id", str(resourceTenant))) + "]},"
            + "\"scopeSpans\":[{\"scope\":{\"name\":\"openllmetry\",\"version\":\"0.40\"},\"spans\":["
            + String.join(",", spans) + "]}],\"schemaUrl\":\"https://opentelemetry.io/schemas/1.26.0\"}]}";
    }

    private static String chatAttributes(final String model, final long input, final long cacheRead, final long output)
    {
        return String.join(",", attr("gen_ai.operation.name", str("chat")), attr("gen_ai.request.model", str("gpt-4o")),
            attr("gen_ai.response.model", str(model)), attr("gen_ai.usage.input_tokens", num(input, true)),
            attr("gen_ai.usage.cache_read.input_tokens", num(cacheRead, false)),
            attr("gen_ai.usage.output_tokens", num(output, false)));
    }

    private record Answer(int status, byte[] body, HttpResponse<byte[]> response)
    {
        String text()
        {
            return new String(body, StandardCharsets.UTF_8);
        }

        JsonNode json()
        {
            try
            {
                return Client.JSON.readTree(body);
            }
            catch (final IOException ex)
            {
                throw new AssertionError("not JSON (" + status + "): " + text(), ex);
            }
        }

        String contentType()
        {
            return response.headers().firstValue("Content-Type").orElse("");
        }
    }

    private Answer post(final String contentType, final byte[] body, final String... headers)
    {
        final HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/traces"))
            .timeout(Duration.ofSeconds(20)).POST(HttpRequest.BodyPublishers.ofByteArray(body));
        if (contentType != null)
        {
            request.header("Content-Type", contentType);
        }
        if (key != null)
        {
            request.header("Authorization", "Bearer " + key);
        }
        for (int i = 0; i < headers.length; i += 2)
        {
            request.header(headers[i], headers[i + 1]);
        }
        try
        {
            final HttpResponse<byte[]> response = http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
            return new Answer(response.statusCode(), response.body(), response);
        }
        catch (final Exception ex)
        {
            throw new IllegalStateException("POST /v1/traces failed: " + ex, ex);
        }
    }

    private Answer postJson(final String body)
    {
        return post(JSON, body.getBytes(StandardCharsets.UTF_8));
    }

    private JsonNode rows(final String tenant)
    {
        return rows(tenant, "2026-10-05T11:00:00Z", "2026-10-05T12:00:00Z");
    }

    private JsonNode rows(final String tenant, final String from, final String to)
    {
        return client.get("/v1/usage?tenant=" + tenant + "&from=" + from + "&to=" + to + "&group_by=model&consistent=true")
            .json().get("rows");
    }

    private double metric(final String series)
    {
        final Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(client.get("/metrics").body());
        return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }

    /** @return the message of a {@code google.rpc.Status} in binary protobuf, after checking its code. */
    private static String protobufStatusMessage(final byte[] body, final int expectedCode) throws IOException
    {
        final CodedInputStream in = CodedInputStream.newInstance(body);
        int code = 0;
        String message = null;
        for (int tag; (tag = in.readTag()) != 0; )
        {
            switch (tag)
            {
                case 8 -> code = in.readInt32();
                case 18 -> message = in.readString();
                default -> in.skipField(tag);
            }
        }
        assertEquals(expectedCode, code, "google.rpc.Status code");
        return message;
    }

    private static KeyValue kv(final String key, final String value)
    {
        return KeyValue.newBuilder().setKey(key).setValue(AnyValue.newBuilder().setStringValue(value)).build();
    }

    private static KeyValue kv(final String key, final long value)
    {
        return KeyValue.newBuilder().setKey(key).setValue(AnyValue.newBuilder().setIntValue(value)).build();
    }

    private static Span protoSpan(final String spanId, final KeyValue... attributes)
    {
        final Span.Builder span = Span.newBuilder().setTraceId(ByteString.fromHex(TRACE.toLowerCase()))
            .setSpanId(ByteString.fromHex(spanId)).setName("chat").setKind(Span.SpanKind.SPAN_KIND_CLIENT)
            .setStartTimeUnixNano(END_NANOS - 1_000_000_000L).setEndTimeUnixNano(END_NANOS);
        for (final KeyValue attribute : attributes)
        {
            span.addAttributes(attribute);
        }
        return span.build();
    }

    private static byte[] protoRequest(final String resourceTenant, final Span... spans)
    {
        return ExportTraceServiceRequest.newBuilder().addResourceSpans(ResourceSpans.newBuilder()
                .setResource(Resource.newBuilder().addAttributes(kv("tenant.id", resourceTenant)))
                .addScopeSpans(ScopeSpans.newBuilder().addAllSpans(java.util.List.of(spans))))
            .build().toByteArray();
    }

    private static void assertRow(final JsonNode row, final String model, final int requests, final long input,
        final long cacheRead, final long output)
    {
        assertEquals(model, row.get("model").asText(), row.toString());
        assertEquals(requests, row.get("requests").asInt(), row.toString());
        assertEquals(input, row.get("input_tokens").asLong(), row.toString());
        assertEquals(cacheRead, row.get("cache_read_tokens").asLong(), row.toString());
        assertEquals(output, row.get("output_tokens").asLong(), row.toString());
    }

    @Test
    void aJsonGenAiSpanIsOneEventAtItsEndForItsResourcesTenant() throws Exception
    {
        start(Map.of());
        final Answer answer = postJson(jsonRequest("acme",
            jsonSpan("00F067AA0BA902B7", "chat gpt-4o", chatAttributes("gpt-4o-2024-08-06", 1200, 1000, 350))));
        assertEquals(200, answer.status(), answer.text());
        assertEquals(JSON, answer.contentType());
        assertEquals("{}", answer.text(), "full success: partial_success is left unset");

        final JsonNode rows = client.get("/v1/usage?tenant=acme&from=2026-10-05T11:00:00Z&to=2026-10-05T12:00:00Z"
            + "&granularity=hour&group_by=model&consistent=true").json().get("rows");
        assertEquals(1, rows.size(), rows.toString());
        assertEquals("2026-10-05T11:00:00Z", rows.get(0).get("start").asText(), "the hour of the span's end");
        assertRow(rows.get(0), "gpt-4o-2024-08-06", 1, 200, 1000, 350);
    }

    @Test
    void aProtobufRequestIsAnsweredInProtobufAndASpanMayNameItsOwnTenant() throws Exception
    {
        start(Map.of());
        final Answer answer = post(PROTOBUF, protoRequest("acme",
            protoSpan("00f067aa0ba902b7", kv("gen_ai.request.model", "claude-sonnet-4-5"), kv("gen_ai.usage.input_tokens", 4146),
                kv("gen_ai.usage.cache_creation.input_tokens", 2051), kv("gen_ai.usage.output_tokens", 503)),
            protoSpan("00f067aa0ba902b8", kv("tenant.id", "globex"), kv("gen_ai.request.model", "gpt-4o"),
                kv("gen_ai.usage.input_tokens", 10), kv("gen_ai.usage.output_tokens", 4),
                kv("gen_ai.usage.reasoning.output_tokens", 3))));
        assertEquals(200, answer.status(), answer.text());
        assertEquals(PROTOBUF, answer.contentType());
        final ExportTraceServiceResponse response = ExportTraceServiceResponse.parseFrom(answer.body());
        assertFalse(response.hasPartialSuccess(), response.toString());

        final JsonNode acme = rows("acme");
        assertEquals(1, acme.size(), acme.toString());
        assertEquals(2095, acme.get(0).get("input_tokens").asLong(), "input_tokens includes the cache write: 4146 - 2051");
        assertEquals(2051, acme.get(0).get("cache_write_tokens").asLong());
        assertEquals(503, acme.get(0).get("output_tokens").asLong());
        final JsonNode globex = rows("globex");
        assertEquals(1, globex.size(), "the span's own tenant.id wins over its resource's: " + globex);
        assertEquals(3, globex.get(0).get("reasoning_tokens").asLong());
    }

    @Test
    void spansWithoutUsageAreSkippedAndCounted() throws Exception
    {
        start(Map.of());
        final Answer answer = postJson(jsonRequest("acme",
            jsonSpan("00F067AA0BA90201", "GET /health", attr("http.request.method", str("GET"))),
            jsonSpan("00F067AA0BA90202", "SELECT", attr("gen_ai.request.model", str("gpt-4o"))),
            jsonSpan("00F067AA0BA90203", "chat", chatAttributes("gpt-4o", 5, 0, 1))));
        assertEquals(200, answer.status(), answer.text());
        assertEquals("{}", answer.text());
        assertEquals(2, metric("tokenmeter_otlp_spans_total{result=\"skipped\"}"), "a model without usage is not usage");
        assertEquals(1, metric("tokenmeter_otlp_spans_total{result=\"event\"}"));
        assertEquals(1, rows("acme").get(0).get("requests").asInt());
    }

    @Test
    void aSpanWithNegativeTokensIsRejectedWithPartialSuccessWhileTheOthersCount() throws Exception
    {
        start(Map.of());
        final Answer json = postJson(jsonRequest("acme",
            jsonSpan("00F067AA0BA90301", "good", chatAttributes("gpt-4o", 100, 0, 10)),
            jsonSpan("00F067AA0BA90302", "bad", chatAttributes("gpt-4o", 100, 0, -5))));
        assertEquals(200, json.status(), json.text());
        final JsonNode partial = json.json().get("partialSuccess");
        assertEquals("1", partial.get("rejectedSpans").asText(), json.text());
        final String message = partial.get("errorMessage").asText();
        assertTrue(message.contains("span 5b8efff798038103d269b633813fc60c/00f067aa0ba90302 \"bad\": "
            + "gen_ai.usage.output_tokens must be a non-negative integer, not -5"), message);

        final Answer proto = post(PROTOBUF, protoRequest("acme",
            protoSpan("00f067aa0ba90303", kv("gen_ai.request.model", "gpt-4o"), kv("gen_ai.usage.input_tokens", -1))));
        assertEquals(200, proto.status());
        final ExportTraceServiceResponse response = ExportTraceServiceResponse.parseFrom(proto.body());
        assertEquals(1, response.getPartialSuccess().getRejectedSpans(), response.toString());
        assertTrue(response.getPartialSuccess().getErrorMessage().contains("gen_ai.usage.input_tokens must be a non-negative "
            + "integer"), response.toString());

        final JsonNode rows = rows("acme");
        assertEquals(1, rows.size(), rows.toString());
        assertRow(rows.get(0), "gpt-4o", 1, 100, 0, 10);
        assertEquals(2, metric("tokenmeter_otlp_spans_total{result=\"rejected\"}"));
        assertEquals(2, metric("tokenmeter_ingest_events_total{result=\"rejected\"}"));
    }

    @Test
    void usageSpansWithoutTenantOrModelOrWithImpossibleCountsAreRejectedAndNamed() throws Exception
    {
        start(Map.of());
        final Answer answer = postJson(jsonRequest(null,
            jsonSpan("00F067AA0BA90401", "no tenant", chatAttributes("gpt-4o", 10, 0, 1)),
            jsonSpan("00F067AA0BA90402", "no model", String.join(",", attr("tenant.id", str("acme")),
                attr("gen_ai.usage.input_tokens", num(10, false)))),
            jsonSpan("00F067AA0BA90403", "cache beyond input", String.join(",", attr("tenant.id", str("acme")),
                attr("gen_ai.request.model", str("claude-haiku-4-5")), attr("gen_ai.usage.input_tokens", num(10, false)),
                attr("gen_ai.usage.cache_read.input_tokens", num(8, false)),
                attr("gen_ai.usage.cache_creation.input_tokens", num(3, false)))),
            jsonSpan("00F067AA0BA90404", "old names", String.join(",", attr("tenant.id", str("acme")),
                attr("gen_ai.request.model", str("gpt-4o")), attr("gen_ai.usage.prompt_tokens", num(10, false)),
                attr("gen_ai.usage.completion_tokens", num(2, false)))),
            jsonSpan("00F067AA0BA90405", "a double", String.join(",", attr("tenant.id", str("acme")),
                attr("gen_ai.request.model", str("gpt-4o")), attr("gen_ai.usage.input_tokens", "{\"doubleValue\":10.0}"))),
            jsonSpan("00F067AA0BA90406", "ok", String.join(",", attr("tenant.id", str("acme")),
                attr("gen_ai.request.model", str("gpt-4o")), attr("gen_ai.usage.input_tokens", num(7, false)),
                attr("gen_ai.usage.audio.input_tokens", num(3, false))))));
        assertEquals(200, answer.status(), answer.text());
        final JsonNode partial = answer.json().get("partialSuccess");
        assertEquals("5", partial.get("rejectedSpans").asText(), answer.text());
        final String message = partial.get("errorMessage").asText();
        assertTrue(message.contains("\"no tenant\": has no tenant: the attribute tenant.id is required on the span or its "
            + "resource"), message);
        assertTrue(message.contains("\"no model\": has no model: gen_ai.response.model or gen_ai.request.model is required"),
            message);
        assertTrue(message.contains("\"cache beyond input\": gen_ai.usage.cache_read.input_tokens (8) + "
            + "gen_ai.usage.cache_creation.input_tokens (3) is greater than gen_ai.usage.input_tokens (10)"), message);
        assertTrue(message.contains("\"old names\": carries gen_ai.usage.prompt_tokens or gen_ai.usage.completion_tokens"),
            message);
        assertTrue(message.contains("\"a double\": gen_ai.usage.input_tokens must be an integer attribute (intValue), not a "
            + "double"), message);
        assertTrue(message.startsWith("1 span with GenAI usage accepted"), message);
        assertEquals(7, rows("acme").get(0).get("input_tokens").asLong());
        assertEquals(1, metric("tokenmeter_usage_fields_ignored_total{field=\"audio.input_tokens\",format=\"otlp\"}"),
            "an unmapped usage attribute is counted by name");
    }

    @Test
    void aRepeatedRequestIsReportedAsDuplicatesAndAReusedIdWithOtherCountsAsAConflict() throws Exception
    {
        start(Map.of());
        final String body = jsonRequest("acme", jsonSpan("00F067AA0BA90501", "chat", chatAttributes("gpt-4o", 100, 20, 10)));
        assertEquals("{}", postJson(body).text());
        final Answer again = postJson(body);
        assertEquals(200, again.status());
        final JsonNode warning = again.json().get("partialSuccess");
        assertEquals("0", warning.get("rejectedSpans").asText(), "a duplicate is not a rejection: " + again.text());
        assertTrue(warning.get("errorMessage").asText().startsWith("0 spans with GenAI usage accepted, 1 span already "
            + "accepted (a retried export: counted once)"), again.text());

        // the same span as protobuf, lower-case ids: the same event
        final Answer proto = post(PROTOBUF, protoRequest("acme", protoSpan("00f067aa0ba90501",
            kv("gen_ai.request.model", "gpt-4o"), kv("gen_ai.response.model", "gpt-4o"), kv("gen_ai.usage.input_tokens", 100),
            kv("gen_ai.usage.cache_read.input_tokens", 20), kv("gen_ai.usage.output_tokens", 10))));
        assertTrue(ExportTraceServiceResponse.parseFrom(proto.body()).getPartialSuccess().getErrorMessage()
            .contains("1 span already accepted"), "the protobuf copy is the same event");

        final Answer conflict = postJson(jsonRequest("acme",
            jsonSpan("00F067AA0BA90501", "chat", chatAttributes("gpt-4o", 999, 20, 10))));
        final JsonNode partial = conflict.json().get("partialSuccess");
        assertEquals("1", partial.get("rejectedSpans").asText(), conflict.text());
        assertTrue(partial.get("errorMessage").asText().contains("reuses a trace and span id already accepted"), conflict.text());

        assertRow(rows("acme").get(0), "gpt-4o", 1, 80, 20, 10);
        assertEquals(2, metric("tokenmeter_ingest_events_total{result=\"duplicate\"}"));
        assertEquals(1, metric("tokenmeter_ingest_events_total{result=\"conflict\"}"));
    }

    @Test
    void malformedBodiesAre400WithAStatusInTheRequestsEncoding() throws Exception
    {
        start(Map.of());
        final Answer notJson = postJson("{\"resourceSpans\": [");
        assertEquals(400, notJson.status());
        assertEquals(JSON, notJson.contentType());
        assertEquals(3, notJson.json().get("code").asInt(), notJson.text());
        assertTrue(notJson.json().get("message").asText().startsWith("malformed_body: the body is not valid JSON"), notJson.text());

        final Answer base64Ids = postJson(jsonRequest("acme", jsonSpan("APBnqgupArc=", "chat", chatAttributes("gpt-4o", 1, 0, 1))));
        assertEquals(400, base64Ids.status());
        assertTrue(base64Ids.json().get("message").asText().contains("spanId must be hex digits, two per byte (OTLP/JSON ids are "
            + "hex, not base64)"), base64Ids.text());

        final Answer wrongShape = postJson("{\"resourceSpans\": {\"scopeSpans\": []}}");
        assertEquals(400, wrongShape.status());
        assertTrue(wrongShape.json().get("message").asText().contains("resourceSpans must be an array"), wrongShape.text());

        final Answer garbage = post(PROTOBUF, new byte[] {0x0a, (byte)0xff, 0x01, 0x02});
        assertEquals(400, garbage.status());
        assertEquals(PROTOBUF, garbage.contentType());
        assertTrue(protobufStatusMessage(garbage.body(), 3).startsWith("malformed_body: the body is not a protobuf "
            + "ExportTraceServiceRequest"));

        assertEquals(0, rows("acme").size(), "nothing of a malformed request is counted");
        assertEquals(200, post(PROTOBUF, new byte[0]).status(), "an empty request is a success");
    }

    @Test
    void otherContentTypesAndEncodingsAre415() throws Exception
    {
        start(Map.of());
        final Answer text = post("text/plain", "{}".getBytes(StandardCharsets.UTF_8));
        assertEquals(415, text.status());
        assertTrue(text.json().get("message").asText().startsWith("unsupported_media_type: Content-Type must be "
            + "application/x-protobuf (OTLP/HTTP binary protobuf) or application/json (OTLP/JSON), not text/plain"), text.text());
        final Answer brotli = post(JSON, "{}".getBytes(StandardCharsets.UTF_8), "Content-Encoding", "br");
        assertEquals(415, brotli.status());
        assertTrue(brotli.json().get("message").asText().contains("Content-Encoding must be gzip or identity"), brotli.text());
    }

    @Test
    void gzipBodiesAreInflatedUpToTheBodyLimit() throws Exception
    {
        start(Map.of("max-body-bytes", "65536"));
        final byte[] body = gzip(jsonRequest("acme", jsonSpan("00F067AA0BA90601", "chat", chatAttributes("gpt-4o", 42, 0, 1))));
        final Answer answer = post(JSON, body, "Content-Encoding", "gzip");
        assertEquals(200, answer.status(), answer.text());
        assertEquals(42, rows("acme").get(0).get("input_tokens").asLong());

        final String padded = jsonRequest("acme", jsonSpan("00F067AA0BA90602", "chat", chatAttributes("gpt-4o", 1, 0, 1)))
            .replace("{\"resourceSpans\"", "{" + " ".repeat(70_000) + "\"resourceSpans\"");
        final byte[] bomb = gzip(padded);
        assertTrue(bomb.length < 65536, "small on the wire");
        final Answer tooLarge = post(JSON, bomb, "Content-Encoding", "gzip");
        assertEquals(413, tooLarge.status(), tooLarge.text());
        assertTrue(tooLarge.json().get("message").asText().startsWith("body_too_large: the body exceeds 65536 bytes once "
            + "inflated"), tooLarge.text());

        final Answer notGzip = post(JSON, "{}".getBytes(StandardCharsets.UTF_8), "Content-Encoding", "gzip");
        assertEquals(400, notGzip.status(), notGzip.text());
    }

    @Test
    void theTenantAttributeIsASetting() throws Exception
    {
        start(Map.of("otlp-tenant-attribute", "customer.id"));
        final Answer answer = postJson(jsonRequest("ignored",
            jsonSpan("00F067AA0BA90701", "chat", attr("customer.id", str("initech")) + "," + chatAttributes("gpt-4o", 3, 0, 1))));
        assertEquals("{}", answer.text());
        assertEquals(1, rows("initech").size());
        assertEquals(0, rows("ignored").size(), "tenant.id is not the tenant attribute here");
    }

    @Test
    void keysAreCheckedAsOnEventsWithAnOtlpStatus() throws Exception
    {
        final KeyFixture keys = new KeyFixture().add("gateway-acme", "ingest", "acme").add("ops", "admin");
        key = keys.secret("gateway-acme");
        start(Map.of("keys", keys.write(dir.resolve("keys.yaml")).toString()));
        final String acmeAndGlobex = jsonRequest("acme",
            jsonSpan("00F067AA0BA90801", "chat", chatAttributes("gpt-4o", 10, 0, 1)),
            jsonSpan("00F067AA0BA90802", "chat", attr("tenant.id", str("globex")) + "," + chatAttributes("gpt-4o", 20, 0, 1)));

        final Answer forbidden = postJson(acmeAndGlobex);
        assertEquals(403, forbidden.status(), forbidden.text());
        assertEquals(7, forbidden.json().get("code").asInt());
        assertTrue(forbidden.json().get("message").asText().startsWith("forbidden: key 'gateway-acme' (role ingest, tenants "
            + "acme) may not post events for tenant globex"), forbidden.text());

        key = null;
        final Answer none = post(PROTOBUF, protoRequest("acme", protoSpan("00f067aa0ba90803", kv("gen_ai.request.model", "m"),
            kv("gen_ai.usage.input_tokens", 1))));
        assertEquals(401, none.status());
        assertEquals("Bearer realm=\"tokenmeter\"", none.response().headers().firstValue("WWW-Authenticate").orElse(""));
        assertTrue(protobufStatusMessage(none.body(), 16).startsWith("unauthorized: this route needs an API key"));

        key = keys.secret("gateway-acme");
        assertEquals("{}", postJson(jsonRequest("acme", jsonSpan("00F067AA0BA90804", "chat", chatAttributes("gpt-4o", 5, 0, 1))))
            .text());
        client = new Client(server.port()).withKey(keys.secret("ops"));
        assertEquals(5, rows("acme").get(0).get("input_tokens").asLong(), "nothing of the refused request is counted");
        assertEquals(0, rows("globex").size());
    }

    /** @return the JSON block after {@code <!-- otlp-example: NAME -->} in docs/usage/otlp.md. */
    private static String docsExample(final String name) throws IOException
    {
        final String page = java.nio.file.Files.readString(Path.of("..", "docs", "usage", "otlp.md"));
        final int marker = page.indexOf("<!-- otlp-example: " + name + " -->");
        assertTrue(marker >= 0, "docs/usage/otlp.md marks its " + name);
        final int start = page.indexOf("```json\n", marker) + "```json\n".length();
        return page.substring(start, page.indexOf("```", start));
    }

    @Test
    void theExampleOfTheDocsIsAnsweredAndCountedAsTheyShow() throws Exception
    {
        start(Map.of());
        final byte[] request = docsExample("request").getBytes(StandardCharsets.UTF_8);
        final Answer answer = post(JSON, request);
        assertEquals(200, answer.status(), answer.text());
        assertEquals(Client.JSON.readTree(docsExample("answer")), answer.json());
        final JsonNode rows = rows("acme", "2026-11-23T10:00:00Z", "2026-11-23T11:00:00Z");
        assertEquals(1, rows.size(), rows.toString());
        assertEquals(Client.JSON.readTree(docsExample("usage")), rows.get(0));

        final Answer again = post(JSON, request);
        assertEquals("1", again.json().get("partialSuccess").get("rejectedSpans").asText(), again.text());
        assertTrue(again.json().get("partialSuccess").get("errorMessage").asText().contains("1 span already accepted (a retried "
            + "export: counted once)"), again.text());
        assertEquals(rows, rows("acme", "2026-11-23T10:00:00Z", "2026-11-23T11:00:00Z"), "the usage stays as it is");
    }

    @Test
    void aLocalAgentsSpanIsASummaryAndARemoteAgentsSpanIsAnEvent() throws Exception
    {
        start(Map.of());
        final String agentUsage = String.join(",", attr("gen_ai.operation.name", str("invoke_agent")),
            attr("gen_ai.request.model", str("gpt-4o")), attr("gen_ai.usage.input_tokens", num(110, false)),
            attr("gen_ai.usage.output_tokens", num(11, false)));
        final Answer answer = postJson(jsonRequest("acme",
            jsonSpan("00F067AA0BA90A01", "invoke_agent local", agentUsage).replace("\"kind\":3", "\"kind\":1"),
            jsonSpan("00F067AA0BA90A02", "chat", chatAttributes("gpt-4o", 100, 0, 10)),
            jsonSpan("00F067AA0BA90A03", "invoke_agent remote", agentUsage)));
        assertEquals("{}", answer.text());
        final JsonNode row = rows("acme").get(0);
        assertEquals(2, row.get("requests").asInt(), "the chat span and the remote agent's (kind CLIENT): " + row);
        assertEquals(210, row.get("input_tokens").asLong(), row.toString());
        assertEquals(1, metric("tokenmeter_otlp_spans_total{result=\"summary\"}"));
    }

    @Test
    void moreSpansWithUsageThanARequestMayCarryAre413() throws Exception
    {
        start(Map.of("max-events-per-request", "2"));
        final String usage = chatAttributes("gpt-4o", 1, 0, 1);
        final Answer answer = postJson(jsonRequest("acme", jsonSpan("00F067AA0BA90901", "a", usage),
            jsonSpan("00F067AA0BA90902", "b", attr("http.route", str("/chat"))),
            jsonSpan("00F067AA0BA90903", "c", usage), jsonSpan("00F067AA0BA90904", "d", usage)));
        assertEquals(413, answer.status(), answer.text());
        assertTrue(answer.json().get("message").asText().startsWith("too_many_events: a request may carry at most 2 spans with "
            + "GenAI usage"), answer.text());
        assertEquals(0, rows("acme").size());
        assertEquals("{}", postJson(jsonRequest("acme", jsonSpan("00F067AA0BA90901", "a", usage),
            jsonSpan("00F067AA0BA90902", "b", attr("http.route", str("/chat"))), jsonSpan("00F067AA0BA90903", "c", usage)))
            .text(), "spans without usage do not count against the limit");
    }

    private static byte[] gzip(final String text) throws IOException
    {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GZIPOutputStream out = new GZIPOutputStream(bytes))
        {
            out.write(text.getBytes(StandardCharsets.UTF_8));
        }
        return bytes.toByteArray();
    }
}
