package io.tokenmeter.billing.rating;

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

import java.nio.charset.StandardCharsets;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.List;

import static io.tokenmeter.billing.rating.RatingTest.bucket;
import static io.tokenmeter.billing.rating.RatingTest.version;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** SPEC section 11, minimum commitment: a true-up line brings a period's usage (after discounts) to the commitment. */
class MinimumCommitTest
{
    private static final int INPUT = 0;
    private static final YearMonth OCTOBER = YearMonth.of(2025, 10);
    private static final YearMonth NOVEMBER = YearMonth.of(2025, 11);

    /** m costs 1.00 per million input tokens; acme commits to 100.00 a month with 10 % off its usage. */
    private static PriceBook book(final String terms) throws PriceBookException
    {
        return PriceBookLoader.parse(("{\"currency\":\"USD\",\"models\":{\"m\":[" + version("2025-01-01T00:00:00Z",
            "{\"input\":\"1.00\",\"output\":\"2.00\"}") + "]},\"tenants\":{\"acme\":" + terms + "}}")
            .getBytes(StandardCharsets.UTF_8), PriceBookLoader.Format.JSON);
    }

    private static Invoice draft(final PriceBook book, final YearMonth period, final List<TenantBucket> buckets,
        final List<Invoice> finals)
    {
        return InvoiceCalculator.draft("acme", period, new BookInForce(book, 1, 0, 0), buckets, finals, 0, null);
    }

    private static List<TenantBucket> input(final String hour, final long tokens)
    {
        return List.of(bucket(hour, "m", ServiceTier.STANDARD, 0, INPUT, tokens));
    }

    private static List<InvoiceLine> trueUps(final Invoice invoice)
    {
        return invoice.lines().stream().filter(l -> InvoiceLine.COMMIT_TRUE_UP.equals(l.kind())).toList();
    }

    @Test
    void usageBelowTheCommitmentAfterDiscountIsTrueUpToIt() throws Exception
    {
        final PriceBook book = book("{\"discount_percent\":\"10\",\"minimum_commit\":\"100.00\"}");
        // 50,000,000 tokens x 1.00 / 10^6 x 0.9 = 45.00; the true-up (not discounted) is 55.00
        final Invoice invoice = draft(book, OCTOBER, input("2025-10-03T10:00:00Z", 50_000_000), List.of());
        assertEquals(2, invoice.lines().size(), invoice.lines().toString());
        assertEquals(InvoiceLine.USAGE, invoice.lines().get(0).kind());
        final InvoiceLine trueUp = invoice.lines().get(1);
        assertEquals(InvoiceLine.COMMIT_TRUE_UP, trueUp.kind(), "the true-up follows the usage lines");
        assertEquals("55.00", trueUp.amount().toPlainString());
        assertEquals("100.00", invoice.subtotal().toPlainString());
        assertEquals("100.00", invoice.total().toPlainString());
    }

    @Test
    void aCommitmentMetExactlyOrExceededHasNoTrueUp() throws Exception
    {
        final PriceBook book = book("{\"minimum_commit\":\"100.00\"}");
        final Invoice exactly = draft(book, OCTOBER, input("2025-10-03T10:00:00Z", 100_000_000), List.of());
        assertEquals(List.of(), trueUps(exactly), "100.00 of usage meets 100.00 exactly");
        assertEquals("100.00", exactly.total().toPlainString());
        assertEquals(List.of(), trueUps(draft(book, OCTOBER, input("2025-10-03T10:00:00Z", 99_999_999), List.of())),
            "the line is rounded first: 99.999999 is 100.00, which meets the commitment");
        final Invoice below = draft(book, OCTOBER, input("2025-10-03T10:00:00Z", 99_990_000), List.of());
        assertEquals("0.01", trueUps(below).get(0).amount().toPlainString());
        assertEquals("100.00", below.total().toPlainString());
        final Invoice above = draft(book, OCTOBER, input("2025-10-03T10:00:00Z", 150_000_000), List.of());
        assertEquals(List.of(), trueUps(above));
        assertEquals("150.00", above.total().toPlainString());
    }

    @Test
    void aPeriodWithoutUsageOwesTheCommitmentOnlyFromCommitFrom() throws Exception
    {
        assertEquals(List.of(), draft(book("{\"minimum_commit\":\"100.00\"}"), OCTOBER, List.of(), List.of()).lines(),
            "without commit_from only periods with usage are trued up");
        final PriceBook from = book("{\"minimum_commit\":\"100.00\",\"commit_from\":\"2025-10\"}");
        assertEquals(List.of(), draft(from, YearMonth.of(2025, 9), List.of(), List.of()).lines(), "before commit_from");
        final Invoice idle = draft(from, OCTOBER, List.of(), List.of());
        assertEquals("100.00", idle.total().toPlainString());
        assertEquals(1, trueUps(idle).size());
        assertEquals(List.of("acme"), from.tenantsOwingCommitment(NOVEMBER), "the listing shows an idle committed tenant");
        assertEquals(List.of(), from.tenantsOwingCommitment(YearMonth.of(2025, 9)));
    }

