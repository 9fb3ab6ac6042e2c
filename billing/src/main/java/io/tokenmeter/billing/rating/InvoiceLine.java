package io.tokenmeter.billing.rating;

import java.math.BigDecimal;
import java.math.BigInteger;

/**
 * One invoice line: the quantity of one token class of one model, service tier and context tier priced by one price
 * version. Unpriced lines have null price fields and amount 0.
 *
 * @param priceFrom            the version's {@code effective_from}, null when unpriced.
 * @param priceEntry           the book key that matched, e.g. {@code gpt-4o*}; null when unpriced.
 * @param priceScope           {@code tenant} or {@code global}; null when unpriced.
 * @param unitPricePerMillion  the book's rate for this class (before multiplier and discount); null when unpriced.
 * @param serviceTierMultiplier the multiplier applied ("1" when the version gives none).
 * @param discountPercent      the tenant's discount applied ("0" when none).
 * @param amount               rounded once, half-even, to the currency's minor unit.
 * @param adjustmentFor        the finalized period this late usage belongs to, or null for the invoice's own period.
 */
public record InvoiceLine(
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
    String adjustmentFor)
{
    public boolean unpriced()
    {
        return priceFrom == null;
    }
}
