package io.tokenmeter.server.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.concurrent.FastThreadLocal;
import io.tokenmeter.core.event.StagedEvent;
import io.tokenmeter.server.auth.ApiKey;
import io.tokenmeter.server.json.EventParser;
import io.tokenmeter.server.json.ParseOutcome;
import org.agrona.ExpandableArrayBuffer;

import java.util.Locale;

/**
 * {@code POST /v1/events} and {@code POST /api/v1/events} (CloudEvents): validates the whole body, checks the key
 * for each event's tenant, and hands the staged events to their partitions' journals ({@link IngestRequest}). The key's
 * role, readiness and the content type were checked on the head. One per connection, on its event loop.
 */
final class IngestRoute
{
    private static final FastThreadLocal<EventParser> PARSER = new FastThreadLocal<>()
    {
        @Override
        protected EventParser initialValue()
        {
            return new EventParser();
        }
    };

    private final ApiContext api;
    private final StagedEvent stagedEvent = new StagedEvent();
    /** The partition of each event of the request being split (grown to the largest request seen). */
    private int[] partitionOfEvent = new int[0];

    IngestRoute(final ApiContext api)
    {
        this.api = api;
    }

    /** @return why the route cannot read a body of this {@code Content-Type}, or null when it can. */
    static String unsupportedMediaType(final Router.Route route, final String contentTypeHeader)
    {
        final String contentType = mediaType(contentTypeHeader);
        if (route == Router.Route.CLOUD_EVENTS)
        {
            return cloudEventsBody(contentType) != null ? null
                : "Content-Type must be application/cloudevents+json (one CloudEvent), application/cloudevents-batch+json "
                    + "(an array of them) or application/json (either), not " + (contentType == null ? "missing" : contentType);
        }
        return "application/x-ndjson".equals(contentType) || "application/json".equals(contentType) ? null
            : "Content-Type must be application/json (an event or an array of events) or application/x-ndjson "
                + "(one event per line), not " + (contentType == null ? "missing" : contentType);
    }

    void handle(final ChannelHandlerContext ctx, final ApiRequest request, final Answers answers)
    {
        final long receiptMs = System.currentTimeMillis();
        final String contentType = mediaType(request.http.headers().get(HttpHeaderNames.CONTENT_TYPE));
        final boolean cloudEvents = request.route == Router.Route.CLOUD_EVENTS;
        final ExpandableArrayBuffer staged = StagingBuffers.take();
        if (!stageAndOffer(ctx, request, answers, cloudEvents ? cloudEventsBody(contentType) : null,
            "application/x-ndjson".equals(contentType), receiptMs, staged))
        {
            StagingBuffers.giveBack(staged);
        }
    }

