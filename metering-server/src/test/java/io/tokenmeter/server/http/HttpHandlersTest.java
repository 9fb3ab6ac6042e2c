package io.tokenmeter.server.http;

import io.micrometer.core.instrument.Gauge;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpServerCodec;
import io.tokenmeter.billing.invoice.BillingService;
import io.tokenmeter.core.partition.Partitions;
import io.tokenmeter.server.auth.ApiKey;
import io.tokenmeter.server.auth.Keys;
import io.tokenmeter.server.config.Settings;
import io.tokenmeter.server.metrics.ServerMetrics;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The HTTP handlers one at a time, on Netty's {@link EmbeddedChannel}: the router table, the access policy, the gate
 * that decides on the head, the ordering of answers with its back-pressure, and the slow-client deadlines. The whole
 * server over real sockets is {@link AttacksTest} and the other server tests.
 */
class HttpHandlersTest
{
    @TempDir
    Path dir;

    private final ServerMetrics metrics = new ServerMetrics();
    private final AtomicInteger inFlight = new AtomicInteger();

    @AfterEach
    void close()
    {
        metrics.close();
    }

    @Test
    void theRouterMatchesTemplatesAndTellsUnknownPathsFromWrongMethods()
    {
        final Router router = new Router();
        assertEquals(Router.Route.INGEST, router.match("/v1/events", HttpMethod.POST).route());
        assertEquals(Router.Route.USAGE, router.match("/v1/usage?tenant=acme&from=x", HttpMethod.GET).route());
        final Router.Match invoice = router.match("/v1/invoices/acme%2Deu/2026-10", HttpMethod.GET);
        assertEquals(Router.Route.INVOICE, invoice.route());
        assertEquals(List.of("acme-eu", "2026-10"), invoice.parameters(), "parameters are decoded once");
        assertEquals(List.of("a%41", "2026-10"), router.match("/v1/invoices/a%2541/2026-10", HttpMethod.GET).parameters());
        assertEquals(Router.Route.FINALIZE, router.match("/v1/invoices/acme/2026-10/finalize", HttpMethod.POST).route());
        assertEquals(Router.Route.TRACES, router.match("/v1/traces", HttpMethod.POST).route());
        assertEquals("POST", router.match("/v1/traces", HttpMethod.GET).allowed());

        final Router.Match wrongMethod = router.match("/v1/prices", HttpMethod.DELETE);
        assertFalse(wrongMethod.found());
        assertEquals("GET, PUT", wrongMethod.allowed());
        assertEquals("POST", router.match("/v1/invoices/acme/2026-10/finalize", HttpMethod.GET).allowed());
        assertEquals("GET", router.match("/health/live", HttpMethod.POST).allowed());

        for (final String unknown : List.of("/", "/v1", "/v1/events/x", "/v1/invoices/acme", "/v1/invoices//2026-10", "nope",
            "/consolex", "/consoles/x", "/v1/console/"))
        {
            final Router.Match none = router.match(unknown, HttpMethod.GET);
            assertFalse(none.pathKnown(), unknown);
        }
    }

    @Test
    void theConsoleRouteTakesItsFolderAndEverythingBelowIt()
    {
        final Router router = new Router();
        for (final String path : List.of("/console", "/console/", "/console/index.html", "/console/js/pages/usage.js?x=1",
            "/console/../v1/usage", "/console/a/b/c/d/e"))
        {
            assertEquals(Router.Route.CONSOLE, router.match(path, HttpMethod.GET).route(), path);
            assertEquals(List.of(), router.match(path, HttpMethod.GET).parameters(), path);
            assertEquals("GET, HEAD", router.match(path, HttpMethod.POST).allowed(), path);
            assertEquals(Router.Route.CONSOLE, router.match(path, HttpMethod.HEAD).route(), path);
            assertTrue(Router.isOpenPath(path, false), path + " needs no key");
        }
        assertFalse(Router.isOpenPath("/consolex", false));
        assertFalse(Router.isOpenPath("/v1/usage", false));
    }

