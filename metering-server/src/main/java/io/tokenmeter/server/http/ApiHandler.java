package io.tokenmeter.server.http;

import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLException;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Answers the requests of one connection in order, each by its route. Runs on the connection's event loop.
 *
 * <p>One request is answered at a time; a route may answer at once or later (the journal, the aggregator, billing,
 * a scrape), or stream its answer in chunks from another thread (the events behind an invoice line), which stays the
 * request being answered until its last chunk. Pipelined requests behind it wait here, at most {@code max-pipelined}: beyond that, and whenever the
 * connection's answers cannot be written as fast as they are made (Netty's write-buffer high water mark), the
 * connection is not read, so a client that sends without reading costs a bounded amount of memory.
 *
 * <p>A refused request (decided by {@link RequestGate} on its head) is answered in its turn too. When its body was
 * not read the connection is closed after the answer: the output side first, then, after a short linger that drops
 * whatever the client still sends, the whole connection, so that the client reads the answer instead of a reset.
 */
final class ApiHandler extends ChannelInboundHandlerAdapter implements Answers
{
    private static final Logger LOG = LoggerFactory.getLogger(ApiHandler.class);
    /** How long a connection refused mid-upload is drained after its answer before it is closed. */
    static final long LINGER_MS = 2_000;

    private final ApiContext api;
    private final int maxPipelined;
    private final IngestRoute ingest;
    private final TracesRoute traces;
    private final UsageRoute usage;
    private final BillingRoutes billing;
    private final LineEventsRoute lineEvents;
    private final CreditRoutes credits;
    private final BudgetRoutes budgets;
    private final OperatorRoutes operator;
    private final ConsoleRoute console;
    private final ArrayDeque<ApiRequest> waiting = new ArrayDeque<>();
    private ChannelHandlerContext ctx;
    /** The request being answered, or null. */
    private ApiRequest current;
    /** Whether {@link #current} left its route unanswered (counted in flight until answered). */
    private boolean currentAsync;
    private boolean serving;
    /** Whether the streamed answer being written ends by closing the connection. */
    private boolean streamCloses;
    private boolean closing;

    /** @param console the web console's files, loaded once at start and shared by every connection. */
    ApiHandler(final ApiContext api, final ConsoleFiles console)
    {
        this.api = api;
        this.maxPipelined = api.settings().maxPipelined;
        this.ingest = new IngestRoute(api);
        this.traces = new TracesRoute(api);
        this.usage = new UsageRoute(api);
        this.billing = new BillingRoutes(api);
        this.lineEvents = new LineEventsRoute(api);
        this.credits = new CreditRoutes(api);
        this.budgets = new BudgetRoutes(api);
        this.operator = new OperatorRoutes(api);
        this.console = new ConsoleRoute(console);
    }

