package io.tokenmeter.billing.price;

import io.tokenmeter.core.event.RateVariant;
import io.tokenmeter.core.log.TimeWindow;

import java.math.BigDecimal;

/**
 * One price version of a book entry: rates per million tokens of each billable class from {@code effective_from}
 * (a whole UTC hour) until the entry's next version, with the rules that price a request by what it was (SPEC section
 * 11): context tiers by prompt size ({@code long_context} is the one-tier form), thinking-mode rates, and time windows
 * with a multiplier. Which tier, mode and window an event is in was decided when it was metered (its
 * {@link RateVariant}); this class says what each variant costs. Immutable.
 */
public final class PriceVersion
{
    /** Billable classes: the first five {@link io.tokenmeter.core.event.TokenClass}es, in that order. */
    public static final int BILLABLE_CLASSES = 5;
    static final int CACHE_WRITE = 2;
    static final int CACHE_WRITE_1H = 3;
    /** The line context of the standard tier. */
    public static final String STANDARD_CONTEXT = "standard";
    /** The line context of the one-tier {@code long_context}. */
    public static final String LONG_CONTEXT = "long";

    /**
     * A context tier: a request whose prompt is above {@code above} tokens (and no higher tier's) is priced at these
     * rates; a class they leave out keeps the standard rate.
     *
     * @param label    the line's {@code context}: {@code long} for the one-tier {@code long_context}, else {@code above}.
     * @param thinking rates of a thinking-mode request in this tier, null for none.
     */
    record ContextTier(long above, String label, BigDecimal[] perMillion, BigDecimal[] thinking)
    {
    }

    /** A named time window: requests in it are priced with {@code multiplier} on every class. */
    record Window(String name, BigDecimal multiplier, TimeWindow rule)
    {
    }

    /** A version with no rates and no rules: names the variant of unpriced usage ({@link #contextLabel}, {@link #windowName}). */
    public static final PriceVersion NO_RULES = new PriceVersion(0, null, new BigDecimal[BILLABLE_CLASSES],
        new BigDecimal[io.tokenmeter.core.event.ServiceTier.values().length], new ContextTier[0], null, new Window[0],
        new Bands[BILLABLE_CLASSES]);

    private final long fromHour;
    private final String effectiveFrom;
    private final BigDecimal[] perMillion;
    private final BigDecimal[] multipliers;
    private final ContextTier[] contextTiers;
    private final long[] thresholds;
    private final BigDecimal[] thinking;
    private final Window[] windows;
    private final TimeWindow[] windowRules;
    private final Bands[] bands;

