package io.tokenmeter.server.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.concurrent.ScheduledFuture;
import io.tokenmeter.server.metrics.ServerMetrics;

import java.util.concurrent.TimeUnit;

/**
 * Frees the slots of slow clients: the request line and headers must arrive within {@code header-timeout} of their
 * first byte, and a body, once its head is in, at {@code min-body-rate} bytes a second on average (after a grace of
 * one header timeout). Either failing is answered 408 and the connection closed. The idle timeout alone cannot do
 * this: a client sending a byte a second is never idle.
 *
 * <p>Sits before the HTTP codec and counts raw bytes; {@link RequestGate} tells it where each request's head and body
 * end. Time stops while the server itself is not reading the connection (back-pressure), so a client is never
 * blamed for the server's pause. One per connection, on its event loop.
 */
final class SlowClientGuard extends ChannelInboundHandlerAdapter
{
    private static final long TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(250);

    private enum State
    {
        /** Waiting for the first byte of a request: the idle timeout's business. */
        WAITING,
        HEAD,
        BODY,
        /** The connection is closing: nothing more is timed. */
        OFF
    }

    private final long headerTimeoutNanos;
    private final long minBodyBytesPerSecond;
    private final ServerMetrics metrics;
    private ChannelHandlerContext ctx;
    private State state = State.WAITING;
    private long startedNanos;
    private long bodyBytes;
    private ScheduledFuture<?> tick;

    SlowClientGuard(final long headerTimeoutNanos, final long minBodyBytesPerSecond, final ServerMetrics metrics)
    {
        this.headerTimeoutNanos = headerTimeoutNanos;
        this.minBodyBytesPerSecond = minBodyBytesPerSecond;
        this.metrics = metrics;
    }

    @Override
    public void handlerAdded(final ChannelHandlerContext ctx)
    {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(final ChannelHandlerContext ctx, final Object msg) throws Exception
    {
        if (msg instanceof ByteBuf bytes)
        {
            if (state == State.WAITING && startsRequest(bytes))
            {
                state = State.HEAD;
                startedNanos = now();
                schedule();
            }
            else if (state == State.BODY)
            {
                bodyBytes += bytes.readableBytes();
            }
        }
        super.channelRead(ctx, msg);
    }

    /** @return whether the bytes hold more than the CR and LF a client may send between requests (HTTP/1.1 allows them). */
    private static boolean startsRequest(final ByteBuf bytes)
    {
        for (int i = bytes.readerIndex(), end = bytes.writerIndex(); i < end; i++)
        {
            final byte b = bytes.getByte(i);
            if (b != '\r' && b != '\n')
            {
                return true;
            }
        }
        return false;
    }

    /** The gate has a request's head; its body, if any, is timed from here. */
    void headReceived()
    {
        if (state != State.OFF)
        {
            state = State.BODY;
            startedNanos = now();
            bodyBytes = 0;
            schedule();
        }
    }

    /** The gate has the whole request: the next one is timed from its first byte. */
    void requestReceived()
    {
        if (state != State.OFF)
        {
            state = State.WAITING;
        }
    }

    /** The connection is closing after an answer: stop timing it. */
    void stop()
    {
        state = State.OFF;
        cancel();
    }

    private void schedule()
    {
        if (tick == null && ctx != null)
        {
            tick = ctx.executor().scheduleAtFixedRate(this::check, TICK_NANOS, TICK_NANOS, TimeUnit.NANOSECONDS);
        }
    }

    private void cancel()
    {
        if (tick != null)
        {
            tick.cancel(false);
            tick = null;
        }
    }

    private void check()
    {
        final long now = now();
        if (!ctx.channel().config().isAutoRead())
        {
            // the server stopped reading: the client cannot be slow meanwhile
            startedNanos = now;
            bodyBytes = 0;
            return;
        }
        final long elapsed = now - startedNanos;
        switch (state)
        {
            case HEAD ->
            {
                if (elapsed > headerTimeoutNanos)
                {
                    timeOut("the request line and headers did not arrive within "
                        + TimeUnit.NANOSECONDS.toMillis(headerTimeoutNanos) + " ms of their first byte (header-timeout)");
                }
            }
            case BODY ->
            {
                if (elapsed > headerTimeoutNanos && bodyBytes * 1_000_000_000L / elapsed < minBodyBytesPerSecond)
                {
                    timeOut("the body arrived at " + bodyBytes * 1_000_000_000L / elapsed + " bytes/s, under the "
                        + minBodyBytesPerSecond + " of min-body-rate");
                }
            }
            case WAITING, OFF -> cancel();
        }
    }

    /**
     * Answers 408 in the request's turn: the answer goes up the pipeline as a refused request (the codec passes it on),
     * so an earlier request still being answered gets its answer first; then the connection is closed.
     */
    private void timeOut(final String why)
    {
        stop();
        metrics.onSlowClientClosed();
        final FullHttpResponse response = Responses.error(ctx.alloc(), HttpResponseStatus.REQUEST_TIMEOUT, "request_timeout",
            why + "; the connection is closed");
        ctx.fireChannelRead(ApiRequest.refused(null, response, false, true, System.nanoTime()));
    }

    private long now()
    {
        return ctx.executor().ticker().nanoTime();
    }

    @Override
    public void channelInactive(final ChannelHandlerContext ctx) throws Exception
    {
        stop();
        super.channelInactive(ctx);
    }
}
