package io.tokenmeter.core.aggregate;

import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;

/** How usage rows are bucketed in time; all in UTC. */
public enum Granularity
{
    HOUR, DAY, MONTH, TOTAL;

    /** @return the start (epoch ms) of the row an hour falls into, or {@code Long.MIN_VALUE} for TOTAL. */
    public long rowStartMs(final long hour)
    {
        final long startMs = hour * BucketKey.MS_PER_HOUR;
        switch (this)
        {
            case HOUR:
                return startMs;
            case DAY:
                return Math.floorDiv(startMs, 86_400_000L) * 86_400_000L;
            case MONTH:
                final ZonedDateTime t = Instant.ofEpochMilli(startMs).atZone(ZoneOffset.UTC);
                return YearMonth.of(t.getYear(), t.getMonth()).atDay(1).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
            default:
                return Long.MIN_VALUE;
        }
    }

    public String jsonName()
    {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** @return the granularity of that name, or null. */
    public static Granularity fromJson(final String name)
    {
        for (final Granularity g : values())
        {
            if (g.jsonName().equals(name))
            {
                return g;
            }
        }
        return null;
    }
}
