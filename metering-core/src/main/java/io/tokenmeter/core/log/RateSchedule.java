package io.tokenmeter.core.log;

import io.tokenmeter.core.event.Hours;
import io.tokenmeter.core.event.RateVariant;

/**
 * The context tiers and time windows that price one (tenant, model) pair, by hour: from {@code fromHours[i]} (UTC
 * hours since 1970) on, a prompt above {@code thresholds[i][k-1]} tokens (ascending) is in context tier k and a request
 * in {@code windows[i][w-1]} (the first that holds it) is in window w. Before the first hour there is no rule.
 * Immutable; {@link #decide} allocates nothing.
 */
public final class RateSchedule
{
    /** A schedule with no rule at any hour. */
    public static final RateSchedule EMPTY = new RateSchedule(new long[0], new long[0][], new TimeWindow[0][]);

    private final long[] fromHours;
    private final long[][] thresholds;
    private final TimeWindow[][] windows;

    /**
     * @param fromHours  ascending hours at which the rules change.
     * @param thresholds per step, the context tiers' {@code above_input_tokens}, ascending (empty: none).
     * @param windows    per step, the time windows in the version's order (empty: none).
     */
    public RateSchedule(final long[] fromHours, final long[][] thresholds, final TimeWindow[][] windows)
    {
        if (fromHours.length != thresholds.length || fromHours.length != windows.length)
        {
            throw new IllegalArgumentException("a schedule needs thresholds and windows for every step");
        }
        this.fromHours = fromHours.clone();
        this.thresholds = thresholds.clone();
        this.windows = windows.clone();
    }

    public boolean isEmpty()
    {
        return fromHours.length == 0;
    }

    /**
     * @param timestampMs the event's time.
     * @param prompt      input + cache_read + cache_write + cache_write_1h tokens.
     * @return the context tier and window bits of the event's {@link RateVariant} (mode not included).
     */
    public int decide(final long timestampMs, final long prompt)
    {
        final long hour = Hours.of(timestampMs);
        int step = -1;
        for (int i = 0; i < fromHours.length && fromHours[i] <= hour; i++)
        {
            step = i;
        }
        if (step < 0)
        {
            return RateVariant.STANDARD;
        }
        final long[] above = thresholds[step];
        int tier = 0;
        while (tier < above.length && prompt > above[tier])
        {
            tier++;
        }
        final TimeWindow[] stepWindows = windows[step];
        int window = 0;
        for (int w = 0; w < stepWindows.length; w++)
        {
            if (stepWindows[w].contains(timestampMs))
            {
                window = w + 1;
                break;
            }
        }
        return RateVariant.of(tier, false, window);
    }
}
