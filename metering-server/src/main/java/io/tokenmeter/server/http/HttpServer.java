package io.tokenmeter.server.http;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;
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
 * The listening socket and the per-connection pipeline, one duty per handler:
 *
 * <pre>
 *   tls?  ->  limit (ConnectionLimit, shared)  ->  idle  ->  deadlines (SlowClientGuard)  ->  codec (HttpServerCodec)
 *         ->  gate (RequestGate: route, key, access, length on the head; gathers admitted bodies)
 *         ->  api (ApiHandler: answers in order, one route class per area, back-pressure)
 * </pre>
 *
 * The web console's static files are read once here, at start, and shared by every connection.
 */
public final class HttpServer implements AutoCloseable
{
    private static final int MAX_INITIAL_LINE = 8192;
    /** Answers queued beyond this many bytes unwritten stop the connection being read, until they drain below the low mark. */
    private static final int WRITE_HIGH_WATER = 64 * 1024;
    private static final int WRITE_LOW_WATER = 32 * 1024;

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
        final var settings = api.settings();
        final long idleSeconds = settings.idleTimeout.toSeconds();
        final int maxHeaderBytes = settings.maxHeaderBytes;
        final long headerTimeoutNanos = settings.headerTimeout.toNanos();
        final Router router = new Router();
        final ConsoleFiles console = ConsoleFiles.load();
        connectionLimit = new ConnectionLimit(settings.maxConnections, settings.maxConnectionsPerAddress, api.metrics());
        serverChannel = new ServerBootstrap()
            .group(acceptGroup, ioGroup)
            .channel(channelClass)
            .option(ChannelOption.SO_BACKLOG, 1024)
            .childOption(ChannelOption.TCP_NODELAY, true)
            .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(WRITE_LOW_WATER, WRITE_HIGH_WATER))
            .childHandler(new ChannelInitializer<SocketChannel>()
            {
                @Override
                protected void initChannel(final SocketChannel ch)
                {
                    if (tls != null)
                    {
                        ch.pipeline().addLast("tls", tls.newHandler(ch.alloc()));
                    }
                    final SlowClientGuard guard = new SlowClientGuard(headerTimeoutNanos, settings.minBodyBytesPerSecond, api.metrics());
                    ch.pipeline()
                        .addLast("limit", connectionLimit)
                        .addLast("idle", new IdleStateHandler(0, 0, idleSeconds, TimeUnit.SECONDS))
                        .addLast("deadlines", guard)
                        .addLast("codec", new HttpServerCodec(MAX_INITIAL_LINE, maxHeaderBytes, 65536))
                        .addLast("gate", new RequestGate(api, router, new Authenticator(api.keys(), api.metrics()), guard))
                        .addLast("api", new ApiHandler(api, console));
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
}
