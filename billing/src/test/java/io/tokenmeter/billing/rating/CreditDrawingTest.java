package io.tokenmeter.billing.rating;

import io.tokenmeter.billing.credit.CreditBalance;
import io.tokenmeter.billing.credit.CreditGrant;
import io.tokenmeter.billing.credit.CreditGrantParser;
import io.tokenmeter.billing.invoice.Invoice;
import io.tokenmeter.billing.invoice.InvoiceCalculator;
import io.tokenmeter.billing.invoice.InvoiceCsv;
import io.tokenmeter.billing.invoice.InvoiceJson;
import io.tokenmeter.billing.price.BookInForce;
import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.billing.price.PriceBookException;
import io.tokenmeter.billing.price.PriceBookLoader;
import io.tokenmeter.core.aggregate.TenantBucket;
import io.tokenmeter.core.event.ServiceTier;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

import static io.tokenmeter.billing.rating.RatingTest.bucket;
import static io.tokenmeter.billing.rating.RatingTest.version;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SPEC section 11, prepaid credits: the drawing rules of docs/billing.md "Prepaid credits", on invoices computed from
 * hour buckets by the calculator the server and the audit use.
 */
class CreditDrawingTest
{
    private static final int INPUT = 0;
    private static final YearMonth OCTOBER = YearMonth.of(2025, 10);
    private static final YearMonth NOVEMBER = YearMonth.of(2025, 11);

    /** gpt-x* at 2.50 per million input tokens, other at 1.00; USD. */
    private static PriceBook book(final String tenantTerms) throws PriceBookException
    {
        return PriceBookLoader.parse(("{\"currency\":\"USD\",\"models\":{\"gpt-x*\":[" + version("2025-01-01T00:00:00Z",
            "{\"input\":\"2.50\",\"output\":\"10.00\"}") + "],\"other\":[" + version("2025-01-01T00:00:00Z",
            "{\"input\":\"1.00\",\"output\":\"2.00\"}") + "]}" + (tenantTerms == null ? "" : ",\"tenants\":{\"acme\":" + tenantTerms
            + "}") + "}").getBytes(StandardCharsets.UTF_8), PriceBookLoader.Format.JSON);
    }

    private static PriceBook book() throws PriceBookException
    {
        return book(null);
    }

    /** A grant as the journal records it: {@code logIndex} gives the log order. */
    static CreditGrant grant(final String id, final String amount, final String from, final String to, final int priority,
        final long logIndex, final String... models)
    {
        return new CreditGrant("acme", id, new BigDecimal(amount), "USD", RatingTest.hour(from), RatingTest.hour(to), priority,
            models.length == 0 ? List.of(CreditGrant.EVERY_MODEL) : List.of(models), logIndex, 0);
    }

    private static TenantBucket input(final String hour, final String model, final long tokens)
    {
        return bucket(hour, model, ServiceTier.STANDARD, 0, INPUT, tokens);
    }

    private static Invoice draft(final PriceBook book, final YearMonth period, final List<TenantBucket> buckets,
        final List<Invoice> finals, final List<CreditGrant> grants)
    {
        return InvoiceCalculator.draft("acme", period, new BookInForce(book, 1, 0, 0), buckets, finals, grants, 0, null);
    }

    private static List<CreditBalance> credits(final PriceBook book, final YearMonth through, final List<TenantBucket> buckets,
        final List<Invoice> finals, final List<CreditGrant> grants)
    {
        return InvoiceCalculator.credits("acme", through, new BookInForce(book, 1, 0, 0), buckets, finals, grants);
    }

    /** @return the credit lines as "grant amount [adjustment_for]", in invoice order. */
    private static String credits(final Invoice invoice)
    {
        return invoice.lines().stream().filter(l -> InvoiceLine.CREDIT.equals(l.kind()))
            .map(l -> l.grant() + " " + l.amount().toPlainString() + (l.adjustmentFor() == null ? "" : " " + l.adjustmentFor()))
            .collect(Collectors.joining(", "));
    }

    /** @return each balance as "id drawn/held/remaining/expired". */
    private static String balances(final List<CreditBalance> balances)
    {
        return balances.stream().map(b -> b.grant().id() + " " + b.drawn().toPlainString() + "/" + b.held().toPlainString() + "/"
            + b.remaining().toPlainString() + "/" + b.expired().toPlainString()).collect(Collectors.joining(", "));
    }

