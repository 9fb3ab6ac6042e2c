package io.tokenmeter.server.http;

import io.tokenmeter.core.event.TenantName;
import com.fasterxml.jackson.core.JsonGenerator;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.tokenmeter.core.aggregate.BucketKey;
import io.tokenmeter.core.aggregate.Granularity;
import io.tokenmeter.core.aggregate.UsageQuery;
import io.tokenmeter.core.aggregate.UsageRow;
import io.tokenmeter.core.event.ServiceTier;
import io.tokenmeter.core.event.TokenClass;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.server.json.Rfc3339;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.concurrent.ScheduledFuture;

import java.io.IOException;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@code GET /v1/usage}: parses and checks the query (SPEC section 3), asks the tenant's partition's aggregator on its
 * thread, and renders the answer.
 */
final class UsageRoute
{
    private static final Set<String> PARAMETERS = Set.of("tenant", "from", "to", "granularity", "group_by", "consistent");

    private final ApiContext api;

    UsageRoute(final ApiContext api)
    {
        this.api = api;
    }

    void handle(final ChannelHandlerContext ctx, final ApiRequest request, final Answers answers)
    {
        // the tenant's partition's newest position, read as the query arrives: consistent=true waits for it
        final QueryStringDecoder uri = new QueryStringDecoder(request.http.uri());
        if (!decodable(uri))
        {
            answers.answer(request, Responses.error(ctx.alloc(), HttpResponseStatus.BAD_REQUEST, "invalid_query",
                "the query holds a malformed percent-escape: encode '%' as %25"));
            return;
        }
        final Parsed parsed = parse(uri, t -> api.partitions().of(t).journal().lastAppendedIndex());
        if (parsed.error() != null)
        {
            answers.answer(request, Responses.error(ctx.alloc(), HttpResponseStatus.BAD_REQUEST, "invalid_query", parsed.error()));
            return;
        }
        final String tenant = parsed.query().tenant();
        final String forbidden = AccessPolicy.check(request.key, AccessPolicy.Action.READ_USAGE, tenant);
        if (forbidden != null)
        {
            api.metrics().onAuthForbidden();
            answers.answer(request, Responses.error(ctx.alloc(), HttpResponseStatus.FORBIDDEN, "forbidden", forbidden));
            return;
        }
        final java.util.concurrent.CompletableFuture<FullHttpResponse> elsewhere = BillingRoutes.elsewhere(api, request, tenant);
        if (elsewhere != null)
        {
            elsewhere.thenAccept(answer -> ctx.executor().execute(() -> answers.answer(request, answer)));
            return;
        }
        if (!api.notReadyReasons().isEmpty())
        {
            answers.answer(request, Responses.retryLater(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE, "not_ready",
                "the server is not ready (" + String.join("; ", api.notReadyReasons()) + "); retry shortly", 1));
            return;
        }
        final CompletableFuture<List<UsageRow>> answer = api.partitions().of(tenant).aggregator().submit(parsed.query());
        if (answer == null)
        {
            answers.answer(request, Responses.retryLater(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE, "overloaded",
                "too many usage queries in progress; retry after a pause", 1));
            return;
        }
        final long timeoutMs = api.settings().queryTimeout.toMillis();
        final ScheduledFuture<?> timeout = ctx.executor().schedule(
            () -> answer.completeExceptionally(new QueryTimeout()), timeoutMs, TimeUnit.MILLISECONDS);
        answer.whenComplete((rows, failure) -> ctx.executor().execute(() ->
        {
            timeout.cancel(false);
            final FullHttpResponse response;
            if (failure == null)
            {
                response = Responses.json(ctx.alloc(), HttpResponseStatus.OK, json -> render(json, parsed, rows));
            }
            else if (failure instanceof QueryTimeout)
            {
                response = Responses.retryLater(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE, "timeout",
                    "counting has not caught up within " + timeoutMs + " ms; retry", 1);
            }
            else
            {
                response = Responses.retryLater(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE, "unavailable",
                    "usage cannot be answered now: " + failure.getMessage(), 1);
            }
            answers.answer(request, response);
        }));
    }

    /** @return false when the query's percent-escapes cannot be decoded (Netty throws on {@code %zz}). */
    static boolean decodable(final QueryStringDecoder uri)
    {
        try
        {
            uri.parameters();
            return true;
        }
        catch (final IllegalArgumentException ex)
        {
            return false;
        }
    }

    /** A parsed query, or the reason it cannot be answered. */
    record Parsed(UsageQuery query, String from, String to, String error)
    {
    }

