package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** A small real-HTTP client for tests. */
public final class Client
{
    public static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final String base;

    public Client(final int port)
    {
        this.base = "http://127.0.0.1:" + port;
    }

    public record Answer(int status, String body, HttpResponse<String> response)
    {
        public JsonNode json()
        {
            try
            {
                return JSON.readTree(body);
            }
            catch (final Exception ex)
            {
                throw new AssertionError("not JSON (" + status + "): " + body, ex);
            }
        }
    }

    public Answer post(final String path, final String contentType, final String body)
    {
        final HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path))
            .timeout(Duration.ofSeconds(20))
            .POST(HttpRequest.BodyPublishers.ofString(body));
        if (contentType != null)
        {
            request.header("Content-Type", contentType);
        }
        return send(request.build());
    }

    public Answer put(final String path, final String contentType, final String body)
    {
        return send(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(20))
            .header("Content-Type", contentType).PUT(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    public Answer get(final String pathAndQuery, final String header, final String value)
    {
        return send(HttpRequest.newBuilder(URI.create(base + pathAndQuery)).timeout(Duration.ofSeconds(20)).header(header, value)
            .GET().build());
    }

    public Answer get(final String pathAndQuery)
    {
        return send(HttpRequest.newBuilder(URI.create(base + pathAndQuery)).timeout(Duration.ofSeconds(20)).GET().build());
    }

    private Answer send(final HttpRequest request)
    {
        try
        {
            final HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
            return new Answer(response.statusCode(), response.body(), response);
        }
        catch (final Exception ex)
        {
            throw new IllegalStateException("request " + request.uri() + " failed: " + ex, ex);
        }
    }
}
