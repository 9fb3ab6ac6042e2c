package io.tokenmeter.billing.rating;

import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.billing.price.PriceVersion;
import io.tokenmeter.core.aggregate.TenantBucket;
import io.tokenmeter.core.event.ServiceTier;
import io.tokenmeter.core.event.TokenClass;
import io.tokenmeter.core.money.Money;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Prices hour buckets into invoice lines (SPEC section 5). Each bucket hour is priced by the version in effect at
 * the start of that hour; quantities are summed per line key (model, service tier, token class, context tier, price
 * version) and each line is priced once, exactly, then rounded once, half-even. Cold path: plain, readable Java.
 */
public final class Rater
{
    public static final String CONTEXT_STANDARD = "standard";
    public static final String CONTEXT_LONG = "long";

    /**
     * Line order on an invoice: own usage first, then its true-up, then adjustments by period (each with its true-up
     * last); within usage by model, tier, class, context, version.
     */
    public static final Comparator<InvoiceLine> LINE_ORDER = Comparator
        .comparing((InvoiceLine l) -> l.adjustmentFor() == null ? "" : l.adjustmentFor())
        .thenComparingInt(l -> l.isUsage() ? 0 : 1)
        .thenComparing(l -> l.model() == null ? "" : l.model())
        .thenComparingInt(l -> tierCode(l.serviceTier()))
        .thenComparingInt(l -> classIndex(l.tokenClass()))
        .thenComparingInt(l -> CONTEXT_LONG.equals(l.context()) ? 1 : 0)
        .thenComparing(l -> l.priceFrom() == null ? "" : l.priceFrom())
        .thenComparing(l -> Objects.toString(l.priceScope(), "") + Objects.toString(l.priceEntry(), ""));

    private record LineKey(String model, int tierCode, int tokenClass, int context, String scope, String entry, String from)
    {
    }

    private Rater()
    {
    }

    /**
     * @param adjustmentFor the finalized period the buckets' usage belongs to, or null for the invoice's own period.
     * @param warnings      collects what finance must know (unpriced usage, saturated counters); kept in order, once.
     */
    public static List<InvoiceLine> rate(final PriceBook book, final String tenant, final Collection<TenantBucket> buckets,
        final String adjustmentFor, final Set<String> warnings)
    {
        final Map<LineKey, BigInteger> quantities = new LinkedHashMap<>();
        final Map<LineKey, PriceVersion> versions = new LinkedHashMap<>();
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
            else if (bucket.context() == 1 && !price.version().hasLongContext())
            {
                warnings.add("model '" + bucket.model() + "' has long-context usage but the price version from "
                    + price.version().effectiveFrom() + " of '" + price.entryKey() + "' has no long_context rule: it is "
                    + "priced at the standard rates");
            }
            for (int c = 0; c < PriceVersion.BILLABLE_CLASSES; c++)
            {
                final long quantity = bucket.tokens(c);
                if (quantity == 0)
                {
                    continue;
                }
                PriceVersion version = price == null ? null : price.version();
                if (version != null && version.rate(c, bucket.context() == 1) == null)
                {
                    warnings.add("model '" + bucket.model() + "': the price version from " + version.effectiveFrom() + " of '"
                        + price.entryKey() + "' has no " + TokenClass.of(c).className() + " rate: that usage is listed "
                        + "as unpriced lines with amount 0");
                    version = null;
                }
                final LineKey key = version == null
                    ? new LineKey(bucket.model(), bucket.tierCode(), c, bucket.context(), null, null, null)
                    : new LineKey(bucket.model(), bucket.tierCode(), c, bucket.context(), price.scope(), price.entryKey(),
                        version.effectiveFrom());
                quantities.merge(key, BigInteger.valueOf(quantity), BigInteger::add);
                versions.putIfAbsent(key, version);
            }
        }
        final BigDecimal discount = book.discountPercent(tenant);
        final int minorDigits = book.minorDigits(tenant);
        final List<InvoiceLine> lines = new ArrayList<>(quantities.size());
        quantities.forEach((key, quantity) -> lines.add(line(key, versions.get(key), quantity, discount, minorDigits, adjustmentFor)));
        lines.sort(LINE_ORDER);
        return lines;
    }

    private static InvoiceLine line(final LineKey key, final PriceVersion version, final BigInteger quantity,
        final BigDecimal discount, final int minorDigits, final String adjustmentFor)
    {
        final String tier = ServiceTier.fromCode(key.tierCode()).jsonName();
        final String tokenClass = TokenClass.of(key.tokenClass()).className();
        final String context = key.context() == 1 ? CONTEXT_LONG : CONTEXT_STANDARD;
        if (version == null)
        {
            return InvoiceLine.usage(key.model(), tier, tokenClass, context, null, null, null, quantity, null, "1",
                discount.toPlainString(), Money.round(BigDecimal.ZERO, minorDigits), adjustmentFor);
        }
        final BigDecimal rate = version.rate(key.tokenClass(), key.context() == 1);
        final BigDecimal multiplier = version.multiplier(key.tierCode());
        final BigDecimal amount = Money.round(Money.exactAmount(quantity, rate, multiplier, discount), minorDigits);
        return InvoiceLine.usage(key.model(), tier, tokenClass, context, key.from(), key.entry(), key.scope(), quantity,
            rate.toPlainString(), multiplier.toPlainString(), discount.toPlainString(), amount, adjustmentFor);
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