    /**
     * @return true when {@code staged} was handed on (to an {@link IngestRequest}, which gives it back), false when the
     *     caller still owns it.
     */
    private boolean stageAndOffer(final ChannelHandlerContext ctx, final ApiRequest request, final Answers answers,
        final EventParser.CloudEventsBody cloudEventsBody, final boolean ndjson, final long receiptMs,
        final ExpandableArrayBuffer staged)
    {
        final var settings = api.settings();
        final EventParser parser = PARSER.get();
        final FullHttpRequest http = request.http;
        final ParseOutcome outcome = cloudEventsBody != null
            ? parser.parseCloudEvents(http.content(), cloudEventsBody, receiptMs,
                settings.maxFutureSkew.toMillis(), settings.maxEventsPerRequest, staged)
            : parser.parse(http.content(), ndjson, receiptMs,
                settings.maxFutureSkew.toMillis(), settings.maxEventsPerRequest, staged);
        switch (outcome)
        {
            case MALFORMED ->
            {
                api.metrics().onEventsRejected(Math.max(1, parser.eventsSeen()));
                answers.answer(request, Responses.error(ctx.alloc(), HttpResponseStatus.BAD_REQUEST, "malformed_json",
                    parser.malformedMessage()));
            }
            case TOO_MANY_EVENTS ->
            {
                api.metrics().onEventsRejected(parser.eventsSeen());
                answers.answer(request, Responses.error(ctx.alloc(), HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "too_many_events",
                    "a request may carry at most " + settings.maxEventsPerRequest + " events; split the batch"));
            }
            case INVALID_EVENTS ->
            {
                api.metrics().onEventsRejected(parser.eventsSeen());
                answers.answer(request, Responses.invalidEvents(ctx.alloc(), parser.problems(), parser.problemCount(),
                    parser.eventsWithProblems()));
            }
            case OK ->
            {
                if (parser.ignoredFields())
                {
                    parser.forEachIgnoredField(api.metrics()::onUsageFieldIgnored);
                }
                if (parser.eventCount() == 0)
                {
                    answers.answer(request, Responses.text(ctx.alloc(), HttpResponseStatus.ACCEPTED, "application/json",
                        "{\"accepted\":0,\"duplicates\":0,\"conflicts\":0}"));
                    return false;
                }
                final String forbidden = request.key.allTenants() ? null : forbiddenTenants(request.key, staged, parser.stagedLength());
                if (forbidden != null)
                {
                    api.metrics().onAuthForbidden();
                    api.metrics().onEventsRejected(parser.eventCount());
                    answers.answer(request, Responses.error(ctx.alloc(), HttpResponseStatus.FORBIDDEN, "forbidden",
                        AccessPolicy.forbiddenTenants(request.key, forbidden)));
                    return false;
                }
                if (partitionOfEvent.length < parser.eventCount())
                {
                    partitionOfEvent = new int[Math.max(parser.eventCount(), 128)];
                }
                final IngestRequest pending = IngestRequest.split(answers, IngestRequest.EVENTS, request, ctx, staged,
                    parser.stagedLength(), parser.eventCount(), api.partitions(), stagedEvent, partitionOfEvent);
                if (!pending.offer(api))
                {
                    answers.answer(request, Responses.retryLater(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE, "overloaded",
                        "the journal queue is full; nothing was accepted, retry after a pause", 1));
                }
                return true;
            }
        }
        return false;
    }

    private String forbiddenTenants(final ApiKey key, final ExpandableArrayBuffer staged, final int length)
    {
        return forbiddenTenants(key, staged, length, stagedEvent);
    }

    /**
     * @param stagedEvent a flyweight of the calling event loop.
     * @return the tenants (up to 5, comma separated) of staged events the key may not post for, or null.
     */
    static String forbiddenTenants(final ApiKey key, final ExpandableArrayBuffer staged, final int length,
        final StagedEvent stagedEvent)
    {
        StringBuilder names = null;
        int listed = 0;
        for (int offset = 0; offset < length; )
        {
            final StagedEvent event = stagedEvent.wrap(staged, offset);
            if (!key.actsFor(staged, event.tenantOffset(), event.tenantLength()))
            {
                final String tenant = staged.getStringWithoutLengthAscii(event.tenantOffset(), event.tenantLength());
                if (names == null)
                {
                    names = new StringBuilder(tenant);
                    listed = 1;
                }
                else if (listed < 5 && !(", " + names + ",").contains(", " + tenant + ","))
                {
                    names.append(", ").append(tenant);
                    listed++;
                }
            }
            offset += event.encodedLength();
        }
        return names == null ? null : names.toString();
    }

    private static EventParser.CloudEventsBody cloudEventsBody(final String contentType)
    {
        if (contentType == null)
        {
            return null;
        }
        return switch (contentType)
        {
            case "application/cloudevents+json" -> EventParser.CloudEventsBody.SINGLE;
            case "application/cloudevents-batch+json" -> EventParser.CloudEventsBody.BATCH;
            case "application/json" -> EventParser.CloudEventsBody.EITHER;
            default -> null;
        };
    }

    /** @return the media type of a {@code Content-Type} header, lower case and without parameters; null for none. */
    static String mediaType(final String contentType)
    {
        if (contentType == null)
        {
            return null;
        }
        final int semicolon = contentType.indexOf(';');
        return (semicolon < 0 ? contentType : contentType.substring(0, semicolon)).trim().toLowerCase(Locale.ROOT);
    }
}