    private static Invoice finalOf(final Invoice draft, final int number)
    {
        return draft.asFinal(String.format("INV-%06d", number), "2026-01-01T00:00:00Z");
    }

    @Test
    void theWorkedExampleOfTheDocs() throws Exception
    {
        final YearMonth november = YearMonth.of(2026, 11);
        final List<TenantBucket> usage = List.of(input("2026-11-10T10:00:00Z", "gpt-x-1", 1_234_567),
            input("2026-11-20T10:00:00Z", "gpt-x-1", 2_000_001));
        final List<CreditGrant> grants = List.of(
            grant("welcome", "5.00", "2026-11-01T00:00:00Z", "2026-11-15T00:00:00Z", 0, 1),
            grant("promo", "10.00", "2026-11-15T00:00:00Z", "2026-12-01T00:00:00Z", 1, 2));
        final Invoice invoice = draft(book(), november, usage, List.of(), grants);
        // one line: 3,234,568 x 2.50 / 10^6 = 8.08642 -> 8.09
        assertEquals("8.09", invoice.lines().get(0).amount().toPlainString());
        // welcome covers the 10th only: 1,234,567 x 2.50 / 10^6 = 3.0864175 -> 3.09; promo the 20th: 8.09 - 3.09 = 5.00
        assertEquals("welcome -3.09, promo -5.00", credits(invoice));
        assertEquals("0.00", invoice.subtotal().toPlainString(), "credits on own usage are own lines");
        assertEquals("0.00", invoice.total().toPlainString());
        assertEquals("welcome 0.00/3.09/1.91/0.00, promo 0.00/5.00/5.00/0.00",
            balances(credits(book(), november, usage, List.of(), grants)));
        final Invoice fin = finalOf(invoice, 1);
        assertEquals("welcome 3.09/0.00/0.00/1.91, promo 5.00/0.00/0.00/5.00",
            balances(credits(book(), november.plusMonths(1), usage, List.of(fin), grants)),
            "November final: the grants' last period is final, what is left is expired");

        // two grants share one line: 50,000 tokens on each of two days are 0.125 each, 0.25 together
        final List<TenantBucket> halves = List.of(input("2026-11-10T10:00:00Z", "gpt-x-1", 50_000),
            input("2026-11-20T10:00:00Z", "gpt-x-1", 50_000));
        final Invoice shared = draft(book(), november, halves, List.of(), grants);
        assertEquals("0.25", shared.lines().get(0).amount().toPlainString());
        assertEquals("welcome -0.12, promo -0.13", credits(shared), "0.125 -> 0.12; then 0.25 covered in all, less 0.12");
        assertEquals("0.00", shared.total().toPlainString(), "a line covered whole is credited exactly its amount");
    }

    @Test
    void aGrantThatExpiresMidPeriodCoversOnlyTheUsageBeforeItsExpiry() throws Exception
    {
        // expires_at is excluded: the 09:00 hour is covered, the 10:00 hour is not
        final List<CreditGrant> grants = List.of(grant("g", "100.00", "2025-10-01T00:00:00Z", "2025-10-15T10:00:00Z", 0, 1));
        final Invoice invoice = draft(book(), OCTOBER, List.of(input("2025-10-15T09:00:00Z", "gpt-x-1", 1_000_000),
            input("2025-10-15T10:00:00Z", "gpt-x-1", 3_000_000), input("2025-10-01T00:00:00Z", "other", 2_000_000)), List.of(), grants);
        assertEquals("10.00", invoice.lines().get(0).amount().toPlainString());
        assertEquals("g -4.50", credits(invoice), "2.50 of gpt-x-1 on the 15th before 10:00 and 2.00 of other");
        assertEquals("7.50", invoice.total().toPlainString());
        // nor does it cover anything before effective_at
        final List<CreditGrant> later = List.of(grant("g", "100.00", "2025-10-15T10:00:00Z", "2025-11-01T00:00:00Z", 0, 1));
        assertEquals("g -7.50", credits(draft(book(), OCTOBER, List.of(input("2025-10-15T09:00:00Z", "gpt-x-1", 1_000_000),
            input("2025-10-15T10:00:00Z", "gpt-x-1", 3_000_000)), List.of(), later)));
    }

