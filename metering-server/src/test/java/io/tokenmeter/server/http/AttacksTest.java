package io.tokenmeter.server.http;

import io.netty.util.internal.PlatformDependent;
import io.tokenmeter.server.TokenmeterServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The attacks of a client with no key at all, each over raw sockets, each while an authorized client is still served:
 * an unread pipeline, unauthenticated uploads, slowloris, one address taking every slot, and the small protocol
 * abuses. Bound in time: every socket has a read timeout and every loop a count.
 */
class AttacksTest
{
    private static final int READ_TIMEOUT_MS = 10_000;

    @TempDir
    Path dir;

    private final KeyFixture keys = new KeyFixture().add("gateway", "ingest", "acme").add("finance", "read", "*");
    private TokenmeterServer server;

    @AfterEach
    void stop()
    {
        if (server != null)
        {
            server.close();
        }
    }

    private void start(final Map<String, String> extra) throws Exception
    {
        final Map<String, String> settings = new HashMap<>(extra);
        settings.put("keys", keys.write(dir.resolve("keys.yaml")).toString());
        settings.put("data-dir", dir.resolve("data").toString());
        server = TestServer.start(dir, settings);
    }

    private Client authorized()
    {
        return new Client(server.port()).withAuthorization("Bearer " + keys.secret("gateway"));
    }

    private void assertAuthorizedClientServed(final String during)
    {
        final Client.Answer answer = authorized().post("/v1/events", "application/json",
            "{\"id\":\"ok-" + System.nanoTime() + "\",\"tenant\":\"acme\",\"model\":\"m\",\"output_tokens\":1}");
        assertEquals(202, answer.status(), "an authorized client is served during " + during + ": " + answer.body());
    }

    @Test
    void anUnreadPipelineStopsBeingReadAndHoldsBoundedMemory() throws Exception
    {
        start(Map.of());
        final byte[] one = "GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
        final int requests = 390_000;
        final byte[] burst = new byte[one.length * 1000];
        for (int i = 0; i < 1000; i++)
        {
            System.arraycopy(one, 0, burst, i * one.length, one.length);
        }
        final long before = settle(0);
        final long directBefore = directMemory();
        final AtomicLong written = new AtomicLong();
        long directPeak = directBefore;
        long retained;
        try (Socket attacker = new Socket())
        {
            attacker.setReceiveBufferSize(4096);
            attacker.connect(new InetSocketAddress("127.0.0.1", server.port()));
            final Thread writer = new Thread(() ->
            {
                try
                {
                    final OutputStream out = attacker.getOutputStream();
                    for (int i = 0; i < requests / 1000; i++)
                    {
                        out.write(burst);
                        written.addAndGet(burst.length);
                    }
                }
                catch (final IOException closed)
                {
                    // the test closes the socket while the write is blocked
                }
            }, "attacker");
            writer.setDaemon(true);
            writer.start();
            for (int i = 0; i < 30; i++)
            {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
                directPeak = Math.max(directPeak, directMemory());
            }
            retained = settle(0);
            assertAuthorizedClientServed("an unread pipeline");
            // the server stopped reading (the attacker's writes block) or cut the connection off (the HTTP codec
            // refuses more than 128 requests decoded ahead of their answers): either way it took a fraction
            assertTrue(written.get() < (long)requests * one.length / 2, written.get() + " of " + (long)requests * one.length
                + " bytes were taken from a client that reads nothing");
        }
        assertTrue(directPeak - directBefore < 32L << 20, "direct memory grew by " + (directPeak - directBefore) + " bytes");
        assertTrue(retained - before < 32L << 20, "memory held during the attack grew by " + (retained - before)
            + " bytes (the unbounded server grew by 460 MB)");
        final long after = settle(before);
        assertTrue(after - before < 16L << 20, "memory returns after the client leaves: " + (after - before) + " bytes still held");
        assertAuthorizedClientServed("the end");
    }

