package io.tokenmeter.benchmarks.reference;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.FastThreadLocal;
import io.tokenmeter.server.json.EventParser;
import io.tokenmeter.server.json.ParseOutcome;
import org.agrona.ExpandableArrayBuffer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The baselines every throughput figure is compared with, on the same Netty pipeline as tokenmeter's (HTTP codec,
 * body aggregation, one event loop per core): {@code accept} answers 202 without reading the body; {@code parse} runs
 * tokenmeter's own parser and validation on it and answers 202, with no journal, dedup, log or counting behind it.
 */
@Command(name = "reference", mixinStandardHelpOptions = true,
    description = "Run a reference server: accept (202 without reading the body) or parse (tokenmeter's parser only).")
public final class ReferenceServer implements Callable<Integer>, AutoCloseable
{
    /** What the reference does with a request. */
    public enum Mode
    {
        accept, parse
    }

    @Option(names = "--mode", required = true, description = "accept or parse")
    Mode mode;
    @Option(names = "--port", defaultValue = "8081", description = "port on 127.0.0.1 (default ${DEFAULT-VALUE}; 0 picks one)")
    int port;
    @Option(names = "--io-threads", defaultValue = "0", description = "event loops (0 = cores, as tokenmeter)")
    int ioThreads;

    private EventLoopGroup group;
    private Channel channel;

    public ReferenceServer()
    {
    }

    public ReferenceServer(final Mode mode, final int port)
    {
        this.mode = mode;
        this.port = port;
    }

    @Override
    public Integer call() throws Exception
    {
        start();
        System.out.println("reference server (" + mode + ") on http://127.0.0.1:" + port() + "/v1/events");
        final CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
        stop.await();
        return 0;
    }

    /** Binds and serves; returns at once. */
    public ReferenceServer start() throws InterruptedException
    {
        final boolean epoll = Epoll.isAvailable();
        group = new MultiThreadIoEventLoopGroup(ioThreads == 0 ? Runtime.getRuntime().availableProcessors() : ioThreads,
            new DefaultThreadFactory("reference-io"), epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        final ChannelHandler handler = mode == Mode.accept ? new Accept() : new Parse();
        channel = new ServerBootstrap().group(group).channel(epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
            .option(ChannelOption.SO_BACKLOG, 1024)
            .childOption(ChannelOption.TCP_NODELAY, true)
            .childHandler(new ChannelInitializer<SocketChannel>()
            {
                @Override
                protected void initChannel(final SocketChannel ch)
                {
                    ch.pipeline().addLast(new HttpServerCodec(8192, 16384, 65536), new HttpObjectAggregator(8 << 20), handler);
                }
            })
            .bind(new InetSocketAddress("127.0.0.1", port)).sync().channel();
        return this;
    }

    public int port()
    {
        return ((InetSocketAddress)channel.localAddress()).getPort();
    }

    @Override
    public void close()
    {
        channel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private static FullHttpResponse answer(final HttpResponseStatus status, final String json)
    {
        final FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
            Unpooled.wrappedBuffer(json.getBytes(StandardCharsets.US_ASCII)));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json")
            .setInt(HttpHeaderNames.CONTENT_LENGTH, response.content().readableBytes());
        return response;
    }

    /** 202 without reading the body. */
    @ChannelHandler.Sharable
    private static final class Accept extends SimpleChannelInboundHandler<FullHttpRequest>
    {
        @Override
        protected void channelRead0(final ChannelHandlerContext ctx, final FullHttpRequest request)
        {
            ctx.write(answer(HttpResponseStatus.ACCEPTED, "{\"accepted\":0,\"duplicates\":0,\"conflicts\":0}"), ctx.voidPromise());
        }

        @Override
        public void channelReadComplete(final ChannelHandlerContext ctx)
        {
            ctx.flush();
        }
    }

    /** tokenmeter's parser and validation, then 202. */
    @ChannelHandler.Sharable
    private static final class Parse extends SimpleChannelInboundHandler<FullHttpRequest>
    {
        private static final FastThreadLocal<EventParser> PARSER = new FastThreadLocal<>()
        {
            @Override
            protected EventParser initialValue()
            {
                return new EventParser();
            }
        };
        private static final FastThreadLocal<ExpandableArrayBuffer> STAGED = new FastThreadLocal<>()
        {
            @Override
            protected ExpandableArrayBuffer initialValue()
            {
                return new ExpandableArrayBuffer(1 << 16);
            }
        };

        @Override
        protected void channelRead0(final ChannelHandlerContext ctx, final FullHttpRequest request)
        {
            final EventParser parser = PARSER.get();
            final ParseOutcome outcome = parser.parse(request.content(), false, System.currentTimeMillis(),
                300_000, 10_000, STAGED.get());
            ctx.write(outcome == ParseOutcome.OK
                ? answer(HttpResponseStatus.ACCEPTED, "{\"accepted\":" + parser.eventCount() + ",\"duplicates\":0,\"conflicts\":0}")
                : answer(HttpResponseStatus.BAD_REQUEST, "{\"error\":\"" + outcome + "\"}"), ctx.voidPromise());
        }

        @Override
        public void channelReadComplete(final ChannelHandlerContext ctx)
        {
            ctx.flush();
        }
    }
}