    @Test
    void grantsDrawByPriorityThenSoonestExpiryThenOldest() throws Exception
    {
        final List<TenantBucket> usage = List.of(input("2025-10-05T10:00:00Z", "gpt-x-1", 8_000_000)); // 20.00
        final List<CreditGrant> grants = List.of(
            grant("old-late", "5.00", "2025-10-01T00:00:00Z", "2025-12-01T00:00:00Z", 0, 1),
            grant("old-soon", "3.00", "2025-10-01T00:00:00Z", "2025-11-01T00:00:00Z", 0, 2),
            grant("new-soon", "4.00", "2025-10-01T00:00:00Z", "2025-11-01T00:00:00Z", 0, 3),
            grant("last", "100.00", "2025-10-01T00:00:00Z", "2025-11-01T00:00:00Z", 1, 0),
            grant("first", "2.00", "2025-10-01T00:00:00Z", "2026-10-01T00:00:00Z", -1, 4));
        final Invoice invoice = draft(book(), OCTOBER, usage, List.of(), grants);
        assertEquals("first -2.00, old-soon -3.00, new-soon -4.00, old-late -5.00, last -6.00", credits(invoice),
            "priority -1 first; at priority 0 the soonest expiry, then the older of two equal; priority 1 last");
        assertEquals("0.00", invoice.total().toPlainString());
    }

    @Test
    void aGrantCoversTheBandPiecesOfItsOwnHoursWhereGraduatedTiersSplitAnHour() throws Exception
    {
        final PriceBook banded = PriceBookLoader.parse(("{\"currency\":\"USD\",\"models\":{\"gpt-x*\":[" + version(
            "2025-01-01T00:00:00Z", "{\"input\":{\"tiers\":{\"mode\":\"graduated\",\"bands\":[{\"up_to\":1000000,"
            + "\"per_million\":\"2.00\"},{\"up_to\":null,\"per_million\":\"1.00\"}]}},\"output\":\"10.00\"}") + "]}}")
            .getBytes(StandardCharsets.UTF_8), PriceBookLoader.Format.JSON);
        // the 5th fills 800,000 of the first band; the 20th the first band's last 200,000 and 400,000 of the second
        final List<TenantBucket> usage = List.of(input("2025-10-05T10:00:00Z", "gpt-x-1", 800_000),
            input("2025-10-20T10:00:00Z", "gpt-x-1", 600_000));
        final Invoice late = draft(banded, OCTOBER, usage, List.of(),
            List.of(grant("late", "100.00", "2025-10-15T00:00:00Z", "2025-11-01T00:00:00Z", 0, 1)));
        assertEquals(List.of("2.00", "0.40"), late.lines().stream().filter(InvoiceLine::isUsage).map(l -> l.amount().toPlainString())
            .toList());
        assertEquals("late -0.80", credits(late), "200,000 at 2.00 and 400,000 at 1.00: the 20th's units in both bands");
        final Invoice early = draft(banded, OCTOBER, usage, List.of(),
            List.of(grant("early", "100.00", "2025-10-01T00:00:00Z", "2025-10-15T00:00:00Z", 0, 1)));
        assertEquals("early -1.60", credits(early), "800,000 at 2.00: the 5th's units, all in the first band");
    }

    @Test
    void aModelScopedGrantDrawsOnlyOnTheModelsItNames() throws Exception
    {
        final List<TenantBucket> usage = List.of(input("2025-10-05T10:00:00Z", "gpt-x-1", 2_000_000),
            input("2025-10-05T10:00:00Z", "gpt-x-2", 2_000_000), input("2025-10-05T10:00:00Z", "other", 2_000_000),
            input("2025-10-05T10:00:00Z", "gpt-y", 2_000_000));
        final Invoice invoice = draft(book(), OCTOBER, usage, List.of(),
            List.of(grant("gpt", "100.00", "2025-10-01T00:00:00Z", "2025-11-01T00:00:00Z", 0, 1, "gpt-x*", "other-not")));
        assertEquals("gpt -10.00", credits(invoice), "gpt-x-1 and gpt-x-2 (5.00 each); not other, nor the unpriced gpt-y");
        assertEquals("2.00", invoice.total().toPlainString());
        final Invoice exact = draft(book(), OCTOBER, usage, List.of(),
            List.of(grant("one", "100.00", "2025-10-01T00:00:00Z", "2025-11-01T00:00:00Z", 0, 1, "gpt-x-2")));
        assertEquals("one -5.00", credits(exact), "an exact name covers that model only");
    }

