package io.tokenmeter.core.event;

/**
 * UTC hours, the finest grain kept (SPEC section 1): an hour is its number since the epoch. The one home of hour
 * arithmetic; periods (months) are built on it in billing's {@code Periods}. Stateless; any thread.
 */
public final class Hours
{
    public static final long MS_PER_HOUR = 3_600_000L;

    private Hours()
    {
    }

    /** @return the hour that holds {@code epochMs} (hours before 1970 are negative). */
    public static long of(final long epochMs)
    {
        return Math.floorDiv(epochMs, MS_PER_HOUR);
    }

    /** @return the first millisecond of {@code hour}. */
    public static long startMs(final long hour)
    {
        return Math.multiplyExact(hour, MS_PER_HOUR);
    }
}
