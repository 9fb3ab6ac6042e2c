package io.tokenmeter.billing.rating;

import io.tokenmeter.billing.price.Bands;
import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.billing.price.PriceVersion;
import io.tokenmeter.core.aggregate.TenantBucket;
import io.tokenmeter.core.event.RateVariant;
import io.tokenmeter.core.event.ServiceTier;
import io.tokenmeter.core.event.TokenClass;
import io.tokenmeter.core.money.Money;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Prices hour buckets into invoice lines (SPEC sections 5 and 11). Each bucket hour is priced by the version in effect
 * at the start of that hour; quantities are summed per line key (model, service tier, token class, rate variant, price
 * version, band) and each line is priced once, exactly, then rounded once, half-even. The variant (context tier, mode,
 * time window) was decided per event when it was metered; the version says its rates and window multiplier. Cold path:
 * plain, readable Java.
 */
public final class Rater
{
    public static final String CONTEXT_STANDARD = PriceVersion.STANDARD_CONTEXT;
    public static final String CONTEXT_LONG = PriceVersion.LONG_CONTEXT;

    /**
     * Line order on an invoice: own usage first, then its true-up, then adjustments by period (each with its true-up
     * last); within usage by model, tier, class, context (standard, then tiers by size), mode, window, band, version.
     */
    public static final Comparator<InvoiceLine> LINE_ORDER = Comparator
        .comparing((InvoiceLine l) -> l.adjustmentFor() == null ? "" : l.adjustmentFor())
        .thenComparingInt(l -> l.isUsage() ? 0 : 1)
        .thenComparing(l -> l.model() == null ? "" : l.model())
        .thenComparingInt(l -> tierCode(l.serviceTier()))
        .thenComparingInt(l -> classIndex(l.tokenClass()))
        .thenComparingLong(l -> contextOrder(l.context()))
        .thenComparing(l -> InvoiceLine.MODE_THINKING.equals(l.mode()) ? 1 : 0)
        .thenComparing(l -> l.window() == null || InvoiceLine.NO_WINDOW.equals(l.window()) ? "" : l.window())
        .thenComparingLong(l -> l.band() == null ? 0 : Long.parseLong(l.band().substring(0, l.band().indexOf('-'))))
        .thenComparing(l -> l.priceFrom() == null ? "" : l.priceFrom())
        .thenComparing(l -> Objects.toString(l.priceScope(), "") + Objects.toString(l.priceEntry(), ""));

    /** {@code band} is -1 for a flat rate, else the band's index in the version's tiers of the class. */
    private record LineKey(String model, int tierCode, int tokenClass, int variant, String scope, String entry, String from,
        int band)
    {
    }

    /** The quantity of one class of one bucket, priced by volume tiers: placed in its band once the totals are known. */
    private record Banded(TenantBucket bucket, int tokenClass, PriceBook.Resolved price, Bands bands, long quantity)
    {
        String group()
        {
            return group(price.scope(), price.entryKey(), tokenClass);
        }

        static String group(final String scope, final String entry, final int tokenClass)
        {
            return scope + '\0' + entry + '\0' + tokenClass;
        }
    }

    /**
     * What the provider charges us for each line, from the book's cost book: summed exactly per line key over the
     * buckets (each at the cost version of its hour, no discount), rounded once with the line.
     */
    private static final class Costs
    {
        private final PriceBook book;
        private final String tenant;
        private final Set<String> warnings;
        private final Map<LineKey, BigDecimal> exact = new HashMap<>();
        private final Set<LineKey> unknown = new HashSet<>();
        /** Told every quantity added to a line key, with its hour (credit grants cover hours); null when not asked. */
        private final UnitTrace trace;

        Costs(final PriceBook book, final String tenant, final Set<String> warnings, final UnitTrace trace)
        {
            this.book = book;
            this.tenant = tenant;
            this.warnings = warnings;
            this.trace = trace;
        }

        /**
         * Every quantity a line key is given passes here, right after it is added to the key's total.
         *
         * @param firstUnit where in the bucket's units of the class the quantity starts (0 but where graduated bands split
         *                  the bucket: its first units fill the lower band).
         */
        void add(final LineKey key, final TenantBucket bucket, final int tokenClass, final long firstUnit, final long quantity)
        {
            if (trace != null)
            {
                trace.add(key, bucket, firstUnit, quantity);
            }
            if (!book.hasCosts())
            {
                return;
            }
            final PriceBook.Resolved cost = book.costOf(tenant, bucket.model(), bucket.hour());
            final BigDecimal rate = cost == null ? null : cost.version().rate(tokenClass, bucket.variant());
            if (rate == null)
            {
                unknown.add(key);
                warnings.add("model '" + bucket.model() + "' has no " + TokenClass.of(tokenClass).className() + " cost in the "
                    + "cost book in " + book.currency(tenant) + " for the hour from " + hourText(bucket.hour()) + ": its lines "
                    + "carry no cost or margin");
                return;
            }
            exact.merge(key, Money.exactAmount(BigInteger.valueOf(quantity), rate, cost.version().multiplier(bucket.tierCode()),
                BigDecimal.ZERO), BigDecimal::add);
        }

