package io.tokenmeter.server.http;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.concurrent.ScheduledFuture;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.tokenmeter.core.aggregate.UsageRow;
import io.tokenmeter.core.event.StagedEvent;
import io.tokenmeter.server.auth.ApiKey;
import io.tokenmeter.server.auth.KeyRing;
import io.tokenmeter.server.auth.Keys;
import io.tokenmeter.server.json.EventParser;
import io.tokenmeter.server.json.ParseOutcome;
import org.agrona.ExpandableArrayBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLException;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Routes the requests of one connection. Runs on the connection's event loop. A request that waits for the journal
 * or the aggregator makes the connection busy; pipelined requests behind it wait here, so answers keep their order.
 */
final class ApiHandler extends SimpleChannelInboundHandler<FullHttpRequest>
{
    private static final Logger LOG = LoggerFactory.getLogger(ApiHandler.class);
    private static final String INGEST = "/v1/events";
    private static final String CLOUD_EVENTS = "/api/v1/events";
    private static final FastThreadLocal<EventParser> PARSER = new FastThreadLocal<>()
    {
        @Override
        protected EventParser initialValue()
        {
            return new EventParser();
        }
    };

    private final ApiContext api;
    private final BillingRoutes billing;
    private final ArrayDeque<FullHttpRequest> waiting = new ArrayDeque<>();
    private final StagedEvent stagedEvent = new StagedEvent();
    /** The partition of each event of the request being split (grown to the largest request seen). */
    private int[] partitionOfEvent = new int[0];
    private boolean busy;
    /** The last key authenticated on this connection, valid while {@link #cachedRing} is the ring in force. */
    private KeyRing cachedRing;
    private String cachedAuthorization;
    private ApiKey cachedKey;

    ApiHandler(final ApiContext api)
    {
        this.api = api;
        this.billing = new BillingRoutes(api);
    }

    @Override
    protected void channelRead0(final ChannelHandlerContext ctx, final FullHttpRequest request)
    {
        if (busy)
        {
            waiting.add(request.retain());
            return;
        }
        dispatch(ctx, request);
    }

    private void dispatch(final ChannelHandlerContext ctx, final FullHttpRequest request)
    {
        final long receiptNanos = System.nanoTime();
        final boolean keepAlive = HttpUtil.isKeepAlive(request);
        if (request.decoderResult().isFailure())
        {
            respond(ctx, malformedRequest(ctx, request.decoderResult().cause()), false);
            return;
        }
        final QueryStringDecoder uri = new QueryStringDecoder(request.uri());
        final String path = uri.path();
        final HttpMethod method = request.method();
        try
        {
            if (path.equals("/health/live"))
            {
                respond(ctx, Responses.text(ctx.alloc(), HttpResponseStatus.OK, "application/json", "{\"status\":\"live\"}"), keepAlive);
                return;
            }
            if (path.equals("/health/ready"))
            {
                ready(ctx, keepAlive);
                return;
            }
            if (path.equals("/metrics") && api.settings().metricsOpen)
            {
                metrics(ctx, ApiKey.OPEN, keepAlive);
                return;
            }
            final ApiKey key = authenticate(ctx, request, path.equals(INGEST) || path.equals(CLOUD_EVENTS), keepAlive, receiptNanos);
            if (key == null)
            {
                return;
            }
            switch (path)
            {
                case INGEST, CLOUD_EVENTS ->
                {
                    if (method.equals(HttpMethod.POST))
                    {
                        ingest(ctx, request, key, path.equals(CLOUD_EVENTS), keepAlive, receiptNanos);
                    }
                    else
                    {
                        methodNotAllowed(ctx, "POST", keepAlive);
                    }
                }
                case "/v1/usage" ->
                {
                    if (method.equals(HttpMethod.GET))
                    {
                        usage(ctx, uri, key, keepAlive);
                    }
                    else
                    {
                        methodNotAllowed(ctx, "GET", keepAlive);
                    }
                }
                case "/metrics" -> metrics(ctx, key, keepAlive);
                default ->
                {
                    if (path.equals(BillingRoutes.PRICES) || path.equals(BillingRoutes.INVOICES)
                        || path.startsWith(BillingRoutes.INVOICES + "/"))
                    {
                        billing(ctx, request, uri, key, keepAlive);
                    }
                    else
                    {
                        respond(ctx, Responses.error(ctx.alloc(), HttpResponseStatus.NOT_FOUND, "not_found", "no route " + path
                            + "; routes: POST /v1/events, POST /api/v1/events (CloudEvents), GET /v1/usage, GET /v1/invoices, GET /v1/invoices/{tenant}/{period}, "
                            + "POST /v1/invoices/{tenant}/{period}/finalize, GET|PUT /v1/prices, GET /health/live, "
                            + "GET /health/ready, GET /metrics"), keepAlive);
                    }
                }
            }
        }
        catch (final RuntimeException ex)
        {
            LOG.error("unexpected failure answering {} {}", method, path, ex);
            respond(ctx, Responses.error(ctx.alloc(), HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal_error",
                "the server failed to answer; the failure is logged"), false);
        }
    }

