package io.tokenmeter.server.http;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufOutputStream;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.tokenmeter.server.json.Problem;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;

/** Builds JSON responses; every error body is {@code {"error": CODE, "message": TEXT}} and never a stack trace. */
public final class Responses
{
    static final JsonFactory JSON = new JsonFactory();

    private Responses()
    {
    }

    /** Writes a JSON body with a generator. */
    @FunctionalInterface
    public interface Body
    {
        void write(JsonGenerator json) throws IOException;
    }

    public static FullHttpResponse json(final ByteBufAllocator alloc, final HttpResponseStatus status, final Body body)
    {
        final ByteBuf buffer = alloc.buffer(256);
        try (JsonGenerator json = JSON.createGenerator((java.io.OutputStream)new ByteBufOutputStream(buffer)))
        {
            body.write(json);
        }
        catch (final IOException ex)
        {
            buffer.release();
            throw new UncheckedIOException(ex);
        }
        return response(status, buffer, "application/json");
    }

    public static FullHttpResponse text(final ByteBufAllocator alloc, final HttpResponseStatus status, final String contentType,
        final String text)
    {
        final ByteBuf buffer = alloc.buffer(text.length());
        buffer.writeCharSequence(text, java.nio.charset.StandardCharsets.UTF_8);
        return response(status, buffer, contentType);
    }

    public static FullHttpResponse error(final ByteBufAllocator alloc, final HttpResponseStatus status, final String code,
        final String message)
    {
        return json(alloc, status, json ->
        {
            json.writeStartObject();
            json.writeStringField("error", code);
            json.writeStringField("message", message);
            json.writeEndObject();
        });
    }

    /** An error that asks the client to retry after some seconds (429, 503). */
    public static FullHttpResponse retryLater(final ByteBufAllocator alloc, final HttpResponseStatus status, final String code,
        final String message, final int retryAfterSeconds)
    {
        final FullHttpResponse response = error(alloc, status, code, message);
        response.headers().set(HttpHeaderNames.RETRY_AFTER, retryAfterSeconds);
        return response;
    }

    public static FullHttpResponse invalidEvents(final ByteBufAllocator alloc, final List<Problem> problems, final int problemCount,
        final int eventsWithProblems)
    {
        final String more = problemCount > problems.size() ? " (the first " + problems.size() + " are listed)" : "";
        final String message = problemCount + " problem" + (problemCount == 1 ? "" : "s") + " in " + eventsWithProblems
            + " event" + (eventsWithProblems == 1 ? "" : "s") + more + "; nothing in this request was accepted";
        return json(alloc, HttpResponseStatus.BAD_REQUEST, json ->
        {
            json.writeStartObject();
            json.writeStringField("error", "invalid_events");
            json.writeStringField("message", message);
            json.writeArrayFieldStart("details");
            for (final Problem p : problems)
            {
                json.writeStartObject();
                json.writeNumberField("index", p.index());
                if (p.field() != null)
                {
                    json.writeStringField("field", p.field());
                }
                json.writeStringField("message", p.message());
                json.writeEndObject();
            }
            json.writeEndArray();
            json.writeEndObject();
        });
    }

    /** @return an answer of {@code body} (owned by it) with its content type and length. */
    public static FullHttpResponse response(final HttpResponseStatus status, final ByteBuf body, final String contentType)
    {
        final FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, body);
        response.headers()
            .set(HttpHeaderNames.CONTENT_TYPE, contentType)
            .setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
        return response;
    }
}