        /** @return the line's cost, rounded once; null without a cost book or with usage of unknown cost. */
        BigDecimal of(final LineKey key, final int minorDigits)
        {
            if (!book.hasCosts() || unknown.contains(key))
            {
                return null;
            }
            return Money.round(exact.getOrDefault(key, BigDecimal.ZERO), minorDigits);
        }
    }

    private Rater()
    {
    }

    /** Rates the invoice's own period: volume tiers count from the period's first token. */
    public static List<InvoiceLine> rate(final PriceBook book, final String tenant, final Collection<TenantBucket> buckets,
        final String adjustmentFor, final Set<String> warnings)
    {
        return rate(book, tenant, buckets, adjustmentFor, Map.of(), warnings);
    }

    /**
     * @param adjustmentFor the finalized period the buckets' usage belongs to, or null for the invoice's own period.
     * @param billed        for late usage of a final period: the quantity of each tiered (scope, entry, class) already
     *                      billed for it ({@link #billedByGroup}); tiers count on from there. Empty for own usage.
     * @param warnings      collects what finance must know (unpriced usage, saturated counters); kept in order, once.
     */
    public static List<InvoiceLine> rate(final PriceBook book, final String tenant, final Collection<TenantBucket> buckets,
        final String adjustmentFor, final Map<String, Long> billed, final Set<String> warnings)
    {
        return rate(book, tenant, buckets, adjustmentFor, billed, warnings, null);
    }

    /** As {@link #rate(PriceBook, String, Collection, String, Map, Set)}, telling {@code trace} where each line's units came from. */
    public static List<InvoiceLine> rate(final PriceBook book, final String tenant, final Collection<TenantBucket> buckets,
        final String adjustmentFor, final Map<String, Long> billed, final Set<String> warnings, final UnitTrace trace)
    {
        final Map<LineKey, BigInteger> quantities = new LinkedHashMap<>();
        final Map<LineKey, PriceVersion> versions = new LinkedHashMap<>();
        final Map<LineKey, Bands> bandsOfKey = new LinkedHashMap<>();
        final List<Banded> banded = new ArrayList<>();
        final Costs costs = new Costs(book, tenant, warnings, trace);
        for (final TenantBucket bucket : buckets)
        {
            if (bucket.saturated())
            {
                warnings.add("a usage counter of model '" + bucket.model() + "' in the hour from " + hourText(bucket.hour())
                    + " reached its maximum (2^63-1 tokens): the quantity shown is a lower bound");
            }
            final PriceBook.Resolved price = book.resolve(tenant, bucket.model(), bucket.hour());
            if (price == null)
            {
                warnings.add("model '" + bucket.model() + "' has no price in the book" + currencyNote(book, tenant)
                    + periodNote(adjustmentFor) + ": its usage is listed as unpriced lines with amount 0");
            }
            else
            {
                lackedRules(price, bucket, warnings);
            }
            for (int c = 0; c < PriceVersion.BILLABLE_CLASSES; c++)
            {
                final long quantity = bucket.tokens(c);
                if (quantity == 0)
                {
                    continue;
                }
                PriceVersion version = price == null ? null : price.version();
                final Bands bands = version == null ? null : version.bands(c, bucket.variant());
                if (bands != null)
                {
                    banded.add(new Banded(bucket, c, price, bands, quantity));
                    continue;
                }
                if (version != null && version.rate(c, bucket.variant()) == null)
                {
                    warnings.add("model '" + bucket.model() + "': the price version from " + version.effectiveFrom() + " of '"
                        + price.entryKey() + "' has no " + TokenClass.of(c).className() + " rate: that usage is listed "
                        + "as unpriced lines with amount 0");
                    version = null;
                }
                final LineKey key = version == null
                    ? new LineKey(bucket.model(), bucket.tierCode(), c, bucket.variant(), null, null, null, -1)
                    : new LineKey(bucket.model(), bucket.tierCode(), c, bucket.variant(), price.scope(), price.entryKey(),
                        version.effectiveFrom(), -1);
                quantities.merge(key, BigInteger.valueOf(quantity), BigInteger::add);
                versions.putIfAbsent(key, version);
                costs.add(key, bucket, c, 0, quantity);
            }
        }
        placeInBands(banded, billed, quantities, versions, bandsOfKey, costs, adjustmentFor, warnings);
        final BigDecimal discount = book.discountPercent(tenant);
        final int minorDigits = book.minorDigits(tenant);
        final List<InvoiceLine> lines = new ArrayList<>(quantities.size());
        quantities.forEach((key, quantity) ->
        {
            final InvoiceLine line = line(key, versions.get(key), bandsOfKey.get(key), quantity, discount, minorDigits,
                adjustmentFor).withCost(costs.of(key, minorDigits));
            lines.add(line);
            if (trace != null)
            {
                trace.line(key, line);
            }
        });
        lines.sort(LINE_ORDER);
        return lines;
    }