    /**
     * @param contextTiers ascending by {@code above}, at most {@link RateVariant#MAX_CONTEXT_TIERS}; empty for none.
     * @param thinking     the rates of a thinking-mode request, null for none.
     * @param windows      in the book's order, at most {@link RateVariant#MAX_WINDOWS}; empty for none.
     * @param bands        per billable class, the volume tiers of its rate, null where the class has a flat rate.
     */
    PriceVersion(final long fromHour, final String effectiveFrom, final BigDecimal[] perMillion, final BigDecimal[] multipliers,
        final ContextTier[] contextTiers, final BigDecimal[] thinking, final Window[] windows, final Bands[] bands)
    {
        this.fromHour = fromHour;
        this.effectiveFrom = effectiveFrom;
        this.perMillion = perMillion;
        this.multipliers = multipliers;
        this.contextTiers = contextTiers;
        this.thinking = thinking;
        this.windows = windows;
        this.bands = bands;
        this.thresholds = new long[contextTiers.length];
        for (int i = 0; i < contextTiers.length; i++)
        {
            thresholds[i] = contextTiers[i].above();
        }
        this.windowRules = new TimeWindow[windows.length];
        for (int i = 0; i < windows.length; i++)
        {
            windowRules[i] = windows[i].rule();
        }
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

    /** {@link #rate(int, int)} of a standard-mode request outside every window, in the long tier or the standard one. */
    public BigDecimal rate(final int tokenClass, final boolean longContext)
    {
        return rate(tokenClass, longContext ? 1 : RateVariant.STANDARD);
    }

    /**
     * The flat rate per million tokens of a billable class for a request of {@code variant}, or null when the version
     * gives none: the class is then priced by its {@link #bands} if it has them, else listed unpriced. The most specific
     * table that names the class prices it: the context tier's thinking rates, the tier's rates, the version's thinking
     * rates, the standard rates (a tier or mode the version does not have is skipped). {@code cache_write_1h} falls back
     * to {@code cache_write} within each table.
     */
    public BigDecimal rate(final int tokenClass, final int variant)
    {
        final BigDecimal special = specialRate(tokenClass, variant);
        return special != null ? special : rateIn(perMillion, tokenClass);
    }

    /** @return the rate a tier or thinking table gives the class, null when only the standard rates do. */
    private BigDecimal specialRate(final int tokenClass, final int variant)
    {
        final ContextTier tier = contextTier(variant);
        final boolean thinkingMode = RateVariant.thinking(variant);
        if (tier != null)
        {
            final BigDecimal rate = thinkingMode && tier.thinking() != null ? rateIn(tier.thinking(), tokenClass) : null;
            if (rate != null)
            {
                return rate;
            }
            final BigDecimal tierRate = rateIn(tier.perMillion(), tokenClass);
            if (tierRate != null)
            {
                return tierRate;
            }
        }
        return thinkingMode && thinking != null ? rateIn(thinking, tokenClass) : null;
    }

    private static BigDecimal rateIn(final BigDecimal[] table, final int tokenClass)
    {
        final BigDecimal rate = table[tokenClass];
        return rate == null && tokenClass == CACHE_WRITE_1H ? table[CACHE_WRITE] : rate;
    }

    /** {@link #bands(int, int)} of a standard-mode request outside every window. */
    public Bands bands(final int tokenClass, final boolean longContext)
    {
        return bands(tokenClass, longContext ? 1 : RateVariant.STANDARD);
    }

    /**
     * @return the volume tiers that price a billable class for a request of {@code variant}, or null when its rate is
     *     flat (or unpriced). Tiers are only in the standard rates: a class a context tier or the thinking rates price is
     *     flat; {@code cache_write_1h} without a rate of its own falls back to {@code cache_write}'s tiers.
     */
    public Bands bands(final int tokenClass, final int variant)
    {
        if (specialRate(tokenClass, variant) != null)
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

    /** @return the context tier of {@code variant} in this version, null for the standard tier or one it does not have. */
    ContextTier contextTier(final int variant)
    {
        final int tier = RateVariant.contextTier(variant);
        return tier == 0 || tier > contextTiers.length ? null : contextTiers[tier - 1];
    }

    /** @return true when a request of {@code variant} is in a context tier this version does not have. */
    public boolean lacksContextTier(final int variant)
    {
        return RateVariant.contextTier(variant) > contextTiers.length;
    }

    /** @return true when a request of {@code variant} is in a time window this version does not have. */
    public boolean lacksWindow(final int variant)
    {
        return RateVariant.window(variant) > windows.length;
    }

    /**
     * @return the line's {@code context} for {@code variant}: {@code standard}, {@code long}, or the tier's
     *     {@code above_input_tokens}; a tier the version does not have keeps the name the log's decision gives it
     *     ({@code long} for tier 1, {@code tier N} above).
     */
    public String contextLabel(final int variant)
    {
        final int tier = RateVariant.contextTier(variant);
        if (tier == 0)
        {
            return STANDARD_CONTEXT;
        }
        if (tier <= contextTiers.length)
        {
            return contextTiers[tier - 1].label();
        }
        return tier == 1 ? LONG_CONTEXT : "tier " + tier;
    }

    /** @return the line's {@code window}: {@code none}, the window's name, or {@code window N} for one it does not have. */
    public String windowName(final int variant)
    {
        final int window = RateVariant.window(variant);
        if (window == 0)
        {
            return "none";
        }
        return window <= windows.length ? windows[window - 1].name() : "window " + window;
    }

    /** @return the time window's multiplier for {@code variant}; 1 outside every window (or one the version lacks). */
    public BigDecimal windowMultiplier(final int variant)
    {
        final int window = RateVariant.window(variant);
        return window == 0 || window > windows.length ? BigDecimal.ONE : windows[window - 1].multiplier();
    }

    /** @return true when this version prices prompts above some size at other rates. */
    public boolean hasContextTiers()
    {
        return contextTiers.length > 0;
    }

    /** @return the context tiers' {@code above_input_tokens}, ascending (the journal decides a prompt's tier by them). */
    public long[] thresholds()
    {
        return thresholds.clone();
    }

    /** @return the time windows' rules in the version's order (the journal decides a request's window by them). */
    public TimeWindow[] windowRules()
    {
        return windowRules.clone();
    }

    public boolean hasTimeWindows()
    {
        return windows.length > 0;
    }

    /** @return the lowest context tier's {@code above_input_tokens}, {@link Long#MAX_VALUE} without tiers. */
    public long smallestThreshold()
    {
        return thresholds.length == 0 ? Long.MAX_VALUE : thresholds[0];
    }
}
