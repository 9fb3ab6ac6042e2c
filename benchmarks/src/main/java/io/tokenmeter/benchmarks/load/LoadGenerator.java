package io.tokenmeter.benchmarks.load;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.DefaultThreadFactory;
import org.HdrHistogram.Histogram;
import org.agrona.collections.LongArrayQueue;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Posts realistic ingest traffic over N kept-alive connections and reports events/s, requests/s and the latency
 * distribution. Closed loop ({@code --rate 0}): each connection sends its next request when the previous one is
 * answered, for the highest throughput. Open loop ({@code --rate R}): requests fall due at a constant rate, evenly
 * spaced across the connections, whether or not earlier ones were answered; each connection sends its due requests one
 * at a time, and each latency is measured from the time the request was due, not when it left, which corrects
 * coordinated omission (as wrk2 does). The schedule starts once every connection is open; during the warm-up a
 * request that falls due while its connection still waits is skipped, so no backlog of a cold start reaches the
 * measured time (decision 49).
 */
@Command(name = "loadgen", mixinStandardHelpOptions = true,
    description = "Post realistic ingest traffic and report throughput and latency (text, and JSON with --json).")
public final class LoadGenerator implements Callable<Integer>
{
    private static final long HIGHEST_NS = TimeUnit.SECONDS.toNanos(60);
    /** Most requests waiting in one connection's open-loop queue; beyond it they are counted as not sent. */
    private static final int MAX_QUEUED = 100_000;

    @Option(names = "--url", defaultValue = "http://127.0.0.1:8080/v1/events", description = "where to post (default ${DEFAULT-VALUE})")
    public URI url;
    @Option(names = "--connections", defaultValue = "32", description = "kept-alive connections (default ${DEFAULT-VALUE})")
    public int connections;
    @Option(names = "--threads", defaultValue = "1", description = "event loop threads of the generator (default ${DEFAULT-VALUE})")
    public int threads;
    @Option(names = "--batch", defaultValue = "100", description = "events per request (default ${DEFAULT-VALUE}; 1 sends a bare object)")
    public int batch;
    @Option(names = "--rate", defaultValue = "0", description = "requests per second in all, open loop; 0 = closed loop, as fast as answered")
    public double rate;
    @Option(names = "--duration", defaultValue = "20s", description = "measured time (default ${DEFAULT-VALUE})")
    public String duration;
    @Option(names = "--warmup", defaultValue = "5s", description = "unmeasured time first; in open loop a request falling due here while its connection still "
        + "waits is skipped (default ${DEFAULT-VALUE})")
    public String warmup;
    @Option(names = "--tenants", defaultValue = "10000", description = "distinct tenants, Zipf-distributed (default ${DEFAULT-VALUE})")
    public int tenants;
    @Option(names = "--zipf", defaultValue = "1.1", description = "Zipf exponent of tenant sizes (default ${DEFAULT-VALUE})")
    public double zipf;
    @Option(names = "--retry-share", defaultValue = "0", description = "share of requests that repeat an earlier one (0..1)")
    public double retryShare;
    @Option(names = "--key", description = "API key to send as Authorization: Bearer")
    public String key;
    @Option(names = "--label", defaultValue = "tokenmeter", description = "name of the target in the report")
    public String label;
    @Option(names = "--json", description = "also write the result as JSON to this file")
    public Path json;
    @Option(names = "--seed", defaultValue = "42", description = "traffic seed (default ${DEFAULT-VALUE})")
    public long seed;

    /** Totals of one run; {@code events} are the events of requests answered 202 (accepted or duplicate). */
    public record Result(String label, double seconds, long requests, long events, Map<Integer, Long> statuses, long notSent,
        Histogram latency)
    {
        public double eventsPerSecond()
        {
            return events / seconds;
        }

        public double requestsPerSecond()
        {
            return requests / seconds;
        }
    }