    /**
     * Places tiered quantities in their bands. Graduated: the running total of the (scope, entry, class) group, from
     * what was already billed, splits each hour's units over the bands it crosses. Volume: every unit of the group at the
     * band its total (billed + these) reaches.
     */
    private static void placeInBands(final List<Banded> banded, final Map<String, Long> billed,
        final Map<LineKey, BigInteger> quantities, final Map<LineKey, PriceVersion> versions, final Map<LineKey, Bands> bandsOfKey,
        final Costs costs, final String adjustmentFor, final Set<String> warnings)
    {
        // graduated tiers fill in time order: an hour's units take the bands after those of the hours before
        banded.sort(Comparator.comparingLong((Banded b) -> b.bucket().hour()).thenComparing(b -> b.bucket().model())
            .thenComparingInt(b -> b.bucket().tierCode()).thenComparingInt(b -> b.bucket().variant())
            .thenComparingInt(Banded::tokenClass));
        final Map<String, Long> totals = new LinkedHashMap<>();
        for (final Banded b : banded)
        {
            totals.merge(b.group(), b.quantity(), Rater::saturatingAdd);
        }
        final Map<String, Long> running = new LinkedHashMap<>();
        for (final Banded b : banded)
        {
            final String group = b.group();
            final long before = running.computeIfAbsent(group, g -> billed.getOrDefault(g, 0L));
            final Bands bands = b.bands();
            if (!bands.graduated())
            {
                final long already = billed.getOrDefault(group, 0L);
                final int band = bands.bandOf(saturatingAdd(already, totals.get(group)));
                if (already > 0 && band != bands.bandOf(already))
                {
                    warnings.add("late usage of " + adjustmentFor + " moved the " + TokenClass.of(b.tokenClass()).className()
                        + " total of '" + b.price().entryKey() + "' into the volume band " + bands.label(band) + ": the late "
                        + "units are priced in it; the units already billed on the final invoice keep their band");
                }
                add(b, band, 0, b.quantity(), quantities, versions, bandsOfKey, costs);
                continue;
            }
            long position = before;
            long left = b.quantity();
            while (left > 0)
            {
                // a running total saturated at 2^63-1 (the counters flag it) stays in the last band, never wraps to the first
                final int band = bands.bandOf(position == Long.MAX_VALUE ? position : position + 1);
                final long room = bands.upTo(band) == Long.MAX_VALUE ? left : bands.upTo(band) - position;
                final long piece = Math.min(left, room);
                add(b, band, b.quantity() - left, piece, quantities, versions, bandsOfKey, costs);
                position = saturatingAdd(position, piece);
                left -= piece;
            }
            running.put(group, position);
        }
    }

    private static void add(final Banded b, final int band, final long firstUnit, final long quantity,
        final Map<LineKey, BigInteger> quantities, final Map<LineKey, PriceVersion> versions,
        final Map<LineKey, Bands> bandsOfKey, final Costs costs)
    {
        final TenantBucket bucket = b.bucket();
        final LineKey key = new LineKey(bucket.model(), bucket.tierCode(), b.tokenClass(), bucket.variant(), b.price().scope(),
            b.price().entryKey(), b.price().version().effectiveFrom(), band);
        quantities.merge(key, BigInteger.valueOf(quantity), BigInteger::add);
        versions.putIfAbsent(key, b.price().version());
        bandsOfKey.putIfAbsent(key, b.bands());
        costs.add(key, bucket, b.tokenClass(), firstUnit, quantity);
    }

    /**
     * @return for late usage of {@code period}: the quantity of each tiered (scope, entry, class) group its final invoice
     *     and the adjustments for it on later final invoices billed, where tiers go on counting.
     */
    public static Map<String, Long> billedByGroup(final Collection<List<InvoiceLine>> billedLines)
    {
        final Map<String, Long> billed = new LinkedHashMap<>();
        for (final List<InvoiceLine> lines : billedLines)
        {
            for (final InvoiceLine line : lines)
            {
                if (line.isUsage() && line.band() != null)
                {
                    billed.merge(Banded.group(line.priceScope(), line.priceEntry(), classIndex(line.tokenClass())),
                        line.quantity().min(BigInteger.valueOf(Long.MAX_VALUE)).longValue(), Rater::saturatingAdd);
                }
            }
        }
        return billed;
    }

