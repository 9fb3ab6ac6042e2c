package io.tokenmeter.server.http;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import io.tokenmeter.server.metrics.ServerMetrics;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Bounds the open connections. A connection beyond the limit gets a 503 with {@code Retry-After} and is closed; what
 * it sends meanwhile is dropped unread. Shared by every connection; the count is the only shared state.
 */
@ChannelHandler.Sharable
final class ConnectionLimit extends ChannelInboundHandlerAdapter
{
    private static final AttributeKey<Boolean> REFUSED = AttributeKey.valueOf("tokenmeter.refused");

    private final int max;
    private final ServerMetrics metrics;
    private final AtomicInteger open = new AtomicInteger();

    ConnectionLimit(final int max, final ServerMetrics metrics)
    {
        this.max = max;
        this.metrics = metrics;
    }

    int open()
    {
        return open.get();
    }

    @Override
    public void channelActive(final ChannelHandlerContext ctx) throws Exception
    {
        if (open.incrementAndGet() > max)
        {
            ctx.channel().attr(REFUSED).set(Boolean.TRUE);
            metrics.onConnectionRefused();
            final FullHttpResponse response = Responses.retryLater(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE,
                "too_many_connections", "the server has " + max + " connections open, its limit; retry after a pause "
                    + "or reuse a kept-alive connection", 1);
            response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            ctx.channel().writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        super.channelActive(ctx);
    }

    @Override
    public void channelRead(final ChannelHandlerContext ctx, final Object msg) throws Exception
    {
        if (ctx.channel().hasAttr(REFUSED))
        {
            ReferenceCountUtil.release(msg);
            return;
        }
        super.channelRead(ctx, msg);
    }

    @Override
    public void channelInactive(final ChannelHandlerContext ctx) throws Exception
    {
        open.decrementAndGet();
        super.channelInactive(ctx);
    }
}
