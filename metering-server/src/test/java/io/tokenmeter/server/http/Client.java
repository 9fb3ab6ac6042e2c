package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** A small real-HTTP client for tests; {@link #withKey} makes one that sends {@code Authorization: Bearer KEY}. */
public final class Client
{
    public static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http;
    private final String base;
    private final String authorization;

    public Client(final int port)
    {
        this("http://127.0.0.1:" + port, HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build(), null);
    }

    public Client(final String base, final HttpClient http, final String authorization)
    {
        this.base = base;
        this.http = http;
        this.authorization = authorization;
    }

    /** @return a client on the same connection pool that sends this key, or none when null. */
    public Client withKey(final String key)
    {
        return new Client(base, http, key == null ? null : "Bearer " + key);
    }

    /** @return a client that sends this exact Authorization header. */
    public Client withAuthorization(final String header)
    {
        return new Client(base, http, header);
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
        return request("POST", path, contentType, body);
    }

    /** A POST that also sends one more header. */
    public Answer post(final String path, final String contentType, final String body, final String header, final String value)
    {
        return send(builder(path).header("Content-Type", contentType).header(header, value)
            .POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    public Answer put(final String path, final String contentType, final String body)
    {
        return request("PUT", path, contentType, body);
    }

    public Answer get(final String pathAndQuery, final String header, final String value)
    {
        return send(builder(pathAndQuery).header(header, value).GET().build());
    }

    /** A GET with more headers. */
    public Answer get(final String pathAndQuery, final java.util.Map<String, String> headers)
    {
        final HttpRequest.Builder request = builder(pathAndQuery).GET();
        headers.forEach(request::header);
        return send(request.build());
    }

    public Answer get(final String pathAndQuery)
    {
        return request("GET", pathAndQuery, null, null);
    }

    /** Any method; a null body sends none. */
    public Answer request(final String method, final String pathAndQuery, final String contentType, final String body)
    {
        final HttpRequest.Builder request = builder(pathAndQuery)
            .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (contentType != null)
        {
            request.header("Content-Type", contentType);
        }
        return send(request.build());
    }

    private HttpRequest.Builder builder(final String pathAndQuery)
    {
        final HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(base + pathAndQuery)).timeout(Duration.ofSeconds(20));
        if (authorization != null)
        {
            builder.header("Authorization", authorization);
        }
        return builder;
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
