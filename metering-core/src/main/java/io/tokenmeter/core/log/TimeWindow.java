package io.tokenmeter.core.log;

import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.zone.ZoneOffsetTransition;
import java.time.zone.ZoneRules;

/**
 * A time of day in an IANA zone on some weekdays (SPEC section 11, {@code time_windows}): from {@code from}
 * (inclusive) to {@code to} (exclusive), local time. A window whose {@code to} is not after its {@code from} crosses
 * midnight and belongs to the day on which it opens: a Friday window from 22:00 to 02:00 holds Saturday 01:59:59.999
 * and not Friday 01:00. Thread-safe: the zone's offset is cached between transitions in an immutable holder, so
 * {@link #contains} allocates only when an event crosses a zone transition (twice a year in a zone with summer time).
 */
public final class TimeWindow
{
    private static final long MS_PER_DAY = 86_400_000L;
    private static final long MS_PER_MINUTE = 60_000L;

    private record OffsetRange(long fromMs, long toMs, long offsetMs)
    {
    }

    private final ZoneRules rules;
    private final int dayMask;
    private final long fromMs;
    private final long toMs;
    private volatile OffsetRange cached;

    /**
     * @param zone       the zone the times are read in.
     * @param dayMask    bit {@code d - 1} set for each ISO day of week {@code d} (1 Monday ... 7 Sunday) the window opens on.
     * @param fromMinute minute of the day it opens, 0 to 1439.
     * @param toMinute   minute of the day it closes, 0 to 1440, not equal to {@code fromMinute}; at or before it: crosses
     *                   midnight.
     */
    public TimeWindow(final ZoneId zone, final int dayMask, final int fromMinute, final int toMinute)
    {
        if (fromMinute < 0 || fromMinute >= 1440 || toMinute < 0 || toMinute > 1440 || fromMinute == toMinute
            || dayMask <= 0 || dayMask > 0x7F)
        {
            throw new IllegalArgumentException("bad time window " + fromMinute + "-" + toMinute + " days " + dayMask);
        }
        this.rules = zone.getRules();
        this.dayMask = dayMask;
        this.fromMs = fromMinute * MS_PER_MINUTE;
        this.toMs = toMinute * MS_PER_MINUTE;
    }

    /** @return true when the instant {@code epochMs} is in the window. */
    public boolean contains(final long epochMs)
    {
        final long local = epochMs + offsetMs(epochMs);
        final long day = Math.floorDiv(local, MS_PER_DAY);
        final long msOfDay = local - day * MS_PER_DAY;
        // 1970-01-01 was a Thursday (ISO day 4): bit 3
        final int dayBit = (int)Math.floorMod(day + 3, 7L);
        if (fromMs < toMs)
        {
            return opensOn(dayBit) && msOfDay >= fromMs && msOfDay < toMs;
        }
        return opensOn(dayBit) && msOfDay >= fromMs || opensOn(dayBit == 0 ? 6 : dayBit - 1) && msOfDay < toMs;
    }

    private boolean opensOn(final int dayBit)
    {
        return (dayMask & (1 << dayBit)) != 0;
    }

    private long offsetMs(final long epochMs)
    {
        OffsetRange range = cached;
        if (range == null || epochMs < range.fromMs() || epochMs >= range.toMs())
        {
            range = rangeAt(epochMs);
            cached = range;
        }
        return range.offsetMs();
    }

    private OffsetRange rangeAt(final long epochMs)
    {
        final Instant instant = Instant.ofEpochMilli(epochMs);
        final ZoneOffset offset = rules.getOffset(instant);
        final ZoneOffsetTransition next = rules.nextTransition(instant);
        final ZoneOffsetTransition previous = rules.previousTransition(instant);
        final long toMs = next == null ? Long.MAX_VALUE : next.getInstant().toEpochMilli();
        // an instant exactly on a transition has the offset after it, and the previous transition is the one before
        final long fromMs = previous != null && previous.getOffsetAfter().equals(offset)
            ? previous.getInstant().toEpochMilli() : epochMs;
        return new OffsetRange(fromMs, toMs, offset.getTotalSeconds() * 1000L);
    }
}