    private static long saturatingAdd(final long a, final long b)
    {
        final long sum = a + b;
        return ((a ^ sum) & (b ^ sum)) < 0 ? Long.MAX_VALUE : sum;
    }

    private static InvoiceLine line(final LineKey key, final PriceVersion version, final Bands bands, final BigInteger quantity,
        final BigDecimal discount, final int minorDigits, final String adjustmentFor)
    {
        final String tier = ServiceTier.fromCode(key.tierCode()).jsonName();
        final String tokenClass = TokenClass.of(key.tokenClass()).className();
        final String mode = RateVariant.thinking(key.variant()) ? InvoiceLine.MODE_THINKING : InvoiceLine.MODE_STANDARD;
        if (version == null)
        {
            return InvoiceLine.usage(key.model(), tier, tokenClass, PriceVersion.NO_RULES.contextLabel(key.variant()), mode,
                PriceVersion.NO_RULES.windowName(key.variant()), null, null, null, quantity, null, "1", "1", discount.toPlainString(),
                Money.round(BigDecimal.ZERO, minorDigits), adjustmentFor);
        }
        final BigDecimal rate = bands == null ? version.rate(key.tokenClass(), key.variant()) : bands.rate(key.band());
        final BigDecimal multiplier = version.multiplier(key.tierCode());
        final BigDecimal windowMultiplier = version.windowMultiplier(key.variant());
        final BigDecimal amount = Money.round(Money.exactAmount(quantity, rate, multiplier.multiply(windowMultiplier), discount),
            minorDigits);
        final InvoiceLine line = InvoiceLine.usage(key.model(), tier, tokenClass, version.contextLabel(key.variant()), mode,
            version.windowName(key.variant()), key.from(), key.entry(), key.scope(), quantity, rate.toPlainString(),
            multiplier.toPlainString(), windowMultiplier.toPlainString(), discount.toPlainString(), amount, adjustmentFor);
        return bands == null ? line : line.inBand(bands.label(key.band()));
    }

    /** Warns when the log decided a context tier or time window the version that prices the bucket does not have. */
    private static void lackedRules(final PriceBook.Resolved price, final TenantBucket bucket, final Set<String> warnings)
    {
        final PriceVersion version = price.version();
        if (version.lacksContextTier(bucket.variant()))
        {
            warnings.add("model '" + bucket.model() + "' has usage metered in context tier " + bucket.contextTier() + " ("
                + version.contextLabel(bucket.variant()) + ") but the price version from " + version.effectiveFrom() + " of '"
                + price.entryKey() + "' has no such tier: it is priced at the standard rates");
        }
        if (version.lacksWindow(bucket.variant()))
        {
            warnings.add("model '" + bucket.model() + "' has usage metered in time window " + bucket.window() + " but the "
                + "price version from " + version.effectiveFrom() + " of '" + price.entryKey() + "' has no such window: it "
                + "is priced without a window multiplier");
        }
    }

    /**
     * @return where a line's {@code context} sorts: standard first, then {@code long}, then tiers by their size, then
     *     tiers a version lacked.
     */
    private static long contextOrder(final String context)
    {
        if (context == null || CONTEXT_STANDARD.equals(context))
        {
            return -2;
        }
        if (CONTEXT_LONG.equals(context))
        {
            return -1;
        }
        return context.chars().allMatch(Character::isDigit) && context.length() < 19 ? Long.parseLong(context) : Long.MAX_VALUE;
    }

    /** @return the sum of the lines' rounded amounts. */
    public static BigDecimal sum(final Collection<InvoiceLine> lines, final int minorDigits)
    {
        BigDecimal total = Money.round(BigDecimal.ZERO, minorDigits);
        for (final InvoiceLine line : lines)
        {
            total = total.add(line.amount());
        }
        return total;
    }

    /** No implicit exchange rate (SPEC section 11): a price in another currency is no price; say so when there is one. */
    private static String currencyNote(final PriceBook book, final String tenant)
    {
        final String currency = book.currency(tenant);
        return book.currencies().size() == 1 && book.currency().equals(currency) ? "" : " in " + currency
            + " (the tenant's currency; prices in other currencies are never converted)";
    }

    private static String periodNote(final String adjustmentFor)
    {
        return adjustmentFor == null ? "" : " (late usage for " + adjustmentFor + ")";
    }

    static String hourText(final long hour)
    {
        return Instant.ofEpochSecond(hour * 3600).toString();
    }

    private static int tierCode(final String tier)
    {
        for (final ServiceTier t : ServiceTier.values())
        {
            if (t.jsonName().equals(tier))
            {
                return t.code();
            }
        }
        return -1;
    }

    private static int classIndex(final String tokenClass)
    {
        for (int i = 0; i < TokenClass.COUNT; i++)
        {
            if (TokenClass.of(i).className().equals(tokenClass))
            {
                return i;
            }
        }
        return -1;
    }
}