    /** @param consistentIndex the newest log position of a tenant's partition, asked only for consistent=true. */
    static Parsed parse(final QueryStringDecoder uri, final java.util.function.ToLongFunction<String> consistentIndex)
    {
        final Map<String, List<String>> params = uri.parameters();
        for (final String name : params.keySet())
        {
            if (!PARAMETERS.contains(name))
            {
                return error("unknown parameter '" + name + "'; allowed: tenant, from, to, granularity, group_by, consistent");
            }
            if (params.get(name).size() > 1)
            {
                return error("parameter '" + name + "' given more than once");
            }
        }
        final String tenant = single(params, "tenant");
        if (!TenantName.isValid(tenant))
        {
            return error("tenant is required and must match " + TenantName.RULE);
        }
        final String from = single(params, "from");
        final String to = single(params, "to");
        if (from == null || to == null)
        {
            return error("from and to are required: RFC 3339 times on whole hours, e.g. from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z");
        }
        final long fromMs = Rfc3339.parseMillis(from);
        final long toMs = Rfc3339.parseMillis(to);
        if (fromMs == Rfc3339.INVALID || toMs == Rfc3339.INVALID)
        {
            return error("from and to must be RFC 3339 with an offset, e.g. 2026-11-01T00:00:00Z (a '+' must be sent as %2B)");
        }
        if (fromMs % BucketKey.MS_PER_HOUR != 0 || toMs % BucketKey.MS_PER_HOUR != 0 || fromMs < 0)
        {
            return error("from and to must be on whole hours (minutes, seconds and fraction zero)");
        }
        if (fromMs >= toMs)
        {
            return error("from must be before to (from is inclusive, to exclusive)");
        }
        final String granularityText = single(params, "granularity");
        final Granularity granularity = granularityText == null ? Granularity.TOTAL : Granularity.fromJson(granularityText);
        if (granularity == null)
        {
            return error("granularity must be one of hour, day, month, total");
        }
        boolean byModel = true;
        boolean byTier = false;
        final String groupBy = single(params, "group_by");
        if (groupBy != null)
        {
            byModel = false;
            for (final String part : groupBy.split(",", -1))
            {
                switch (part.trim())
                {
                    case "model" -> byModel = true;
                    case "service_tier" -> byTier = true;
                    case "" -> { }
                    default -> { return error("group_by takes model and/or service_tier, comma-separated"); }
                }
            }
        }
        final String consistent = single(params, "consistent");
        if (consistent != null && !consistent.equals("true") && !consistent.equals("false"))
        {
            return error("consistent must be true or false");
        }
        final long minIndex = "true".equals(consistent) ? consistentIndex.applyAsLong(tenant) : EventLog.NO_INDEX;
        final UsageQuery query = new UsageQuery(tenant, fromMs / BucketKey.MS_PER_HOUR, toMs / BucketKey.MS_PER_HOUR,
            granularity, byModel, byTier, minIndex);
        return new Parsed(query, Instant.ofEpochMilli(fromMs).toString(), Instant.ofEpochMilli(toMs).toString(), null);
    }

    static void render(final JsonGenerator json, final Parsed parsed, final List<UsageRow> rows) throws IOException
    {
        final UsageQuery query = parsed.query();
        json.writeStartObject();
        json.writeStringField("tenant", query.tenant());
        json.writeStringField("from", parsed.from());
        json.writeStringField("to", parsed.to());
        json.writeStringField("granularity", query.granularity().jsonName());
        json.writeArrayFieldStart("rows");
        for (final UsageRow row : rows)
        {
            json.writeStartObject();
            if (query.granularity() != Granularity.TOTAL)
            {
                json.writeStringField("start", Instant.ofEpochMilli(row.startMs()).toString());
            }
            if (query.byModel())
            {
                json.writeStringField("model", row.model());
            }
            if (query.byTier())
            {
                json.writeStringField("service_tier", ServiceTier.fromCode(row.tierCode()).jsonName());
            }
            json.writeNumberField("requests", row.requests());
            for (int i = 0; i < TokenClass.COUNT; i++)
            {
                json.writeNumberField(TokenClass.of(i).fieldName(), row.tokens(i));
            }
            json.writeEndObject();
        }
        json.writeEndArray();
        json.writeEndObject();
    }

    private static String single(final Map<String, List<String>> params, final String name)
    {
        final List<String> values = params.get(name);
        return values == null ? null : values.get(0);
    }

    private static Parsed error(final String message)
    {
        return new Parsed(null, null, null, message);
    }

    /** A usage query that waited longer than the query timeout. */
    private static final class QueryTimeout extends RuntimeException
    {
        private static final long serialVersionUID = 1L;

        QueryTimeout()
        {
            super("timeout", null, false, false);
        }
    }
}
