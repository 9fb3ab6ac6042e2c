package io.tokenmeter.billing.credit;

import io.tokenmeter.billing.invoice.Invoice;
import io.tokenmeter.billing.rating.InvoiceLine;
import io.tokenmeter.billing.rating.UnitTrace;
import io.tokenmeter.core.money.Money;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Draws a tenant's prepaid credit grants on its invoices (SPEC section 11; docs/billing.md "Prepaid credits"). One
 * drawer follows the grants' balances over the invoices of one computation: it starts from what the tenant's final
 * invoices drew, and each {@link #draw} takes what that invoice draws off the balances, so the drafts of several open
 * periods, drawn in period order, never draw the same credit twice.
 *
 * <p>The rules:
 * <ul>
 *   <li>Grants draw in {@link CreditGrant#DRAW_ORDER}: priority, then soonest expiry, then the oldest grant.</li>
 *   <li>A grant draws only on usage it covers: a model it names, in an hour of {@code [effective_at, expires_at)}; only
 *       in its own currency; only on invoices of periods up to its last covered period, and only until that period's
 *       invoice is final (then what is left is expired).</li>
 *   <li>Covered usage is valued exactly as the Rater values its line: the covered units at the line's rate, tier and
 *       window multipliers and discount, exactly, then rounded once, half-even, per line; where several grants cover
 *       parts of one line, each is credited the rounded value of all the line's units covered so far less what earlier
 *       grants were credited on it, so a line covered whole is credited exactly its amount, and never more.</li>
 *   <li>A grant takes its covered units in time order (hour, then the invoice's line order) until its balance is used.</li>
 *   <li>Never below zero: only usage lines are drawn on, never a true-up; on the late usage of a final period only what
 *       its true-up return leaves billed.</li>
 * </ul>
 * Cold path; the billing thread (or the audit's).
 */
public final class CreditDrawer
{
    /**
     * A part of an invoice grants draw on: the period's own usage ({@code adjustmentFor} null) or the late usage of one
     * final period, with the trace of its rating and the (negative or zero) true-up it gives back.
     */
    public record Section(String adjustmentFor, List<InvoiceLine> usage, UnitTrace trace, BigDecimal trueUpReturned)
    {
    }

    private static final BigDecimal HUNDRED = BigDecimal.valueOf(100);

    private final String currency;
    private final int digits;
    private final List<CreditGrant> grants;
    private final Set<YearMonth> finalized;
    private final Map<String, BigDecimal> drawnOnFinals = new LinkedHashMap<>();
    private final Map<String, BigDecimal> held = new LinkedHashMap<>();
    private final Map<String, BigDecimal> left = new LinkedHashMap<>();

    /**
     * @param currency  the tenant's currency now.
     * @param grants    the tenant's grants recorded up to the log index of the computation.
     * @param finals    the tenant's final invoices up to the computation.
     * @param finalized the periods of {@code finals}.
     */
    public CreditDrawer(final String currency, final int digits, final Collection<CreditGrant> grants,
        final Collection<Invoice> finals, final Set<YearMonth> finalized)
    {
        this.currency = currency;
        this.digits = digits;
        this.grants = grants.stream().sorted(CreditGrant.DRAW_ORDER).toList();
        this.finalized = finalized;
        final BigDecimal zero = Money.round(BigDecimal.ZERO, digits);
        for (final CreditGrant grant : this.grants)
        {
            drawnOnFinals.put(grant.id(), zero.setScale(grant.amount().scale()));
            held.put(grant.id(), zero.setScale(grant.amount().scale()));
        }
        for (final Invoice invoice : finals)
        {
            for (final InvoiceLine line : invoice.lines())
            {
                if (InvoiceLine.CREDIT.equals(line.kind()) && drawnOnFinals.containsKey(line.grant()))
                {
                    drawnOnFinals.merge(line.grant(), line.amount().negate(), BigDecimal::add);
                }
            }
        }
        for (final CreditGrant grant : this.grants)
        {
            left.put(grant.id(), grant.amount().subtract(drawnOnFinals.get(grant.id())).max(BigDecimal.ZERO)
                .setScale(grant.amount().scale()));
        }
    }

    /** @return whether any grant may draw on the invoice of {@code period}. */
    public boolean drawsOn(final YearMonth period)
    {
        return grants.stream().anyMatch(g -> mayDraw(g, period));
    }

    private boolean mayDraw(final CreditGrant grant, final YearMonth period)
    {
        return grant.currency().equals(currency) && !period.isBefore(grant.firstPeriod()) && !period.isAfter(grant.lastPeriod())
            && !finalized.contains(grant.lastPeriod()) && left.get(grant.id()).signum() > 0;
    }

    /**
     * Draws the grants on one invoice, taking what they draw off their balances.
     *
     * @param sections the invoice's own usage and each final period's late usage it carries, rated with a trace.
     * @param warnings told of grants the invoice cannot draw because they are in another currency.
     * @return the invoice's credit lines (negative amounts), by grant in draw order, then by section.
     */
    public List<InvoiceLine> draw(final YearMonth period, final List<Section> sections, final Set<String> warnings)
    {
        for (final CreditGrant grant : grants)
        {
            if (!grant.currency().equals(currency) && !period.isBefore(grant.firstPeriod()) && !period.isAfter(grant.lastPeriod()))
            {
                warnings.add("credit grant '" + grant.id() + "' is in " + grant.currency() + " but the tenant is billed in "
                    + currency + ": it is not drawn (credits are never converted)");
            }
        }
        final List<LineState> lines = new ArrayList<>();
        final List<Piece> pieces = new ArrayList<>();
        final BigDecimal[] rooms = new BigDecimal[sections.size()];
        for (int s = 0; s < sections.size(); s++)
        {
            final Section section = sections.get(s);
            BigDecimal room = section.trueUpReturned();
            for (final InvoiceLine line : section.usage())
            {
                final LineState state = new LineState(line);
                lines.add(state);
                room = room.add(line.amount());
                final BigDecimal unit = unitValue(line);
                assert Money.round(unit.multiply(new BigDecimal(line.quantity())), digits).compareTo(line.amount()) == 0
                    : "the line's fields price its quantity at " + line.amount() + ", its unit value at " + unit;
                BigInteger traced = BigInteger.ZERO;
                for (final UnitTrace.Units units : section.trace().of(line))
                {
                    pieces.add(new Piece(s, state, units.hour(), unit.multiply(BigDecimal.valueOf(units.quantity()))));
                    traced = traced.add(BigInteger.valueOf(units.quantity()));
                }
                if (!traced.equals(line.quantity()))
                {
                    throw new IllegalStateException("the rating trace of the " + line.tokenClass() + " line of model '"
                        + line.model() + "' holds " + traced + " units, the line " + line.quantity());
                }
            }
            rooms[s] = room.max(BigDecimal.ZERO);
        }
        // time order; the sort is stable, so within an hour the invoice's line order stands
        pieces.sort(Comparator.comparingLong(Piece::hour));

        final Map<String, BigDecimal[]> drawn = new LinkedHashMap<>();
        for (final CreditGrant grant : grants)
        {
            if (!mayDraw(grant, period))
            {
                continue;
            }
            BigDecimal balance = left.get(grant.id());
            final BigDecimal[] bySection = new BigDecimal[sections.size()];
            for (final Piece piece : pieces)
            {
                if (balance.signum() == 0)
                {
                    break;
                }
                if (piece.left.signum() == 0 || rooms[piece.section].signum() == 0 || !grant.coversHour(piece.hour)
                    || !grant.coversModel(piece.line.line.model()))
                {
                    continue;
                }
                final LineState line = piece.line;
                // what covering this piece adds to the line's rounded credit, never beyond the line's amount
                final BigDecimal offer = Money.round(line.consumed.add(piece.left), digits).min(line.line.amount())
                    .subtract(line.credited);
                final BigDecimal take = offer.min(balance).min(rooms[piece.section]);
                if (take.compareTo(offer) == 0)
                {
                    line.consumed = line.consumed.add(piece.left);
                    piece.left = BigDecimal.ZERO;
                }
                else
                {
                    // the balance or the section's room runs out inside this piece: the rest stays for later grants
                    line.consumed = line.consumed.add(take);
                    piece.left = piece.left.subtract(take);
                }
                line.credited = line.credited.add(take);
                balance = balance.subtract(take);
                rooms[piece.section] = rooms[piece.section].subtract(take);
                bySection[piece.section] = bySection[piece.section] == null ? take : bySection[piece.section].add(take);
            }
            left.put(grant.id(), balance);
            drawn.put(grant.id(), bySection);
        }

        final List<InvoiceLine> credits = new ArrayList<>();
        drawn.forEach((id, bySection) ->
        {
            for (int s = 0; s < bySection.length; s++)
            {
                if (bySection[s] != null && bySection[s].signum() > 0)
                {
                    final BigDecimal amount = Money.round(bySection[s], digits);
                    credits.add(InvoiceLine.credit(id, amount.negate(), sections.get(s).adjustmentFor()));
                    held.merge(id, amount, BigDecimal::add);
                }
            }
        });
        return credits;
    }

    /** @return where each grant stands after the invoices drawn so far (the drafts of the open periods), in draw order. */
    public List<CreditBalance> balances()
    {
        final List<CreditBalance> balances = new ArrayList<>();
        for (final CreditGrant grant : grants)
        {
            // once the grant's last period is final nothing holds it (no invoice may draw it) and its rest is lost
            final boolean closed = finalized.contains(grant.lastPeriod());
            final BigDecimal drawnOnFinal = drawnOnFinals.get(grant.id());
            final BigDecimal heldNow = held.get(grant.id());
            final BigDecimal rest = grant.amount().subtract(drawnOnFinal).subtract(heldNow).max(BigDecimal.ZERO);
            final BigDecimal zero = BigDecimal.ZERO.setScale(grant.amount().scale());
            balances.add(new CreditBalance(grant, drawnOnFinal, heldNow, closed ? zero : rest, closed ? rest : zero, closed));
        }
        return balances;
    }

    /** @return the exact value of one unit of a line: rate x tier multiplier x window multiplier x (1 - discount) / 10^6. */
    private static BigDecimal unitValue(final InvoiceLine line)
    {
        if (line.unitPricePerMillion() == null)
        {
            return BigDecimal.ZERO;
        }
        final BigDecimal keep = HUNDRED.subtract(decimal(line.discountPercent(), BigDecimal.ZERO));
        return new BigDecimal(line.unitPricePerMillion()).multiply(decimal(line.serviceTierMultiplier(), BigDecimal.ONE))
            .multiply(decimal(line.windowMultiplier(), BigDecimal.ONE)).multiply(keep).movePointLeft(8);
    }

    private static BigDecimal decimal(final String text, final BigDecimal missing)
    {
        return text == null ? missing : new BigDecimal(text);
    }

    /** One usage line's credit so far on this invoice: the exact value of its units covered, and what that was credited. */
    private static final class LineState
    {
        final InvoiceLine line;
        BigDecimal consumed = BigDecimal.ZERO;
        BigDecimal credited = BigDecimal.ZERO;

        LineState(final InvoiceLine line)
        {
            this.line = line;
        }
    }

    /** The units of one line from one hour, and their exact value not yet covered by any grant. */
    private static final class Piece
    {
        final int section;
        final LineState line;
        final long hour;
        BigDecimal left;

        Piece(final int section, final LineState line, final long hour, final BigDecimal value)
        {
            this.section = section;
            this.line = line;
            this.hour = hour;
            this.left = value;
        }

        long hour()
        {
            return hour;
        }
    }
}
