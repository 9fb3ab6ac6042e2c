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
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import static io.tokenmeter.billing.rating.RatingTest.bucket;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** SPEC section 11, cost and margin: a cost book says what the providers charge us; lines carry cost and margin. */
class CostBookTest
{
    private static final int INPUT = 0;
    private static final int OUTPUT = 4;
    private static final String FROM = "2025-01-01T00:00:00Z";

    /** We sell m at 3.00 / 12.00 (10 % off for acme, batch at half price) and pay 1.10 / 4.40, batch at 0.5 too. */
    private static final String BOOK = "{\"currency\":\"USD\",\"models\":{\"m\":[{\"effective_from\":\"" + FROM + "\",\"per_million\":"
        + "{\"input\":\"3.00\",\"output\":\"12.00\"},\"service_tier_multiplier\":{\"batch\":\"0.5\"}}],\"n\":[{\"effective_from\":\""
        + FROM + "\",\"per_million\":{\"input\":\"1.00\",\"output\":\"1.00\"}}]},\"tenants\":{\"acme\":{\"discount_percent\":\"10\"}},"
        + "\"cost\":{\"currency\":\"USD\",\"models\":{\"m\":[{\"effective_from\":\"" + FROM + "\",\"per_million\":{\"input\":\"1.10\","
        + "\"output\":\"4.40\"},\"service_tier_multiplier\":{\"batch\":\"0.5\"}}]}}}";

    private static PriceBook json(final String text) throws PriceBookException
    {
        return PriceBookLoader.parse(text.getBytes(StandardCharsets.UTF_8), PriceBookLoader.Format.JSON);
    }

    @Test
    void linesCarryTheCostAtTheCostBooksRatesWithoutOurDiscount() throws Exception
    {
        final PriceBook book = json(BOOK);
        final List<TenantBucket> buckets = List.of(
            bucket("2025-10-03T10:00:00Z", "m", ServiceTier.STANDARD, 0, INPUT, 2_345_678),
            bucket("2025-10-03T10:00:00Z", "m", ServiceTier.BATCH, 0, OUTPUT, 1_000_000));
        final Set<String> warnings = new LinkedHashSet<>();
        final List<InvoiceLine> lines = Rater.rate(book, "acme", buckets, null, warnings);
        // input: 2,345,678 x 3.00 x 0.9 / 10^6 = 6.3333306 -> 6.33; cost 2,345,678 x 1.10 / 10^6 = 2.5802458 -> 2.58
        assertEquals("6.33 2.58 3.75", money(lines.get(0)));
        // batch output: 1,000,000 x 12.00 x 0.5 x 0.9 = 5.40; cost 4.40 x 0.5 = 2.20
        assertEquals("5.40 2.20 3.20", money(lines.get(1)));
        assertEquals(Set.of(), warnings);
    }

    @Test
    void aModelWithoutACostHasNoCostOrMarginAndAWarning() throws Exception
    {
        final Set<String> warnings = new LinkedHashSet<>();
        final List<InvoiceLine> lines = Rater.rate(json(BOOK), "acme",
            List.of(bucket("2025-10-03T10:00:00Z", "n", ServiceTier.STANDARD, 0, INPUT, 1_000_000)), null, warnings);
        assertNull(lines.get(0).cost());
        assertNull(lines.get(0).margin());
        assertTrue(warnings.stream().anyMatch(w -> w.startsWith("model 'n' has no input cost in the cost book in USD")), warnings::toString);
    }

    @Test
    void withoutACostBookLinesHaveNoCost() throws Exception
    {
        final PriceBook book = json("{\"currency\":\"USD\",\"models\":{\"m\":[{\"effective_from\":\"" + FROM + "\",\"per_million\":"
            + "{\"input\":\"3.00\",\"output\":\"12.00\"}}]}}");
        assertFalse(book.hasCosts());
        final Set<String> warnings = new LinkedHashSet<>();
        final List<InvoiceLine> lines = Rater.rate(book, "acme",
            List.of(bucket("2025-10-03T10:00:00Z", "m", ServiceTier.STANDARD, 0, INPUT, 1_000_000)), null, warnings);
        assertNull(lines.get(0).cost());
        assertEquals(Set.of(), warnings, "no cost book, no warning about costs");
    }

    @Test
    void costsAreShownOrLeftOutOfJsonAndCsv() throws Exception
    {
        final Invoice invoice = InvoiceCalculator.draft("acme", YearMonth.of(2025, 10), new BookInForce(json(BOOK), 1, 0, 0),
            List.of(bucket("2025-10-03T10:00:00Z", "m", ServiceTier.STANDARD, 0, INPUT, 1_000_000)), List.of(), 0, null);
        final String full = new String(InvoiceJson.toBytes(invoice, false, false), StandardCharsets.UTF_8);
        assertTrue(full.contains("\"amount\":\"2.70\",\"cost\":\"1.10\",\"margin\":\"1.60\""), full);
        assertEquals(invoice.lines(), InvoiceJson.read(full.getBytes(StandardCharsets.UTF_8)).lines(), "costs read back");
        final String own = new String(InvoiceJson.toBytes(invoice, false, false, false), StandardCharsets.UTF_8);
        assertFalse(own.contains("cost") || own.contains("margin"), own);
        assertTrue(InvoiceCsv.render(invoice).contains(",2.70,1.10,1.60,,USD,"));
        assertTrue(InvoiceCsv.render(invoice, false).contains(",2.70,,,,USD,"));
    }

    @Test
    void costBookProblemsAreNamedUnderCost()
    {
        final String prices = "{\"currency\":\"USD\",\"models\":{\"m\":[{\"effective_from\":\"" + FROM + "\",\"per_million\":"
            + "{\"input\":\"3.00\",\"output\":\"12.00\"}}]},\"cost\":";
        final String[][] cases = {
            {"{\"currency\":\"USD\",\"models\":{\"m\":[{\"effective_from\":\"" + FROM + "\",\"per_million\":{\"input\":{\"tiers\":{}},"
                + "\"output\":\"1\"}}]}}", "cost.models.\"m\"[0].per_million.input: the cost book takes flat rates"},
            {"{\"currency\":\"USD\",\"models\":{},\"tenants\":{}}", "cost.tenants: is not a known field here"},
            {"{\"models\":{}}", "cost.currency: is required"},
            {"\"cheap\"", "cost: must be a book of what the providers charge"},
        };
        for (final String[] c : cases)
        {
            final List<String> problems = assertThrows(PriceBookException.class, () -> json(prices + c[0] + "}")).problems();
            assertTrue(problems.stream().anyMatch(p -> p.startsWith(c[1])), () -> c[1] + " not in " + problems);
        }
    }

    private static String money(final InvoiceLine line)
    {
        return line.amount() + " " + line.cost() + " " + line.margin();
    }
}