    @Test
    void lateUsageOfAFinalPeriodIsCoveredByItsTrueUpBeforeItIsBilled() throws Exception
    {
        final PriceBook book = book("{\"minimum_commit\":\"100.00\"}");
        final Invoice october = draft(book, OCTOBER, input("2025-10-03T10:00:00Z", 60_000_000), List.of())
            .asFinal("INV-000001", "2025-11-01T02:00:00Z");
        assertEquals("40.00", trueUps(october).get(0).amount().toPlainString());

        // 30 M late tokens (30.00) arrive for October: the 40.00 already paid covers them
        final List<TenantBucket> withLate = new ArrayList<>(input("2025-10-03T10:00:00Z", 90_000_000));
        withLate.addAll(input("2025-11-03T10:00:00Z", 200_000_000));
        final Invoice november = draft(book, NOVEMBER, withLate, List.of(october));
        final List<InvoiceLine> returned = trueUps(november);
        assertEquals(1, returned.size(), november.lines().toString());
        assertEquals("2025-10", returned.get(0).adjustmentFor());
        assertEquals("-30.00", returned.get(0).amount().toPlainString());
        assertEquals("0.00", november.adjustments().toPlainString(), "30.00 late, 30.00 covered");
        assertEquals("200.00", november.total().toPlainString());
        assertEquals(InvoiceLine.COMMIT_TRUE_UP, november.lines().get(november.lines().size() - 1).kind(),
            "the return closes the adjustments of its period");

        // November final; 25 M more late October tokens: only 10.00 of the true-up is left, 15.00 is billed
        final Invoice novemberFinal = november.asFinal("INV-000002", "2025-12-01T02:00:00Z");
        final List<TenantBucket> moreLate = new ArrayList<>(input("2025-10-03T10:00:00Z", 115_000_000));
        moreLate.addAll(input("2025-11-03T10:00:00Z", 200_000_000));
        final Invoice december = draft(book, YearMonth.of(2025, 12), moreLate, List.of(october, novemberFinal));
        assertEquals("-10.00", trueUps(december).stream().filter(l -> l.adjustmentFor() != null).findFirst().orElseThrow()
            .amount().toPlainString());
        assertEquals("15.00", december.adjustments().toPlainString());
    }

    @Test
    void trueUpLinesSurviveJsonAndCsv() throws Exception
    {
        final Invoice invoice = draft(book("{\"minimum_commit\":\"100.00\"}"), OCTOBER, input("2025-10-03T10:00:00Z", 1_000_000),
            List.of()).asFinal("INV-000001", "2025-11-01T02:00:00Z");
        final Invoice read = InvoiceJson.read(InvoiceJson.toBytes(invoice, true, true));
        assertEquals(invoice.lines(), read.lines());
        assertEquals(InvoiceJson.toTree(invoice, true), InvoiceJson.toTree(read, true));
        final String csv = InvoiceCsv.render(invoice);
        assertTrue(csv.contains("\r\ncommit_true_up,,,,,,,,,,,,,,,,99.00,,,,USD,\r\n"), csv);
        assertTrue(csv.endsWith("total,,,,,,,,,,,,,,,,100.00,,,,USD,\r\n"), csv);
        final String old = new String(InvoiceJson.toBytes(invoice, true, false), StandardCharsets.UTF_8)
            .replace("\"kind\":\"usage\",", "");
        assertEquals(InvoiceLine.USAGE, InvoiceJson.read(old.getBytes(StandardCharsets.UTF_8)).lines().get(0).kind(),
            "invoices stored before line kinds read as usage");
    }

    @Test
    void commitmentProblemsAreNamed()
    {
        final String m = "{\"m\":[" + version("2025-01-01T00:00:00Z", "{\"input\":\"1\",\"output\":\"2\"}") + "]}";
        final List<String> jpy = assertThrows(PriceBookException.class, () -> PriceBookLoader.parse(("{\"currency\":\"JPY\","
            + "\"models\":" + m + ",\"tenants\":{\"t\":{\"minimum_commit\":\"1000.50\"}}}").getBytes(StandardCharsets.UTF_8),
            PriceBookLoader.Format.JSON)).problems();
        assertTrue(jpy.get(0).startsWith("tenants.\"t\".minimum_commit: '1000.50' has more decimals than JPY's minor unit (0)"),
            jpy.toString());
        for (final String[] c : new String[][] {
            {"{\"minimum_commit\":100}", "tenants.\"acme\".minimum_commit: must be a decimal string"},
            {"{\"commit_from\":\"2025-10\"}", "tenants.\"acme\".commit_from: needs a minimum_commit"},
            {"{\"minimum_commit\":\"1\",\"commit_from\":\"October\"}", "tenants.\"acme\".commit_from: must be a period YYYY-MM"}})
        {
            final List<String> problems = assertThrows(PriceBookException.class, () -> book(c[0])).problems();
            assertTrue(problems.stream().anyMatch(p -> p.startsWith(c[1])), problems::toString);
        }
    }
}
