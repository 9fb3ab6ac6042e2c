package io.tokenmeter.benchmarks.load;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
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
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Whole-server reservations per second (SPEC section 12, issue 20). Starts tokenmeter as {@code compare} does (its own
 * JVM, a free loopback port, a fresh data directory, no keys), puts a hard monthly budget far too large to refuse for
 * each tenant, fills each tenant's month so far with usage (one event per model and hour since the 1st), then drives
 * {@code POST /v1/reservations} with unique ids from N kept-alive connections, closed loop, for the measured time. Then,
 * on a second fresh server, the same loop where each granted reservation is followed by the event that settles it
 * ({@code POST /v1/events} with {@code "reservation"}): each such event prices the tenant's month again at its next
 * reservation. Reports completions per second as the median of the 1 s intervals (and their range), and latency
 * p50/p99 of each request kind from send to answer. Everything is bounded in time: the server's start (120 s), each
 * set-up request (10 s), the run (its warm-up and measured time, then 10 s for answers still due).
 */
@Command(name = "reservations", mixinStandardHelpOptions = true,
    description = "Drive POST /v1/reservations against tokenmeter (then reservation + settling event); report reservations/s and latency.")
public final class Reservations implements Callable<Integer>
{
    private static final long HIGHEST_NS = TimeUnit.SECONDS.toNanos(60);
    private static final String[] FILL_MODELS = {"gpt-4o-2024-08-06", "claude-sonnet-4-5", "gemini-2.5-pro", "gpt-4.1",
        "claude-haiku-4-5", "gemini-2.5-flash", "o3", "deepseek-chat", "qwen-plus", "glm-4.6"};

    @Option(names = "--server-jar", defaultValue = "metering-server/target/tokenmeter.jar", description = "tokenmeter's jar")
    Path serverJar;
    @Option(names = "--seconds", defaultValue = "10", description = "measured seconds per loop (default ${DEFAULT-VALUE})")
    int seconds;
    @Option(names = "--warmup-seconds", defaultValue = "3", description = "unmeasured seconds first (default ${DEFAULT-VALUE})")
    int warmupSeconds;
    @Option(names = "--connections", defaultValue = "16", description = "kept-alive connections (default ${DEFAULT-VALUE})")
    int connections;
    @Option(names = "--tenants", defaultValue = "1", description = "tenants with a budget; connection c reserves for tenant c mod this "
        + "(default ${DEFAULT-VALUE})")
    int tenants;
    @Option(names = "--model", defaultValue = "gpt-4o-2024-08-06", description = "the reservations' model (default ${DEFAULT-VALUE})")
    String model;
    @Option(names = "--ttl", defaultValue = "10m", description = "the reservations' ttl (default ${DEFAULT-VALUE}, the server's own)")
    String ttl;
    @Option(names = "--fill-models", defaultValue = "3", description = "models of each tenant's usage so far this month, one event per "
        + "model and hour; 0 for none (default ${DEFAULT-VALUE})")
    int fillModels;
    @Option(names = "--partitions", description = "tokenmeter's partitions (default: the server's default for a new directory)")
    Integer partitions;
    @Option(names = "--durability", defaultValue = "process", description = "tokenmeter's durability: process or sync")
    String durability;
    @Option(names = "--heap", defaultValue = "2g", description = "-Xmx of the server (default ${DEFAULT-VALUE})")
    String heap;
    @Option(names = "--only", description = "one loop only: reserve or settle")
    String only;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    /** What each loop sends per cycle. */
    public enum Loop
    {
        /** A reservation. */
        RESERVE("reserve", "r"),
        /** A reservation, then the event that settles it. */
        SETTLE("reserve+settle", "s");

        final String label;
        /** Starts the loop's reservation ids, so both loops may run on one server. */
        final String idPrefix;

        Loop(final String label, final String idPrefix)
        {
            this.label = label;
            this.idPrefix = idPrefix;
        }
    }

    /** @return a driver of {@code connections} connections over {@code tenants} tenants, as the command line would make it. */
    public static Reservations of(final int connections, final int tenants, final int fillModels, final int warmupSeconds,
        final int seconds)
    {
        final Reservations r = new Reservations();
        r.connections = connections;
        r.tenants = tenants;
        r.fillModels = fillModels;
        r.warmupSeconds = warmupSeconds;
        r.seconds = seconds;
        r.model = "gpt-4o-2024-08-06";
        r.ttl = "10m";
        return r;
    }