    @Test
    void creditsNeverTakeAnInvoiceBelowZeroNorDrawOnATrueUp() throws Exception
    {
        final List<TenantBucket> usage = List.of(input("2025-10-05T10:00:00Z", "gpt-x-1", 2_000_000)); // 5.00
        final CreditGrant big = grant("big", "1000.00", "2025-10-01T00:00:00Z", "2025-11-01T00:00:00Z", 0, 1);
        final Invoice invoice = draft(book(), OCTOBER, usage, List.of(), List.of(big));
        assertEquals("big -5.00", credits(invoice));
        assertEquals("0.00", invoice.total().toPlainString());

        // a commitment of 100.00: usage 5.00, true-up 95.00; the credit draws the usage only
        final Invoice committed = draft(book("{\"minimum_commit\":\"100.00\"}"), OCTOBER, usage, List.of(), List.of(big));
        assertEquals("big -5.00", credits(committed));
        assertEquals("95.00", committed.total().toPlainString());
        assertEquals(List.of(InvoiceLine.USAGE, InvoiceLine.COMMIT_TRUE_UP, InvoiceLine.CREDIT),
            committed.lines().stream().map(InvoiceLine::kind).toList(), "usage, its true-up, then the credits");
    }

    @Test
    void aFinalInvoiceSpendsWhatItDrewAndTheNextPeriodSeesTheRest() throws Exception
    {
        final CreditGrant grant = grant("g", "10.00", "2025-10-01T00:00:00Z", "2026-01-01T00:00:00Z", 0, 1);
        final List<TenantBucket> usage = new ArrayList<>(List.of(input("2025-10-05T10:00:00Z", "gpt-x-1", 2_000_000)));
        assertEquals("g 0.00/5.00/5.00/0.00", balances(credits(book(), NOVEMBER, usage, List.of(), List.of(grant))),
            "October's draft holds 5.00");
        final Invoice october = finalOf(draft(book(), OCTOBER, usage, List.of(), List.of(grant)), 1);
        assertEquals("g -5.00", credits(october));
        usage.add(input("2025-11-05T10:00:00Z", "gpt-x-1", 4_000_000)); // 10.00
        final Invoice november = draft(book(), NOVEMBER, usage, List.of(october), List.of(grant));
        assertEquals("g -5.00", credits(november), "only what October left");
        assertEquals("5.00", november.total().toPlainString());
        assertEquals("g 5.00/5.00/0.00/0.00", balances(credits(book(), NOVEMBER, usage, List.of(october), List.of(grant))));
    }

    @Test
    void twoOpenDraftsNeverHoldTheSameCredit() throws Exception
    {
        final CreditGrant grant = grant("g", "6.00", "2025-10-01T00:00:00Z", "2026-01-01T00:00:00Z", 0, 1);
        final List<TenantBucket> usage = List.of(input("2025-10-05T10:00:00Z", "gpt-x-1", 2_000_000),
            input("2025-11-05T10:00:00Z", "gpt-x-1", 2_000_000));
        assertEquals("g -5.00", credits(draft(book(), OCTOBER, usage, List.of(), List.of(grant))));
        assertEquals("g -1.00", credits(draft(book(), NOVEMBER, usage, List.of(), List.of(grant))),
            "October is open and draws first: November gets what it leaves");
        assertEquals("g 0.00/6.00/0.00/0.00", balances(credits(book(), NOVEMBER, usage, List.of(), List.of(grant))));
    }

