package io.tokenmeter.server.http;

import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;

/**
 * Sends a per-tenant request (usage, invoices, budgets, credits, reservations) that this cluster node does not serve to
 * the node that owns the tenant's partition, and gives back that node's answer; an ingest request's shares owned
 * elsewhere to their owners ({@link #forwardEvents}), whose counts {@link IngestRequest} sums; and an answer across
 * tenants to the owners of the partitions this node does not serve ({@link #forwardShare}), whose shares
 * {@link AcrossPartitions} merges (SPEC section 10: any node takes any request). The request goes as it came, with the client's own {@code Authorization}: the owner
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
    /**
     * On a request forwarded by another node (with {@link #HOP_HEADER}): the partitions whose shares the owner is asked
     * to take (ingest) or to answer for (the finance listing, margins), {@code 0,3}; the other shares are the
     * forwarding node's or other owners'.
     */
    public static final String PARTITIONS_HEADER = "X-Tokenmeter-Forwarded-Partitions";
    /** On a forwarded answer: the URL of the node that answered it. */
    public static final String ANSWERED_BY_HEADER = "X-Tokenmeter-Answered-By";
    static final int MAX_IN_FLIGHT = 1024;
    private static final List<String> REQUEST_HEADERS = List.of("Authorization", "Content-Type", "Accept");
    private static final List<String> ANSWER_HEADERS = List.of("Content-Type", "Retry-After", "WWW-Authenticate",
        "Content-Disposition", "Cache-Control");

    private final String nodeId;
    private final Duration timeout;
    private final HttpClient client;
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();
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
     * @return the partitions a forwarding node asks this node to take the shares of, or null when this node takes
     *     every share (a client's request; or one whose list is malformed, so its shares owned elsewhere are refused
     *     here, never dropped).
     */
    static java.util.BitSet askedPartitions(final ApiRequest request)
    {
        final String list = forwarded(request) ? request.http.headers().get(PARTITIONS_HEADER) : null;
        if (list == null)
        {
            return null;
        }
        final java.util.BitSet asked = new java.util.BitSet();
        for (final String item : list.split(",", -1))
        {
            if (item.isEmpty() || item.length() > 4 || !item.chars().allMatch(c -> c >= '0' && c <= '9'))
            {
                return null;
            }
            asked.set(Integer.parseInt(item));
        }
        return asked;
    }

    /**
     * The owner's answer to the shares forwarded to it: its counts, or its refusal of them.
     *
     * @param refusal null when the owner took the shares (202), with the counts summed over them.
     */
    record EventsAnswer(int accepted, int duplicates, int conflicts, Refusal refusal)
    {
    }

    /** Why the owner (or the way to it) refused forwarded shares; answered to the client with the request's wording. */
    record Refusal(HttpResponseStatus status, String error, String message, String retryAfter)
    {
        /** @param what what happened to the client's request, e.g. "nothing was accepted". */
        FullHttpResponse answer(final io.netty.buffer.ByteBufAllocator alloc, final String what)
        {
            final FullHttpResponse response = Responses.error(alloc, status, error, message + "; " + what);
            if (retryAfter != null)
            {
                response.headers().set(HttpHeaderNames.RETRY_AFTER, retryAfter);
            }
            return response;
        }
    }

    /**
     * Sends an ingest request whole to {@code ownerUrl} with the partitions whose shares it is to take. The owner
     * parses and validates it again (the same code, so the same verdict), takes the named shares and answers their
     * counts; a request it answers otherwise is a refusal of those shares. Never completes exceptionally.
     */
    CompletableFuture<EventsAnswer> forwardEvents(final ApiRequest request, final byte[] body, final String ownerUrl,
        final java.util.BitSet partitions)
    {
        final String to = "partition" + (partitions.cardinality() == 1 ? " " : "s ") + partitions.toString()
            .replaceAll("[{} ]", "") + "'s share was forwarded to its owner at " + ownerUrl;
        if (!slots.tryAcquire())
        {
            return CompletableFuture.completedFuture(new EventsAnswer(0, 0, 0, new Refusal(HttpResponseStatus.SERVICE_UNAVAILABLE,
                "partition_unavailable", to.replace("was forwarded", "could not be forwarded") + ": this node is "
                    + "forwarding " + MAX_IN_FLIGHT + " requests already; retry shortly", "1")));
        }
        final HttpRequest.Builder out = outgoing(request, ownerUrl)
            .header(PARTITIONS_HEADER, partitions.toString().replaceAll("[{} ]", ""))
            .POST(HttpRequest.BodyPublishers.ofByteArray(body));
        for (final String name : List.of("Content-Encoding", "ce-specversion", "ce-id", "ce-source", "ce-type"))
        {
            final String value = request.http.headers().get(name);
            if (value != null)
            {
                out.header(name, value);
            }
        }
        return client.sendAsync(out.build(), HttpResponse.BodyHandlers.ofByteArray()).handle((answer, failure) ->
        {
            slots.release();
            if (failure != null)
            {
                final Throwable cause = failure.getCause() != null ? failure.getCause() : failure;
                return new EventsAnswer(0, 0, 0, new Refusal(HttpResponseStatus.SERVICE_UNAVAILABLE, "partition_unavailable",
                    to + " and failed (" + cause.getClass().getSimpleName() + (cause.getMessage() == null ? ""
                        : ": " + cause.getMessage()) + "): the owner may have taken it, and a retry of the whole request "
                        + "is exact (what went in comes back as duplicates)", "1"));
            }
            return eventsAnswer(answer, to);
        });
    }

    private static EventsAnswer eventsAnswer(final HttpResponse<byte[]> answer, final String to)
    {
        try
        {
            final com.fasterxml.jackson.databind.JsonNode json = JSON.readTree(answer.body());
            if (answer.statusCode() == 202)
            {
                return new EventsAnswer(json.path("accepted").asInt(), json.path("duplicates").asInt(),
                    json.path("conflicts").asInt(), null);
            }
            return new EventsAnswer(0, 0, 0, new Refusal(HttpResponseStatus.valueOf(answer.statusCode()),
                json.path("error").asText("internal_error"), to + ", which answered " + answer.statusCode() + ": "
                    + json.path("message").asText(""), answer.headers().firstValue("Retry-After").orElse(null)));
        }
        catch (final java.io.IOException notJson)
        {
            return new EventsAnswer(0, 0, 0, new Refusal(HttpResponseStatus.SERVICE_UNAVAILABLE, "partition_unavailable",
                to + ", which answered " + answer.statusCode() + " without a JSON body; retry", "1"));
        }
    }

    /**
     * Sends {@code request} to {@code ownerUrl}, the node the owners group names as the owner of {@code partition}.
     *
     * @return the owner's answer; 503 {@code partition_unavailable} when it cannot be reached in time, or too many
     *     forwards are under way. Never completes exceptionally.
     */
    CompletableFuture<FullHttpResponse> forward(final ApiRequest request, final String ownerUrl, final int partition)
    {
        return send(request, ownerUrl, "partition " + partition + "'s owner at " + ownerUrl, null);
    }

    /**
     * Asks {@code ownerUrl} for its share of an answer across tenants (the finance listing, margins): the request as
     * it came, with {@link #PARTITIONS_HEADER} naming the partitions whose tenants the owner is to answer for.
     *
     * @return the owner's answer for those partitions, or 503 {@code partition_unavailable} as {@link #forward}.
     */
    CompletableFuture<FullHttpResponse> forwardShare(final ApiRequest request, final String ownerUrl,
        final java.util.BitSet partitions)
    {
        final String list = partitions.toString().replaceAll("[{} ]", "");
        return send(request, ownerUrl, "the owner of partition" + (partitions.cardinality() == 1 ? " " : "s ") + list
            + " at " + ownerUrl, list);
    }

    private CompletableFuture<FullHttpResponse> send(final ApiRequest request, final String ownerUrl, final String to,
        final String partitions)
    {
        if (!slots.tryAcquire())
        {
            return CompletableFuture.completedFuture(refusal("this node is forwarding " + MAX_IN_FLIGHT + " requests "
                + "already; nothing was sent to " + to + ": retry shortly", request));
        }
        final byte[] body = ByteBufUtil.getBytes(request.http.content());
        final CompletableFuture<HttpResponse<byte[]>> sent;
        try
        {
            final HttpRequest.Builder out = outgoing(request, ownerUrl)
                .method(request.http.method().name(), body.length == 0 ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofByteArray(body));
            if (partitions != null)
            {
                out.header(PARTITIONS_HEADER, partitions);
            }
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
        return copy(answer.statusCode(), answer.headers(), answer.body(), ownerUrl);
    }

    /** @return the owner's answer as this node's: its status, body and {@link #ANSWER_HEADERS}, and who answered. */
    static FullHttpResponse copy(final int status, final java.net.http.HttpHeaders headers, final byte[] body,
        final String ownerUrl)
    {
        final FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
            HttpResponseStatus.valueOf(status), Unpooled.wrappedBuffer(body));
        for (final String name : ANSWER_HEADERS)
        {
            headers.firstValue(name).ifPresent(value -> response.headers().set(name, value));
        }
        response.headers().set(ANSWERED_BY_HEADER, ownerUrl);
        response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        return response;
    }

    /**
     * Sends a GET whose answer is streamed (a line's events) to {@code ownerUrl} and waits for the answer's head; its
     * body is read as it comes. For a line-event reader thread, which bounds how many run at once. The timeout bounds
     * the wait for the head only.
     *
     * @throws IOException when the owner cannot be reached or answers nothing in time.
     */
    HttpResponse<java.io.InputStream> openStream(final ApiRequest request, final String ownerUrl)
        throws IOException, InterruptedException
    {
        return client.send(outgoing(request, ownerUrl).GET().build(), HttpResponse.BodyHandlers.ofInputStream());
    }

    /**
     * @return the request to the owner: the client's path and query, its {@link #REQUEST_HEADERS}, {@link #HOP_HEADER}.
     * @throws IllegalArgumentException when {@code ownerUrl} does not make a URI.
     */
    private HttpRequest.Builder outgoing(final ApiRequest request, final String ownerUrl)
    {
        final HttpRequest.Builder out = HttpRequest.newBuilder(URI.create(ownerUrl + request.http.uri())).timeout(timeout)
            .header(HOP_HEADER, nodeId);
        for (final String name : REQUEST_HEADERS)
        {
            final String value = request.http.headers().get(name);
            if (value != null)
            {
                out.header(name, value);
            }
        }
        return out;
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