    private void ingest(final ChannelHandlerContext ctx, final FullHttpRequest request, final ApiKey key, final boolean cloudEvents,
        final boolean keepAlive, final long receiptNanos)
    {
        final long receiptMs = System.currentTimeMillis();
        final var settings = api.settings();
        if (!key.mayIngest())
        {
            api.metrics().onAuthForbidden();
            answerIngest(ctx, Responses.error(ctx.alloc(), HttpResponseStatus.FORBIDDEN, "forbidden",
                Access.forbidden(key, "post events", Access.INGEST)), keepAlive, receiptNanos);
            return;
        }
        if (!api.ingestReady())
        {
            answerIngest(ctx, Responses.retryLater(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE, "not_ready",
                "the server is not ready (" + String.join("; ", api.notReadyReasons()) + "); retry shortly", 1), keepAlive, receiptNanos);
            return;
        }
        final String contentType = mediaType(request.headers().get(HttpHeaderNames.CONTENT_TYPE));
        final boolean ndjson = "application/x-ndjson".equals(contentType);
        final EventParser.CloudEventsBody cloudEventsBody = cloudEvents ? cloudEventsBody(contentType) : null;
        if (cloudEvents ? cloudEventsBody == null : !(ndjson || "application/json".equals(contentType)))
        {
            answerIngest(ctx, Responses.error(ctx.alloc(), HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                (cloudEvents
                    ? "Content-Type must be application/cloudevents+json (one CloudEvent), application/cloudevents-batch+json "
                        + "(an array of them) or application/json (either), not "
                    : "Content-Type must be application/json (an event or an array of events) or application/x-ndjson "
                        + "(one event per line), not ")
                    + (contentType == null ? "missing" : contentType)), keepAlive, receiptNanos);
            return;
        }

        final ExpandableArrayBuffer staged = StagingBuffers.take();
        if (!stageAndOffer(ctx, request, cloudEvents, cloudEventsBody, ndjson, key, keepAlive, receiptNanos, receiptMs, staged))
        {
            StagingBuffers.giveBack(staged);
        }
    }

    /**
     * @return true when {@code staged} was handed on (to an {@link IngestRequest}, which gives it back), false when the
     *     caller still owns it.
     */
    private boolean stageAndOffer(final ChannelHandlerContext ctx, final FullHttpRequest request, final boolean cloudEvents,
        final EventParser.CloudEventsBody cloudEventsBody, final boolean ndjson, final ApiKey key, final boolean keepAlive,
        final long receiptNanos, final long receiptMs, final ExpandableArrayBuffer staged)
    {
        final var settings = api.settings();
        final EventParser parser = PARSER.get();
        final ParseOutcome outcome = cloudEvents
            ? parser.parseCloudEvents(request.content(), cloudEventsBody, receiptMs,
                settings.maxFutureSkew.toMillis(), settings.maxEventsPerRequest, staged)
            : parser.parse(request.content(), ndjson, receiptMs,
                settings.maxFutureSkew.toMillis(), settings.maxEventsPerRequest, staged);
        switch (outcome)
        {
            case MALFORMED ->
            {
                api.metrics().onEventsRejected(Math.max(1, parser.eventsSeen()));
                answerIngest(ctx, Responses.error(ctx.alloc(), HttpResponseStatus.BAD_REQUEST, "malformed_json",
                    parser.malformedMessage()), keepAlive, receiptNanos);
            }
            case TOO_MANY_EVENTS ->
            {
                api.metrics().onEventsRejected(parser.eventsSeen());
                answerIngest(ctx, Responses.error(ctx.alloc(), HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "too_many_events",
                    "a request may carry at most " + settings.maxEventsPerRequest + " events; split the batch"), keepAlive, receiptNanos);
            }
            case INVALID_EVENTS ->
            {
                api.metrics().onEventsRejected(parser.eventsSeen());
                answerIngest(ctx, Responses.invalidEvents(ctx.alloc(), parser.problems(), parser.problemCount(),
                    parser.eventsWithProblems()), keepAlive, receiptNanos);
            }
            case OK ->
            {
                if (parser.ignoredFields())
                {
                    parser.forEachIgnoredField(api.metrics()::onUsageFieldIgnored);
                }
                if (parser.eventCount() == 0)
                {
                    answerIngest(ctx, Responses.text(ctx.alloc(), HttpResponseStatus.ACCEPTED, "application/json",
                        "{\"accepted\":0,\"duplicates\":0,\"conflicts\":0}"), keepAlive, receiptNanos);
                    return false;
                }
                final String forbidden = key.allTenants() ? null : forbiddenTenants(key, staged, parser.stagedLength());
                if (forbidden != null)
                {
                    api.metrics().onAuthForbidden();
                    api.metrics().onEventsRejected(parser.eventCount());
                    answerIngest(ctx, Responses.error(ctx.alloc(), HttpResponseStatus.FORBIDDEN, "forbidden",
                        Access.forbidden(key, "post events for tenant " + forbidden, Access.INGEST)
                            + "; nothing in this request was accepted"), keepAlive, receiptNanos);
                    return false;
                }
                if (partitionOfEvent.length < parser.eventCount())
                {
                    partitionOfEvent = new int[Math.max(parser.eventCount(), 128)];
                }
                final IngestRequest pending = IngestRequest.split(this, ctx, keepAlive, receiptNanos, staged,
                    parser.stagedLength(), parser.eventCount(), api.partitions(), stagedEvent, partitionOfEvent);
                if (pending.offer(api.partitions()))
                {
                    busy = true;
                    api.inFlight(1);
                    return true;
                }
                answerIngest(ctx, Responses.retryLater(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE, "overloaded",
                    "the journal queue is full; nothing was accepted, retry after a pause", 1), keepAlive, receiptNanos);
                return true;
            }
        }
        return false;
    }

