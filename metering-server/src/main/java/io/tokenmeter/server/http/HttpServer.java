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
import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.DefaultThreadFactory;

import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;

import javax.net.ssl.SSLException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The listening socket and the per-connection pipeline: TLS (when configured), idle timeout, codec with header limits,
 * body limit, connection limit, {@link ApiHandler}.
 */
public final class HttpServer implements AutoCloseable
{
    private static final int MAX_INITIAL_LINE = 8192;

    private final EventLoopGroup acceptGroup;
    private final EventLoopGroup ioGroup;
    private final Channel serverChannel;
    private final ConnectionLimit connectionLimit;

    /**
     * @param tls the server's TLS context, or null for plain HTTP.
     */
    public HttpServer(final ApiContext api, final SslContext tls, final String bind, final int port, final int ioThreads)
        throws InterruptedException
    {
        final boolean epoll = Epoll.isAvailable();
        final var ioHandler = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        acceptGroup = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("http-accept"), ioHandler);
        ioGroup = new MultiThreadIoEventLoopGroup(
            ioThreads == 0 ? Runtime.getRuntime().availableProcessors() : ioThreads, new DefaultThreadFactory("http-io"), ioHandler);
        final Class<? extends ServerSocketChannel> channelClass = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        final int maxBodyBytes = api.settings().maxBodyBytes;
        final long idleSeconds = api.settings().idleTimeout.toSeconds();
        final int maxHeaderBytes = api.settings().maxHeaderBytes;
        connectionLimit = new ConnectionLimit(api.settings().maxConnections, api.metrics());
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
                    if (tls != null)
                    {
                        ch.pipeline().addLast("tls", tls.newHandler(ch.alloc()));
                    }
                    ch.pipeline()
                        .addLast("idle", new IdleStateHandler(0, 0, idleSeconds, TimeUnit.SECONDS))
                        .addLast("codec", new HttpServerCodec(MAX_INITIAL_LINE, maxHeaderBytes, 65536))
                        .addLast("aggregate", new BodyLimit(maxBodyBytes))
                        .addLast("limit", connectionLimit)
                        .addLast("api", new ApiHandler(api));
                }
            })
            .bind(new InetSocketAddress(bind, port))
            .sync()
            .channel();
    }

    /**
     * @return the server side of HTTPS: TLS 1.3 and 1.2 only, with the JDK's provider.
     * @throws IllegalArgumentException when the files cannot be read as a PEM certificate chain and PKCS#8 key.
     */
    public static SslContext tlsContext(final Path certificateChain, final Path privateKey)
    {
        try
        {
            return SslContextBuilder.forServer(certificateChain.toFile(), privateKey.toFile())
                .sslProvider(SslProvider.JDK)
                .protocols("TLSv1.3", "TLSv1.2")
                .build();
        }
        catch (final SSLException | RuntimeException ex)
        {
            throw new IllegalArgumentException(ex.getMessage(), ex);
        }
    }

    /** @return connections open now. */
    public int openConnections()
    {
        return connectionLimit.open();
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

    /**
     * Aggregates bodies up to the limit and answers a larger one with a JSON 413. As Netty's own aggregator does, a
     * kept-alive connection stays open while the rest of the oversized body is read and discarded, so the client reads
     * the 413 instead of a reset; otherwise the connection is closed after the answer.
     */
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
            if (oversized instanceof FullHttpMessage || !HttpUtil.isKeepAlive(oversized))
            {
                response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
                return;
            }
            HttpUtil.setKeepAlive(response, true);
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
        }
    }
}
