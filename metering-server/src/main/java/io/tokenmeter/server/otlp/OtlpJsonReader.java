package io.tokenmeter.server.otlp;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.google.protobuf.ByteString;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.common.v1.AnyValue;
import io.opentelemetry.proto.common.v1.ArrayValue;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.common.v1.KeyValueList;
import io.opentelemetry.proto.resource.v1.Resource;
import io.opentelemetry.proto.trace.v1.ResourceSpans;
import io.opentelemetry.proto.trace.v1.ScopeSpans;
import io.opentelemetry.proto.trace.v1.Span;

import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.util.Base64;

/**
 * Reads an OTLP/JSON {@code ExportTraceServiceRequest} (the OTLP specification's "JSON Protobuf Encoding") with
 * Jackson's streaming parser into the generated message, keeping what the usage mapping reads: resource attributes,
 * and each span's ids, name, kind, end time and attributes. Everything else is skipped, as OTLP/JSON receivers must skip
 * unknown fields.
 *
 * <p>OTLP/JSON is proto3's JSON mapping with deviations, which is why this is not protobuf's {@code JsonFormat}: trace
 * and span ids are hex (case-insensitive), not base64; enums are integers. 64-bit integers (times, {@code intValue})
 * are taken as numbers or decimal strings, as proto3 JSON allows. Field names are taken in lowerCamelCase and, as
 * proto3 JSON parsers do, in their original snake_case, so that a serializer keeping proto names does not have its
 * spans dropped as unknown fields. {@code null} is a field's default. A value of the wrong JSON type for a field read
 * here makes the request malformed (400).
 *
 * <p>One instance per event loop; a request allocates the message it builds.
 */
