package io.tokenmeter.core.log;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Time windows at their first and last millisecond, across midnight and a weekday change, in UTC, Asia/Shanghai and a
 * zone with summer time. 2025-10-03 is a Friday.
 */
class TimeWindowTest
{
    private static final int WEEKDAYS = 0b0011111;
    private static final int EVERY_DAY = 0x7F;

    private static long ms(final String iso)
    {
        return Instant.parse(iso).toEpochMilli();
    }

    private static int minute(final int hour, final int minute)
    {
        return hour * 60 + minute;
    }

    @Test
    void aUtcWindowCrossingMidnightBelongsToTheDayItOpens()
    {
        final TimeWindow offPeak = new TimeWindow(ZoneOffset.UTC, WEEKDAYS, minute(16, 30), minute(0, 30));
        assertFalse(offPeak.contains(ms("2025-10-03T16:29:59.999Z")), "Friday, a millisecond before it opens");
        assertTrue(offPeak.contains(ms("2025-10-03T16:30:00.000Z")), "Friday, its first millisecond (from is inclusive)");
        assertTrue(offPeak.contains(ms("2025-10-03T23:59:59.999Z")), "Friday before midnight");
        assertTrue(offPeak.contains(ms("2025-10-04T00:00:00.000Z")), "Saturday after midnight: Friday's window");
        assertTrue(offPeak.contains(ms("2025-10-04T00:29:59.999Z")), "Saturday, the window's last millisecond");
        assertFalse(offPeak.contains(ms("2025-10-04T00:30:00.000Z")), "to is exclusive");
        assertFalse(offPeak.contains(ms("2025-10-04T16:30:00.000Z")), "Saturday does not open a window");
        assertFalse(offPeak.contains(ms("2025-10-06T00:10:00.000Z")), "Monday morning belongs to Sunday's window, none");
        assertTrue(offPeak.contains(ms("2025-10-06T16:30:00.000Z")), "Monday evening");
        assertTrue(offPeak.contains(ms("2025-10-07T00:15:00.000Z")), "Tuesday morning: Monday's window");
        assertFalse(offPeak.contains(ms("2025-10-07T12:00:00.000Z")), "midday");
    }

    @Test
    void aShanghaiWindowIsReadOnBeijingTimeWhoseWeekdayDiffersFromUtc()
    {
        final TimeWindow night = new TimeWindow(ZoneId.of("Asia/Shanghai"), WEEKDAYS, minute(0, 30), minute(8, 30));
        assertTrue(night.contains(ms("2025-10-05T16:30:00.000Z")), "Monday 00:30 in Beijing is Sunday 16:30 UTC");
        assertFalse(night.contains(ms("2025-10-05T16:29:59.999Z")), "Monday 00:29:59.999 in Beijing");
        assertTrue(night.contains(ms("2025-10-06T00:29:59.999Z")), "Monday 08:29:59.999 in Beijing, its last millisecond");
        assertFalse(night.contains(ms("2025-10-06T00:30:00.000Z")), "Monday 08:30 in Beijing");
        assertFalse(night.contains(ms("2025-10-03T16:30:00.000Z")), "Saturday 00:30 in Beijing (Friday in UTC)");
        assertTrue(night.contains(ms("2025-10-02T16:30:00.000Z")), "Friday 00:30 in Beijing (Thursday in UTC)");
    }

    @Test
    void summerTimeMovesTheWindowInUtcAndTheCachedOffsetFollows()
    {
        final TimeWindow office = new TimeWindow(ZoneId.of("America/New_York"), EVERY_DAY, minute(9, 0), minute(17, 0));
        // interleaved on both sides of the 2025-03-09 transition, so the cached offset must be replaced both ways
        for (int round = 0; round < 3; round++)
        {
            assertTrue(office.contains(ms("2025-03-07T14:00:00.000Z")), "09:00 EST");
            assertFalse(office.contains(ms("2025-03-07T13:59:59.999Z")), "08:59:59.999 EST");
            assertTrue(office.contains(ms("2025-03-10T13:00:00.000Z")), "09:00 EDT");
            assertFalse(office.contains(ms("2025-03-10T12:59:59.999Z")), "08:59:59.999 EDT");
            assertTrue(office.contains(ms("2025-03-10T20:59:59.999Z")), "16:59:59.999 EDT");
            assertFalse(office.contains(ms("2025-03-10T21:00:00.000Z")), "17:00 EDT");
            assertFalse(office.contains(ms("2025-03-09T07:00:00.000Z")), "03:00 EDT, the moment of the transition, is night");
            assertFalse(office.contains(ms("2025-03-09T07:00:00.000Z") - 1), "01:59:59.999 EST, just before it");
            assertTrue(office.contains(ms("2025-03-09T13:00:00.000Z")), "09:00 EDT on the transition day");
        }
    }

    @Test
    void aWholeDayWindowOnOneWeekday()
    {
        final TimeWindow sunday = new TimeWindow(ZoneOffset.UTC, 1 << 6, 0, 1440);
        assertFalse(sunday.contains(ms("2025-10-04T23:59:59.999Z")), "Saturday's last millisecond");
        assertTrue(sunday.contains(ms("2025-10-05T00:00:00.000Z")), "Sunday's first");
        assertTrue(sunday.contains(ms("2025-10-05T23:59:59.999Z")), "Sunday's last");
        assertFalse(sunday.contains(ms("2025-10-06T00:00:00.000Z")), "Monday's first");
        assertTrue(sunday.contains(ms("1970-01-04T12:00:00.000Z")), "the first Sunday after the epoch");
        assertFalse(sunday.contains(ms("1970-01-01T12:00:00.000Z")), "the epoch was a Thursday");
    }

    @Test
    void windowsWithoutALengthOrOutsideTheDayAreRefused()
    {
        assertThrows(IllegalArgumentException.class, () -> new TimeWindow(ZoneOffset.UTC, EVERY_DAY, 60, 60));
        assertThrows(IllegalArgumentException.class, () -> new TimeWindow(ZoneOffset.UTC, EVERY_DAY, 1440, 60));
        assertThrows(IllegalArgumentException.class, () -> new TimeWindow(ZoneOffset.UTC, 0, 0, 60));
        assertEquals(0, new RateSchedule(new long[0], new long[0][], new TimeWindow[0][]).decide(0, Long.MAX_VALUE));
    }
}
