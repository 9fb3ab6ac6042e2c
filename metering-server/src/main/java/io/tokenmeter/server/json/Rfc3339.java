package io.tokenmeter.server.json;

/**
 * Parses RFC 3339 timestamps with an offset ({@code 2026-11-23T10:00:00.123Z}, {@code ...+02:00}) to epoch
 * milliseconds without allocating. Written by hand because {@code java.time} parsing allocates several objects per
 * call and this runs once per event on the hot path. Fractions beyond milliseconds are truncated; leap seconds
 * ({@code :60}) are refused.
 */
public final class Rfc3339
{
    /** Returned for text that is not an RFC 3339 timestamp with offset. */
    public static final long INVALID = Long.MIN_VALUE;

    private Rfc3339()
    {
    }

    public static long parseMillis(final CharSequence text)
    {
        final char[] chars = text.toString().toCharArray();
        return parseMillis(chars, 0, chars.length);
    }

    public static long parseMillis(final char[] s, final int offset, final int length)
    {
        if (length < 20)
        {
            return INVALID;
        }
        final int end = offset + length;
        int i = offset;
        final int year = digits(s, i, 4);
        final int month = digits(s, i + 5, 2);
        final int day = digits(s, i + 8, 2);
        final int hour = digits(s, i + 11, 2);
        final int minute = digits(s, i + 14, 2);
        final int second = digits(s, i + 17, 2);
        if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59
            || second < 0 || second > 59
            || s[i + 4] != '-' || s[i + 7] != '-' || s[i + 13] != ':' || s[i + 16] != ':'
            || (s[i + 10] != 'T' && s[i + 10] != 't' && s[i + 10] != ' '))
        {
            return INVALID;
        }
        if (day > daysInMonth(year, month))
        {
            return INVALID;
        }
        i += 19;
        int millis = 0;
        if (i < end && s[i] == '.')
        {
            i++;
            final int fractionStart = i;
            int scale = 100;
            while (i < end && s[i] >= '0' && s[i] <= '9')
            {
                millis += (s[i] - '0') * scale;
                scale /= 10;
                i++;
            }
            if (i == fractionStart)
            {
                return INVALID;
            }
        }
        if (i >= end)
        {
            return INVALID;
        }
        int offsetMinutes = 0;
        final char zone = s[i];
        if (zone == 'Z' || zone == 'z')
        {
            i++;
        }
        else if (zone == '+' || zone == '-')
        {
            if (end - i != 6 || s[i + 3] != ':')
            {
                return INVALID;
            }
            final int offsetHours = digits(s, i + 1, 2);
            final int offsetMins = digits(s, i + 4, 2);
            if (offsetHours < 0 || offsetHours > 23 || offsetMins < 0 || offsetMins > 59)
            {
                return INVALID;
            }
            offsetMinutes = (offsetHours * 60 + offsetMins) * (zone == '-' ? -1 : 1);
            i += 6;
        }
        else
        {
            return INVALID;
        }
        if (i != end)
        {
            return INVALID;
        }
        final long epochDay = epochDay(year, month, day);
        final long seconds = epochDay * 86_400L + hour * 3600L + minute * 60L + second - offsetMinutes * 60L;
        return seconds * 1000L + millis;
    }

    private static int digits(final char[] s, final int at, final int count)
    {
        int value = 0;
        for (int k = 0; k < count; k++)
        {
            final char c = s[at + k];
            if (c < '0' || c > '9')
            {
                return -1;
            }
            value = value * 10 + (c - '0');
        }
        return value;
    }

    private static int daysInMonth(final int year, final int month)
    {
        switch (month)
        {
            case 2:
                return (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28;
            case 4: case 6: case 9: case 11:
                return 30;
            default:
                return 31;
        }
    }

    /** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
    static long epochDay(final int year, final int month, final int day)
    {
        final int y = month <= 2 ? year - 1 : year;
        final int era = Math.floorDiv(y, 400);
        final int yearOfEra = y - era * 400;
        final int monthIndex = (month + 9) % 12;
        final int dayOfYear = (153 * monthIndex + 2) / 5 + day - 1;
        final int dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear;
        return era * 146_097L + dayOfEra - 719_468L;
    }
}
