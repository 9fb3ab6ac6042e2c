package io.tokenmeter.server.otlp;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.google.protobuf.CodedOutputStream;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufInputStream;
import io.netty.buffer.ByteBufOutputStream;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.tokenmeter.server.http.Responses;
import io.opentelemetry.proto.collector.trace.v1.ExportTracePartialSuccess;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;

/**
 * The answers of {@code POST /v1/traces} as OTLP/HTTP defines them, in the encoding of the request (binary protobuf
 * for {@code application/x-protobuf}, OTLP/JSON for {@code application/json}):
 *
 * <ul>
 *   <li>200 with an {@code ExportTraceServiceResponse}: empty on full success; with {@code partial_success}
 *       ({@code rejected_spans} and {@code error_message}) when spans were rejected, or as a warning (0 rejected) when
 *       spans were duplicates of spans already taken;</li>
 *   <li>any 4xx or 5xx with a {@code google.rpc.Status}: {@code code} (the gRPC code nearest the HTTP status) and
 *       {@code message}, which starts with tokenmeter's error code ({@code forbidden: ...}). Headers such as
 *       {@code Retry-After} and {@code WWW-Authenticate} stay as the server's other routes send them.</li>
 * </ul>
 *
 * {@code google.rpc.Status} is written by hand (two fields) rather than taken from Google's common protos, which would
 * bring a large jar for one message. Stateless; any thread.
 */
public final class OtlpResponses
{
    public static final String PROTOBUF = "application/x-protobuf";
    public static final String JSON = "application/json";

    private static final JsonFactory JSON_FACTORY = new JsonFactory();

    private OtlpResponses()
    {
    }

    /**
     * @param rejectedSpans the spans not taken (0 for a warning only).
     * @param message       why, or null: with 0 rejected and no message the response is empty (full success).
     * @return 200 with an {@code ExportTraceServiceResponse}.
     */
    public static FullHttpResponse export(final ByteBufAllocator alloc, final boolean protobuf, final long rejectedSpans,
        final String message)
    {
        final boolean partial = rejectedSpans > 0 || message != null && !message.isEmpty();
        final String text = message == null ? "" : message;
        if (protobuf)
        {
            final ExportTraceServiceResponse.Builder response = ExportTraceServiceResponse.newBuilder();
            if (partial)
            {
                response.setPartialSuccess(ExportTracePartialSuccess.newBuilder().setRejectedSpans(rejectedSpans)
                    .setErrorMessage(text));
            }
            final byte[] bytes = response.build().toByteArray();
            return Responses.response(HttpResponseStatus.OK, alloc.buffer(bytes.length).writeBytes(bytes), PROTOBUF);
        }
        return json(alloc, HttpResponseStatus.OK, json ->
        {
            json.writeStartObject();
            if (partial)
            {
                json.writeObjectFieldStart("partialSuccess");
                // int64 is a decimal string in proto3 JSON
                json.writeStringField("rejectedSpans", Long.toString(rejectedSpans));
                json.writeStringField("errorMessage", text);
                json.writeEndObject();
            }
            json.writeEndObject();
        });
    }

    /** @return an error answer: {@code status} with a {@code google.rpc.Status} saying {@code code: message}. */
    public static FullHttpResponse status(final ByteBufAllocator alloc, final HttpResponseStatus status, final boolean protobuf,
        final String code, final String message)
    {
        final int grpcCode = grpcCode(status.code());
        final String text = code + ": " + message;
        if (protobuf)
        {
            final byte[] bytes = new byte[CodedOutputStream.computeInt32Size(1, grpcCode) + CodedOutputStream.computeStringSize(2, text)];
            final CodedOutputStream out = CodedOutputStream.newInstance(bytes);
            try
            {
                out.writeInt32(1, grpcCode);
                out.writeString(2, text);
                out.checkNoSpaceLeft();
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException(ex);
            }
            return Responses.response(status, alloc.buffer(bytes.length).writeBytes(bytes), PROTOBUF);
        }
        return json(alloc, status, json ->
        {
            json.writeStartObject();
            json.writeNumberField("code", grpcCode);
            json.writeStringField("message", text);
            json.writeEndObject();
        });
    }

    /**
     * Re-encodes one of the server's JSON errors ({@code {"error": CODE, "message": TEXT}}) as a {@code google.rpc.Status}
     * with the same HTTP status and headers; releases {@code jsonError}.
     */
    public static FullHttpResponse statusOf(final FullHttpResponse jsonError, final boolean protobuf, final ByteBufAllocator alloc)
    {
        String code = "error";
        String message = "";
        try (JsonParser parser = JSON_FACTORY.createParser((InputStream)new ByteBufInputStream(jsonError.content().duplicate())))
        {
            if (parser.nextToken() == JsonToken.START_OBJECT)
            {
                while (parser.nextToken() == JsonToken.FIELD_NAME)
                {
                    final String name = parser.currentName();
                    parser.nextToken();
                    if (name.equals("error"))
                    {
                        code = parser.getText();
                    }
                    else if (name.equals("message"))
                    {
                        message = parser.getText();
                    }
                    else
                    {
                        parser.skipChildren();
                    }
                }
            }
        }
        catch (final IOException ex)
        {
            message = jsonError.content().toString(java.nio.charset.StandardCharsets.UTF_8);
        }
        final FullHttpResponse status = status(alloc, jsonError.status(), protobuf, code, message);
        jsonError.headers().forEach(header ->
        {
            if (!HttpHeaderNames.CONTENT_TYPE.contentEqualsIgnoreCase(header.getKey())
                && !HttpHeaderNames.CONTENT_LENGTH.contentEqualsIgnoreCase(header.getKey()))
            {
                status.headers().add(header.getKey(), header.getValue());
            }
        });
        jsonError.release();
        return status;
    }

    /** @return the gRPC status code nearest an HTTP status (OTLP does not use it; clients may log it). */
    static int grpcCode(final int httpStatus)
    {
        return switch (httpStatus)
        {
            case 400, 415 -> 3; // INVALID_ARGUMENT
            case 401 -> 16; // UNAUTHENTICATED
            case 403 -> 7; // PERMISSION_DENIED
            case 404 -> 5; // NOT_FOUND
            case 405 -> 12; // UNIMPLEMENTED
            case 408 -> 4; // DEADLINE_EXCEEDED
            case 413, 429 -> 8; // RESOURCE_EXHAUSTED
            case 500 -> 13; // INTERNAL
            case 503 -> 14; // UNAVAILABLE
            default -> 2; // UNKNOWN
        };
    }

    /** Writes a JSON body with a generator. */
    @FunctionalInterface
    private interface Body
    {
        void write(JsonGenerator json) throws IOException;
    }

    private static FullHttpResponse json(final ByteBufAllocator alloc, final HttpResponseStatus status, final Body body)
    {
        final ByteBuf buffer = alloc.buffer(128);
        try (JsonGenerator json = JSON_FACTORY.createGenerator((OutputStream)new ByteBufOutputStream(buffer)))
        {
            body.write(json);
        }
        catch (final IOException ex)
        {
            buffer.release();
            throw new UncheckedIOException(ex);
        }
        return Responses.response(status, buffer, JSON);
    }
}