    @Test
    void theAccessPolicyChecksRoleOnTheHeadAndTenantAfter() throws Exception
    {
        final KeyFixture fixture = new KeyFixture().add("gw", "ingest", "acme").add("fin", "read", "*").add("ro", "read", "acme")
            .add("root", "admin", "*");
        final Keys keys = Keys.load(fixture.write(dir.resolve("keys.yaml")), Duration.ZERO);
        final ApiKey gw = keys.current().authenticate("Bearer " + fixture.secret("gw"));
        final ApiKey fin = keys.current().authenticate("Bearer " + fixture.secret("fin"));
        final ApiKey ro = keys.current().authenticate("Bearer " + fixture.secret("ro"));
        final ApiKey root = keys.current().authenticate("Bearer " + fixture.secret("root"));

        assertNull(AccessPolicy.check(gw, AccessPolicy.Action.POST_EVENTS, null));
        assertNull(AccessPolicy.check(gw, AccessPolicy.Action.POST_EVENTS, "acme"));
        assertTrue(AccessPolicy.check(gw, AccessPolicy.Action.POST_EVENTS, "globex").contains("may not post events for tenant globex"));
        assertTrue(AccessPolicy.check(gw, AccessPolicy.Action.READ_USAGE, null).startsWith("key 'gw' (role ingest, tenants acme)"));
        assertNull(AccessPolicy.check(ro, AccessPolicy.Action.READ_USAGE, null), "a read key may be for the query's tenant");
        assertNull(AccessPolicy.check(ro, AccessPolicy.Action.READ_INVOICE, "acme"));
        assertTrue(AccessPolicy.check(ro, AccessPolicy.Action.READ_INVOICE, "globex").contains("a read key for tenant globex"));
        assertTrue(AccessPolicy.check(ro, AccessPolicy.Action.LIST_INVOICES, null).contains("a read key for every tenant"));
        assertNull(AccessPolicy.check(fin, AccessPolicy.Action.LIST_INVOICES, null));
        assertNull(AccessPolicy.check(fin, AccessPolicy.Action.READ_METRICS, null));
        assertTrue(AccessPolicy.check(fin, AccessPolicy.Action.CHANGE_PRICES, null).endsWith("that needs an admin key"));
        assertNull(AccessPolicy.check(root, AccessPolicy.Action.CHANGE_PRICES, null));
        assertNull(AccessPolicy.check(root, AccessPolicy.Action.POST_EVENTS, "anyone"));
        assertNull(AccessPolicy.check(gw, AccessPolicy.Action.NONE, null));
    }

