package io.tokenmeter.billing.price;

import java.math.BigDecimal;

/**
 * Volume tiers of one token class's rate (SPEC section 11): bands over the tenant's period quantity of a price entry
 * and class. Band {@code i} holds the running total's tokens numbered {@code upTo[i-1] + 1} to {@code upTo[i]}
 * (inclusive; the last band is open, {@link Long#MAX_VALUE}). Graduated: each band's units at the band's rate.
 * Volume: every unit at the rate of the band the period's total reaches. Immutable.
 */
public final class Bands
{
    private final boolean graduated;
    private final long[] upTo;
    private final BigDecimal[] rates;

    Bands(final boolean graduated, final long[] upTo, final BigDecimal[] rates)
    {
        this.graduated = graduated;
        this.upTo = upTo;
        this.rates = rates;
    }

    public boolean graduated()
    {
        return graduated;
    }

    public int count()
    {
        return upTo.length;
    }

    /** @return the band's rate per million tokens. */
    public BigDecimal rate(final int band)
    {
        return rates[band];
    }

    /** @return the last running total the band holds ({@link Long#MAX_VALUE} for the open last band). */
    public long upTo(final int band)
    {
        return upTo[band];
    }

    /** @return the band that holds the token numbered {@code position} (1-based) of the running total. */
    public int bandOf(final long position)
    {
        for (int i = 0; i < upTo.length - 1; i++)
        {
            if (position <= upTo[i])
            {
                return i;
            }
        }
        return upTo.length - 1;
    }

    /** @return the band as written on invoice lines: the token numbers it holds, e.g. {@code 1-1000000} or {@code 1000001-}. */
    public String label(final int band)
    {
        final long first = band == 0 ? 1 : upTo[band - 1] + 1;
        return first + "-" + (upTo[band] == Long.MAX_VALUE ? "" : Long.toString(upTo[band]));
    }
}
