package io.tokenmeter.billing.rating;

import java.math.BigDecimal;
import java.math.BigInteger;

/**
 * One invoice line. A {@code usage} line is the quantity of one token class of one model, service tier and context
 * tier priced by one price version; unpriced usage lines have null price fields and amount 0. A {@code commit_true_up}
 * line brings a period's usage up to the tenant's minimum commitment (or, as an adjustment, gives back what late usage
 * of a final period now covers); a {@code credit} line draws a prepaid credit grant (a negative amount, {@code grant}
 * names it). The usage fields of the other kinds are null.
 *
 * @param kind                 {@link #USAGE}, {@link #COMMIT_TRUE_UP} or {@link #CREDIT}.
 * @param context              the context tier: {@code standard}, {@code long} (the one-tier {@code long_context}) or a
 *                             context tier's {@code above_input_tokens}, e.g. {@code 128000}.
 * @param mode                 {@code standard} or {@code thinking} (the request was made in thinking mode).
 * @param window               {@code none}, or the name of the time window the requests fell in.
 * @param priceFrom            the version's {@code effective_from}, null when unpriced.
 * @param priceEntry           the book key that matched, e.g. {@code gpt-4o*}; null when unpriced.
 * @param priceScope           {@code tenant} or {@code global}; null when unpriced.
 * @param unitPricePerMillion  the book's rate for this class (before multiplier and discount); null when unpriced.
 * @param serviceTierMultiplier the multiplier applied ("1" when the version gives none).
 * @param windowMultiplier     the time window's multiplier applied ("1" outside every window).
 * @param discountPercent      the tenant's discount applied ("0" when none).
 * @param amount               rounded once, half-even, to the currency's minor unit.
 * @param adjustmentFor        the finalized period this late usage belongs to, or null for the invoice's own period.
 * @param band                 for a rate with volume tiers, the band's token numbers ({@code 1-1000000},
 *                             {@code 1000001-}); null for a flat rate.
 * @param cost                 what the provider charges us for the line's usage, from the book's cost book, rounded
 *                             once; null without a cost book or a cost for the model.
 * @param margin               {@code amount - cost}; null when cost is.
 * @param grant                for a {@code credit} line, the id of the credit grant drawn; null for the other kinds.
 */
public record InvoiceLine(
    String kind,
    String model,
    String serviceTier,
    String tokenClass,
    String context,
    String mode,
    String window,
    String priceFrom,
    String priceEntry,
    String priceScope,
    BigInteger quantity,
    String unitPricePerMillion,
    String serviceTierMultiplier,
    String windowMultiplier,
    String discountPercent,
    BigDecimal amount,
    String adjustmentFor,
    String band,
    BigDecimal cost,
    BigDecimal margin,
    String grant)
{
    public static final String USAGE = "usage";
    public static final String COMMIT_TRUE_UP = "commit_true_up";
    public static final String CREDIT = "credit";
    public static final String MODE_STANDARD = "standard";
    public static final String MODE_THINKING = "thinking";
    public static final String NO_WINDOW = "none";

    /** @return a usage line. */
    public static InvoiceLine usage(final String model, final String serviceTier, final String tokenClass, final String context,
        final String mode, final String window, final String priceFrom, final String priceEntry, final String priceScope,
        final BigInteger quantity, final String unitPricePerMillion, final String serviceTierMultiplier,
        final String windowMultiplier, final String discountPercent, final BigDecimal amount, final String adjustmentFor)
    {
        return new InvoiceLine(USAGE, model, serviceTier, tokenClass, context, mode, window, priceFrom, priceEntry, priceScope,
            quantity, unitPricePerMillion, serviceTierMultiplier, windowMultiplier, discountPercent, amount, adjustmentFor, null,
            null, null, null);
    }

    /** @return this line with its cost, and the margin it leaves. */
    public InvoiceLine withCost(final BigDecimal lineCost)
    {
        return new InvoiceLine(kind, model, serviceTier, tokenClass, context, mode, window, priceFrom, priceEntry, priceScope,
            quantity, unitPricePerMillion, serviceTierMultiplier, windowMultiplier, discountPercent, amount, adjustmentFor, band,
            lineCost, lineCost == null ? null : amount.subtract(lineCost), grant);
    }

    /** @return this usage line in a band of volume tiers. */
    public InvoiceLine inBand(final String bandLabel)
    {
        return new InvoiceLine(kind, model, serviceTier, tokenClass, context, mode, window, priceFrom, priceEntry, priceScope,
            quantity, unitPricePerMillion, serviceTierMultiplier, windowMultiplier, discountPercent, amount, adjustmentFor,
            bandLabel, cost, margin, grant);
    }

    /** @return a minimum-commitment true-up line of {@code amount} (negative when it gives back a final period's). */
    public static InvoiceLine trueUp(final BigDecimal amount, final String adjustmentFor)
    {
        return new InvoiceLine(COMMIT_TRUE_UP, null, null, null, null, null, null, null, null, null, null, null, null, null,
            null, amount, adjustmentFor, null, null, null, null);
    }

    /** @return a line drawing {@code amount} (negative) of the credit grant {@code grant}. */
    public static InvoiceLine credit(final String grant, final BigDecimal amount, final String adjustmentFor)
    {
        return new InvoiceLine(CREDIT, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
            amount, adjustmentFor, null, null, null, grant);
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
