package io.tokenmeter.server.http;

import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.util.ReferenceCountUtil;
import io.tokenmeter.server.auth.ApiKey;

import java.util.List;

/**
 * One request as {@link RequestGate} passes it on, in the order of the connection: either admitted on its head (its
 * route, key and whole body) or already refused (the answer, which must still wait its turn behind earlier requests).
 */
final class ApiRequest
{
    final Router.Route route;
    final List<String> parameters;
    final ApiKey key;
    /** The request with its whole body; null when refused. */
    final FullHttpRequest http;
    /** The answer decided on the head; null when admitted. */
    final FullHttpResponse refusal;
    final boolean keepAlive;
    /** After the refusal the connection is closed: its body was not read. */
    final boolean close;
    final long receiptNanos;

    private ApiRequest(final Router.Route route, final List<String> parameters, final ApiKey key, final FullHttpRequest http,
        final FullHttpResponse refusal, final boolean keepAlive, final boolean close, final long receiptNanos)
    {
        this.route = route;
        this.parameters = parameters;
        this.key = key;
        this.http = http;
        this.refusal = refusal;
        this.keepAlive = keepAlive;
        this.close = close;
        this.receiptNanos = receiptNanos;
    }

    static ApiRequest admitted(final Router.Route route, final List<String> parameters, final ApiKey key,
        final FullHttpRequest http, final boolean keepAlive, final long receiptNanos)
    {
        return new ApiRequest(route, parameters, key, http, null, keepAlive, false, receiptNanos);
    }

    /** @param route the route the refused request was for, or null when it matched none. */
    static ApiRequest refused(final Router.Route route, final FullHttpResponse refusal, final boolean keepAlive,
        final boolean close, final long receiptNanos)
    {
        return new ApiRequest(route, List.of(), null, null, refusal, keepAlive && !close, close, receiptNanos);
    }

    boolean isRefused()
    {
        return refusal != null;
    }

    /** Frees what the request holds when it is dropped unanswered. */
    void release()
    {
        ReferenceCountUtil.release(http);
        ReferenceCountUtil.release(refusal);
    }
}