    /** @return a generator of the default traffic (10,000 Zipf(1.1) tenants, no retries) with these settings. */
    public static LoadGenerator of(final URI url, final int connections, final int batch, final double rate, final String duration,
        final String warmup, final String label)
    {
        final LoadGenerator generator = new LoadGenerator();
        generator.url = url;
        generator.connections = connections;
        generator.threads = 1;
        generator.batch = batch;
        generator.rate = rate;
        generator.duration = duration;
        generator.warmup = warmup;
        generator.tenants = 10_000;
        generator.zipf = 1.1;
        generator.retryShare = 0;
        generator.label = label;
        generator.seed = System.nanoTime();
        return generator;
    }

    @Override
    public Integer call() throws Exception
    {
        final Result result = run();
        print(result);
        if (json != null)
        {
            Files.writeString(json, toJson(result));
        }
        return result.requests() > 0 ? 0 : 1;
    }

    /** Runs the load and returns its totals. */
    public Result run() throws InterruptedException
    {
        final long warmupNs = parse(warmup).toNanos();
        final long durationNs = parse(duration).toNanos();
        final boolean epoll = Epoll.isAvailable();
        final EventLoopGroup group = new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory("loadgen"),
            epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        final List<Connection> all = new ArrayList<>();
        try
        {
            final List<Channel> channels = new ArrayList<>();
            for (int c = 0; c < connections; c++)
            {
                final Connection connection = new Connection(c);
                all.add(connection);
                channels.add(new Bootstrap().group(group).channel(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
                    .option(ChannelOption.TCP_NODELAY, true)
                    .handler(new ChannelInitializer<SocketChannel>()
                    {
                        @Override
                        protected void initChannel(final SocketChannel ch)
                        {
                            ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(1 << 20), connection);
                        }
                    })
                    .connect(url.getHost(), url.getPort() < 0 ? 80 : url.getPort()).sync().channel());
            }
            // one collection before the schedule starts, of the setup's garbage and the connections' new templates and
            // buffers: without it the generator's young pauses during runs were 100 to 230 ms (its GC log), and every
            // request due in one was measured late (BENCHMARKS.md, "Journals that park, and the load generator's own
            // pauses")
            System.gc();
            // the schedule starts once every connection is open: connecting 64 one after another takes long enough that
            // a schedule fixed before would find its first requests already late (decision 49)
            final long startNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(200);
            final long measureFromNs = startNs + warmupNs;
            final long measureToNs = measureFromNs + durationNs;
            for (int c = 0; c < connections; c++)
            {
                final Connection connection = all.get(c);
                channels.get(c).eventLoop().execute(() -> connection.begin(startNs, measureFromNs, measureToNs));
            }
            final long endNs = measureToNs + TimeUnit.SECONDS.toNanos(10);
            while (System.nanoTime() < endNs && !all.stream().allMatch(Connection::finished))
            {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
            }
        }
        finally
        {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        final Histogram latency = new Histogram(HIGHEST_NS, 3);
        final Map<Integer, Long> statuses = new TreeMap<>();
        long requests = 0;
        long events = 0;
        long notSent = 0;
        long skippedInWarmup = 0;
        final Histogram sendDelay = new Histogram(HIGHEST_NS, 3);
        for (final Connection connection : all)
        {
            sendDelay.add(connection.sendDelay);
            latency.add(connection.latency);
            connection.statuses.forEach((status, count) -> statuses.merge(status, count, Long::sum));
            requests += connection.measuredRequests;
            events += connection.measuredEvents;
            notSent += connection.notSent;
            skippedInWarmup += connection.skippedInWarmup;
        }
        if (sendDelay.getTotalCount() > 0)
        {
            System.out.printf(Locale.ROOT, "%s: requests left after their due time by ms p50 %.3f p99 %.3f max %.3f (the generator's own lag)%n",
                label, sendDelay.getValueAtPercentile(50) / 1e6, sendDelay.getValueAtPercentile(99) / 1e6, sendDelay.getMaxValue() / 1e6);
        }
        if (skippedInWarmup > 0)
        {
            System.out.printf(Locale.ROOT, "%s: %d warm-up requests skipped (they fell due while their connection still waited)%n",
                label, skippedInWarmup);
        }
        return new Result(label, durationNs / 1e9, requests, events, statuses, notSent, latency);
    }

    private static Duration parse(final String text)
    {
        return io.tokenmeter.server.config.Settings.parseDuration(text);
    }

    /** One connection's traffic, on its event loop. */
    private final class Connection extends SimpleChannelInboundHandler<FullHttpResponse>
    {
        private final Traffic traffic;
        private final Random random;
        private final int number;
        private final long intervalNs;
        private long startNs;
        private long measureFromNs;
        private long measureToNs;
        private final Histogram latency = new Histogram(HIGHEST_NS, 3);
        private final Histogram sendDelay = new Histogram(HIGHEST_NS, 3);
        private final Map<Integer, Long> statuses = new TreeMap<>();
        private final LongArrayQueue dueTimes = new LongArrayQueue(16, Long.MIN_VALUE);
        private final LongArrayQueue queued = new LongArrayQueue(1024, Long.MIN_VALUE);
        private boolean stopSending;
        private final byte[] scratch = new byte[1 << 20];
        private ChannelHandlerContext ctx;
        private long seq;
        private long sentInOpenLoop;
        private long measuredRequests;
        private long measuredEvents;
        private long notSent;
        private long skippedInWarmup;
        private volatile boolean finished;

        Connection(final int number)
        {
            this.number = number;
            this.traffic = new Traffic(Integer.toString(number, 36), batch, tenants, zipf, seed + number);
            this.random = new Random(seed * 31 + number);
            this.intervalNs = rate > 0 ? (long)(1e9 * connections / rate) : 0;
        }

        boolean finished()
        {
            return finished;
        }

        @Override
        public void channelActive(final ChannelHandlerContext ctx)
        {
            this.ctx = ctx;
        }

        /** Starts the schedule; on this connection's event loop, once every connection is open. */
        void begin(final long startNs, final long measureFromNs, final long measureToNs)
        {
            // open loop: connection n's requests fall due n/connections of an interval after connection 0's, so the
            // requests of all connections together arrive evenly spaced, not all connections at once in bursts
            this.startNs = startNs + intervalNs * number / connections;
            this.measureFromNs = measureFromNs;
            this.measureToNs = measureToNs;
            final long delayNs = Math.max(0, this.startNs - System.nanoTime());
            if (intervalNs > 0)
            {
                ctx.executor().schedule(this::sendDue, delayNs, TimeUnit.NANOSECONDS);
            }
            else
            {
                ctx.executor().schedule(() -> send(System.nanoTime()), delayNs, TimeUnit.NANOSECONDS);
            }
        }

        /**
         * Open loop: every request whose due time has come joins this connection's queue; one request is on the wire at a
         * time (no pipelining, as gateways send), and each is measured from its due time, so time spent waiting in the
         * queue counts: coordinated omission is corrected as wrk2 does.
         */
        private void sendDue()
        {
            final long now = System.nanoTime();
            if (finished)
            {
                return;
            }
            while (true)
            {
                final long due = startNs + sentInOpenLoop * intervalNs;
                if (due > now)
                {
                    break;
                }
                if (due >= measureToNs)
                {
                    stopSending = true;
                    break;
                }
                sentInOpenLoop++;
                if (due < measureFromNs && !(dueTimes.isEmpty() && queued.isEmpty()))
                {
                    // warm-up: a request falling due while this connection still waits is skipped, so that no backlog
                    // from a cold start is carried into the measured time (decision 49); measured requests always queue
                    skippedInWarmup++;
                    continue;
                }
                if (due >= measureFromNs)
                {
                    sendDelay.recordValue(Math.min(Math.max(1, now - due), HIGHEST_NS));
                }
                if (queued.size() >= MAX_QUEUED)
                {
                    notSent++;
                    continue;
                }
                queued.addLong(due);
            }
            sendNextQueued();
            if (stopSending)
            {
                finishWhenDrained();
                return;
            }
            // wake exactly when the next request is due: a coarser tick would add its own delay to every latency
            ctx.executor().schedule(this::sendDue, Math.max(0, startNs + sentInOpenLoop * intervalNs - System.nanoTime()),
                TimeUnit.NANOSECONDS);
        }

        private void sendNextQueued()
        {
            if (dueTimes.isEmpty() && !queued.isEmpty())
            {
                send(queued.pollLong());
                ctx.flush();
            }
        }

        private void send(final long dueNs)
        {
            final long request = random.nextDouble() < retryShare && seq > 0 ? (long)(random.nextDouble() * seq) : seq++;
            final int length = traffic.length(request);
            traffic.write(request, scratch, 0);
            final ByteBuf body = ctx.alloc().buffer(length).writeBytes(scratch, 0, length);
            final FullHttpRequest http = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, url.getRawPath(), body);
            http.headers().set(HttpHeaderNames.HOST, url.getHost())
                .set(HttpHeaderNames.CONTENT_TYPE, "application/json")
                .setInt(HttpHeaderNames.CONTENT_LENGTH, length);
            if (key != null)
            {
                http.headers().set(HttpHeaderNames.AUTHORIZATION, "Bearer " + key);
            }
            dueTimes.addLong(dueNs);
            if (intervalNs > 0)
            {
                ctx.write(http, ctx.voidPromise());
            }
            else
            {
                ctx.writeAndFlush(http, ctx.voidPromise());
            }
        }

        @Override
        protected void channelRead0(final ChannelHandlerContext ctx, final FullHttpResponse response)
        {
            final long now = System.nanoTime();
            final long dueNs = dueTimes.pollLong();
            if (dueNs >= measureFromNs && dueNs < measureToNs)
            {
                latency.recordValue(Math.min(Math.max(1, now - dueNs), HIGHEST_NS));
                final int status = response.status().code();
                statuses.merge(status, 1L, Long::sum);
                measuredRequests++;
                if (status == 202)
                {
                    measuredEvents += traffic.eventsPerRequest();
                }
            }
            if (intervalNs == 0)
            {
                if (now < measureToNs)
                {
                    send(now);
                }
                else
                {
                    finishWhenDrained();
                }
            }
            else
            {
                sendNextQueued();
                if (finished && dueTimes.isEmpty() && queued.isEmpty())
                {
                    ctx.close();
                }
            }
        }

        private void finishWhenDrained()
        {
            finished = true;
            if (dueTimes.isEmpty() && queued.isEmpty())
            {
                ctx.close();
            }
        }

        @Override
        public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
        {
            if (!finished)
            {
                System.err.println("connection failed: " + cause);
            }
            finished = true;
            ctx.close();
        }

        @Override
        public void channelInactive(final ChannelHandlerContext ctx)
        {
            finished = true;
        }
    }