    /** @return the tenants (up to 5, comma separated) of staged events the key may not post for, or null. */
    private String forbiddenTenants(final ApiKey key, final ExpandableArrayBuffer staged, final int length)
    {
        StringBuilder names = null;
        int listed = 0;
        for (int offset = 0; offset < length; )
        {
            final StagedEvent event = stagedEvent.wrap(staged, offset);
            if (!key.actsFor(staged, event.tenantOffset(), event.tenantLength()))
            {
                final String tenant = staged.getStringWithoutLengthAscii(event.tenantOffset(), event.tenantLength());
                if (names == null)
                {
                    names = new StringBuilder(tenant);
                    listed = 1;
                }
                else if (listed < 5 && !(", " + names + ",").contains(", " + tenant + ","))
                {
                    names.append(", ").append(tenant);
                    listed++;
                }
            }
            offset += event.encodedLength();
        }
        return names == null ? null : names.toString();
    }

    /**
     * @return the key the request carries: {@link ApiKey#OPEN} when the server runs without keys, else the known key of
     *     its {@code Authorization} header; null after answering 401.
     */
    private ApiKey authenticate(final ChannelHandlerContext ctx, final FullHttpRequest request, final boolean ingest,
        final boolean keepAlive, final long receiptNanos)
    {
        final Keys keys = api.keys();
        if (keys.isOpen())
        {
            return ApiKey.OPEN;
        }
        final KeyRing ring = keys.current();
        final String authorization = request.headers().get(HttpHeaderNames.AUTHORIZATION);
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
        final KeyRing.Refusal refusal = KeyRing.refusal(authorization);
        api.metrics().onAuthDenied(refusal);
        final FullHttpResponse response = Responses.error(ctx.alloc(), HttpResponseStatus.UNAUTHORIZED, "unauthorized",
            switch (refusal)
            {
                case MISSING -> "this route needs an API key: send the header Authorization: Bearer KEY";
                case MALFORMED -> "the Authorization header must be 'Bearer KEY', the key in printable ASCII of at most "
                    + KeyRing.MAX_KEY_LENGTH + " characters";
                case UNKNOWN -> "the key is not known: mistyped, or no longer in the keys file";
            });
        response.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"tokenmeter\"");
        if (ingest)
        {
            answerIngest(ctx, response, keepAlive, receiptNanos);
        }
        else
        {
            respond(ctx, response, keepAlive);
        }
        return null;
    }

    private void metrics(final ChannelHandlerContext ctx, final ApiKey key, final boolean keepAlive)
    {
        if (!key.mayReadAllTenants())
        {
            api.metrics().onAuthForbidden();
            respond(ctx, Responses.error(ctx.alloc(), HttpResponseStatus.FORBIDDEN, "forbidden",
                Access.forbidden(key, "read metrics", Access.READ_ALL + " (or set metrics-access: open)")), keepAlive);
            return;
        }
        // a scrape takes milliseconds: it runs on the metrics thread, not on this event loop's other connections' time
        final CompletableFuture<String> scrape = api.metrics().scrapeAsync();
        busy = true;
        api.inFlight(1);
        scrape.whenComplete((text, failure) -> ctx.executor().execute(() -> completeAsync(ctx, failure == null
            ? Responses.text(ctx.alloc(), HttpResponseStatus.OK, "text/plain; version=0.0.4; charset=utf-8", text)
            : Responses.error(ctx.alloc(), HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal_error", "the scrape failed"),
            keepAlive, 0, false)));
    }

    private FullHttpResponse malformedRequest(final ChannelHandlerContext ctx, final Throwable cause)
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

    private void answerIngest(final ChannelHandlerContext ctx, final FullHttpResponse response, final boolean keepAlive,
        final long receiptNanos)
    {
        api.metrics().onIngestAnswered(response.status().code(), receiptNanos);
        respond(ctx, response, keepAlive);
    }

    private void usage(final ChannelHandlerContext ctx, final QueryStringDecoder uri, final ApiKey key, final boolean keepAlive)
    {
        // the tenant's partition's newest position, read as the query arrives: consistent=true waits for it
        final UsageRoute.Parsed parsed = UsageRoute.parse(uri, t -> api.partitions().of(t).journal().lastAppendedIndex());
        if (parsed.error() != null)
        {
            respond(ctx, Responses.error(ctx.alloc(), HttpResponseStatus.BAD_REQUEST, "invalid_query", parsed.error()), keepAlive);
            return;
        }
        final String tenant = parsed.query().tenant();
        if (!key.mayRead() || !key.actsFor(tenant))
        {
            api.metrics().onAuthForbidden();
            respond(ctx, Responses.error(ctx.alloc(), HttpResponseStatus.FORBIDDEN, "forbidden",
                Access.forbidden(key, "read usage of tenant " + tenant, Access.readTenant(tenant))), keepAlive);
            return;
        }
        if (!api.notReadyReasons().isEmpty())
        {
            respond(ctx, Responses.retryLater(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE, "not_ready",
                "the server is not ready (" + String.join("; ", api.notReadyReasons()) + "); retry shortly", 1), keepAlive);
            return;
        }
        final CompletableFuture<List<UsageRow>> answer = api.partitions().of(tenant).aggregator().submit(parsed.query());
        if (answer == null)
        {
            respond(ctx, Responses.retryLater(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE, "overloaded",
                "too many usage queries in progress; retry after a pause", 1), keepAlive);
            return;
        }
        busy = true;
        api.inFlight(1);
        final ScheduledFuture<?> timeout = ctx.executor().schedule(
            () -> answer.completeExceptionally(new QueryTimeout()), api.settings().queryTimeout.toMillis(), TimeUnit.MILLISECONDS);
        answer.whenComplete((rows, failure) -> ctx.executor().execute(() ->
        {
            timeout.cancel(false);
            final FullHttpResponse response;
            if (failure == null)
            {
                response = Responses.json(ctx.alloc(), HttpResponseStatus.OK, json -> UsageRoute.render(json, parsed, rows));
            }
            else if (failure instanceof QueryTimeout)
            {
                response = Responses.retryLater(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE, "timeout",
                    "counting has not caught up within " + api.settings().queryTimeout.toMillis() + " ms; retry", 1);
            }
            else
            {
                response = Responses.retryLater(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE, "unavailable",
                    "usage cannot be answered now: " + failure.getMessage(), 1);
            }
            completeAsync(ctx, response, keepAlive, 0, false);
        }));
    }

    private void billing(final ChannelHandlerContext ctx, final FullHttpRequest request, final QueryStringDecoder uri,
        final ApiKey key, final boolean keepAlive)
    {
        final CompletableFuture<FullHttpResponse> answer = billing.handle(request, uri, key);
        if (answer.isDone())
        {
            respond(ctx, answer.join(), keepAlive);
            return;
        }
        busy = true;
        api.inFlight(1);
        answer.whenComplete((response, failure) -> ctx.executor().execute(() -> completeAsync(ctx, failure == null ? response
            : BillingRoutes.error(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal_error", "the billing request failed"),
            keepAlive, 0, false)));
    }

    private void ready(final ChannelHandlerContext ctx, final boolean keepAlive)
    {
        final List<String> reasons = api.notReadyReasons();
        final HttpResponseStatus status = reasons.isEmpty() ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE;
        respond(ctx, Responses.json(ctx.alloc(), status, json ->
        {
            json.writeStartObject();
            json.writeStringField("status", reasons.isEmpty() ? "ready" : "not_ready");
            json.writeArrayFieldStart("reasons");
            for (final String reason : reasons)
            {
                json.writeString(reason);
            }
            json.writeEndArray();
            json.writeEndObject();
        }), keepAlive);
    }

    private void methodNotAllowed(final ChannelHandlerContext ctx, final String allowed, final boolean keepAlive)
    {
        final FullHttpResponse response = Responses.error(ctx.alloc(), HttpResponseStatus.METHOD_NOT_ALLOWED,
            "method_not_allowed", "this route takes " + allowed);
        response.headers().set(HttpHeaderNames.ALLOW, allowed);
        respond(ctx, response, keepAlive);
    }

    /** Answers a request that waited for the journal or the aggregator, then serves any pipelined ones. */
    void completeAsync(final ChannelHandlerContext ctx, final FullHttpResponse response, final boolean keepAlive,
        final long receiptNanos, final boolean ingest)
    {
        api.inFlight(-1);
        if (ingest)
        {
            api.metrics().onIngestAnswered(response.status().code(), receiptNanos);
        }
        busy = false;
        respond(ctx, response, keepAlive);
        FullHttpRequest next;
        while (!busy && (next = waiting.poll()) != null)
        {
            try
            {
                dispatch(ctx, next);
            }
            finally
            {
                next.release();
            }
        }
    }

    private static void respond(final ChannelHandlerContext ctx, final FullHttpResponse response, final boolean keepAlive)
    {
        Responses.setKeepAlive(response, keepAlive);
        if (keepAlive)
        {
            ctx.writeAndFlush(response, ctx.voidPromise());
        }
        else
        {
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
        }
    }

    private static EventParser.CloudEventsBody cloudEventsBody(final String contentType)
    {
        if (contentType == null)
        {
            return null;
        }
        return switch (contentType)
        {
            case "application/cloudevents+json" -> EventParser.CloudEventsBody.SINGLE;
            case "application/cloudevents-batch+json" -> EventParser.CloudEventsBody.BATCH;
            case "application/json" -> EventParser.CloudEventsBody.EITHER;
            default -> null;
        };
    }

    private static String mediaType(final String contentType)
    {
        if (contentType == null)
        {
            return null;
        }
        final int semicolon = contentType.indexOf(';');
        return (semicolon < 0 ? contentType : contentType.substring(0, semicolon)).trim().toLowerCase(Locale.ROOT);
    }

    @Override
    public void userEventTriggered(final ChannelHandlerContext ctx, final Object event) throws Exception
    {
        if (event instanceof IdleStateEvent && !busy)
        {
            ctx.close();
            return;
        }
        super.userEventTriggered(ctx, event);
    }

    @Override
    public void channelInactive(final ChannelHandlerContext ctx) throws Exception
    {
        FullHttpRequest next;
        while ((next = waiting.poll()) != null)
        {
            next.release();
        }
        super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
    {
        if (cause instanceof SSLException || cause instanceof DecoderException
            && (cause.getCause() == null || cause.getCause() instanceof SSLException))
        {
            // a TLS decoder's message may hold a dump of what the client sent, headers and keys included: only types
            LOG.debug("connection {} closed: {}{}", ctx.channel().remoteAddress(), cause.getClass().getSimpleName(),
                cause.getCause() == null ? "" : " caused by " + cause.getCause().getClass().getSimpleName());
        }
        else if (cause instanceof DecoderException && cause.getCause() instanceof IllegalStateException
            && String.valueOf(cause.getCause().getMessage()).startsWith("maxPipelineDepth"))
        {
            LOG.warn("connection {} closed: it pipelined more than {} requests without waiting for answers",
                ctx.channel().remoteAddress(), cause.getCause().getMessage().replaceAll("\\D+", ""));
        }
        else if (cause instanceof DecoderException)
        {
            // thrown by our own handling of a decoded request: a bug, logged with its stack trace
            LOG.error("connection {} failed while handling a request", ctx.channel().remoteAddress(), cause.getCause());
        }
        else if (!(cause instanceof IOException))
        {
            LOG.warn("connection {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        }
        ctx.close();
    }

    /** A usage query that waited longer than the query timeout. */
    private static final class QueryTimeout extends RuntimeException
    {
        private static final long serialVersionUID = 1L;

        QueryTimeout()
        {
            super("timeout", null, false, false);
        }
    }
}
