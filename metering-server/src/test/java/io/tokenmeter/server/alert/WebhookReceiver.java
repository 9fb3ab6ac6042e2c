package io.tokenmeter.server.alert;

import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.IntUnaryOperator;

/**
 * A real webhook receiver for tests: the JDK's HTTP server on 127.0.0.1, recording every request it is sent and
 * answering the n-th (from 1) with {@code status.applyAsInt(n)}.
 */
final class WebhookReceiver implements AutoCloseable
{
    /** One request as received. */
    record Received(String method, String path, Map<String, List<String>> headers, byte[] body)
    {
        /** @return the first value of the header {@code name}, any case, or null. */
        String header(final String name)
        {
            return headers.entrySet().stream()
                .filter(e -> e.getKey().equalsIgnoreCase(name) && !e.getValue().isEmpty())
                .map(e -> e.getValue().get(0))
                .findFirst().orElse(null);
        }
    }

    private final HttpServer server;
    private final List<Received> received = new CopyOnWriteArrayList<>();

    private WebhookReceiver(final HttpServer server)
    {
        this.server = server;
    }

    /** Answers every request 200. */
    static WebhookReceiver ok() throws IOException
    {
        return start(0, n -> 200, null);
    }

    /** Answers the first {@code failures} requests {@code failStatus}, then 200. */
    static WebhookReceiver failingFirst(final int failures, final int failStatus) throws IOException
    {
        return start(0, n -> n <= failures ? failStatus : 200, null);
    }

    /**
     * @param port     the port, 0 for any free one.
     * @param location sent as the Location header when not null.
     */
    static WebhookReceiver start(final int port, final IntUnaryOperator status, final String location) throws IOException
    {
        final HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 16);
        final WebhookReceiver receiver = new WebhookReceiver(server);
        server.createContext("/", exchange ->
        {
            final byte[] body;
            try (InputStream in = exchange.getRequestBody())
            {
                body = in.readAllBytes();
            }
            receiver.received.add(new Received(exchange.getRequestMethod(), exchange.getRequestURI().getPath(),
                Map.copyOf(exchange.getRequestHeaders()), body));
            if (location != null)
            {
                exchange.getResponseHeaders().add("Location", location);
            }
            exchange.sendResponseHeaders(status.applyAsInt(receiver.received.size()), -1);
            exchange.close();
        });
        server.start();
        return receiver;
    }

    String url(final String path)
    {
        return "http://127.0.0.1:" + server.getAddress().getPort() + path;
    }

    int port()
    {
        return server.getAddress().getPort();
    }

    List<Received> received()
    {
        return received;
    }

    @Override
    public void close()
    {
        server.stop(0);
    }
}
