package io.tokenmeter.server.http;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.DefaultThreadFactory;

import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/** The listening socket and the per-connection pipeline: codec, body limit, idle timeout, {@link ApiHandler}. */
public final class HttpServer implements AutoCloseable
{
    private static final int MAX_INITIAL_LINE = 8192;
    private static final int MAX_HEADER_BYTES = 16384;

    private final EventLoopGroup acceptGroup;
    private final EventLoopGroup ioGroup;
    private final Channel serverChannel;

    public HttpServer(final ApiContext api, final String bind, final int port, final int ioThreads) throws InterruptedException
    {
        final boolean epoll = Epoll.isAvailable();
        final var ioHandler = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        acceptGroup = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("http-accept"), ioHandler);
        ioGroup = new MultiThreadIoEventLoopGroup(
            ioThreads == 0 ? Runtime.getRuntime().availableProcessors() : ioThreads, new DefaultThreadFactory("http-io"), ioHandler);
        final Class<? extends ServerSocketChannel> channelClass = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        final int maxBodyBytes = api.settings().maxBodyBytes;
        final long idleSeconds = api.settings().idleTimeout.toSeconds();
        serverChannel = new ServerBootstrap()
            .group(acceptGroup, ioGroup)
            .channel(channelClass)
            .option(ChannelOption.SO_BACKLOG, 1024)
            .childOption(ChannelOption.TCP_NODELAY, true)
            .childHandler(new ChannelInitializer<SocketChannel>()
            {
                @Override
                protected void initChannel(final SocketChannel ch)
                {
                    ch.pipeline()
                        .addLast("idle", new IdleStateHandler(0, 0, idleSeconds, TimeUnit.SECONDS))
                        .addLast("codec", new HttpServerCodec(MAX_INITIAL_LINE, MAX_HEADER_BYTES, 65536))
                        .addLast("aggregate", new BodyLimit(maxBodyBytes))
                        .addLast("api", new ApiHandler(api));
                }
            })
            .bind(new InetSocketAddress(bind, port))
            .sync()
            .channel();
    }

    public int port()
    {
        return ((InetSocketAddress)serverChannel.localAddress()).getPort();
    }

    /** Stops accepting connections; open ones keep being served until {@link #close()}. */
    public void stopAccepting()
    {
        serverChannel.close().syncUninterruptibly();
    }

    @Override
    public void close()
    {
        stopAccepting();
        acceptGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        ioGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** Aggregates bodies up to the limit and answers a larger one with a JSON 413. */
    private static final class BodyLimit extends HttpObjectAggregator
    {
        private final int maxBodyBytes;

        BodyLimit(final int maxBodyBytes)
        {
            super(maxBodyBytes);
            this.maxBodyBytes = maxBodyBytes;
        }

        @Override
        protected void handleOversizedMessage(final ChannelHandlerContext ctx, final HttpMessage oversized)
        {
            final FullHttpResponse response = Responses.error(ctx.alloc(), HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
                "body_too_large", "the body exceeds " + maxBodyBytes + " bytes; split the batch");
            response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
        }
    }
}
