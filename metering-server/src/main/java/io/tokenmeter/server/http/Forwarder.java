package io.tokenmeter.server.http;

import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;

/**
 * Sends a per-tenant request (usage, invoices and their events, budgets, credits, reservations) that this cluster node
 * does not serve to the node that owns the tenant's partition, and gives back that node's answer (SPEC section 10:
 * any node takes any request). The request goes as it came, with the client's own {@code Authorization}: the owner
 * authenticates it and checks its access itself, so forwarding widens no key's reach. It carries {@link #HOP_HEADER}
 * naming this node, and a request that carries it is never forwarded again: an owner that has lost the partition
 * meanwhile answers 503 {@code partition_unavailable}, which comes back to the client as the answer.
 *
 * <p>One per server, on the JDK's HTTP client (keep-alive connections per owner); at most {@link #MAX_IN_FLIGHT}
 * forwards at once, each bounded by a timeout. Any thread.
 */
public final class Forwarder
{
    /** Names the node that forwarded a request; a request with it is answered where it arrives. */
    public static final String HOP_HEADER = "X-Tokenmeter-Forwarded-By";
    /** On a forwarded answer: the URL of the node that answered it. */
    public static final String ANSWERED_BY_HEADER = "X-Tokenmeter-Answered-By";
    static final int MAX_IN_FLIGHT = 1024;
    private static final List<String> REQUEST_HEADERS = List.of("Authorization", "Content-Type", "Accept");
    private static final List<String> ANSWER_HEADERS = List.of("Content-Type", "Retry-After", "WWW-Authenticate",
        "Content-Disposition", "Cache-Control");

    private final String nodeId;
    private final Duration timeout;
    private final HttpClient client;
    private final Semaphore slots = new Semaphore(MAX_IN_FLIGHT);

    /** @param timeout how long a forwarded request may take in all, connection included. */
    public Forwarder(final String nodeId, final Duration timeout)
    {
        this.nodeId = nodeId;
        this.timeout = timeout;
        this.client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(2))
            .build();
    }

    /** @return true when {@code request} came from another node: it is answered here, never forwarded again. */
    static boolean forwarded(final ApiRequest request)
    {
        return request.http.headers().contains(HOP_HEADER);
    }

    /**
     * Sends {@code request} to {@code ownerUrl}, the node the owners group names as the owner of {@code partition}.
     *
     * @return the owner's answer; 503 {@code partition_unavailable} when it cannot be reached in time, or too many
     *     forwards are under way. Never completes exceptionally.
     */
    CompletableFuture<FullHttpResponse> forward(final ApiRequest request, final String ownerUrl, final int partition)
    {
        final String to = "partition " + partition + "'s owner at " + ownerUrl;
        if (!slots.tryAcquire())
        {
            return CompletableFuture.completedFuture(refusal("this node is forwarding " + MAX_IN_FLIGHT + " requests "
                + "already; nothing was sent to " + to + ": retry shortly", request));
        }
        final byte[] body = ByteBufUtil.getBytes(request.http.content());
        final HttpRequest.Builder out = HttpRequest.newBuilder(URI.create(ownerUrl + request.http.uri())).timeout(timeout)
            .header(HOP_HEADER, nodeId)
            .method(request.http.method().name(), body.length == 0 ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofByteArray(body));
        for (final String name : REQUEST_HEADERS)
        {
            final String value = request.http.headers().get(name);
            if (value != null)
            {
                out.header(name, value);
            }
        }
        final CompletableFuture<HttpResponse<byte[]>> sent;
        try
        {
            sent = client.sendAsync(out.build(), HttpResponse.BodyHandlers.ofByteArray());
        }
        catch (final IllegalArgumentException badUrl)
        {
            slots.release();
            return CompletableFuture.completedFuture(refusal(to + " cannot be asked (" + badUrl.getMessage() + ")", request));
        }
        return sent.handle((answer, failure) ->
        {
            slots.release();
            if (failure != null)
            {
                final Throwable cause = failure.getCause() != null ? failure.getCause() : failure;
                return refusal("forwarding to " + to + " failed (" + cause.getClass().getSimpleName()
                    + (cause.getMessage() == null ? "" : ": " + cause.getMessage()) + ")", request);
            }
            return copy(answer, ownerUrl);
        });
    }

    private static FullHttpResponse copy(final HttpResponse<byte[]> answer, final String ownerUrl)
    {
        final FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
            HttpResponseStatus.valueOf(answer.statusCode()), Unpooled.wrappedBuffer(answer.body()));
        for (final String name : ANSWER_HEADERS)
        {
            answer.headers().firstValue(name).ifPresent(value -> response.headers().set(name, value));
        }
        response.headers().set(ANSWERED_BY_HEADER, ownerUrl);
        response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, answer.body().length);
        return response;
    }

    private static FullHttpResponse refusal(final String why, final ApiRequest request)
    {
        final boolean reads = request.http.method().equals(HttpMethod.GET) || request.http.method().equals(HttpMethod.HEAD);
        final FullHttpResponse response = BillingRoutes.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "partition_unavailable",
            why + (reads ? "; retry" : "; the owner may have done it before the failure: look before you retry"));
        response.headers().set(HttpHeaderNames.RETRY_AFTER, 1);
        return response;
    }
}
