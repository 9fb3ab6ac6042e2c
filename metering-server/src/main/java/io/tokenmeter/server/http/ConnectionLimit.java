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

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Bounds the open connections: {@code max-connections} in all and {@code max-connections-per-address} from any one
 * client address, so that one address cannot take every slot. A connection beyond either gets a 503 with
 * {@code Retry-After} and is closed; what it sends meanwhile is dropped unread. Shared by every connection.
 */
@ChannelHandler.Sharable
final class ConnectionLimit extends ChannelInboundHandlerAdapter
{
    private static final AttributeKey<Boolean> REFUSED = AttributeKey.valueOf("tokenmeter.refused");
    private static final AttributeKey<InetAddress> COUNTED = AttributeKey.valueOf("tokenmeter.address");

    private final int max;
    private final int maxPerAddress;
    private final ServerMetrics metrics;
    private final AtomicInteger open = new AtomicInteger();
    private final ConcurrentHashMap<InetAddress, Integer> openByAddress = new ConcurrentHashMap<>();

    ConnectionLimit(final int max, final int maxPerAddress, final ServerMetrics metrics)
    {
        this.max = max;
        this.maxPerAddress = maxPerAddress;
        this.metrics = metrics;
    }

    int open()
    {
        return open.get();
    }

    @Override
    public void channelActive(final ChannelHandlerContext ctx) throws Exception
    {
        final boolean overall = open.incrementAndGet() > max;
        final InetAddress address = addressOf(ctx.channel().remoteAddress());
        boolean fromAddress = false;
        if (address != null)
        {
            ctx.channel().attr(COUNTED).set(address);
            fromAddress = openByAddress.merge(address, 1, Integer::sum) > maxPerAddress;
        }
        if (overall || fromAddress)
        {
            ctx.channel().attr(REFUSED).set(Boolean.TRUE);
            metrics.onConnectionRefused();
            final FullHttpResponse response = overall
                ? Responses.retryLater(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE, "too_many_connections",
                    "the server has " + max + " connections open, its limit; retry after a pause or reuse a kept-alive "
                        + "connection", 1)
                : Responses.retryLater(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE, "too_many_connections",
                    "this address has " + maxPerAddress + " connections open, the max-connections-per-address limit; "
                        + "reuse a kept-alive connection", 1);
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
        final InetAddress address = ctx.channel().attr(COUNTED).getAndSet(null);
        if (address != null)
        {
            openByAddress.computeIfPresent(address, (a, count) -> count == 1 ? null : count - 1);
        }
        super.channelInactive(ctx);
    }

    private static InetAddress addressOf(final SocketAddress remote)
    {
        return remote instanceof InetSocketAddress inet ? inet.getAddress() : null;
    }
}
