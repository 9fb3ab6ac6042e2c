package io.tokenmeter.server.http;

import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import io.tokenmeter.server.auth.ApiKey;

/**
 * Decides each request on its head, before any of its body is read: route (404, 405), key (401), the key's role for
 * the route (403), readiness of ingest (503), content type (415) and declared length (413). Only a request that will
 * be read gets {@code 100 Continue}; only its body is gathered, up to {@code max-body-bytes}. A refused request is
 * passed on as its answer, so that answers keep the order of the requests; its body is skipped when short and
 * declared, else the connection is closed after the answer.
 *
 * <p>One per connection, on its event loop. Emits {@link ApiRequest}s.
 */
final class RequestGate extends ChannelInboundHandlerAdapter
{
    /** A refused request's body up to this length is read and dropped, keeping the connection; a longer one closes it. */
    static final int DISCARD_ALLOWANCE = 64 * 1024;

    private enum State
    {
        /** Between requests. */
        IDLE,
        /** Gathering an admitted request's body. */
        GATHERING,
        /** Dropping a refused request's body. */
        SKIPPING,
        /** A refusal closes the connection: everything after it is dropped. */
        CLOSING
    }

    private final ApiContext api;
    private final Router router;
    private final Authenticator authenticator;
    private final SlowClientGuard guard;
    private final int maxBodyBytes;
    private State state = State.IDLE;
    private HttpRequest head;
    private Router.Match match;
    private ApiKey key;
    private boolean keepAlive;
    private long receiptNanos;
    private CompositeByteBuf body;

    RequestGate(final ApiContext api, final Router router, final Authenticator authenticator, final SlowClientGuard guard)
    {
        this.api = api;
        this.router = router;
        this.authenticator = authenticator;
        this.guard = guard;
        this.maxBodyBytes = api.settings().maxBodyBytes;
    }

    @Override
    public void channelRead(final ChannelHandlerContext ctx, final Object msg)
    {
        if (msg instanceof ApiRequest timedOut)
        {
            // the slow-client guard's 408: nothing after it is read
            state = State.CLOSING;
            dropBody();
            ctx.fireChannelRead(timedOut);
            return;
        }
        try
        {
            if (msg instanceof HttpRequest request)
            {
                onHead(ctx, request);
            }
            if (msg instanceof HttpContent content)
            {
                onContent(ctx, content);
            }
        }
        finally
        {
            ReferenceCountUtil.release(msg);
        }
    }

