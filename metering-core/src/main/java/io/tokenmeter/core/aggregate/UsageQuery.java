package io.tokenmeter.core.aggregate;

/**
 * A usage question: one tenant, hours {@code [fromHour, toHour)}, a granularity and grouping.
 *
 * @param minLogIndex answer only once the aggregator has applied the log up to this index
 *                    ({@link io.tokenmeter.core.log.EventLog#NO_INDEX} for "as it is now").
 */
public record UsageQuery(
    String tenant, long fromHour, long toHour, Granularity granularity, boolean byModel, boolean byTier, long minLogIndex)
{
}