    private static double ms(final Histogram h, final double percentile)
    {
        return (percentile >= 100 ? h.getMaxValue() : h.getValueAtPercentile(percentile)) / 1e6;
    }

    /** Prints the result as text. */
    public static void print(final Result r)
    {
        System.out.printf(Locale.ROOT, "%s: %,.0f events/s, %,.0f requests/s over %.1f s; statuses %s%s%n", r.label(),
            r.eventsPerSecond(), r.requestsPerSecond(), r.seconds(), r.statuses(),
            r.notSent() > 0 ? "; " + r.notSent() + " requests not sent (queue full: the target is far slower than the rate)" : "");
        System.out.printf(Locale.ROOT, "%s latency ms: p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f%n", r.label(),
            ms(r.latency(), 50), ms(r.latency(), 99), ms(r.latency(), 99.9), ms(r.latency(), 100));
    }

    /** @return the result as a JSON object. */
    public static String toJson(final Result r)
    {
        final ObjectNode node = new ObjectMapper().createObjectNode();
        node.put("label", r.label()).put("seconds", r.seconds()).put("requests", r.requests()).put("events", r.events())
            .put("events_per_second", r.eventsPerSecond()).put("requests_per_second", r.requestsPerSecond())
            .put("not_sent", r.notSent());
        final ObjectNode statuses = node.putObject("statuses");
        r.statuses().forEach((status, count) -> statuses.put(Integer.toString(status), count));
        final ObjectNode latency = node.putObject("latency_ms");
        latency.put("p50", ms(r.latency(), 50)).put("p99", ms(r.latency(), 99)).put("p99_9", ms(r.latency(), 99.9))
            .put("max", ms(r.latency(), 100)).put("count", r.latency().getTotalCount());
        return node.toPrettyString();
    }
}
