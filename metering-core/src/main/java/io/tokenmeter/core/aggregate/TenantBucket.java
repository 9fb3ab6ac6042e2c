package io.tokenmeter.core.aggregate;

import java.util.Comparator;

/**
 * A copy of one hour bucket of one tenant, for billing.
 *
 * @param hour     UTC hours since 1970.
 * @param tierCode the service tier code.
 * @param context  0 standard, 1 long context.
 * @param counters {@link HourlyAggregator#STRIDE} values: requests, the six token classes in
 *                 {@link io.tokenmeter.core.event.TokenClass} order, then 1 when a sum saturated.
 */
public record TenantBucket(long hour, String model, int tierCode, int context, long[] counters)
{
    public static final Comparator<TenantBucket> ORDER = Comparator
        .comparingLong(TenantBucket::hour)
        .thenComparing(TenantBucket::model)
        .thenComparingInt(TenantBucket::tierCode)
        .thenComparingInt(TenantBucket::context);

    public long requests()
    {
        return counters[0];
    }

    public long tokens(final int tokenClass)
    {
        return counters[1 + tokenClass];
    }

    public boolean saturated()
    {
        return counters[HourlyAggregator.STRIDE - 1] != 0;
    }
}