    @Test
    void lateUsageOfAFinalPeriodIsDrawnOnWhileTheGrantsLastPeriodIsOpen() throws Exception
    {
        final List<TenantBucket> usage = new ArrayList<>(List.of(input("2025-10-05T10:00:00Z", "gpt-x-1", 2_000_000)));
        final CreditGrant lasting = grant("lasting", "100.00", "2025-10-01T00:00:00Z", "2025-12-01T00:00:00Z", 0, 1);
        final CreditGrant october = grant("october", "100.00", "2025-10-01T00:00:00Z", "2025-11-01T00:00:00Z", 0, 2);
        final Invoice octoberFinal = finalOf(draft(book(), OCTOBER, usage, List.of(), List.of(october)), 1);
        assertEquals("october -5.00", credits(octoberFinal));
        // 2.50 of late October usage, and November's own
        final List<TenantBucket> late = List.of(input("2025-10-05T10:00:00Z", "gpt-x-1", 3_000_000),
            input("2025-11-05T10:00:00Z", "gpt-x-1", 400_000));
        final Invoice november = draft(book(), NOVEMBER, late, List.of(octoberFinal), List.of(october));
        assertEquals("", credits(november), "October's grant expired with October's final invoice: the late usage is billed");
        assertEquals("3.50", november.total().toPlainString());
        assertEquals("october 5.00/0.00/0.00/95.00", balances(credits(book(), NOVEMBER, late, List.of(octoberFinal),
            List.of(october))));
        final Invoice withLasting = draft(book(), NOVEMBER, late, List.of(octoberFinal), List.of(october, lasting));
        assertEquals("lasting -1.00, lasting -2.50 2025-10", credits(withLasting),
            "a grant that lasts into November draws on October's late usage too, as an adjustment");
        assertEquals("0.00", withLasting.subtotal().toPlainString());
        assertEquals("0.00", withLasting.adjustments().toPlainString());
    }

    @Test
    void lateUsageIsDrawnOnlyForWhatTheTrueUpReturnLeavesBilled() throws Exception
    {
        final PriceBook book = book("{\"minimum_commit\":\"10.00\"}");
        final CreditGrant grant = grant("g", "100.00", "2025-11-01T00:00:00Z", "2025-12-01T00:00:00Z", 0, 1);
        final CreditGrant wide = grant("wide", "100.00", "2025-10-01T00:00:00Z", "2025-12-01T00:00:00Z", 1, 2);
        // October final with 5.00 of usage and a 5.00 true-up, before any grant
        final Invoice october = finalOf(draft(book, OCTOBER, List.of(input("2025-10-05T10:00:00Z", "gpt-x-1", 2_000_000)),
            List.of(), List.of()), 1);
        // 7.50 of late October usage: 5.00 of it was paid by the true-up, 2.50 is billed and drawn
        final List<TenantBucket> late = List.of(input("2025-10-05T10:00:00Z", "gpt-x-1", 5_000_000),
            input("2025-11-05T10:00:00Z", "gpt-x-1", 4_000_000));
        final Invoice november = draft(book, NOVEMBER, late, List.of(october), List.of(grant, wide));
        assertEquals("g -10.00, wide -2.50 2025-10", credits(november), "g covers November only; wide draws October's rest");
        assertEquals("0.00", november.adjustments().toPlainString(), "7.50 late, -5.00 true-up returned, -2.50 credit");
        assertEquals("0.00", november.subtotal().toPlainString(), "10.00 of usage meets the commitment, all credited");
    }

    @Test
    void aGrantInAnotherCurrencyIsNotDrawnAndSaysSo() throws Exception
    {
        final CreditGrant euros = new CreditGrant("acme", "eur", new BigDecimal("50.00"), "EUR", RatingTest.hour("2025-10-01T00:00:00Z"),
            RatingTest.hour("2025-11-01T00:00:00Z"), 0, List.of("*"), 1, 0);
        final Invoice invoice = draft(book(), OCTOBER, List.of(input("2025-10-05T10:00:00Z", "gpt-x-1", 2_000_000)), List.of(),
            List.of(euros));
        assertEquals("", credits(invoice));
        assertTrue(invoice.warnings().stream().anyMatch(w -> w.contains("credit grant 'eur' is in EUR but the tenant is billed in USD")),
            invoice.warnings().toString());
    }