    /**
     * One loop's totals, of the cycles completed in the measured time: per 1 s interval, and the latencies and statuses of
     * its reservations and (settle loop) events.
     */
    public record Result(Loop loop, long[] perSecond, Histogram reservationLatency, Map<Integer, Long> reservationStatuses,
        Histogram eventLatency, Map<Integer, Long> eventStatuses, String budgetAfter)
    {
        public double median()
        {
            final long[] sorted = perSecond.clone();
            Arrays.sort(sorted);
            return sorted.length == 0 ? 0 : sorted.length % 2 == 1 ? sorted[sorted.length / 2]
                : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2.0;
        }

        /** @return whether every measured reservation was granted (201) and every settling event accepted (202). */
        public boolean allGranted()
        {
            return reservationStatuses.keySet().equals(Set.of(201))
                && (loop == Loop.RESERVE || eventStatuses.keySet().equals(Set.of(202)));
        }
    }

    @Override
    public Integer call() throws Exception
    {
        if (seconds < 1 || warmupSeconds < 0 || connections < 1 || tenants < 1 || fillModels < 0 || fillModels > FILL_MODELS.length)
        {
            System.err.println("--seconds must be at least 1, --connections and --tenants at least 1, --fill-models 0 to "
                + FILL_MODELS.length);
            return 2;
        }
        boolean ok = true;
        for (final Loop loop : Loop.values())
        {
            if (only != null && !only.equals(loop == Loop.RESERVE ? "reserve" : "settle"))
            {
                continue;
            }
            final Result result = runOnFreshServer(loop);
            print(result);
            ok &= result.allGranted();
        }
        return ok ? 0 : 1;
    }

    private Result runOnFreshServer(final Loop loop) throws Exception
    {
        final Path data = Files.createTempDirectory("tokenmeter-reservations");
        try (ServerProcess server = ServerProcess.tokenmeter(serverJar, data, durability, partitions, heap))
        {
            return run(server.port(), loop);
        }
        finally
        {
            Compare.deleteRecursively(data);
        }
    }

    /** Puts the budgets and fills the months on the server at {@code port}, then runs the loop there. */
    public Result run(final int port, final Loop loop) throws Exception
    {
        prepare(port);
        return drive(port, loop);
    }

    /** The budgets, and each tenant's month so far: one event per model and hour from the 1st (UTC) to this hour. */
    private void prepare(final int port) throws IOException, InterruptedException
    {
        for (int t = 0; t < tenants; t++)
        {
            send(port, "PUT", "/v1/budgets/" + tenant(t), "{\"limit\":\"1000000000.00\",\"period\":\"month\",\"mode\":\"hard\"}", 200);
        }
        final long nowMs = System.currentTimeMillis();
        final ZonedDateTime monthStart = Instant.ofEpochMilli(nowMs).atZone(ZoneOffset.UTC).truncatedTo(ChronoUnit.DAYS)
            .withDayOfMonth(1);
        final long hours = (nowMs - monthStart.toInstant().toEpochMilli()) / 3_600_000L + 1;
        final SplittableRandom random = new SplittableRandom(20);
        int events = 0;
        for (int t = 0; t < tenants; t++)
        {
            final StringBuilder batch = new StringBuilder("[");
            for (int m = 0; m < fillModels; m++)
            {
                for (long h = 0; h < hours; h++)
                {
                    final long timestampMs = Math.min(nowMs, monthStart.toInstant().toEpochMilli() + h * 3_600_000L + random.nextInt(3_600_000));
                    batch.append(batch.length() == 1 ? "" : ",").append("{\"id\":\"fill-").append(t).append('-').append(m).append('-').append(h)
                        .append("\",\"tenant\":\"").append(tenant(t)).append("\",\"model\":\"").append(FILL_MODELS[m])
                        .append("\",\"timestamp\":").append(timestampMs)
                        .append(",\"input_tokens\":").append(1_000_000 + random.nextInt(4_000_000))
                        .append(",\"cache_read_tokens\":").append(random.nextInt(1_000_000))
                        .append(",\"output_tokens\":").append(100_000 + random.nextInt(400_000)).append('}');
                    if (++events % 100 == 0)
                    {
                        send(port, "POST", "/v1/events", batch.append(']').toString(), 202);
                        batch.setLength(1);
                    }
                }
            }
            if (batch.length() > 1)
            {
                send(port, "POST", "/v1/events", batch.append(']').toString(), 202);
            }
        }
        System.out.printf(Locale.ROOT, "%d tenants with a hard budget of 1,000,000,000.00; each with %d models x %d hours of usage "
            + "this month (%d events)%n", tenants, fillModels, hours, events);
    }

