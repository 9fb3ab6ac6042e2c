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

import java.io.IOException;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** {@code GET /v1/usage}: parses and checks the query (SPEC section 3) and renders the answer. */
final class UsageRoute
{
    private static final Set<String> PARAMETERS = Set.of("tenant", "from", "to", "granularity", "group_by", "consistent");

    private UsageRoute()
    {
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
}
