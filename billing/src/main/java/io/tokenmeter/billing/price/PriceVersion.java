package io.tokenmeter.billing.price;

import io.tokenmeter.core.log.LongContextRules;

import java.math.BigDecimal;

/**
 * One price version of a book entry: rates per million tokens of each billable class from {@code effective_from}
 * (a whole UTC hour) until the entry's next version. Immutable.
 */
public final class PriceVersion
{
    /** Billable classes: the first five {@link io.tokenmeter.core.event.TokenClass}es, in that order. */
    public static final int BILLABLE_CLASSES = 5;
    static final int CACHE_WRITE = 2;
    static final int CACHE_WRITE_1H = 3;

    private final long fromHour;
    private final String effectiveFrom;
    private final BigDecimal[] perMillion;
    private final BigDecimal[] multipliers;
    private final long longContextAbove;
    private final BigDecimal[] longPerMillion;
    private final Bands[] bands;

    /** @param bands per billable class, the volume tiers of its rate, null where the class has a flat rate. */
    PriceVersion(final long fromHour, final String effectiveFrom, final BigDecimal[] perMillion, final BigDecimal[] multipliers,
        final long longContextAbove, final BigDecimal[] longPerMillion, final Bands[] bands)
    {
        this.bands = bands;
        this.fromHour = fromHour;
        this.effectiveFrom = effectiveFrom;
        this.perMillion = perMillion;
        this.multipliers = multipliers;
        this.longContextAbove = longContextAbove;
        this.longPerMillion = longPerMillion;
    }

    /** @return UTC hours since 1970 from which this version is in effect. */
    public long fromHour()
    {
        return fromHour;
    }

    /** @return {@code effective_from} as RFC 3339 UTC, e.g. {@code 2024-08-06T00:00:00Z}. */
    public String effectiveFrom()
    {
        return effectiveFrom;
    }

    /**
     * The flat rate per million tokens of a billable class, or null when the version gives none: the class is then
     * priced by its {@link #bands} if it has them, else listed unpriced. {@code cache_write_1h} falls back to {@code cache_write}; in the long context tier a class the
     * long-context rule does not price falls back to the standard rate.
     */
    public BigDecimal rate(final int tokenClass, final boolean longContext)
    {
        if (longContext && longPerMillion != null)
        {
            final BigDecimal rate = rateIn(longPerMillion, tokenClass);
            if (rate != null)
            {
                return rate;
            }
        }
        return rateIn(perMillion, tokenClass);
    }

    private static BigDecimal rateIn(final BigDecimal[] table, final int tokenClass)
    {
        final BigDecimal rate = table[tokenClass];
        return rate == null && tokenClass == CACHE_WRITE_1H ? table[CACHE_WRITE] : rate;
    }

    /**
     * @return the volume tiers that price a billable class, or null when its rate is flat (or unpriced). In the long
     *     context tier a class with its own long-context rate is flat; {@code cache_write_1h} without a rate of its own
     *     falls back to {@code cache_write}'s tiers.
     */
    public Bands bands(final int tokenClass, final boolean longContext)
    {
        if (longContext && longPerMillion != null && rateIn(longPerMillion, tokenClass) != null)
        {
            return null;
        }
        if (tokenClass == CACHE_WRITE_1H && perMillion[CACHE_WRITE_1H] == null && bands[CACHE_WRITE_1H] == null)
        {
            return bands[CACHE_WRITE];
        }
        return bands[tokenClass];
    }

    /** @return the service tier's multiplier; 1 where the version gives none. */
    public BigDecimal multiplier(final int tierCode)
    {
        final BigDecimal multiplier = multipliers[tierCode];
        return multiplier == null ? BigDecimal.ONE : multiplier;
    }

    /** @return true when this version prices prompts above a size at other rates. */
    public boolean hasLongContext()
    {
        return longContextAbove != LongContextRules.NO_THRESHOLD;
    }

    /** @return the prompt size above which an event is long context, {@link LongContextRules#NO_THRESHOLD} if none. */
    public long longContextAbove()
    {
        return longContextAbove;
    }
}
