package io.tokenmeter.server.http;

import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.concurrent.FastThreadLocal;
import io.tokenmeter.core.event.StagedEvent;
import io.tokenmeter.server.otlp.OtlpResponses;
import io.tokenmeter.server.otlp.SpanUsageMapper;
import io.tokenmeter.server.otlp.TraceRequestDecoder;
import org.agrona.ExpandableArrayBuffer;

/**
 * {@code POST /v1/traces} (OTLP/HTTP, SPEC section 13): decodes an {@code ExportTraceServiceRequest} (protobuf or
 * JSON, gzip or not), maps its GenAI spans to events ({@link SpanUsageMapper}), checks the key for each event's tenant
 * (403 for the whole request, as on {@code /v1/events}) and hands the events to their partitions' journals
 * ({@link IngestRequest}): dedup by (tenant, trace id + span id), durable ack. The answer follows OTLP: 200 with an
 * {@code ExportTraceServiceResponse} once the events are in the log, its {@code partial_success} counting the rejected
 * spans; errors as {@code google.rpc.Status} ({@link OtlpResponses}). The key's role, readiness, content type and
 * encoding were checked on the head. One per connection, on its event loop.
 */
final class TracesRoute
{
    private static final FastThreadLocal<TraceRequestDecoder> DECODER = new FastThreadLocal<>()
    {
        @Override
        protected TraceRequestDecoder initialValue()
        {
            return new TraceRequestDecoder();
        }
    };
    private static final FastThreadLocal<SpanUsageMapper> MAPPER = new FastThreadLocal<>()
    {
        @Override
        protected SpanUsageMapper initialValue()
        {
            return new SpanUsageMapper();
        }
    };

    private final ApiContext api;
    private final StagedEvent stagedEvent = new StagedEvent();
    /** The partition of each event of the request being split (grown to the largest request seen). */
    private int[] partitionOfEvent = new int[0];

    TracesRoute(final ApiContext api)
    {
        this.api = api;
    }

    /** @return why the route cannot read a body with these headers (type or encoding), or null when it can. */
    static String unsupportedMediaType(final HttpHeaders headers)
    {
        final String contentType = IngestRoute.mediaType(headers.get(HttpHeaderNames.CONTENT_TYPE));
        if (!OtlpResponses.PROTOBUF.equals(contentType) && !OtlpResponses.JSON.equals(contentType))
        {
            return "Content-Type must be application/x-protobuf (OTLP/HTTP binary protobuf) or application/json (OTLP/JSON), "
                + "not " + (contentType == null ? "missing" : contentType);
        }
        final String encoding = headers.get(HttpHeaderNames.CONTENT_ENCODING);
        if (encoding != null && !isGzip(encoding) && !"identity".equalsIgnoreCase(encoding.trim()))
        {
            return "Content-Encoding must be gzip or identity (or none), not " + encoding;
        }
        return null;
    }

    /**
     * @return {@code jsonError} as a {@code google.rpc.Status} in the encoding of the request with these headers:
     *     protobuf for {@code application/x-protobuf}, JSON for anything else (so a person reads a 415).
     */
    static FullHttpResponse asStatus(final FullHttpResponse jsonError, final HttpHeaders requestHeaders, final ByteBufAllocator alloc)
    {
        return OtlpResponses.statusOf(jsonError, isProtobuf(requestHeaders), alloc);
    }

    private static boolean isProtobuf(final HttpHeaders headers)
    {
        return OtlpResponses.PROTOBUF.equals(IngestRoute.mediaType(headers.get(HttpHeaderNames.CONTENT_TYPE)));
    }

    private static boolean isGzip(final String encoding)
    {
        return encoding != null && "gzip".equalsIgnoreCase(encoding.trim());
    }

    void handle(final ChannelHandlerContext ctx, final ApiRequest request, final Answers answers)
    {
        final long receiptMs = System.currentTimeMillis();
        final HttpHeaders headers = request.http.headers();
        final boolean protobuf = isProtobuf(headers);
        final var settings = api.settings();
        final TraceRequestDecoder decoder = DECODER.get();
        switch (decoder.decode(request.http.content(), isGzip(headers.get(HttpHeaderNames.CONTENT_ENCODING)), protobuf,
            settings.maxBodyBytes, ctx.alloc()))
        {
            case TOO_LARGE ->
            {
                answers.answer(request, OtlpResponses.status(ctx.alloc(), HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
                    protobuf, "body_too_large", decoder.problem()));
                return;
            }
            case MALFORMED ->
            {
                answers.answer(request, OtlpResponses.status(ctx.alloc(), HttpResponseStatus.BAD_REQUEST, protobuf,
                    "malformed_body", decoder.problem()));
                return;
            }
            case OK ->
            {
                // mapped below
            }
        }
        final ExpandableArrayBuffer staged = StagingBuffers.take();
        if (!mapAndOffer(ctx, request, answers, decoder, protobuf, receiptMs, staged))
        {
            StagingBuffers.giveBack(staged);
        }
    }

