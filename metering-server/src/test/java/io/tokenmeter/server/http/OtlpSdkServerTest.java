package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.exporter.internal.otlp.traces.SpanReusableDataMarshaler;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.exporter.otlp.internal.HttpExporter;
import io.opentelemetry.exporter.otlp.internal.HttpExporterBuilder;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.common.export.MemoryMode;
import io.opentelemetry.sdk.common.internal.StandardComponentId;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import io.tokenmeter.core.log.Faults;
import io.tokenmeter.server.TokenmeterServer;
import io.tokenmeter.server.config.Settings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real OpenTelemetry client (the OpenTelemetry Java SDK 1.68 and its OTLP/HTTP exporter, over OkHttp) exports GenAI
 * spans to a running server over real HTTP, as binary protobuf and as OTLP/JSON: each span with usage counts once,
 * whether exported once, exported again (the same spans: duplicates), or retried by the exporter itself after a 503;
 * spans without usage are skipped and counted, and a local agent's span, which repeats its model calls' usage, is not
 * billed again.
 */
class OtlpSdkServerTest
{
    private static final Instant HOUR = Instant.parse("2026-10-05T11:00:00Z");
    private static final String FROM = "2026-10-05T11:00:00Z";
    private static final String TO = "2026-10-05T12:00:00Z";

    @TempDir
    Path dir;

    private final Faults faults = new Faults();
    private final KeyFixture keys = new KeyFixture().add("gateway", "ingest", "*").add("ops", "admin");
    private final List<SpanData> captured = new ArrayList<>();
    private TokenmeterServer server;
    private Client admin;
    private SdkTracerProvider tracing;
    private Tracer tracer;
    private final List<SpanExporter> exporters = new ArrayList<>();

    @BeforeEach
    void start() throws Exception
    {
        final Map<String, String> settings = new HashMap<>(Map.of("port", "0", "data-dir", dir.resolve("data").toString(),
            "keys", keys.write(dir.resolve("keys.yaml")).toString()));
        server = TokenmeterServer.start(Settings.of(io.tokenmeter.server.TestPartitions.apply(settings)), faults);
        for (int i = 0; i < 1000 && !server.isReady(); i++)
        {
            LockSupport.parkNanos(10_000_000);
        }
        assertTrue(server.isReady(), "ready within 10 s");
        admin = new Client(server.port()).withKey(keys.secret("ops"));
        // the gateway's resource names its default tenant; a span may name another
        tracing = SdkTracerProvider.builder()
            .setResource(Resource.create(Attributes.of(AttributeKey.stringKey("service.name"), "llm-gateway",
                AttributeKey.stringKey("tenant.id"), "acme")))
            .addSpanProcessor(SimpleSpanProcessor.create(new Capture()))
            .build();
        tracer = tracing.get("tokenmeter-test");
    }

    @AfterEach
    void stop()
    {
        for (final SpanExporter exporter : exporters)
        {
            exporter.shutdown().join(10, TimeUnit.SECONDS);
        }
        tracing.close();
        server.close();
    }

    /** Keeps the finished spans, so that the test exports them itself, once or again. */
    private final class Capture implements SpanExporter
    {
        @Override
        public CompletableResultCode export(final Collection<SpanData> spans)
        {
            synchronized (captured)
            {
                captured.addAll(spans);
            }
            return CompletableResultCode.ofSuccess();
        }

        @Override
        public CompletableResultCode flush()
        {
            return CompletableResultCode.ofSuccess();
        }

        @Override
        public CompletableResultCode shutdown()
        {
            return CompletableResultCode.ofSuccess();
        }
    }

    private List<SpanData> takeCaptured()
    {
        synchronized (captured)
        {
            final List<SpanData> spans = new ArrayList<>(captured);
            captured.clear();
            return spans;
        }
    }

    private String endpoint()
    {
        return "http://127.0.0.1:" + server.port() + "/v1/traces";
    }

    private SpanExporter protobufExporter()
    {
        final SpanExporter exporter = OtlpHttpSpanExporter.builder().setEndpoint(endpoint())
            .addHeader("Authorization", "Bearer " + keys.secret("gateway")).build();
        exporters.add(exporter);
        return exporter;
    }

