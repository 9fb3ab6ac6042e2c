package io.tokenmeter.billing.invoice;

import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.regex.Pattern;

/** Billing periods: UTC calendar months written {@code YYYY-MM}. */
public final class Periods
{
    private static final Pattern PERIOD = Pattern.compile("[0-9]{4}-(0[1-9]|1[0-2])");

    private Periods()
    {
    }

    /** @return the period, or null when the text is not {@code YYYY-MM}. */
    public static YearMonth parse(final String text)
    {
        return text != null && PERIOD.matcher(text).matches() ? YearMonth.parse(text) : null;
    }

    /** @return the first UTC hour (hours since 1970) of the period. */
    public static long startHour(final YearMonth period)
    {
        return period.atDay(1).atStartOfDay().toEpochSecond(ZoneOffset.UTC) / 3600;
    }

    /** @return the first UTC hour after the period. */
    public static long endHour(final YearMonth period)
    {
        return startHour(period.plusMonths(1));
    }

    /** @return the period holding an hour. */
    public static YearMonth ofHour(final long hour)
    {
        return YearMonth.from(java.time.LocalDateTime.ofEpochSecond(hour * 3600, 0, ZoneOffset.UTC));
    }
}
