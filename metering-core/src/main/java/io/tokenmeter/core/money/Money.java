package io.tokenmeter.core.money;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;

/**
 * Exact money arithmetic (SPEC section 5). {@link BigDecimal} throughout: there is no quantity the counters can hold
 * (or any sum of them) for which a line amount overflows or loses a digit before its one rounding.
 */
public final class Money
{
    private static final BigDecimal HUNDRED = BigDecimal.valueOf(100);

    private Money()
    {
    }

    /**
     * The exact, unrounded amount of a line: quantity x price per million / 1,000,000 x multiplier x
     * (1 - discount / 100).
     */
    public static BigDecimal exactAmount(
        final BigInteger quantity, final BigDecimal pricePerMillion, final BigDecimal multiplier, final BigDecimal discountPercent)
    {
        final BigDecimal keep = HUNDRED.subtract(discountPercent).movePointLeft(2);
        return new BigDecimal(quantity).multiply(pricePerMillion).movePointLeft(6).multiply(multiplier).multiply(keep);
    }

    /** Rounds once, half-even, to the currency's minor unit. */
    public static BigDecimal round(final BigDecimal exact, final int minorDigits)
    {
        return exact.setScale(minorDigits, RoundingMode.HALF_EVEN);
    }

    /** @return the amount with exactly {@code minorDigits} decimals, e.g. {@code 3.10}; never exponent notation. */
    public static String format(final BigDecimal amount, final int minorDigits)
    {
        return amount.setScale(minorDigits, RoundingMode.UNNECESSARY).toPlainString();
    }
}
