package io.tokenmeter.server.otlp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.exporter.internal.otlp.traces.TraceRequestMarshaler;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.common.v1.AnyValue;
import io.opentelemetry.proto.common.v1.ArrayValue;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.resource.v1.Resource;
import io.opentelemetry.proto.trace.v1.ResourceSpans;
import io.opentelemetry.proto.trace.v1.ScopeSpans;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import io.opentelemetry.sdk.common.CompletableResultCode;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The OTLP/JSON reader against the OpenTelemetry SDK's own encodings: the same spans marshalled by the SDK as OTLP/JSON
 * and as binary protobuf read to the same message (in the fields the mapping reads); and the spec's deviations from
 * proto3 JSON, proto3's leniencies, and malformed bodies, one by one.
 */
class OtlpJsonReaderTest
{
    private final OtlpJsonReader reader = new OtlpJsonReader();

    private static ByteBuf utf8(final String text)
    {
        return Unpooled.wrappedBuffer(text.getBytes(StandardCharsets.UTF_8));
    }

    /** @return {@code request} with only what the reader keeps: resource attributes; span ids, name, kind, end, attributes. */
    private static ExportTraceServiceRequest kept(final ExportTraceServiceRequest request)
    {
        final ExportTraceServiceRequest.Builder kept = ExportTraceServiceRequest.newBuilder();
        for (final ResourceSpans resourceSpans : request.getResourceSpansList())
        {
            final ResourceSpans.Builder r = ResourceSpans.newBuilder()
                .setResource(Resource.newBuilder().addAllAttributes(scalars(resourceSpans.getResource().getAttributesList())));
            for (final ScopeSpans scopeSpans : resourceSpans.getScopeSpansList())
            {
                final ScopeSpans.Builder s = ScopeSpans.newBuilder();
                for (final io.opentelemetry.proto.trace.v1.Span span : scopeSpans.getSpansList())
                {
                    s.addSpans(io.opentelemetry.proto.trace.v1.Span.newBuilder().setTraceId(span.getTraceId())
                        .setSpanId(span.getSpanId()).setName(span.getName()).setKind(span.getKind())
                        .setEndTimeUnixNano(span.getEndTimeUnixNano())
                        .addAllAttributes(scalars(span.getAttributesList())));
                }
                r.addScopeSpans(s);
            }
            kept.addResourceSpans(r);
        }
        return kept.build();
    }

    /** Arrays are kept as their kind only. */
    private static List<KeyValue> scalars(final List<KeyValue> attributes)
    {
        final List<KeyValue> kept = new ArrayList<>();
        for (final KeyValue attribute : attributes)
        {
            kept.add(attribute.getValue().hasArrayValue()
                ? attribute.toBuilder().setValue(AnyValue.newBuilder().setArrayValue(ArrayValue.getDefaultInstance())).build()
                : attribute);
        }
        return kept;
    }