    /**
     * @return true when {@code staged} was handed on (to an {@link IngestRequest}, which gives it back), false when the
     *     caller still owns it.
     */
    private boolean mapAndOffer(final ChannelHandlerContext ctx, final ApiRequest request, final Answers answers,
        final TraceRequestDecoder decoder, final boolean protobuf, final long receiptMs, final ExpandableArrayBuffer staged)
    {
        final var settings = api.settings();
        final var metrics = api.metrics();
        final SpanUsageMapper mapper = MAPPER.get();
        if (mapper.map(decoder.request(), settings.otlpTenantAttribute, receiptMs, settings.maxFutureSkew.toMillis(),
            settings.maxEventsPerRequest, staged) == SpanUsageMapper.Outcome.TOO_MANY_EVENTS)
        {
            metrics.onEventsRejected(settings.maxEventsPerRequest + 1);
            answers.answer(request, OtlpResponses.status(ctx.alloc(), HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, protobuf,
                "too_many_events", "a request may carry at most " + settings.maxEventsPerRequest + " spans with GenAI "
                    + "usage; export smaller batches (BatchSpanProcessor's maxExportBatchSize)"));
            return false;
        }
        metrics.onOtlpSpans(mapper.eventCount(), mapper.skipped(), mapper.summaries(), mapper.rejected());
        // the owner's share of a request another node forwarded is answered with its counts, which that node sums into
        // the one OTLP answer; a client's request gets the OTLP answer
        final IngestRequest.Reply reply = api.forwarder() != null && Forwarder.askedPartitions(request) != null
            ? IngestRequest.EVENTS : new Reply(protobuf, mapper.rejected(), mapper.rejections(), mapper.skipped());
        if (mapper.eventCount() == 0)
        {
            metrics.onEventsRejected(mapper.rejected());
            answers.answer(request, reply.accepted(ctx.alloc(), 0, 0, 0));
            return false;
        }
        final String forbidden = request.key.allTenants() ? null
            : IngestRoute.forbiddenTenants(request.key, staged, mapper.stagedLength(), stagedEvent);
        if (forbidden != null)
        {
            metrics.onAuthForbidden();
            metrics.onEventsRejected(mapper.eventCount() + mapper.rejected());
            answers.answer(request, OtlpResponses.status(ctx.alloc(), HttpResponseStatus.FORBIDDEN, protobuf, "forbidden",
                AccessPolicy.forbiddenTenants(request.key, forbidden)));
            return false;
        }
        metrics.onEventsRejected(mapper.rejected());
        mapper.forEachIgnored(metrics::onUsageFieldIgnored);
        if (partitionOfEvent.length < mapper.eventCount())
        {
            partitionOfEvent = new int[Math.max(mapper.eventCount(), 128)];
        }
        final IngestRequest pending = IngestRequest.split(answers, reply, request, ctx, staged, mapper.stagedLength(),
            mapper.eventCount(), api.partitions(), stagedEvent, partitionOfEvent);
        if (!pending.offer(api))
        {
            answers.answer(request, OtlpResponses.status(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE, protobuf,
                "overloaded", "the journal queue is full; nothing was accepted, retry after a pause"));
        }
        return true;
    }

    /**
     * The answer of one OTLP request once its events are in: an {@code ExportTraceServiceResponse} whose
     * {@code partial_success} counts the spans not taken (rejected by the mapping, or conflicts: an id already taken with
     * other content) and says why; duplicates (a retried export) are said as a warning with 0 rejected.
     */
    private static final class Reply implements IngestRequest.Reply
    {
        private final boolean protobuf;
        private final int rejected;
        private final String rejections;
        private final int skipped;

        Reply(final boolean protobuf, final int rejected, final String rejections, final int skipped)
        {
            this.protobuf = protobuf;
            this.rejected = rejected;
            this.rejections = rejections;
            this.skipped = skipped;
        }

        @Override
        public FullHttpResponse accepted(final ByteBufAllocator alloc, final int accepted, final int duplicates,
            final int conflicts)
        {
            if (rejected == 0 && conflicts == 0 && duplicates == 0)
            {
                return OtlpResponses.export(alloc, protobuf, 0, null);
            }
            final StringBuilder message = new StringBuilder()
                .append(spans(accepted)).append(" with GenAI usage accepted, ").append(spans(duplicates))
                .append(" already accepted (a retried export: counted once), ").append(spans(skipped))
                .append(" without GenAI usage skipped");
            if (conflicts > 0)
            {
                message.append("; ").append(spans(conflicts)).append(" not counted: each reuses a trace and span id already "
                    + "accepted for its tenant with other content (the first copy stands)");
            }
            if (rejected > 0)
            {
                message.append("; ").append(spans(rejected)).append(" with GenAI usage rejected, not counted (fix them and "
                    + "send them again): ").append(rejections);
            }
            return OtlpResponses.export(alloc, protobuf, (long)rejected + conflicts, message.toString());
        }

        private static String spans(final int count)
        {
            return count + (count == 1 ? " span" : " spans");
        }

        @Override
        public FullHttpResponse refused(final ByteBufAllocator alloc, final FullHttpResponse jsonError)
        {
            return OtlpResponses.statusOf(jsonError, protobuf, alloc);
        }
    }
}