    @Test
    void creditLinesSurviveJsonAndCsvAndAreNotUsageForTheCommitmentOfALaterPeriod() throws Exception
    {
        final Invoice invoice = finalOf(draft(book(), OCTOBER, List.of(input("2025-10-05T10:00:00Z", "gpt-x-1", 2_000_000)),
            List.of(), List.of(grant("promo-1", "3.00", "2025-10-01T00:00:00Z", "2025-11-01T00:00:00Z", 0, 1))), 1);
        final Invoice read = InvoiceJson.read(InvoiceJson.toBytes(invoice, true, true));
        assertEquals(invoice.lines(), read.lines());
        final String csv = InvoiceCsv.render(invoice);
        assertTrue(csv.contains("\r\ncredit,,,,,,,,,,,,,,,,-3.00,,,promo-1,USD,\r\n"), csv);
        assertTrue(new String(InvoiceJson.toBytes(invoice, false, false), StandardCharsets.UTF_8)
            .contains("{\"kind\":\"credit\",\"model\":null,\"service_tier\":null,\"token_class\":null,\"context\":null,"
                + "\"price_from\":null,\"price_entry\":null,\"price_scope\":null,\"quantity\":null,\"unit_price_per_million\":null,"
                + "\"service_tier_multiplier\":null,\"discount_percent\":null,\"amount\":\"-3.00\",\"grant\":\"promo-1\"}"));

        // a credit line on a final invoice is not a true-up: late usage of that period is covered by the true-up alone
        final PriceBook committed = book("{\"minimum_commit\":\"10.00\"}");
        final Invoice octoberCommitted = finalOf(draft(committed, OCTOBER, List.of(input("2025-10-05T10:00:00Z", "gpt-x-1",
            2_000_000)), List.of(), List.of(grant("promo-1", "3.00", "2025-10-01T00:00:00Z", "2025-11-01T00:00:00Z", 0, 1))), 1);
        assertEquals("7.00", octoberCommitted.total().toPlainString(), "5.00 of usage, a 5.00 true-up, -3.00 of credit");
        final Invoice november = draft(committed, NOVEMBER, List.of(input("2025-10-05T10:00:00Z", "gpt-x-1", 5_000_000)),
            List.of(octoberCommitted), List.of());
        assertEquals("2.50", november.adjustments().toPlainString(), "7.50 late, the 5.00 true-up returned: " + november.lines());
    }