    @Override
    public void handlerAdded(final ChannelHandlerContext ctx)
    {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(final ChannelHandlerContext ctx, final Object msg)
    {
        if (!(msg instanceof ApiRequest request))
        {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (closing)
        {
            request.release();
            return;
        }
        waiting.add(request);
        serve();
    }

    /** Starts the waiting requests in order while none is being answered and answers can be written. */
    private void serve()
    {
        if (serving)
        {
            return;
        }
        serving = true;
        try
        {
            ApiRequest next;
            while (current == null && !closing && ctx.channel().isWritable() && (next = waiting.poll()) != null)
            {
                start(next);
            }
        }
        finally
        {
            serving = false;
        }
        updateReading();
    }

    private void start(final ApiRequest request)
    {
        current = request;
        currentAsync = false;
        if (request.isRefused())
        {
            answer(request, request.refusal);
            return;
        }
        try
        {
            switch (request.route)
            {
                case INGEST, CLOUD_EVENTS -> ingest.handle(ctx, request, this);
                case TRACES -> traces.handle(ctx, request, this);
                case USAGE -> usage.handle(ctx, request, this);
                case INVOICE_LISTING, INVOICE, FINALIZE, MARGINS, PRICES, PRICES_CHANGE, PRICE_REVISIONS, PRICE_REVISION ->
                    later(request, billing.handle(request));
                case LINE_EVENTS -> lineEvents.handle(ctx, request, this);
                case CREDITS, CREDIT_GRANT -> later(request, credits.handle(request));
                case BUDGET, BUDGET_SET, BUDGET_ALERTS, RESERVE, RESERVATION, RESERVATION_RELEASE ->
                    later(request, budgets.handle(request));
                case LIVE -> operator.live(ctx, request, this);
                case READY -> operator.ready(ctx, request, this);
                case METRICS -> operator.metrics(ctx, request, this);
                case CLUSTER -> operator.cluster(ctx, request, this);
                case CONSOLE -> console.handle(ctx, request, this);
            }
        }
        catch (final RuntimeException ex)
        {
            LOG.error("unexpected failure answering {} {}", request.http.method(), Router.rawPath(request.http.uri()), ex);
            if (current == request)
            {
                answer(request, Responses.error(ctx.alloc(), HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal_error",
                    "the server failed to answer; the failure is logged"));
            }
        }
        if (current == request)
        {
            currentAsync = true;
            api.inFlight(1);
        }
    }

    /** Answers a route whose answer comes from another thread (billing, a journal), on this connection's event loop. */
    private void later(final ApiRequest request, final CompletableFuture<FullHttpResponse> answer)
    {
        if (answer.isDone())
        {
            answer(request, answer.join());
            return;
        }
        answer.whenComplete((response, failure) -> ctx.executor().execute(() -> answer(request, failure == null ? response
            : BillingRoutes.error(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal_error", "the billing request failed"))));
    }

    /** Event loop only; once per request, in order: the routes answer {@link #current}. */
    @Override
    public void answer(final ApiRequest request, final FullHttpResponse response)
    {
        assert request == current : "answers keep the order of requests";
        if (currentAsync)
        {
            api.inFlight(-1);
        }
        current = null;
        if (request.route != null && request.route.isIngest())
        {
            api.metrics().onIngestAnswered(response.status().code(), request.receiptNanos);
        }
        ReferenceCountUtil.release(request.http);
        if (!ctx.channel().isActive())
        {
            response.release();
            return;
        }
        write(response, request);
        serve();
    }

    @Override
    public void startStream(final ApiRequest request, final HttpResponse head)
    {
        assert request == current : "answers keep the order of requests";
        if (!ctx.channel().isActive())
        {
            return;
        }
        // a body without chunks (to an HTTP/1.0 client) ends where the connection does
        streamCloses = !request.keepAlive || !HttpUtil.isTransferEncodingChunked(head);
        if (streamCloses)
        {
            head.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        ctx.writeAndFlush(head, ctx.voidPromise());
    }

    @Override
    public void endStream(final ApiRequest request, final boolean whole)
    {
        assert request == current : "answers keep the order of requests";
        if (currentAsync)
        {
            api.inFlight(-1);
        }
        current = null;
        ReferenceCountUtil.release(request.http);
        if (!ctx.channel().isActive())
        {
            return;
        }
        if (!whole)
        {
            closing = true;
            ctx.close();
            return;
        }
        if (!streamCloses)
        {
            ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT, ctx.voidPromise());
            serve();
            return;
        }
        closing = true;
        ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(ChannelFutureListener.CLOSE);
    }

    private void write(final FullHttpResponse response, final ApiRequest request)
    {
        if (request.keepAlive)
        {
            ctx.writeAndFlush(response, ctx.voidPromise());
            return;
        }
        response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        closing = true;
        final ChannelFuture written = ctx.writeAndFlush(response);
        if (request.close && ctx.channel() instanceof DuplexChannel duplex && ctx.pipeline().get(SslHandler.class) == null)
        {
            // the body was not read: half-close so the client reads the answer, then drop what it still sends
            written.addListener(f -> duplex.shutdownOutput());
            ctx.channel().config().setAutoRead(true);
            ctx.executor().schedule(() -> ctx.close(), LINGER_MS, TimeUnit.MILLISECONDS);
        }
        else
        {
            written.addListener(ChannelFutureListener.CLOSE);
        }
    }

    /** Reads the connection only while answers can be written and the pipeline of waiting requests has room. */
    private void updateReading()
    {
        if (closing)
        {
            return;
        }
        final boolean read = ctx.channel().isWritable() && waiting.size() < maxPipelined;
        if (ctx.channel().config().isAutoRead() != read)
        {
            ctx.channel().config().setAutoRead(read);
            api.metrics().onReadingPaused(!read);
        }
    }

    @Override
    public void channelWritabilityChanged(final ChannelHandlerContext ctx) throws Exception
    {
        serve();
        super.channelWritabilityChanged(ctx);
    }

    @Override
    public void userEventTriggered(final ChannelHandlerContext ctx, final Object event) throws Exception
    {
        if (event instanceof IdleStateEvent && current == null)
        {
            ctx.close();
            return;
        }
        super.userEventTriggered(ctx, event);
    }

    @Override
    public void channelInactive(final ChannelHandlerContext ctx) throws Exception
    {
        ApiRequest next;
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
            // the codec's own bound (128 requests decoded ahead of their answers): beyond max-pipelined, in one read
            LOG.warn("connection {} closed: it pipelined more than {} requests without reading the answers",
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
}