    /**
     * The SDK's OTLP/HTTP exporter in its JSON encoding. In 1.68 {@code OtlpHttpSpanExporterBuilder} has no public switch
     * for JSON, so this builds the exporter the span exporter is made of ({@code HttpExporterBuilder}, the same sender
     * and retry policy) with {@code exportAsJson()}, and the span marshaler it uses.
     */
    private SpanExporter jsonExporter()
    {
        final HttpExporter http = new HttpExporterBuilder(StandardComponentId.ExporterType.OTLP_HTTP_SPAN_EXPORTER, endpoint())
            .addConstantHeaders("Authorization", "Bearer " + keys.secret("gateway"))
            .exportAsJson()
            .build();
        final SpanReusableDataMarshaler marshaler = new SpanReusableDataMarshaler(MemoryMode.IMMUTABLE_DATA, http::export);
        final SpanExporter exporter = new SpanExporter()
        {
            @Override
            public CompletableResultCode export(final Collection<SpanData> spans)
            {
                return marshaler.export(spans);
            }

            @Override
            public CompletableResultCode flush()
            {
                return CompletableResultCode.ofSuccess();
            }

            @Override
            public CompletableResultCode shutdown()
            {
                return http.shutdown();
            }
        };
        exporters.add(exporter);
        return exporter;
    }

    private static void assertExported(final CompletableResultCode result, final String what)
    {
        assertTrue(result.join(30, TimeUnit.SECONDS).isSuccess(), what + " is acknowledged");
    }

    /** Records a gateway's HTTP span with a GenAI client span under it, which carries the attributes. */
    private void chat(final String name, final Map<String, Object> attributes, final int secondOfHour)
    {
        final Instant start = HOUR.plusSeconds(secondOfHour);
        final Span root = tracer.spanBuilder("POST /v1/chat/completions").setSpanKind(SpanKind.SERVER).setStartTimestamp(start)
            .startSpan();
        final var builder = tracer.spanBuilder(name).setSpanKind(SpanKind.CLIENT).setParent(Context.root().with(root))
            .setStartTimestamp(start.plusMillis(5));
        attributes.forEach((key, value) ->
        {
            if (value instanceof Long count)
            {
                builder.setAttribute(key, count);
            }
            else
            {
                builder.setAttribute(key, (String)value);
            }
        });
        builder.startSpan().end(start.plusMillis(900));
        root.end(start.plusMillis(950));
    }

    private static Map<String, Object> usage(final Object... pairs)
    {
        final Map<String, Object> attributes = new HashMap<>();
        attributes.put("gen_ai.operation.name", "chat");
        for (int i = 0; i < pairs.length; i += 2)
        {
            attributes.put((String)pairs[i], pairs[i + 1]);
        }
        return attributes;
    }

    private JsonNode rows(final String tenant)
    {
        return admin.get("/v1/usage?tenant=" + tenant + "&from=" + FROM + "&to=" + TO + "&group_by=model&consistent=true")
            .json().get("rows");
    }

    private static void assertRow(final JsonNode row, final String model, final int requests, final long input,
        final long cacheRead, final long cacheWrite, final long output, final long reasoning)
    {
        assertEquals(model, row.get("model").asText(), row.toString());
        assertEquals(requests, row.get("requests").asInt(), row.toString());
        assertEquals(input, row.get("input_tokens").asLong(), row.toString());
        assertEquals(cacheRead, row.get("cache_read_tokens").asLong(), row.toString());
        assertEquals(cacheWrite, row.get("cache_write_tokens").asLong(), row.toString());
        assertEquals(0, row.get("cache_write_1h_tokens").asLong(), row.toString());
        assertEquals(output, row.get("output_tokens").asLong(), row.toString());
        assertEquals(reasoning, row.get("reasoning_tokens").asLong(), row.toString());
    }

    private double metric(final String series)
    {
        final String text = admin.get("/metrics").body();
        final Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(text);
        return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }

    @Test
    void genAiSpansExportedByTheSdkCountOnceOverProtobufJsonAndRetries()
    {
        // 1. protobuf: a cached prompt with reasoning (tenant from the resource), a cache write for another tenant
        chat("chat gpt-4o", usage("gen_ai.request.model", "gpt-4o", "gen_ai.response.model", "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens", 1200L, "gen_ai.usage.cache_read.input_tokens", 1000L,
            "gen_ai.usage.output_tokens", 350L, "gen_ai.usage.reasoning.output_tokens", 100L), 60);
        chat("chat claude-sonnet-4-5", usage("tenant.id", "globex", "gen_ai.request.model", "claude-sonnet-4-5",
            "gen_ai.usage.input_tokens", 4146L, "gen_ai.usage.cache_read.input_tokens", 0L,
            "gen_ai.usage.cache_creation.input_tokens", 2051L, "gen_ai.usage.output_tokens", 503L), 120);
        // a local agent's span repeats the usage of its model calls: a summary, not billed again
        tracer.spanBuilder("invoke_agent Math Tutor").setSpanKind(SpanKind.INTERNAL).setStartTimestamp(HOUR.plusSeconds(50))
            .setAttribute("gen_ai.operation.name", "invoke_agent").setAttribute("gen_ai.request.model", "gpt-4o")
            .setAttribute("gen_ai.usage.input_tokens", 5346L).setAttribute("gen_ai.usage.output_tokens", 853L)
            .startSpan().end(HOUR.plusSeconds(130));
        final List<SpanData> first = takeCaptured();
        assertEquals(5, first.size(), "two GenAI spans, each under an HTTP span, and the agent's");
        assertExported(protobufExporter().export(first), "the protobuf export");

        // 2. OTLP/JSON: an embeddings span (input only) and a chat span, exported, then exported again as a client
        // that lost the acknowledgement would
        chat("embeddings text-embedding-3-small", usage("gen_ai.operation.name", "embeddings",
            "gen_ai.request.model", "text-embedding-3-small", "gen_ai.usage.input_tokens", 500L), 180);
        final List<SpanData> second = takeCaptured();
        chat("chat gpt-4o", usage("gen_ai.response.model", "gpt-4o-2024-08-06", "gen_ai.usage.input_tokens", 100L,
            "gen_ai.usage.output_tokens", 20L), 240);
        second.addAll(takeCaptured());
        final SpanExporter json = jsonExporter();
        assertExported(json.export(second), "the JSON export");
        assertExported(json.export(second), "the same spans exported again");

        // 3. the exporter's own retry: the log cannot be written, the server answers 503, the exporter retries
        chat("chat claude-sonnet-4-5", usage("tenant.id", "globex", "gen_ai.response.model", "claude-sonnet-4-5",
            "gen_ai.usage.input_tokens", 10L, "gen_ai.usage.output_tokens", 5L), 300);
        final List<SpanData> third = new ArrayList<>();
        for (final SpanData span : takeCaptured())
        {
            if (span.getKind() == SpanKind.CLIENT)
            {
                third.add(span);
            }
        }
        faults.failAppends("No space left on device");
        final CompletableResultCode retried = protobufExporter().export(third);
        for (int i = 0; i < 400 && metric("tokenmeter_ingest_requests_total{status=\"503\"}") < 1; i++)
        {
            LockSupport.parkNanos(50_000_000);
        }
        assertTrue(metric("tokenmeter_ingest_requests_total{status=\"503\"}") >= 1, "the first attempt was refused 503");
        faults.failAppends(null);
        assertExported(retried, "the export the exporter retried");

        final JsonNode acme = rows("acme");
        assertEquals(2, acme.size(), acme.toString());
        assertRow(acme.get(0), "gpt-4o-2024-08-06", 2, 200 + 100, 1000, 0, 350 + 20, 100);
        assertRow(acme.get(1), "text-embedding-3-small", 1, 500, 0, 0, 0, 0);
        final JsonNode globex = rows("globex");
        assertEquals(1, globex.size(), globex.toString());
        assertRow(globex.get(0), "claude-sonnet-4-5", 2, 2095 + 10, 0, 2051, 503 + 5, 0);

        assertEquals(5, metric("tokenmeter_ingest_events_total{result=\"accepted\"}"), "each span with usage once");
        assertEquals(2, metric("tokenmeter_ingest_events_total{result=\"duplicate\"}"), "the spans exported again");
        assertEquals(2 + 2 + 2, metric("tokenmeter_otlp_spans_total{result=\"skipped\"}"),
            "the HTTP spans without usage: two in the protobuf export, two in each JSON export");
        assertEquals(1, metric("tokenmeter_otlp_spans_total{result=\"summary\"}"), "the agent's span");
        assertEquals(0, metric("tokenmeter_otlp_spans_total{result=\"rejected\"}"));
    }
}