    private void onHead(final ChannelHandlerContext ctx, final HttpRequest request)
    {
        if (state == State.CLOSING)
        {
            return;
        }
        receiptNanos = System.nanoTime();
        guard.headReceived();
        head = request;
        keepAlive = HttpUtil.isKeepAlive(request);
        final DecoderResult decoded = request.decoderResult();
        if (decoded.isFailure())
        {
            refuse(ctx, null, malformed(ctx, decoded.cause()), true);
            return;
        }
        match = router.match(request.uri(), request.method());
        final Router.Route route = match.route();
        // health (and metrics when open) need no key; any other path, known or not, is not revealed without one
        final boolean open = route != null ? isOpen(route) : Router.isOpenPath(request.uri(), api.settings().metricsOpen);
        key = open ? ApiKey.OPEN : authenticator.authenticate(request.headers(), ctx.alloc());
        if (key == null)
        {
            refuse(ctx, route, authenticator.refusal(), false);
            return;
        }
        if (!match.found())
        {
            refuse(ctx, null, match.pathKnown() ? methodNotAllowed(ctx, match.allowed()) : notFound(ctx, request.uri()), false);
            return;
        }
        final String forbidden = AccessPolicy.check(key, route.action, null);
        if (forbidden != null)
        {
            api.metrics().onAuthForbidden();
            refuse(ctx, route, Responses.error(ctx.alloc(), HttpResponseStatus.FORBIDDEN, "forbidden", forbidden), false);
            return;
        }
        if (route.isIngest() && !api.ingestReady())
        {
            refuse(ctx, route, Responses.retryLater(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE, "not_ready",
                "the server is not ready (" + String.join("; ", api.notReadyReasons()) + "); retry shortly", 1), false);
            return;
        }
        final String unsupported = route == Router.Route.TRACES ? TracesRoute.unsupportedMediaType(request.headers())
            : route.isIngest() ? IngestRoute.unsupportedMediaType(route, request.headers().get(HttpHeaderNames.CONTENT_TYPE))
            : null;
        if (unsupported != null)
        {
            refuse(ctx, route, Responses.error(ctx.alloc(), HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                unsupported), false);
            return;
        }
        final long declared = declaredLength(request);
        final long limit = route.takesBody ? maxBodyBytes : DISCARD_ALLOWANCE;
        if (declared > limit)
        {
            refuse(ctx, route, tooLarge(ctx, route), true);
            return;
        }
        if (HttpUtil.is100ContinueExpected(request))
        {
            ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE), ctx.voidPromise());
            request.headers().remove(HttpHeaderNames.EXPECT);
        }
        body = ctx.alloc().compositeBuffer(1024);
        state = State.GATHERING;
    }

    private boolean isOpen(final Router.Route route)
    {
        return route.action == AccessPolicy.Action.NONE || route == Router.Route.METRICS && api.settings().metricsOpen;
    }

    private void onContent(final ChannelHandlerContext ctx, final HttpContent content)
    {
        final boolean last = content instanceof LastHttpContent;
        switch (state)
        {
            case GATHERING ->
            {
                if (content.decoderResult().isFailure())
                {
                    dropBody();
                    refuse(ctx, match.route(), malformed(ctx, content.decoderResult().cause()), true);
                    return;
                }
                final int limit = match.route().takesBody ? maxBodyBytes : DISCARD_ALLOWANCE;
                if ((long)body.readableBytes() + content.content().readableBytes() > limit)
                {
                    dropBody();
                    refuse(ctx, match.route(), tooLarge(ctx, match.route()), true);
                    return;
                }
                if (content.content().isReadable())
                {
                    body.addComponent(true, content.content().retain());
                }
                if (last)
                {
                    final DefaultFullHttpRequest whole = new DefaultFullHttpRequest(head.protocolVersion(), head.method(),
                        head.uri(), body, head.headers(), ((LastHttpContent)content).trailingHeaders());
                    body = null;
                    state = State.IDLE;
                    guard.requestReceived();
                    ctx.fireChannelRead(ApiRequest.admitted(match.route(), match.parameters(), key, whole, keepAlive, receiptNanos));
                }
            }
            case SKIPPING ->
            {
                if (last)
                {
                    state = State.IDLE;
                    guard.requestReceived();
                }
            }
            case IDLE, CLOSING ->
            {
                // IDLE: the empty last content of a refused request without a body; CLOSING: dropped
            }
        }
    }

    /**
     * Passes the answer on in order. A request with a body longer than {@link #DISCARD_ALLOWANCE}, or of unknown length,
     * or when {@code close} is asked, closes the connection after the answer; else its body is read and dropped.
     */
    private void refuse(final ChannelHandlerContext ctx, final Router.Route route, final FullHttpResponse answer, final boolean close)
    {
        final long declared = declaredLength(head);
        final boolean bodyFollows = HttpUtil.isTransferEncodingChunked(head) || declared != 0;
        // a refused Expect: 100-continue may come without its body (it was never asked for): close rather than guess
        final boolean closing = close || !keepAlive || bodyFollows && (declared < 0 || declared > DISCARD_ALLOWANCE
            || HttpUtil.is100ContinueExpected(head));
        if (closing)
        {
            state = State.CLOSING;
            guard.stop();
        }
        else
        {
            state = bodyFollows ? State.SKIPPING : State.IDLE;
            if (!bodyFollows)
            {
                guard.requestReceived();
            }
        }
        // OTLP clients read a google.rpc.Status in their request's encoding, whatever refused the request
        final FullHttpResponse refusal = route == Router.Route.TRACES ? TracesRoute.asStatus(answer, head.headers(), ctx.alloc()) : answer;
        ctx.fireChannelRead(ApiRequest.refused(route, refusal, keepAlive, closing, receiptNanos));
    }

    /** @return the declared {@code Content-Length}, 0 when none is declared, -1 when it is not a number (unknown). */
    private static long declaredLength(final HttpRequest head)
    {
        try
        {
            return HttpUtil.getContentLength(head, 0L);
        }
        catch (final NumberFormatException ex)
        {
            return -1;
        }
    }

    private void dropBody()
    {
        if (body != null)
        {
            body.release();
            body = null;
        }
    }

    private FullHttpResponse tooLarge(final ChannelHandlerContext ctx, final Router.Route route)
    {
        return route.takesBody
            ? Responses.error(ctx.alloc(), HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                "the body exceeds " + maxBodyBytes + " bytes; split the batch")
            : Responses.error(ctx.alloc(), HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                "this route takes no body; send none");
    }

    private FullHttpResponse malformed(final ChannelHandlerContext ctx, final Throwable cause)
    {
        if (cause instanceof TooLongHttpHeaderException)
        {
            return Responses.error(ctx.alloc(), HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large",
                "the request headers exceed " + api.settings().maxHeaderBytes + " bytes, the max-header-bytes limit");
        }
        if (cause instanceof TooLongHttpLineException)
        {
            return Responses.error(ctx.alloc(), HttpResponseStatus.REQUEST_URI_TOO_LONG, "uri_too_long",
                "the request line is too long; put less in the query");
        }
        return Responses.error(ctx.alloc(), HttpResponseStatus.BAD_REQUEST, "bad_request",
            "malformed HTTP request: " + cause.getMessage());
    }

    private static FullHttpResponse notFound(final ChannelHandlerContext ctx, final String uri)
    {
        return Responses.error(ctx.alloc(), HttpResponseStatus.NOT_FOUND, "not_found", "no route " + Router.rawPath(uri)
            + "; routes: " + Router.LISTING);
    }

    private static FullHttpResponse methodNotAllowed(final ChannelHandlerContext ctx, final String allowed)
    {
        final FullHttpResponse response = Responses.error(ctx.alloc(), HttpResponseStatus.METHOD_NOT_ALLOWED,
            "method_not_allowed", "this route takes " + allowed);
        response.headers().set(HttpHeaderNames.ALLOW, allowed);
        return response;
    }

    @Override
    public void channelInactive(final ChannelHandlerContext ctx) throws Exception
    {
        dropBody();
        super.channelInactive(ctx);
    }

    @Override
    public void handlerRemoved(final ChannelHandlerContext ctx)
    {
        dropBody();
    }
}
