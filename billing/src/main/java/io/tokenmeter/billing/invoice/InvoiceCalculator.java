package io.tokenmeter.billing.invoice;

import io.tokenmeter.billing.credit.CreditBalance;
import io.tokenmeter.billing.credit.CreditDrawer;
import io.tokenmeter.billing.credit.CreditGrant;
import io.tokenmeter.billing.price.BookInForce;
import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.billing.rating.InvoiceLine;
import io.tokenmeter.billing.rating.Rater;
import io.tokenmeter.billing.rating.UnitTrace;
import io.tokenmeter.core.aggregate.HourlyAggregator;
import io.tokenmeter.core.aggregate.TenantBucket;
import io.tokenmeter.core.money.Money;

import java.math.BigDecimal;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Computes a draft invoice from hour buckets, the book in force and the tenant's final invoices. Pure: the server and
 * the audit call it with the same inputs and must get the same invoice.
 *
 * <p>Late usage: for each finalized period F before the invoice's period P, the usage of F not yet billed is
 * {@code current buckets of F - (basis of F's final invoice + adjustment bases for F on later final invoices)}. It
 * is billed, as adjustment lines naming F, on the first period after F that is not final; when that is P, P carries
 * it. A final invoice never changes.
 *
 * <p>Credits: the tenant's prepaid grants are drawn by the {@link CreditDrawer}, on the usage lines of the invoice's own
 * period and of the late usage it carries, as credit lines in the same part (own lines, or adjustments naming F). The
 * drafts of the tenant's earlier open periods draw first, so two drafts never hold the same credit.
 */
public final class InvoiceCalculator
{
    private InvoiceCalculator()
    {
    }

    /**
     * @param buckets the tenant's buckets from the start of its earliest finalized period (or {@code period}) to the
     *                end of {@code period}.
     * @param finals  the tenant's final invoices (any order).
     */
    public static Invoice draft(final String tenant, final YearMonth period, final BookInForce prices,
        final Collection<TenantBucket> buckets, final Collection<Invoice> finals, final long logIndex, final String usageThrough)
    {
        return draft(tenant, period, prices, buckets, finals, List.of(), logIndex, usageThrough);
    }

    /**
     * A draft that draws the tenant's credit grants (docs/billing.md "Prepaid credits"): the drafts of its open periods
     * before {@code period} draw first, in period order, and this one draws what they leave.
     *
     * @param buckets the tenant's buckets from {@link #earliestNeeded(YearMonth, Collection, Collection)} to the end of
     *                {@code period}.
     * @param grants  the tenant's credit grants recorded up to {@code logIndex}.
     */
    public static Invoice draft(final String tenant, final YearMonth period, final BookInForce prices,
        final Collection<TenantBucket> buckets, final Collection<Invoice> finals, final Collection<CreditGrant> grants,
        final long logIndex, final String usageThrough)
    {
        final PriceBook book = prices.book();
        final Set<String> warnings = new LinkedHashSet<>();
        final Map<YearMonth, List<TenantBucket>> byPeriod = byPeriod(buckets);
        final TreeSet<YearMonth> finalized = finalized(finals);
        final CreditDrawer credits = grants.isEmpty() ? null
            : new CreditDrawer(book.currency(tenant), book.minorDigits(tenant), grants, finals, finalized);
        if (credits != null)
        {
            drawOpenPeriods(tenant, book, byPeriod, finals, finalized, credits, openPeriods(byPeriod, finalized).headSet(period, false));
        }
        final Priced own = price(tenant, period, book, byPeriod, finals, finalized, warnings, credits != null);
        final List<InvoiceLine> lines = new ArrayList<>(own.lines());
        if (credits != null)
        {
            lines.addAll(credits.draw(period, own.sections(), warnings));
        }
        lines.sort(ORDER);
        final int digits = book.minorDigits(tenant);
        final BigDecimal subtotal = Rater.sum(lines.stream().filter(l -> l.adjustmentFor() == null).toList(), digits);
        final BigDecimal adjustments = Rater.sum(lines.stream().filter(l -> l.adjustmentFor() != null).toList(), digits);
        return new Invoice(tenant, period.toString(), book.currency(tenant), Invoice.DRAFT, null, null, usageThrough, logIndex,
            new Invoice.PriceBookRef(prices.revision(), book.sha256(), prices.logIndex()), List.copyOf(lines),
            subtotal, adjustments, subtotal.add(adjustments), List.copyOf(warnings), own.basis(), null);
    }

    /**
     * Where each of the tenant's credit grants stands: drawn by its final invoices, held by the drafts of its open
     * periods up to {@code through} (drawn in period order, as {@link #draft} draws them), remaining and expired.
     *
     * @param buckets the tenant's buckets from {@link #earliestNeeded(YearMonth, Collection, Collection)} to the end of
     *                {@code through}.
     */
    public static List<CreditBalance> credits(final String tenant, final YearMonth through, final BookInForce prices,
        final Collection<TenantBucket> buckets, final Collection<Invoice> finals, final Collection<CreditGrant> grants)
    {
        final PriceBook book = prices.book();
        final Map<YearMonth, List<TenantBucket>> byPeriod = byPeriod(buckets);
        final TreeSet<YearMonth> finalized = finalized(finals);
        final CreditDrawer credits = new CreditDrawer(book.currency(tenant), book.minorDigits(tenant), grants, finals, finalized);
        drawOpenPeriods(tenant, book, byPeriod, finals, finalized, credits, openPeriods(byPeriod, finalized).headSet(through, true));
        return credits.balances();
    }

    /** Invoice lines: by {@link Rater#LINE_ORDER}, a period's true-up before its credits, credits in draw order. */
    private static final Comparator<InvoiceLine> ORDER = Rater.LINE_ORDER
        .thenComparingInt(l -> InvoiceLine.CREDIT.equals(l.kind()) ? 1 : 0);

    /** An invoice's lines before credits, its basis, and the sections credits draw on. */
    private record Priced(List<InvoiceLine> lines, Map<String, List<TenantBucket>> basis, List<CreditDrawer.Section> sections)
    {
    }

    /** Lets the drafts of open periods draw, in period order, so later invoices see only what they leave. */
    private static void drawOpenPeriods(final String tenant, final PriceBook book, final Map<YearMonth, List<TenantBucket>> byPeriod,
        final Collection<Invoice> finals, final TreeSet<YearMonth> finalized, final CreditDrawer credits,
        final Set<YearMonth> periods)
    {
        for (final YearMonth open : periods)
        {
            if (credits.drawsOn(open))
            {
                // that draft's own warnings are its own, not this invoice's
                final Priced earlier = price(tenant, open, book, byPeriod, finals, finalized, new LinkedHashSet<>(), true);
                credits.draw(open, earlier.sections(), new LinkedHashSet<>());
            }
        }
    }

    /** @return the open periods whose drafts have lines: those with usage, and those that carry a final period's late usage. */
    private static TreeSet<YearMonth> openPeriods(final Map<YearMonth, List<TenantBucket>> byPeriod, final TreeSet<YearMonth> finalized)
    {
        final TreeSet<YearMonth> open = new TreeSet<>(byPeriod.keySet());
        finalized.forEach(f -> open.add(nextOpen(f, finalized)));
        open.removeAll(finalized);
        return open;
    }

    /** The period's invoice before credits: its usage, true-up, and the late usage of final periods it carries. */
    private static Priced price(final String tenant, final YearMonth period, final PriceBook book,
        final Map<YearMonth, List<TenantBucket>> byPeriod, final Collection<Invoice> finals, final TreeSet<YearMonth> finalized,
        final Set<String> warnings, final boolean traced)
    {
        final List<CreditDrawer.Section> sections = new ArrayList<>();
        final List<TenantBucket> own = byPeriod.getOrDefault(period, List.of());
        final UnitTrace ownTrace = traced ? new UnitTrace() : null;
        final List<InvoiceLine> ownUsage = rateOwn(book, tenant, own, warnings, ownTrace);
        final List<InvoiceLine> lines = new ArrayList<>(ownUsage);
        final int digits = book.minorDigits(tenant);
        final BigDecimal commit = book.minimumCommit(tenant);
        if (commit != null && (!own.isEmpty() || book.commitOwedWithoutUsage(tenant, period)))
        {
            final BigDecimal usage = Rater.sum(lines, digits);
            if (usage.compareTo(commit) < 0)
            {
                lines.add(InvoiceLine.trueUp(commit.subtract(usage), null));
            }
        }
        if (traced)
        {
            // the period's own true-up is not drawn on (SPEC section 11): nothing of it is given back here
            sections.add(new CreditDrawer.Section(null, ownUsage, ownTrace, Money.round(BigDecimal.ZERO, digits)));
        }
        final Map<String, List<TenantBucket>> basis = new LinkedHashMap<>();
        basis.put(period.toString(), List.copyOf(own));

        for (final YearMonth f : finalized.headSet(period, false))
        {
            if (!period.equals(nextOpen(f, finalized)))
            {
                continue;
            }
            final List<TenantBucket> unbilled = unbilled(f, byPeriod.getOrDefault(f, List.of()), finals, warnings);
            if (!unbilled.isEmpty())
            {
                currencyChanged(f, finals, book.currency(tenant), warnings);
                final UnitTrace trace = traced ? new UnitTrace() : null;
                final List<InvoiceLine> late = rateLate(book, tenant, f, unbilled, finals, warnings, trace);
                lines.addAll(late);
                final BigDecimal covered = remainingTrueUp(f, finals).min(Rater.sum(late, digits));
                if (covered.signum() > 0)
                {
                    lines.add(InvoiceLine.trueUp(covered.negate(), f.toString()));
                }
                if (traced)
                {
                    sections.add(new CreditDrawer.Section(f.toString(), late, trace,
                        covered.signum() > 0 ? covered.negate() : Money.round(BigDecimal.ZERO, digits)));
                }
                basis.put(f.toString(), unbilled);
            }
        }
        return new Priced(lines, basis, sections);
    }

    /** The usage lines of a period's own buckets. */
    private static List<InvoiceLine> rateOwn(final PriceBook book, final String tenant, final List<TenantBucket> own,
        final Set<String> warnings, final UnitTrace trace)
    {
        return Rater.rate(book, tenant, own, null, Map.of(), warnings, trace);
    }

    /** The adjustment lines of the late usage of final period {@code f}: its tiers count on from what was billed for it. */
    private static List<InvoiceLine> rateLate(final PriceBook book, final String tenant, final YearMonth f,
        final List<TenantBucket> unbilled, final Collection<Invoice> finals, final Set<String> warnings, final UnitTrace trace)
    {
        return Rater.rate(book, tenant, unbilled, f.toString(), Rater.billedByGroup(billedFor(f, finals)), warnings, trace);
    }

    /**
     * Where the units of one usage line of an invoice come from: the part of the invoice's basis the line belongs to (its
     * own period's buckets, or the late usage of the final period it adjusts) is rated again exactly as {@link #draft}
     * rated it, with the same book and final invoices, and the line is found among the lines that makes.
     *
     * @param book   the book that priced the invoice ({@link Invoice#priceBook()}).
     * @param finals the tenant's final invoices the invoice was computed with: all of them for a draft, those numbered
     *               before it for a final invoice.
     * @return the buckets' units the line sums, or null when rating the basis again does not make this line (the invoice,
     *     its basis and its book disagree: the audit says where).
     */
    public static List<UnitTrace.Piece> sources(final Invoice invoice, final PriceBook book, final Collection<Invoice> finals,
        final InvoiceLine line)
    {
        final String part = line.adjustmentFor() == null ? invoice.period() : line.adjustmentFor();
        final List<TenantBucket> buckets = invoice.basis().getOrDefault(part, List.of());
        final UnitTrace trace = new UnitTrace();
        final Set<String> warnings = new LinkedHashSet<>();
        final List<InvoiceLine> rated = line.adjustmentFor() == null
            ? rateOwn(book, invoice.tenant(), buckets, warnings, trace)
            : rateLate(book, invoice.tenant(), YearMonth.parse(line.adjustmentFor()), buckets, finals, warnings, trace);
        for (final InvoiceLine candidate : rated)
        {
            if (sameUsage(candidate, line))
            {
                return trace.pieces(candidate);
            }
        }
        return null;
    }

    /** @return whether two usage lines bill the same units at the same price (amounts compared by value, not by scale). */
    private static boolean sameUsage(final InvoiceLine a, final InvoiceLine b)
    {
        return Objects.equals(a.kind(), b.kind()) && Objects.equals(a.model(), b.model())
            && Objects.equals(a.serviceTier(), b.serviceTier()) && Objects.equals(a.tokenClass(), b.tokenClass())
            && Objects.equals(a.context(), b.context()) && Objects.equals(a.mode(), b.mode())
            && Objects.equals(a.window(), b.window()) && Objects.equals(a.priceFrom(), b.priceFrom())
            && Objects.equals(a.priceEntry(), b.priceEntry()) && Objects.equals(a.priceScope(), b.priceScope())
            && Objects.equals(a.quantity(), b.quantity()) && Objects.equals(a.unitPricePerMillion(), b.unitPricePerMillion())
            && Objects.equals(a.band(), b.band()) && Objects.equals(a.adjustmentFor(), b.adjustmentFor())
            && a.amount().compareTo(b.amount()) == 0;
    }

    private static Map<YearMonth, List<TenantBucket>> byPeriod(final Collection<TenantBucket> buckets)
    {
        final Map<YearMonth, List<TenantBucket>> byPeriod = new TreeMap<>();
        for (final TenantBucket bucket : buckets)
        {
            byPeriod.computeIfAbsent(Periods.ofHour(bucket.hour()), k -> new ArrayList<>()).add(bucket);
        }
        return byPeriod;
    }

    private static TreeSet<YearMonth> finalized(final Collection<Invoice> finals)
    {
        final TreeSet<YearMonth> finalized = new TreeSet<>();
        finals.forEach(f -> finalized.add(YearMonth.parse(f.period())));
        return finalized;
    }

    /**
     * @return what the tenant paid for {@code f} beyond its usage and has not been given back: the true-up of its final
     *     invoice less the true-up returns for {@code f} on later final invoices. Late usage of {@code f} is covered by it
     *     first: the commitment was paid, so usage up to it is not billed twice.
     */
    private static BigDecimal remainingTrueUp(final YearMonth f, final Collection<Invoice> finals)
    {
        BigDecimal remaining = BigDecimal.ZERO;
        for (final Invoice invoice : finals)
        {
            for (final InvoiceLine line : invoice.lines())
            {
                final boolean own = invoice.period().equals(f.toString()) && line.adjustmentFor() == null;
                if (InvoiceLine.COMMIT_TRUE_UP.equals(line.kind()) && (own || f.toString().equals(line.adjustmentFor())))
                {
                    remaining = remaining.add(line.amount());
                }
            }
        }
        return remaining.max(BigDecimal.ZERO);
    }

    /** @return the lines billed for {@code f}: its final invoice's own lines and the adjustments for it on later finals. */
    private static List<List<InvoiceLine>> billedFor(final YearMonth f, final Collection<Invoice> finals)
    {
        final List<List<InvoiceLine>> billed = new ArrayList<>();
        for (final Invoice invoice : finals)
        {
            final boolean own = invoice.period().equals(f.toString());
            billed.add(invoice.lines().stream().filter(l -> own ? l.adjustmentFor() == null : f.toString().equals(l.adjustmentFor()))
                .toList());
        }
        return billed;
    }

    /** Late usage of a period finalized in another currency is priced in the tenant's currency now; finance must know. */
    private static void currencyChanged(final YearMonth f, final Collection<Invoice> finals, final String currency,
        final Set<String> warnings)
    {
        for (final Invoice invoice : finals)
        {
            if (invoice.period().equals(f.toString()) && !invoice.currency().equals(currency))
            {
                warnings.add("the final invoice of " + f + " is in " + invoice.currency() + " but the tenant is now billed in "
                    + currency + ": its late usage is priced at the " + currency + " rates");
            }
        }
    }

    /** @return the first period after {@code f} that is not finalized. */
    public static YearMonth nextOpen(final YearMonth f, final Set<YearMonth> finalized)
    {
        YearMonth next = f.plusMonths(1);
        while (finalized.contains(next))
        {
            next = next.plusMonths(1);
        }
        return next;
    }

    /** @return the first period of the tenant's invoices whose usage a draft of {@code period} may need. */
    public static YearMonth earliestNeeded(final YearMonth period, final Collection<Invoice> finals)
    {
        return earliestNeeded(period, finals, List.of());
    }

    /**
     * @return the first period whose usage a draft of {@code period} (or the credits through it) may need: the tenant's
     *     earliest final period, and the first period of each grant, whose open periods draw before {@code period}.
     */
    public static YearMonth earliestNeeded(final YearMonth period, final Collection<Invoice> finals,
        final Collection<CreditGrant> grants)
    {
        YearMonth earliest = period;
        for (final Invoice f : finals)
        {
            final YearMonth p = YearMonth.parse(f.period());
            if (p.isBefore(earliest))
            {
                earliest = p;
            }
        }
        for (final CreditGrant grant : grants)
        {
            if (grant.firstPeriod().isBefore(earliest))
            {
                earliest = grant.firstPeriod();
            }
        }
        return earliest;
    }

    private static List<TenantBucket> unbilled(final YearMonth f, final List<TenantBucket> current, final Collection<Invoice> finals,
        final Set<String> warnings)
    {
        final Map<BucketId, long[]> billed = new LinkedHashMap<>();
        final String key = f.toString();
        for (final Invoice invoice : finals)
        {
            final List<TenantBucket> part = invoice.basis().get(key);
            if (part != null)
            {
                for (final TenantBucket b : part)
                {
                    final long[] sums = billed.computeIfAbsent(BucketId.of(b), k -> new long[HourlyAggregator.STRIDE - 1]);
                    for (int i = 0; i < sums.length; i++)
                    {
                        sums[i] = saturatingAdd(sums[i], b.counters()[i]);
                    }
                }
            }
        }
        final List<TenantBucket> result = new ArrayList<>();
        for (final TenantBucket b : current)
        {
            final long[] already = billed.remove(BucketId.of(b));
            final long[] diff = b.counters().clone();
            boolean any = false;
            for (int i = 0; i < HourlyAggregator.STRIDE - 1; i++)
            {
                diff[i] -= already == null ? 0 : already[i];
                if (diff[i] < 0)
                {
                    warnings.add("usage of " + key + " is below what its final invoice billed (model '" + b.model()
                        + "'): the log and the final invoice disagree; run the audit");
                    diff[i] = 0;
                }
                any |= diff[i] != 0;
            }
            if (any)
            {
                result.add(new TenantBucket(b.hour(), b.model(), b.tierCode(), b.variant(), diff));
            }
        }
        if (!billed.isEmpty())
        {
            warnings.add("usage billed on the final invoice of " + key + " is missing from the counters: the log and the "
                + "final invoice disagree; run the audit");
        }
        return result;
    }

    /** Counters saturate at 2^63-1 (the aggregator flags them); sums of them must not wrap negative. */
    private static long saturatingAdd(final long a, final long b)
    {
        final long sum = a + b;
        return ((a ^ sum) & (b ^ sum)) < 0 ? Long.MAX_VALUE : sum;
    }

    private record BucketId(long hour, String model, int tierCode, int context)
    {
        static BucketId of(final TenantBucket b)
        {
            return new BucketId(b.hour(), b.model(), b.tierCode(), b.variant());
        }
    }
}
