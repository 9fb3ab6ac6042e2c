package io.tokenmeter.core.aggregate;

/**
 * One row of a usage answer.
 *
 * @param startMs  the row's start (epoch ms), {@code Long.MIN_VALUE} for a total.
 * @param model    the model, or null when not grouped by model.
 * @param tierCode the service tier code, or -1 when not grouped by tier.
 * @param counters requests, then the six token classes in {@link io.tokenmeter.core.event.TokenClass} order.
 */
public record UsageRow(long startMs, String model, int tierCode, long[] counters)
{
    public long requests()
    {
        return counters[0];
    }

    public long tokens(final int tokenClass)
    {
        return counters[1 + tokenClass];
    }
}
