package io.tokenmeter.server.http;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.tokenmeter.server.auth.ApiKey;
import io.tokenmeter.server.auth.KeyRing;
import io.tokenmeter.server.auth.Keys;
import io.tokenmeter.server.metrics.ServerMetrics;

import java.util.List;

/**
 * Finds the key of a request from its head alone. One per connection: the last key it authenticated is remembered
 * while the key ring in force is the same, so a kept-alive connection hashes its key once.
 */
final class Authenticator
{
    private final Keys keys;
    private final ServerMetrics metrics;
    private KeyRing cachedRing;
    private String cachedAuthorization;
    private ApiKey cachedKey;
    private FullHttpResponse refusal;

    Authenticator(final Keys keys, final ServerMetrics metrics)
    {
        this.keys = keys;
        this.metrics = metrics;
    }

    /**
     * @return the key: {@link ApiKey#OPEN} when the server runs without keys, else the known key of the
     *     {@code Authorization} header; null when refused, with the answer in {@link #refusal()}.
     */
    ApiKey authenticate(final HttpHeaders headers, final ByteBufAllocator alloc)
    {
        refusal = null;
        if (keys.isOpen())
        {
            return ApiKey.OPEN;
        }
        final List<String> all = headers.getAll(HttpHeaderNames.AUTHORIZATION);
        if (all.size() > 1)
        {
            metrics.onAuthDenied(KeyRing.Refusal.MALFORMED);
            refusal = Responses.error(alloc, HttpResponseStatus.BAD_REQUEST, "bad_request",
                "the request carries " + all.size() + " Authorization headers; send exactly one");
            return null;
        }
        final String authorization = all.isEmpty() ? null : all.get(0);
        final KeyRing ring = keys.current();
        if (ring == cachedRing && authorization != null && authorization.equals(cachedAuthorization))
        {
            return cachedKey;
        }
        final ApiKey key = ring.authenticate(authorization);
        if (key != null)
        {
            cachedRing = ring;
            cachedAuthorization = authorization;
            cachedKey = key;
            return key;
        }
        final KeyRing.Refusal why = KeyRing.refusal(authorization);
        metrics.onAuthDenied(why);
        refusal = Responses.error(alloc, HttpResponseStatus.UNAUTHORIZED, "unauthorized", switch (why)
        {
            case MISSING -> "this route needs an API key: send the header Authorization: Bearer KEY";
            case MALFORMED -> "the Authorization header must be 'Bearer KEY', the key in printable ASCII of at most "
                + KeyRing.MAX_KEY_LENGTH + " characters";
            case UNKNOWN -> "the key is not known: mistyped, or no longer in the keys file";
        });
        refusal.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"tokenmeter\"");
        return null;
    }

    /** @return the answer to the request last refused by {@link #authenticate}; the caller owns it. */
    FullHttpResponse refusal()
    {
        final FullHttpResponse r = refusal;
        refusal = null;
        return r;
    }
}