    @Test
    void theRequestsChecksNameTheFieldAndWhatToWrite()
    {
        final String[][] cases = {
            {"{\"amount\":\"1.00\",\"effective_at\":\"2026-11-01T00:00:00Z\",\"expires_at\":\"2026-12-01T00:00:00Z\"}", "id: is required"},
            {"{\"id\":\"g\",\"amount\":100,\"effective_at\":\"2026-11-01T00:00:00Z\",\"expires_at\":\"2026-12-01T00:00:00Z\"}",
                "amount: must be a decimal string in USD, e.g. \"100.00\" (money is never a JSON number)"},
            {"{\"id\":\"g\",\"amount\":\"1.005\",\"effective_at\":\"2026-11-01T00:00:00Z\",\"expires_at\":\"2026-12-01T00:00:00Z\"}",
                "amount: '1.005' has 3 decimals; USD has 2 (its minor unit): round it to 2"},
            {"{\"id\":\"g\",\"amount\":\"-1\",\"effective_at\":\"2026-11-01T00:00:00Z\",\"expires_at\":\"2026-12-01T00:00:00Z\"}",
                "amount: '-1' is negative"},
            {"{\"id\":\"g\",\"amount\":\"0.00\",\"effective_at\":\"2026-11-01T00:00:00Z\",\"expires_at\":\"2026-12-01T00:00:00Z\"}",
                "amount: '0.00' is zero"},
            {"{\"id\":\"g\",\"amount\":\"1\",\"effective_at\":\"2026-11-01T00:30:00Z\",\"expires_at\":\"2026-12-01T00:00:00Z\"}",
                "effective_at: '2026-11-01T00:30:00Z' is not on a whole UTC hour"},
            {"{\"id\":\"g\",\"amount\":\"1\",\"effective_at\":\"2026-11-01T01:00:00+01:00\",\"expires_at\":\"2026-12-01T00:00:00Z\"}",
                "effective_at: '2026-11-01T01:00:00+01:00' is not in UTC: write the same instant as 2026-11-01T00:00:00Z"},
            {"{\"id\":\"g\",\"amount\":\"1\",\"effective_at\":\"2026-11-01T00:00:00Z\",\"expires_at\":\"2026-11-01T00:00:00Z\"}",
                "expires_at: must be after effective_at (2026-11-01T00:00:00Z)"},
            {"{\"id\":\"g\",\"amount\":\"1\",\"effective_at\":\"yesterday\",\"expires_at\":\"2026-11-01T00:00:00Z\"}",
                "effective_at: 'yesterday' is not an RFC 3339 time"},
            {"{\"id\":\"g\",\"amount\":\"1\",\"effective_at\":\"2026-11-01T00:00:00Z\",\"expires_at\":\"2026-12-01T00:00:00Z\","
                + "\"priority\":1.5}", "priority: must be an integer"},
            {"{\"id\":\"g\",\"amount\":\"1\",\"effective_at\":\"2026-11-01T00:00:00Z\",\"expires_at\":\"2026-12-01T00:00:00Z\","
                + "\"models\":[]}", "models: is empty"},
            {"{\"id\":\"g\",\"amount\":\"1\",\"effective_at\":\"2026-11-01T00:00:00Z\",\"expires_at\":\"2026-12-01T00:00:00Z\","
                + "\"models\":[\"gpt*4\"]}", "models[0]: 'gpt*4' is not a model name or pattern"},
            {"{\"id\":\"g\",\"amount\":\"1\",\"effective_at\":\"2026-11-01T00:00:00Z\",\"expires_at\":\"2026-12-01T00:00:00Z\","
                + "\"tenant\":\"acme\"}", "tenant: is not a field of a credit grant"},
            {"[1]", "body: must be a JSON object"},
        };
        for (final String[] c : cases)
        {
            final CreditGrantParser.Parsed parsed = CreditGrantParser.parse("acme", c[0].getBytes(StandardCharsets.UTF_8), "USD", 2);
            assertEquals(null, parsed.grant(), c[0]);
            assertTrue(parsed.problems().stream().anyMatch(p -> p.toString().startsWith(c[1])), c[0] + " -> " + parsed.problems());
        }
        final CreditGrantParser.Parsed ok = CreditGrantParser.parse("acme", ("{\"id\":\"g\",\"amount\":\"100\",\"effective_at\":"
            + "\"2026-11-01T00:00:00Z\",\"expires_at\":\"2026-12-01T00:00:00+00:00\",\"models\":[\"b\",\"a*\",\"b\"]}")
            .getBytes(StandardCharsets.UTF_8), "USD", 2);
        assertEquals(List.of(), ok.problems());
        assertEquals("100.00", ok.grant().amount().toPlainString(), "at the currency's minor unit");
        assertEquals(List.of("a*", "b"), ok.grant().models(), "sorted, once each");
        assertEquals(0, ok.grant().priority());
        assertEquals(Instant.parse("2026-12-01T00:00:00Z").getEpochSecond() / 3600, ok.grant().expiresHour());
        assertEquals(List.of("*"), CreditGrantParser.parse("acme", ("{\"id\":\"g\",\"amount\":\"1\",\"effective_at\":"
            + "\"2026-11-01T00:00:00Z\",\"expires_at\":\"2026-12-01T00:00:00Z\",\"models\":[\"gpt*\",\"*\"]}")
            .getBytes(StandardCharsets.UTF_8), "USD", 2).grant().models());
        final CreditGrantParser.Parsed yen = CreditGrantParser.parse("acme", ("{\"id\":\"g\",\"amount\":\"100.5\",\"effective_at\":"
            + "\"2026-11-01T00:00:00Z\",\"expires_at\":\"2026-12-01T00:00:00Z\"}").getBytes(StandardCharsets.UTF_8), "JPY", 0);
        assertTrue(yen.problems().get(0).message().contains("JPY has 0 (no minor unit): write a whole number"), yen.problems().toString());
        assertTrue(CreditGrantParser.parse("acme", "{".getBytes(StandardCharsets.UTF_8), "USD", 2).malformed());
    }
}