    private String send(final int port, final String method, final String path, final String body, final int expected)
        throws IOException, InterruptedException
    {
        final HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .timeout(Duration.ofSeconds(10)).header("Content-Type", "application/json")
            .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body)).build(),
            HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != expected)
        {
            throw new IllegalStateException(method + " " + path + " answered " + response.statusCode() + ", not " + expected + ": "
                + response.body());
        }
        return response.body();
    }

    private static String tenant(final int t)
    {
        return "bench-" + t;
    }

    /** Runs one loop on {@code connections} connections and returns its totals. */
    private Result drive(final int port, final Loop loop) throws Exception
    {
        final boolean epoll = Epoll.isAvailable();
        final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("reservations"),
            epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        final List<Connection> all = new ArrayList<>();
        final long startNs;
        try
        {
            final List<Channel> channels = new ArrayList<>();
            for (int c = 0; c < connections; c++)
            {
                final Connection connection = new Connection(c, loop);
                all.add(connection);
                channels.add(new Bootstrap().group(group).channel(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
                    .option(ChannelOption.TCP_NODELAY, true).option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5_000)
                    .handler(new ChannelInitializer<SocketChannel>()
                    {
                        @Override
                        protected void initChannel(final SocketChannel ch)
                        {
                            ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(1 << 16), connection);
                        }
                    })
                    .connect("127.0.0.1", port).sync().channel());
            }
            startNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
            final long measureFromNs = startNs + TimeUnit.SECONDS.toNanos(warmupSeconds);
            final long measureToNs = measureFromNs + TimeUnit.SECONDS.toNanos(seconds);
            for (int c = 0; c < connections; c++)
            {
                final Connection connection = all.get(c);
                channels.get(c).eventLoop().schedule(() -> connection.begin(measureFromNs, measureToNs),
                    Math.max(0, startNs - System.nanoTime()), TimeUnit.NANOSECONDS);
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
        final long[] perSecond = new long[seconds];
        final Histogram reservationLatency = new Histogram(HIGHEST_NS, 3);
        final Histogram eventLatency = new Histogram(HIGHEST_NS, 3);
        final Map<Integer, Long> reservationStatuses = new TreeMap<>();
        final Map<Integer, Long> eventStatuses = new TreeMap<>();
        for (final Connection connection : all)
        {
            for (int s = 0; s < seconds; s++)
            {
                perSecond[s] += connection.perSecond[s];
            }
            reservationLatency.add(connection.reservationLatency);
            eventLatency.add(connection.eventLatency);
            connection.reservationStatuses.forEach((status, count) -> reservationStatuses.merge(status, count, Long::sum));
            connection.eventStatuses.forEach((status, count) -> eventStatuses.merge(status, count, Long::sum));
        }
        return new Result(loop, perSecond, reservationLatency, reservationStatuses, eventLatency, eventStatuses,
            send(port, "GET", "/v1/budgets/" + tenant(0), null, 200));
    }

    /** One connection's closed loop, on its event loop: a reservation, (settle loop) its event, the next reservation. */
    private final class Connection extends SimpleChannelInboundHandler<FullHttpResponse>
    {
        private final int number;
        private final Loop loop;
        private final String tenant;
        private final SplittableRandom random;
        private final long[] perSecond = new long[seconds];
        private final Histogram reservationLatency = new Histogram(HIGHEST_NS, 3);
        private final Histogram eventLatency = new Histogram(HIGHEST_NS, 3);
        private final Map<Integer, Long> reservationStatuses = new TreeMap<>();
        private final Map<Integer, Long> eventStatuses = new TreeMap<>();
        private ChannelHandlerContext ctx;
        private long measureFromNs;
        private long measureToNs;
        private long seq;
        private boolean awaitingEvent;
        private long sentNs;
        private long cycleStartNs;
        private volatile boolean finished;

        Connection(final int number, final Loop loop)
        {
            this.number = number;
            this.loop = loop;
            this.tenant = tenant(number % tenants);
            this.random = new SplittableRandom(number);
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

        void begin(final long measureFromNs, final long measureToNs)
        {
            this.measureFromNs = measureFromNs;
            this.measureToNs = measureToNs;
            reserve(System.nanoTime());
        }

        private void reserve(final long now)
        {
            seq++;
            cycleStartNs = now;
            post("/v1/reservations", "{\"id\":\"" + reservationId() + "\",\"tenant\":\"" + tenant + "\",\"model\":\""
                + model + "\",\"max_input_tokens\":12000,\"max_output_tokens\":4000,\"ttl\":\"" + ttl + "\"}", now);
        }

        private void settle(final long now)
        {
            awaitingEvent = true;
            post("/v1/events", "{\"id\":\"e-" + reservationId() + "\",\"tenant\":\"" + tenant + "\",\"model\":\"" + model
                + "\",\"input_tokens\":" + (1_000 + random.nextInt(11_000)) + ",\"output_tokens\":" + (100 + random.nextInt(3_900))
                + ",\"reservation\":\"" + reservationId() + "\"}", now);
        }

        private String reservationId()
        {
            return loop.idPrefix + "-" + number + "-" + seq;
        }

        private void post(final String path, final String json, final long now)
        {
            final byte[] body = json.getBytes(StandardCharsets.US_ASCII);
            final FullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, path,
                Unpooled.wrappedBuffer(body));
            request.headers().set(HttpHeaderNames.HOST, "127.0.0.1").set(HttpHeaderNames.CONTENT_TYPE, "application/json")
                .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
            sentNs = now;
            ctx.writeAndFlush(request, ctx.voidPromise());
        }

        @Override
        protected void channelRead0(final ChannelHandlerContext ctx, final FullHttpResponse response)
        {
            final long now = System.nanoTime();
            final int status = response.status().code();
            final boolean measured = cycleStartNs >= measureFromNs && now < measureToNs;
            final boolean wasEvent = awaitingEvent;
            awaitingEvent = false;
            if (measured)
            {
                (wasEvent ? eventLatency : reservationLatency).recordValue(Math.min(Math.max(1, now - sentNs), HIGHEST_NS));
                (wasEvent ? eventStatuses : reservationStatuses).merge(status, 1L, Long::sum);
            }
            if (!wasEvent && loop == Loop.SETTLE && status == 201)
            {
                settle(now);
                return;
            }
            if (measured)
            {
                perSecond[(int)Math.min(seconds - 1, (now - measureFromNs) / 1_000_000_000L)]++;
            }
            if (now < measureToNs)
            {
                reserve(now);
            }
            else
            {
                finished = true;
                ctx.close();
            }
        }

        @Override
        public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
        {
            if (!finished)
            {
                System.err.println("connection " + number + " failed: " + cause);
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
    public void print(final Result r)
    {
        final long total = Arrays.stream(r.perSecond()).sum();
        final String what = r.loop() == Loop.RESERVE ? "reservations/s" : "cycles/s (reservation + settling event)";
        System.out.printf(Locale.ROOT, "%s, %d connections, %d tenants: %,.0f %s, median of %d 1-s intervals (min %,d max %,d; "
                + "mean %,.0f)%n", r.loop().label, connections, tenants, r.median(), what, r.perSecond().length,
            Arrays.stream(r.perSecond()).min().orElse(0), Arrays.stream(r.perSecond()).max().orElse(0), (double)total / seconds);
        System.out.printf(Locale.ROOT, "  POST /v1/reservations latency ms: p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f; statuses %s%n",
            ms(r.reservationLatency(), 50), ms(r.reservationLatency(), 99), ms(r.reservationLatency(), 99.9),
            ms(r.reservationLatency(), 100), r.reservationStatuses());
        if (r.loop() == Loop.SETTLE)
        {
            System.out.printf(Locale.ROOT, "  POST /v1/events (settle) latency ms: p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f; statuses %s%n",
                ms(r.eventLatency(), 50), ms(r.eventLatency(), 99), ms(r.eventLatency(), 99.9), ms(r.eventLatency(), 100),
                r.eventStatuses());
        }
        System.out.println("  budget of " + tenant(0) + " after the loop: " + r.budgetAfter());
        if (!r.allGranted())
        {
            System.out.println("  NOT every request was granted or accepted: the figures include refusals or errors");
        }
    }
}
