package io.tokenmeter.billing.rating;

import java.math.BigDecimal;
import java.math.BigInteger;

/**
 * One invoice line. A {@code usage} line is the quantity of one token class of one model, service tier and context
 * tier priced by one price version; unpriced usage lines have null price fields and amount 0. A {@code commit_true_up}
 * line brings a period's usage up to the tenant's minimum commitment (or, as an adjustment, gives back what late usage
 * of a final period now covers); its usage fields are null.
 *
 * @param kind                 {@link #USAGE} or {@link #COMMIT_TRUE_UP}.
 * @param priceFrom            the version's {@code effective_from}, null when unpriced.
 * @param priceEntry           the book key that matched, e.g. {@code gpt-4o*}; null when unpriced.
 * @param priceScope           {@code tenant} or {@code global}; null when unpriced.
 * @param unitPricePerMillion  the book's rate for this class (before multiplier and discount); null when unpriced.
 * @param serviceTierMultiplier the multiplier applied ("1" when the version gives none).
 * @param discountPercent      the tenant's discount applied ("0" when none).
 * @param amount               rounded once, half-even, to the currency's minor unit.
 * @param adjustmentFor        the finalized period this late usage belongs to, or null for the invoice's own period.
 * @param band                 for a rate with volume tiers, the band's token numbers ({@code 1-1000000},
 *                             {@code 1000001-}); null for a flat rate.
 * @param cost                 what the provider charges us for the line's usage, from the book's cost book, rounded
 *                             once; null without a cost book or a cost for the model.
 * @param margin               {@code amount - cost}; null when cost is.
 */
public record InvoiceLine(
    String kind,
    String model,
    String serviceTier,
    String tokenClass,
    String context,
    String priceFrom,
    String priceEntry,
    String priceScope,
    BigInteger quantity,
    String unitPricePerMillion,
    String serviceTierMultiplier,
    String discountPercent,
    BigDecimal amount,
    String adjustmentFor,
    String band,
    BigDecimal cost,
    BigDecimal margin)
{
    public static final String USAGE = "usage";
    public static final String COMMIT_TRUE_UP = "commit_true_up";

    /** @return a usage line. */
    public static InvoiceLine usage(final String model, final String serviceTier, final String tokenClass, final String context,
        final String priceFrom, final String priceEntry, final String priceScope, final BigInteger quantity,
        final String unitPricePerMillion, final String serviceTierMultiplier, final String discountPercent,
        final BigDecimal amount, final String adjustmentFor)
    {
        return new InvoiceLine(USAGE, model, serviceTier, tokenClass, context, priceFrom, priceEntry, priceScope, quantity,
            unitPricePerMillion, serviceTierMultiplier, discountPercent, amount, adjustmentFor, null, null, null);
    }

    /** @return this line with its cost, and the margin it leaves. */
    public InvoiceLine withCost(final BigDecimal lineCost)
    {
        return new InvoiceLine(kind, model, serviceTier, tokenClass, context, priceFrom, priceEntry, priceScope, quantity,
            unitPricePerMillion, serviceTierMultiplier, discountPercent, amount, adjustmentFor, band, lineCost,
            lineCost == null ? null : amount.subtract(lineCost));
    }

    /** @return this usage line in a band of volume tiers. */
    public InvoiceLine inBand(final String bandLabel)
    {
        return new InvoiceLine(kind, model, serviceTier, tokenClass, context, priceFrom, priceEntry, priceScope, quantity,
            unitPricePerMillion, serviceTierMultiplier, discountPercent, amount, adjustmentFor, bandLabel, cost, margin);
    }

    /** @return a minimum-commitment true-up line of {@code amount} (negative when it gives back a final period's). */
    public static InvoiceLine trueUp(final BigDecimal amount, final String adjustmentFor)
    {
        return new InvoiceLine(COMMIT_TRUE_UP, null, null, null, null, null, null, null, null, null, null, null, amount,
            adjustmentFor, null, null, null);
    }

    public boolean isUsage()
    {
        return USAGE.equals(kind);
    }

    public boolean unpriced()
    {
        return isUsage() && priceFrom == null;
    }
}
