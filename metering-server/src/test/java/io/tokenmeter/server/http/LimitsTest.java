package io.tokenmeter.server.http;

import io.tokenmeter.server.TokenmeterServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Connection, header and idle limits, over raw sockets so that the test controls every byte. */
class LimitsTest
{
    @TempDir
    Path dir;

    private TokenmeterServer server;
    private final List<Socket> sockets = new ArrayList<>();

    @AfterEach
    void stop() throws IOException
    {
        for (final Socket socket : sockets)
        {
            socket.close();
        }
        if (server != null)
        {
            server.close();
        }
    }

    private Socket connect() throws IOException
    {
        final Socket socket = new Socket();
        sockets.add(socket);
        socket.connect(new InetSocketAddress("127.0.0.1", server.port()), 5000);
        socket.setSoTimeout(10_000);
        return socket;
    }

    /** Sends one request and reads one whole answer (headers and Content-Length body). */
    private static String exchange(final Socket socket, final String request) throws IOException
    {
        socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
        socket.getOutputStream().flush();
        return RawHttp.readAnswer(socket.getInputStream());
    }

    private static String get(final String path, final String extraHeaders)
    {
        return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extraHeaders + "\r\n";
    }

    @Test
    void connectionsBeyondTheLimitAreAnswered503AndClosed() throws Exception
    {
        server = TestServer.start(dir, Map.of("data-dir", dir.resolve("data").toString(), "max-connections", "2",
            "max-connections-per-address", "2"));
        final Socket first = connect();
        final Socket second = connect();
        assertTrue(exchange(first, get("/health/live", "")).startsWith("HTTP/1.1 200"));
        assertTrue(exchange(second, get("/health/live", "")).startsWith("HTTP/1.1 200"));

        final Socket third = connect();
        final String refused = RawHttp.readAnswer(third.getInputStream());
        assertTrue(refused.startsWith("HTTP/1.1 503"), refused);
        assertTrue(refused.contains("too_many_connections") && refused.toLowerCase().contains("retry-after: 1"), refused);
        assertEquals(-1, third.getInputStream().read(), "the refused connection is closed");

        first.close();
        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        String answer = "";
        while (System.nanoTime() < until)
        {
            answer = exchange(connect(), get("/health/live", ""));
            if (answer.startsWith("HTTP/1.1 200"))
            {
                break;
            }
            LockSupport.parkNanos(20_000_000);
        }
        assertTrue(answer.startsWith("HTTP/1.1 200"), "a place freed by a closed connection is taken again: " + answer);
        final String metrics = exchange(second, get("/metrics", ""));
        final java.util.regex.Matcher refusals = java.util.regex.Pattern.compile("tokenmeter_http_connections_refused_total (\\d+)")
            .matcher(metrics);
        assertTrue(refusals.find() && Integer.parseInt(refusals.group(1)) >= 1, "refusals are counted");
    }

    @Test
    void headersBeyondTheLimitAre431() throws Exception
    {
        server = TestServer.start(dir, Map.of("data-dir", dir.resolve("data").toString(), "max-header-bytes", "2048"));
        final String fits = exchange(connect(), get("/health/live", "X-Padding: " + "a".repeat(1500) + "\r\n"));
        assertTrue(fits.startsWith("HTTP/1.1 200"), fits);
        final String tooLarge = exchange(connect(), get("/health/live", "X-Padding: " + "a".repeat(3000) + "\r\n"));
        assertTrue(tooLarge.startsWith("HTTP/1.1 431"), tooLarge);
        assertTrue(tooLarge.contains("\"error\":\"headers_too_large\"") && tooLarge.contains("2048 bytes"), tooLarge);
        final String longLine = exchange(connect(), get("/health/live?" + "q".repeat(9000), ""));
        assertTrue(longLine.startsWith("HTTP/1.1 414"), longLine);
    }

    @Test
    void idleConnectionsAreClosed() throws Exception
    {
        server = TestServer.start(dir, Map.of("data-dir", dir.resolve("data").toString(), "idle-timeout", "1s"));
        final Socket idle = connect();
        assertTrue(exchange(idle, get("/health/live", "")).startsWith("HTTP/1.1 200"));
        final long before = System.nanoTime();
        assertEquals(-1, idle.getInputStream().read(), "closed by the server, before the 10 s read timeout");
        assertTrue(System.nanoTime() - before >= TimeUnit.MILLISECONDS.toNanos(500), "not before it was idle");
    }
}