    @Test
    void aRefusalOnTheHeadIsAnsweredBeforeTheBodyAndClosesTheConnection() throws Exception
    {
        final KeyFixture fixture = new KeyFixture().add("gw", "ingest", "acme");
        final EmbeddedChannel channel = channel(Keys.load(fixture.write(dir.resolve("keys.yaml")), Duration.ZERO), Map.of());
        channel.writeInbound(ascii("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + "Expect: 100-continue\r\nContent-Length: 8388608\r\n\r\n"));
        final String answer = readOutbound(channel);
        assertTrue(answer.startsWith("HTTP/1.1 401 Unauthorized"), answer);
        assertTrue(answer.contains("connection: close"), answer);
        assertFalse(answer.contains("100 Continue"), "no 100 Continue for a request that will not be read");
        // an embedded channel cannot half-close, so it closes at once (over TCP: output first, then a linger, AttacksTest)
        assertFalse(channel.isOpen(), "the body is never read");
        channel.finishAndReleaseAll();
    }

    @Test
    void aKeyedRequestGetsItsContinueAndShortRefusedBodiesKeepTheConnection() throws Exception
    {
        final KeyFixture fixture = new KeyFixture().add("gw", "ingest", "acme");
        final EmbeddedChannel channel = channel(Keys.load(fixture.write(dir.resolve("keys.yaml")), Duration.ZERO), Map.of());
        channel.writeInbound(ascii("PUT /v1/prices HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + fixture.secret("gw")
            + "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"));
        final String forbidden = readOutbound(channel);
        assertTrue(forbidden.startsWith("HTTP/1.1 403") && forbidden.contains("may not change prices"), forbidden);
        assertFalse(forbidden.contains("connection: close"), "a short declared body is skipped: " + forbidden);
        channel.writeInbound(ascii("POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + fixture.secret("gw")
            + "\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc"));
        final String unsupported = readOutbound(channel);
        assertTrue(unsupported.startsWith("HTTP/1.1 415"), unsupported);
        assertTrue(channel.isActive());
        channel.finishAndReleaseAll();
    }

    @Test
    void answersKeepTheirOrderAndAFullPipelineStopsReading()
    {
        final EmbeddedChannel channel = channel(Keys.open(), Map.of("max-pipelined", "2", "metrics-access", "open"));
        // a scrape answers later (on the metrics thread); the health checks behind it wait their turn. The scrape is
        // held on a gauge until the test has looked, so that a fast scrape cannot answer before the checks below
        final CountDownLatch scrapeMayEnd = new CountDownLatch(1);
        Gauge.builder("test.held.scrape", () -> awaited(scrapeMayEnd)).register(metrics.registry());
        channel.writeInbound(ascii("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
            + "GET /health/live HTTP/1.1\r\nHost: x\r\n\r\nGET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"));
        assertNull(readOutbound(channel), "nothing is answered ahead of the scrape");
        assertFalse(channel.config().isAutoRead(), "two requests wait: the connection is not read");
        assertEquals(1, inFlight.get());
        scrapeMayEnd.countDown();
        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        String answers = null;
        while (answers == null && System.nanoTime() < until)
        {
            channel.runPendingTasks();
            answers = readOutbound(channel);
        }
        assertTrue(answers != null && answers.startsWith("HTTP/1.1 200") && answers.contains("tokenmeter_"), answers);
        final int scrapeEnd = answers.lastIndexOf("tokenmeter_");
        final int live = answers.indexOf("{\"status\":\"live\"}");
        assertTrue(live > scrapeEnd && answers.indexOf("{\"status\":\"live\"}", live + 1) > live, "the scrape first, then both");
        assertTrue(channel.config().isAutoRead(), "reading resumes once the pipeline drains");
        assertEquals(0, inFlight.get());
        channel.finishAndReleaseAll();
    }

    @Test
    void headersTrickledPastTheDeadlineAreAnswered408()
    {
        final EmbeddedChannel channel = channel(Keys.open(), Map.of("header-timeout", "1s"));
        channel.freezeTime();
        channel.writeInbound(ascii("GET /health/li"));
        for (int i = 0; i < 3; i++)
        {
            channel.advanceTimeBy(300, TimeUnit.MILLISECONDS);
            channel.writeInbound(ascii("v"));
            channel.runScheduledPendingTasks();
        }
        assertNull(readOutbound(channel), "within the deadline");
        channel.advanceTimeBy(300, TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();
        final String answer = readOutbound(channel);
        assertTrue(answer.startsWith("HTTP/1.1 408") && answer.contains("header-timeout"), answer);
        channel.runPendingTasks();
        assertFalse(channel.isOpen(), "the connection is closed");
        channel.finishAndReleaseAll();
    }

    @Test
    void aTimedOutHeadIsAnsweredAfterTheRequestBeforeIt()
    {
        final EmbeddedChannel channel = channel(Keys.open(), Map.of("header-timeout", "1s", "metrics-access", "open"));
        channel.freezeTime();
        // a scrape answers later; behind it, a head that never ends
        channel.writeInbound(ascii("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
        channel.writeInbound(ascii("GET /health/li"));
        channel.advanceTimeBy(1500, TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();
        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        String answers = "";
        while (!answers.contains("408") && System.nanoTime() < until)
        {
            channel.runPendingTasks();
            final String more = readOutbound(channel);
            answers += more == null ? "" : more;
        }
        assertTrue(answers.startsWith("HTTP/1.1 200") && answers.contains("HTTP/1.1 408"),
            "the scrape's answer first, then the 408: " + answers.substring(0, Math.min(200, answers.length())));
        channel.finishAndReleaseAll();
    }

    @Test
    void lineBreaksBetweenRequestsDoNotStartTheHeaderDeadline()
    {
        final EmbeddedChannel channel = channel(Keys.open(), Map.of("header-timeout", "1s"));
        channel.freezeTime();
        channel.writeInbound(ascii("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"));
        assertTrue(readOutbound(channel).startsWith("HTTP/1.1 200"));
        channel.writeInbound(ascii("\r\n"));
        channel.advanceTimeBy(3, TimeUnit.SECONDS);
        channel.runScheduledPendingTasks();
        assertNull(readOutbound(channel), "a CRLF between requests is not a slow request");
        assertTrue(channel.isOpen());
        channel.finishAndReleaseAll();
    }

    @Test
    void aBodyAtTheMinimumRateIsReadAndASlowerOneIs408()
    {
        final EmbeddedChannel channel = channel(Keys.open(), Map.of("header-timeout", "1s", "min-body-rate", "100"));
        channel.freezeTime();
        channel.writeInbound(ascii("PUT /v1/prices HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"));
        for (int i = 0; i < 8; i++)
        {
            channel.advanceTimeBy(250, TimeUnit.MILLISECONDS);
            channel.writeInbound(ascii("x".repeat(30)));
            channel.runScheduledPendingTasks();
        }
        assertNull(readOutbound(channel), "120 bytes a second is above 100");
        for (int i = 0; i < 8; i++)
        {
            channel.advanceTimeBy(250, TimeUnit.MILLISECONDS);
            channel.runScheduledPendingTasks();
        }
        final String answer = readOutbound(channel);
        assertTrue(answer.startsWith("HTTP/1.1 408") && answer.contains("min-body-rate"), answer);
        channel.finishAndReleaseAll();
    }

    private EmbeddedChannel channel(final Keys keys, final Map<String, String> extra)
    {
        final Map<String, String> values = new HashMap<>(Map.of("data-dir", dir.resolve("data").toString()));
        values.putAll(extra);
        final Settings settings = Settings.of(values);
        final ApiContext api = new ApiContext()
        {
            @Override
            public Settings settings()
            {
                return settings;
            }

            @Override
            public Partitions partitions()
            {
                throw new AssertionError("these tests do not reach a partition");
            }

            @Override
            public ServerMetrics metrics()
            {
                return metrics;
            }

            @Override
            public Keys keys()
            {
                return keys;
            }

            @Override
            public BillingService billing()
            {
                return null;
            }

            @Override
            public io.tokenmeter.billing.price.PriceBookRevisions priceRevisions()
            {
                throw new AssertionError("these tests do not reach the price book's revisions");
            }

            @Override
            public Budgets budgets()
            {
                throw new AssertionError("these tests do not reach budgets");
            }

            @Override
            public java.util.concurrent.Executor lineEventReaders()
            {
                throw new AssertionError("these tests do not reach the line-event readers");
            }

            @Override
            public boolean ingestReady()
            {
                return true;
            }

            @Override
            public List<String> notReadyReasons()
            {
                return List.of();
            }

            @Override
            public void inFlight(final int delta)
            {
                inFlight.addAndGet(delta);
            }
        };
        final SlowClientGuard guard = new SlowClientGuard(settings.headerTimeout.toNanos(), settings.minBodyBytesPerSecond, metrics);
        return new EmbeddedChannel(guard, new HttpServerCodec(),
            new RequestGate(api, new Router(), new Authenticator(keys, metrics), guard), new ApiHandler(api, ConsoleFiles.load()));
    }

    /** @return 1 once the latch is open (at most 10 s), for a gauge that holds a scrape. */
    private static double awaited(final CountDownLatch latch)
    {
        try
        {
            return latch.await(10, TimeUnit.SECONDS) ? 1 : 0;
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return 0;
        }
    }

    private static ByteBuf ascii(final String text)
    {
        return Unpooled.copiedBuffer(text, StandardCharsets.ISO_8859_1);
    }

    /** @return everything written so far (an answer's head and body may be separate buffers), or null when nothing. */
    private static String readOutbound(final EmbeddedChannel channel)
    {
        final StringBuilder all = new StringBuilder();
        for (Object next; (next = channel.readOutbound()) != null; )
        {
            all.append(text(next));
        }
        return all.length() == 0 ? null : all.toString();
    }

    private static String text(final Object outbound)
    {
        assertTrue(outbound instanceof ByteBuf, "an encoded answer: " + outbound);
        final ByteBuf bytes = (ByteBuf)outbound;
        try
        {
            return bytes.toString(StandardCharsets.ISO_8859_1);
        }
        finally
        {
            bytes.release();
        }
    }
}