    @Test
    void unauthenticatedUploadsAreAnswered401BeforeTheirBodiesEnd() throws Exception
    {
        start(Map.of());
        final List<Socket> uploads = new ArrayList<>();
        try
        {
            for (int i = 0; i < 16; i++)
            {
                final Socket upload = connect();
                uploads.add(upload);
                final OutputStream out = upload.getOutputStream();
                out.write(("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                    + (8 << 20) + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                out.write(new byte[16 * 1024]);
                out.flush();
            }
            for (final Socket upload : uploads)
            {
                final String answer = RawHttp.readAnswer(upload.getInputStream());
                assertTrue(answer.startsWith("HTTP/1.1 401"), answer);
                assertTrue(answer.contains("\"error\":\"unauthorized\""), answer);
                assertTrue(answer.toLowerCase().contains("connection: close"), "the unread body closes the connection: " + answer);
            }
            assertAuthorizedClientServed("16 unauthenticated 8 MiB uploads");
        }
        finally
        {
            for (final Socket upload : uploads)
            {
                upload.close();
            }
        }
        // Expect: 100-continue without a key: the refusal, never a 100 Continue
        try (Socket expect = connect())
        {
            expect.getOutputStream().write(("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Expect: 100-continue\r\nContent-Length: " + (8 << 20) + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            final String answer = RawHttp.readAnswer(expect.getInputStream());
            assertTrue(answer.startsWith("HTTP/1.1 401"), "no 100 Continue for a request that will not be read: " + answer);
        }
        // with the key, Expect gets its 100 Continue and then the answer
        try (Socket expect = connect())
        {
            final String body = "{\"id\":\"expect-1\",\"tenant\":\"acme\",\"model\":\"m\"}";
            final OutputStream out = expect.getOutputStream();
            out.write(("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer "
                + keys.secret("gateway") + "\r\nExpect: 100-continue\r\nContent-Length: " + body.length() + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
            final String interim = RawHttp.readHead(expect.getInputStream());
            assertTrue(interim.startsWith("HTTP/1.1 100"), interim);
            out.write(body.getBytes(StandardCharsets.US_ASCII));
            final String answer = RawHttp.readAnswer(expect.getInputStream());
            assertTrue(answer.startsWith("HTTP/1.1 202"), answer);
        }
    }

    @Test
    void slowlorisConnectionsAreClosedByTheHeaderDeadline() throws Exception
    {
        start(Map.of("max-connections", "20", "max-connections-per-address", "20", "header-timeout", "1s",
            "idle-timeout", "60s"));
        final List<Socket> slow = new ArrayList<>();
        try
        {
            for (int i = 0; i < 20; i++)
            {
                final Socket s = connect();
                s.getOutputStream().write('P');
                slow.add(s);
            }
            awaitOpenConnections(20);
            // every slot is taken: a new client is refused
            try (Socket locked = connect())
            {
                assertTrue(RawHttp.readAnswer(locked.getInputStream()).startsWith("HTTP/1.1 503"), "20 slow clients hold every slot");
            }
            // a header byte each 100 ms is never idle; the deadline closes each within about a second anyway
            final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            int closed = 0;
            final byte[] trickle = "OST /v1/events HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".getBytes(StandardCharsets.US_ASCII);
            for (int b = 0; b < trickle.length && closed < slow.size() && System.nanoTime() < until; b++)
            {
                closed = 0;
                for (final Socket s : slow)
                {
                    try
                    {
                        s.getOutputStream().write(trickle[b]);
                    }
                    catch (final IOException gone)
                    {
                        closed++;
                    }
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
            }
            for (final Socket s : slow)
            {
                final String answer = RawHttp.readUntilClosed(s.getInputStream());
                assertTrue(answer.isEmpty() || answer.startsWith("HTTP/1.1 408"), answer);
            }
            assertTrue(RawHttp.readUntilClosed(slow.get(0).getInputStream()).isEmpty(), "closed");
            assertAuthorizedClientServed("and after slowloris");
            final String scrape = new Client(server.port()).withAuthorization("Bearer " + keys.secret("finance")).get("/metrics").body();
            assertTrue(scrape.contains("tokenmeter_http_slow_clients_closed_total 20.0"), scrape.lines()
                .filter(l -> l.contains("slow")).toList().toString());
        }
        finally
        {
            for (final Socket s : slow)
            {
                s.close();
            }
        }
    }

    @Test
    void aSlowBodyIsClosedBelowTheMinimumRate() throws Exception
    {
        start(Map.of("header-timeout", "1s", "min-body-rate", "1KiB"));
        try (Socket slow = connect())
        {
            final OutputStream out = slow.getOutputStream();
            out.write(("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer "
                + keys.secret("gateway") + "\r\nContent-Length: 100000\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            String answer = "";
            for (int i = 0; i < 50 && answer.isEmpty(); i++)
            {
                try
                {
                    out.write(' ');
                }
                catch (final IOException closed)
                {
                    break;
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
                if (slow.getInputStream().available() > 0)
                {
                    answer = RawHttp.readAnswer(slow.getInputStream());
                }
            }
            if (answer.isEmpty())
            {
                answer = RawHttp.readUntilClosed(slow.getInputStream());
            }
            assertTrue(answer.startsWith("HTTP/1.1 408") && answer.contains("min-body-rate"), answer);
        }
        assertAuthorizedClientServed("a slow body");
    }

    @Test
    void oneAddressCannotTakeEverySlot() throws Exception
    {
        start(Map.of("max-connections", "8", "max-connections-per-address", "4"));
        final List<Socket> greedy = new ArrayList<>();
        try
        {
            for (int i = 0; i < 4; i++)
            {
                greedy.add(connect());
            }
            awaitOpenConnections(4);
            try (Socket fifth = connect())
            {
                final String answer = RawHttp.readAnswer(fifth.getInputStream());
                assertTrue(answer.startsWith("HTTP/1.1 503") && answer.contains("max-connections-per-address"), answer);
            }
            // another address still gets in (127.0.0.2 is loopback too)
            try (Socket other = new Socket())
            {
                other.setSoTimeout(READ_TIMEOUT_MS);
                other.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.2"), 0));
                other.connect(new InetSocketAddress("127.0.0.1", server.port()));
                other.getOutputStream().write("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                assertTrue(RawHttp.readAnswer(other.getInputStream()).startsWith("HTTP/1.1 200"));
            }
        }
        finally
        {
            for (final Socket s : greedy)
            {
                s.close();
            }
        }
    }

    @Test
    void smallProtocolAbusesAreRefusedClearly() throws Exception
    {
        start(Map.of("metrics-access", "open"));
        final Client open = new Client(server.port());
        for (final String path : List.of("/health/live", "/health/ready", "/metrics"))
        {
            final Client.Answer answer = open.post(path, "application/json", "{}");
            assertEquals(405, answer.status(), path + " " + answer.body());
            assertEquals("method_not_allowed", answer.json().get("error").asText());
        }
        try (Socket twice = connect())
        {
            twice.getOutputStream().write(("GET /v1/usage?tenant=acme HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                + keys.secret("finance") + "\r\nAuthorization: Bearer " + keys.secret("gateway") + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
            final String answer = RawHttp.readAnswer(twice.getInputStream());
            assertTrue(answer.startsWith("HTTP/1.1 400") && answer.contains("Authorization headers"), answer);
        }
        try (Socket huge = connect())
        {
            huge.getOutputStream().write(("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Authorization: Bearer " + keys.secret("gateway") + "\r\nExpect: 100-continue\r\nContent-Length: 2147483648\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
            final String answer = RawHttp.readAnswer(huge.getInputStream());
            assertTrue(answer.startsWith("HTTP/1.1 413") && answer.contains("\"error\":\"body_too_large\""), answer);
        }
        // a Content-Length that is not a number: 400, closed, nothing leaked (the answer is written and released)
        try (Socket bad = connect())
        {
            bad.getOutputStream().write(("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Content-Length: abc\r\n\r\n{}").getBytes(StandardCharsets.US_ASCII));
            final String answer = RawHttp.readAnswer(bad.getInputStream());
            assertTrue(answer.startsWith("HTTP/1.1 400") && answer.contains("\"error\":\"bad_request\""), answer);
        }
        // a refused Expect: 100-continue with a short body closes: the client may never send the body it was not asked for
        try (Socket expect = connect())
        {
            expect.getOutputStream().write(("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            final String answer = RawHttp.readAnswer(expect.getInputStream());
            assertTrue(answer.startsWith("HTTP/1.1 401") && answer.toLowerCase().contains("connection: close"), answer);
        }
        // a malformed percent-escape in a query is the client's mistake: 400, not 500
        try (Socket escape = connect())
        {
            escape.getOutputStream().write(("GET /v1/usage?tenant=%zz&from=2026-01-01T00:00:00Z HTTP/1.1\r\nHost: x\r\n"
                + "Authorization: Bearer " + keys.secret("finance") + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            final String answer = RawHttp.readAnswer(escape.getInputStream());
            assertTrue(answer.startsWith("HTTP/1.1 400") && answer.contains("\"error\":\"invalid_query\""), answer);
        }
        // a tenant whose name holds an encoded '%': decoded once, so "a%2541" is the tenant "a%41", not "aA"
        final Client finance = new Client(server.port()).withAuthorization("Bearer " + keys.secret("finance"));
        final Client.Answer once = finance.get("/v1/invoices/a%2541/2026-10");
        assertEquals(400, once.status(), once.body());
        assertTrue(once.json().get("message").asText().startsWith("tenant must match"), once.body());
        assertFalse(finance.get("/v1/invoices/acme/2026-10").status() == 400, "a plain tenant is fine");
        assertAuthorizedClientServed("protocol abuses");
    }

    /** Connections are accepted by the server after the client's connect returns: wait until it has them all. */
    private void awaitOpenConnections(final int count)
    {
        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (server.openConnections() < count && System.nanoTime() < until)
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
        }
        assertEquals(count, server.openConnections(), "connections the server has accepted");
    }

    private static long directMemory()
    {
        return Math.max(0, PlatformDependent.usedDirectMemory());
    }

    /** @return heap in use after a collection, plus Netty's direct memory. */
    private static long memoryInUse()
    {
        return directMemory() + ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /** @return memory in use once garbage is collected, waiting up to 5 s for it to come back near {@code target}. */
    private static long settle(final long target)
    {
        long now = Long.MAX_VALUE;
        for (int i = 0; i < (target == 0 ? 1 : 50); i++)
        {
            System.gc();
            now = memoryInUse();
            if (now - target < 16L << 20)
            {
                break;
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
        }
        return now;
    }

    private Socket connect() throws IOException
    {
        final Socket socket = new Socket("127.0.0.1", server.port());
        socket.setSoTimeout(READ_TIMEOUT_MS);
        return socket;
    }
}
