package io.tokenmeter.core.aggregate;

import io.tokenmeter.core.event.RateVariant;

import java.util.Comparator;

/**
 * A copy of one hour bucket of one tenant, for billing.
 *
 * @param hour     UTC hours since 1970.
 * @param tierCode the service tier code.
 * @param variant  the {@link RateVariant} of its requests: context tier, mode and time window.
 * @param counters {@link HourlyAggregator#STRIDE} values: requests, the six token classes in
 *                 {@link io.tokenmeter.core.event.TokenClass} order, then 1 when a sum saturated.
 */
public record TenantBucket(long hour, String model, int tierCode, int variant, long[] counters)
{
    public static final Comparator<TenantBucket> ORDER = Comparator
        .comparingLong(TenantBucket::hour)
        .thenComparing(TenantBucket::model)
        .thenComparingInt(TenantBucket::tierCode)
        .thenComparingInt(TenantBucket::variant);

    /** @return 0 for the standard context tier, else the tier's position (1-based) in its price version. */
    public int contextTier()
    {
        return RateVariant.contextTier(variant);
    }

    public boolean thinking()
    {
        return RateVariant.thinking(variant);
    }

    /** @return 0 outside every time window, else the window's position (1-based) in its price version. */
    public int window()
    {
        return RateVariant.window(variant);
    }

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