    @Test
    void theSdksJsonReadsAsItsProtobufDoes() throws Exception
    {
        final List<SpanData> spans = new ArrayList<>();
        final SpanExporter capture = new SpanExporter()
        {
            @Override
            public CompletableResultCode export(final Collection<SpanData> batch)
            {
                spans.addAll(batch);
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
        };
        try (SdkTracerProvider tracing = SdkTracerProvider.builder()
            .setResource(io.opentelemetry.sdk.resources.Resource.create(Attributes.of(AttributeKey.stringKey("tenant.id"), "acme")))
            .addSpanProcessor(SimpleSpanProcessor.create(capture)).build())
        {
            final Span span = tracing.get("t").spanBuilder("chat \"quoted\" \u00e9").setSpanKind(SpanKind.CLIENT)
                .setStartTimestamp(Instant.parse("2026-10-05T11:00:00Z"))
                .setAttribute("gen_ai.usage.input_tokens", 9_007_199_254_740_993L)
                .setAttribute("gen_ai.usage.output_tokens", -3L)
                .setAttribute("gen_ai.request.model", "gpt-4o")
                .setAttribute("gen_ai.request.temperature", 0.25)
                .setAttribute("gen_ai.request.stream", true)
                .setAttribute(AttributeKey.stringArrayKey("gen_ai.response.finish_reasons"), List.of("stop"))
                .startSpan();
            span.end(Instant.parse("2026-10-05T11:20:00.123456789Z"));
        }
        final ByteArrayOutputStream json = new ByteArrayOutputStream();
        TraceRequestMarshaler.create(spans).writeJsonTo(json);
        final ByteArrayOutputStream binary = new ByteArrayOutputStream();
        TraceRequestMarshaler.create(spans).writeBinaryTo(binary);

        final ExportTraceServiceRequest fromJson = reader.read(Unpooled.wrappedBuffer(json.toByteArray()));
        assertNotNull(fromJson, reader.problem() + " in " + json);
        final ExportTraceServiceRequest expected = kept(ExportTraceServiceRequest.parseFrom(binary.toByteArray()));
        assertEquals(expected, fromJson, json.toString(StandardCharsets.UTF_8));
        assertEquals(1_791_199_200_123_456_789L, fromJson.getResourceSpans(0).getScopeSpans(0).getSpans(0).getEndTimeUnixNano());
        assertEquals(io.opentelemetry.proto.trace.v1.Span.SpanKind.SPAN_KIND_CLIENT,
            fromJson.getResourceSpans(0).getScopeSpans(0).getSpans(0).getKind());
    }

    @Test
    void idsAreHexOfEitherCaseAndIntegersNumbersOrStringsInEitherFieldNameStyle()
    {
        final ExportTraceServiceRequest request = reader.read(utf8("{\"resource_spans\":[{\"resource\":null,"
            + "\"scope_spans\":[{\"spans\":[{\"trace_id\":\"5B8EFFF798038103d269b633813fc60c\",\"spanId\":\"00F067AA0BA902B7\","
            + "\"endTimeUnixNano\":1791199200123000000,\"kind\":3,\"attributes\":["
            + "{\"key\":\"a\",\"value\":{\"intValue\":\"-42\"}},{\"value\":{\"int_value\":7},\"key\":\"b\"},"
            + "{\"key\":\"c\",\"value\":{\"stringValue\":null}},{\"key\":\"d\",\"value\":{\"kvlistValue\":{\"values\":[]}}}]}]}]}],"
            + "\"unknown\":{\"x\":[1,{\"y\":null}]}}"));
        assertNotNull(request, reader.problem());
        final var span = request.getResourceSpans(0).getScopeSpans(0).getSpans(0);
        assertEquals("5b8efff798038103d269b633813fc60c", hex(span.getTraceId().toByteArray()));
        assertEquals("00f067aa0ba902b7", hex(span.getSpanId().toByteArray()));
        assertEquals(1_791_199_200_123_000_000L, span.getEndTimeUnixNano());
        assertEquals(-42, span.getAttributes(0).getValue().getIntValue());
        assertEquals("b", span.getAttributes(1).getKey(), "key after value");
        assertEquals(7, span.getAttributes(1).getValue().getIntValue());
        assertEquals(AnyValue.ValueCase.VALUE_NOT_SET, span.getAttributes(2).getValue().getValueCase(), "null is the default");
        assertTrue(span.getAttributes(3).getValue().hasKvlistValue());
    }

    @Test
    void anEndTimeBeyondInt64IsKeptAsItsUnsigned64Bits()
    {
        final ExportTraceServiceRequest request = reader.read(utf8("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":["
            + "{\"endTimeUnixNano\":\"18446744073709551615\"}]}]}]}"));
        assertNotNull(request, reader.problem());
        assertEquals(-1L, request.getResourceSpans(0).getScopeSpans(0).getSpans(0).getEndTimeUnixNano());
    }

    @Test
    void malformedBodiesSayWhatAndWhere()
    {
        assertMalformed("", "the body is empty");
        assertMalformed("[]", "the body must be an ExportTraceServiceRequest object");
        assertMalformed("{\"resourceSpans\":{}}", "resourceSpans must be an array (line 1, column 18)");
        assertMalformed("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"W4j/95gDgQPSabYzgT/GDA==\"}]}]}]}",
            "traceId must be hex digits, two per byte (OTLP/JSON ids are hex, not base64)");
        assertMalformed("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"spanId\":\"\u0663\u0663\"}]}]}]}",
            "spanId must be hex digits");
        assertMalformed("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"endTimeUnixNano\":-1}]}]}]}",
            "endTimeUnixNano must be an unsigned 64-bit integer");
        assertMalformed("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"endTimeUnixNano\":1.5e18}]}]}]}",
            "endTimeUnixNano must be an unsigned 64-bit integer");
        assertMalformed("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[{\"key\":\"k\",\"value\":"
            + "{\"intValue\":\"12x\"}}]}]}]}]}", "intValue must be a 64-bit integer");
        assertMalformed("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[{\"key\":\"k\",\"value\":"
            + "{\"intValue\":99999999999999999999}}]}]}]}]}", "intValue must be a 64-bit integer");
        assertMalformed("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"kind\":\"CLIENT\"}]}]}]}",
            "kind must be a span kind, e.g. 3 for SPAN_KIND_CLIENT");
        assertMalformed("{\"resourceSpans\":[]} {}", "unexpected content after the request object");
        assertMalformed("{\"resourceSpans\":[", "the body is not valid JSON");
    }

    private void assertMalformed(final String body, final String expected)
    {
        assertNull(reader.read(utf8(body)), body);
        assertTrue(reader.problem().contains(expected), reader.problem());
    }

    private static String hex(final byte[] bytes)
    {
        return java.util.HexFormat.of().formatHex(bytes);
    }
}