public final class OtlpJsonReader
{
    private static final BigInteger MAX_UNSIGNED_64 = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);

    private final JsonFactory factory = JsonFactory.builder()
        .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).maxNumberLength(64).build())
        .build()
        .disable(JsonParser.Feature.AUTO_CLOSE_SOURCE);
    private String problem;

    /**
     * @return the request, or null when the body is not OTLP/JSON ({@link #problem()} says why and where).
     */
    public ExportTraceServiceRequest read(final ByteBuf body)
    {
        problem = null;
        try (JsonParser parser = factory.createParser((InputStream)new ByteBufInputStream(body.duplicate())))
        {
            final JsonToken first = parser.nextToken();
            if (first == null)
            {
                problem = "the body is empty: send an ExportTraceServiceRequest, {\"resourceSpans\": [...]}";
                return null;
            }
            if (first != JsonToken.START_OBJECT)
            {
                throw malformed(parser, "the body must be an ExportTraceServiceRequest object, {\"resourceSpans\": [...]}");
            }
            final ExportTraceServiceRequest.Builder request = ExportTraceServiceRequest.newBuilder();
            while (nextField(parser))
            {
                final String name = parser.currentName();
                if (name.equals("resourceSpans") || name.equals("resource_spans"))
                {
                    if (startArray(parser, name))
                    {
                        while (nextElement(parser))
                        {
                            request.addResourceSpans(resourceSpans(parser));
                        }
                    }
                }
                else
                {
                    parser.skipChildren();
                }
            }
            if (parser.nextToken() != null)
            {
                throw malformed(parser, "unexpected content after the request object");
            }
            return request.build();
        }
        catch (final Malformed ex)
        {
            problem = ex.getMessage();
        }
        catch (final JsonProcessingException ex)
        {
            problem = "the body is not valid JSON" + where(ex.getLocation()) + ": " + firstLine(ex.getOriginalMessage());
        }
        catch (final IOException ex)
        {
            problem = "the body could not be read: " + ex.getMessage();
        }
        return null;
    }

    /** @return why the last body was refused, with the field and its line and column. */
    public String problem()
    {
        return problem;
    }

    private ResourceSpans resourceSpans(final JsonParser parser) throws IOException
    {
        final ResourceSpans.Builder resourceSpans = ResourceSpans.newBuilder();
        if (!startObject(parser, "each element of resourceSpans"))
        {
            return resourceSpans.build();
        }
        while (nextField(parser))
        {
            final String name = parser.currentName();
            switch (name)
            {
                case "resource" ->
                {
                    if (startObject(parser, name))
                    {
                        resourceSpans.setResource(resource(parser));
                    }
                }
                case "scopeSpans", "scope_spans" ->
                {
                    if (startArray(parser, name))
                    {
                        while (nextElement(parser))
                        {
                            resourceSpans.addScopeSpans(scopeSpans(parser));
                        }
                    }
                }
                default -> parser.skipChildren();
            }
        }
        return resourceSpans.build();
    }

    private Resource resource(final JsonParser parser) throws IOException
    {
        final Resource.Builder resource = Resource.newBuilder();
        while (nextField(parser))
        {
            if (parser.currentName().equals("attributes"))
            {
                attributes(parser, resource::addAttributes);
            }
            else
            {
                parser.skipChildren();
            }
        }
        return resource.build();
    }

    private ScopeSpans scopeSpans(final JsonParser parser) throws IOException
    {
        final ScopeSpans.Builder scopeSpans = ScopeSpans.newBuilder();
        if (!startObject(parser, "each element of scopeSpans"))
        {
            return scopeSpans.build();
        }
        while (nextField(parser))
        {
            if (parser.currentName().equals("spans"))
            {
                if (startArray(parser, "spans"))
                {
                    while (nextElement(parser))
                    {
                        scopeSpans.addSpans(span(parser));
                    }
                }
            }
            else
            {
                parser.skipChildren();
            }
        }
        return scopeSpans.build();
    }

    private Span span(final JsonParser parser) throws IOException
    {
        final Span.Builder span = Span.newBuilder();
        if (!startObject(parser, "each element of spans"))
        {
            return span.build();
        }
        while (nextField(parser))
        {
            final String name = parser.currentName();
            switch (name)
            {
                case "traceId", "trace_id" -> span.setTraceId(hexId(parser, name));
                case "spanId", "span_id" -> span.setSpanId(hexId(parser, name));
                case "name" -> span.setName(string(parser, name));
                case "kind" -> span.setKindValue(kind(parser));
                case "endTimeUnixNano", "end_time_unix_nano" -> span.setEndTimeUnixNano(unsigned64(parser, name));
                case "attributes" -> attributes(parser, span::addAttributes);
                default -> parser.skipChildren();
            }
        }
        return span.build();
    }

    /** Receives the attributes of a resource or span. */
    @FunctionalInterface
    private interface Attributes
    {
        void add(KeyValue attribute);
    }

    private void attributes(final JsonParser parser, final Attributes into) throws IOException
    {
        if (!startArray(parser, "attributes"))
        {
            return;
        }
        while (nextElement(parser))
        {
            if (!startObject(parser, "each attribute"))
            {
                continue;
            }
            final KeyValue.Builder attribute = KeyValue.newBuilder();
            while (nextField(parser))
            {
                switch (parser.currentName())
                {
                    case "key" -> attribute.setKey(string(parser, "key"));
                    case "value" ->
                    {
                        if (startObject(parser, "an attribute's value"))
                        {
                            attribute.setValue(anyValue(parser));
                        }
                    }
                    default -> parser.skipChildren();
                }
            }
            into.add(attribute.build());
        }
    }

    /**
     * Reads an AnyValue's scalar (string, bool, int, double, bytes) as it is; an array or key-value list is kept only as
     * its kind, since no value the mapping reads may be one.
     */
    private AnyValue anyValue(final JsonParser parser) throws IOException
    {
        final AnyValue.Builder value = AnyValue.newBuilder();
        while (nextField(parser))
        {
            final String name = parser.currentName();
            if (parser.currentToken() == JsonToken.VALUE_NULL)
            {
                continue;
            }
            switch (name)
            {
                case "stringValue", "string_value" -> value.setStringValue(string(parser, name));
                case "boolValue", "bool_value" ->
                {
                    if (!parser.currentToken().isBoolean())
                    {
                        throw malformed(parser, name + " must be true or false");
                    }
                    value.setBoolValue(parser.getBooleanValue());
                }
                case "intValue", "int_value" -> value.setIntValue(signed64(parser, name));
                case "doubleValue", "double_value" -> value.setDoubleValue(double64(parser, name));
                case "bytesValue", "bytes_value" -> value.setBytesValue(base64(parser, name));
                case "arrayValue", "array_value" ->
                {
                    parser.skipChildren();
                    value.setArrayValue(ArrayValue.getDefaultInstance());
                }
                case "kvlistValue", "kvlist_value" ->
                {
                    parser.skipChildren();
                    value.setKvlistValue(KeyValueList.getDefaultInstance());
                }
                default -> parser.skipChildren();
            }
        }
        return value.build();
    }

    private static String string(final JsonParser parser, final String field) throws IOException
    {
        final JsonToken token = parser.currentToken();
        if (token == JsonToken.VALUE_NULL)
        {
            return "";
        }
        if (token != JsonToken.VALUE_STRING)
        {
            throw malformed(parser, field + " must be a string");
        }
        return parser.getText();
    }

    /** A span kind: an integer, as OTLP/JSON writes enums (the name, as proto3 JSON allows, is taken too). */
    private static int kind(final JsonParser parser) throws IOException
    {
        final JsonToken token = parser.currentToken();
        if (token == JsonToken.VALUE_NULL)
        {
            return 0;
        }
        if (token == JsonToken.VALUE_NUMBER_INT && parser.getNumberType() == JsonParser.NumberType.INT
            && parser.getIntValue() >= 0)
        {
            return parser.getIntValue();
        }
        if (token == JsonToken.VALUE_STRING)
        {
            for (final Span.SpanKind kind : Span.SpanKind.values())
            {
                if (kind != Span.SpanKind.UNRECOGNIZED && kind.name().equals(parser.getText()))
                {
                    return kind.getNumber();
                }
            }
        }
        throw malformed(parser, "kind must be a span kind, e.g. 3 for SPAN_KIND_CLIENT");
    }

    /** Trace and span ids: hex digits, either case (OTLP/JSON), decoded to their bytes; the mapping checks the length. */
    private static ByteString hexId(final JsonParser parser, final String field) throws IOException
    {
        final String text = string(parser, field);
        if ((text.length() & 1) != 0)
        {
            throw malformed(parser, field + " must be hex digits, two per byte (OTLP/JSON ids are hex, not base64)");
        }
        final byte[] bytes = new byte[text.length() / 2];
        for (int i = 0; i < bytes.length; i++)
        {
            final int hi = hexDigit(text.charAt(2 * i));
            final int lo = hexDigit(text.charAt(2 * i + 1));
            if (hi < 0 || lo < 0)
            {
                throw malformed(parser, field + " must be hex digits, two per byte (OTLP/JSON ids are hex, not base64)");
            }
            bytes[i] = (byte)(hi << 4 | lo);
        }
        return ByteString.copyFrom(bytes);
    }

    /** @return the value of an ASCII hex digit of either case, -1 for any other character. */
    private static int hexDigit(final char c)
    {
        if (c >= '0' && c <= '9')
        {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f')
        {
            return c - 'a' + 10;
        }
        return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    }

    /** A fixed64 (times): a number or a string of decimal digits, 0 to 2^64 - 1, kept in a long's 64 bits. */
    private static long unsigned64(final JsonParser parser, final String field) throws IOException
    {
        final String must = field + " must be an unsigned 64-bit integer, as a number or a string of digits";
        final JsonToken token = parser.currentToken();
        if (token == JsonToken.VALUE_NULL)
        {
            return 0;
        }
        if (token == JsonToken.VALUE_NUMBER_INT)
        {
            final BigInteger value = parser.getBigIntegerValue();
            if (value.signum() < 0 || value.compareTo(MAX_UNSIGNED_64) > 0)
            {
                throw malformed(parser, must);
            }
            return value.longValue();
        }
        if (token == JsonToken.VALUE_STRING)
        {
            try
            {
                final String text = parser.getText();
                if (text.isEmpty() || text.charAt(0) == '+')
                {
                    throw malformed(parser, must);
                }
                return Long.parseUnsignedLong(text);
            }
            catch (final NumberFormatException ex)
            {
                throw malformed(parser, must);
            }
        }
        throw malformed(parser, must);
    }

    /** An int64 ({@code intValue}): a number or a string of decimal digits, with an optional minus sign. */
    private static long signed64(final JsonParser parser, final String field) throws IOException
    {
        final String must = field + " must be a 64-bit integer, as a number or a string of digits";
        final JsonToken token = parser.currentToken();
        if (token == JsonToken.VALUE_NUMBER_INT)
        {
            if (parser.getNumberType() == JsonParser.NumberType.BIG_INTEGER)
            {
                throw malformed(parser, must);
            }
            return parser.getLongValue();
        }
        if (token == JsonToken.VALUE_STRING)
        {
            try
            {
                final String text = parser.getText();
                if (text.isEmpty() || text.charAt(0) == '+')
                {
                    throw malformed(parser, must);
                }
                return Long.parseLong(text);
            }
            catch (final NumberFormatException ex)
            {
                throw malformed(parser, must);
            }
        }
        throw malformed(parser, must);
    }

    private static double double64(final JsonParser parser, final String field) throws IOException
    {
        final JsonToken token = parser.currentToken();
        if (token == JsonToken.VALUE_NUMBER_INT || token == JsonToken.VALUE_NUMBER_FLOAT)
        {
            return parser.getDoubleValue();
        }
        if (token == JsonToken.VALUE_STRING)
        {
            switch (parser.getText())
            {
                case "NaN":
                    return Double.NaN;
                case "Infinity":
                    return Double.POSITIVE_INFINITY;
                case "-Infinity":
                    return Double.NEGATIVE_INFINITY;
                default:
                    break;
            }
        }
        throw malformed(parser, field + " must be a number");
    }

    private static ByteString base64(final JsonParser parser, final String field) throws IOException
    {
        try
        {
            return ByteString.copyFrom(Base64.getDecoder().decode(string(parser, field)));
        }
        catch (final IllegalArgumentException ex)
        {
            throw malformed(parser, field + " must be base64");
        }
    }

    /** @return true at the next field's value (the parser is on it), false at the end of the object. */
    private static boolean nextField(final JsonParser parser) throws IOException
    {
        final JsonToken token = parser.nextToken();
        if (token == JsonToken.END_OBJECT)
        {
            return false;
        }
        if (token != JsonToken.FIELD_NAME)
        {
            throw malformed(parser, "expected a field name or '}'");
        }
        parser.nextToken();
        return true;
    }

    /** @return true at the next element's first token, false at the end of the array. */
    private static boolean nextElement(final JsonParser parser) throws IOException
    {
        return parser.nextToken() != JsonToken.END_ARRAY;
    }

    /** @return true when the parser is on an object's start, false on null (the field's default); else malformed. */
    private static boolean startObject(final JsonParser parser, final String what) throws IOException
    {
        final JsonToken token = parser.currentToken();
        if (token == JsonToken.START_OBJECT)
        {
            return true;
        }
        if (token == JsonToken.VALUE_NULL)
        {
            return false;
        }
        throw malformed(parser, what + " must be an object");
    }

    /** @return true when the parser is on an array's start, false on null (the field's default); else malformed. */
    private static boolean startArray(final JsonParser parser, final String what) throws IOException
    {
        final JsonToken token = parser.currentToken();
        if (token == JsonToken.START_ARRAY)
        {
            return true;
        }
        if (token == JsonToken.VALUE_NULL)
        {
            return false;
        }
        throw malformed(parser, what + " must be an array");
    }

    private static Malformed malformed(final JsonParser parser, final String what)
    {
        return new Malformed("the body is not an OTLP/JSON ExportTraceServiceRequest: " + what
            + where(parser.currentTokenLocation()));
    }

    private static String where(final JsonLocation location)
    {
        return location == null ? "" : " (line " + location.getLineNr() + ", column " + location.getColumnNr() + ")";
    }

    private static String firstLine(final String message)
    {
        final int newline = message.indexOf('\n');
        final String line = newline > 0 ? message.substring(0, newline) : message;
        return line.length() > 200 ? line.substring(0, 200) + "..." : line;
    }

    /** A body that is JSON but not an OTLP request; thrown without a stack trace to leave the parse. */
    private static final class Malformed extends IOException
    {
        private static final long serialVersionUID = 1L;

        Malformed(final String message)
        {
            super(message, null);
        }

        @Override
        public synchronized Throwable fillInStackTrace()
        {
            return this;
        }
    }
}
