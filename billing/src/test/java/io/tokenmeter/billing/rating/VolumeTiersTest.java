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
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import static io.tokenmeter.billing.rating.RatingTest.bucket;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** SPEC section 11, volume tiers: graduated and volume bands over the tenant's period quantity of an entry and class. */
class VolumeTiersTest
{
    private static final int INPUT = 0;
    private static final int OUTPUT = 4;
    private static final YearMonth OCTOBER = YearMonth.of(2025, 10);
    private static final YearMonth NOVEMBER = YearMonth.of(2025, 11);

    /** Input of "m*": the first million tokens at 2.00 per million, the rest at 1.00; output flat 4.00. */
    private static PriceBook book(final String mode) throws PriceBookException
    {
        return json("{\"currency\":\"USD\",\"models\":{\"m*\":[{\"effective_from\":\"2025-01-01T00:00:00Z\",\"per_million\":{"
            + "\"input\":{\"tiers\":{\"mode\":\"" + mode + "\",\"bands\":[{\"up_to\":1000000,\"per_million\":\"2.00\"},"
            + "{\"up_to\":null,\"per_million\":\"1.00\"}]}},\"output\":\"4.00\"}}]}}");
    }

    private static PriceBook json(final String text) throws PriceBookException
    {
        return PriceBookLoader.parse(text.getBytes(StandardCharsets.UTF_8), PriceBookLoader.Format.JSON);
    }

    private static List<InvoiceLine> rate(final PriceBook book, final TenantBucket... buckets)
    {
        return Rater.rate(book, "acme", List.of(buckets), null, new LinkedHashSet<>());
    }

    private static String describe(final List<InvoiceLine> lines)
    {
        final StringBuilder sb = new StringBuilder();
        for (final InvoiceLine l : lines)
        {
            sb.append(l.model()).append(' ').append(l.tokenClass()).append(' ').append(l.band()).append(' ').append(l.quantity())
                .append(" @").append(l.unitPricePerMillion()).append(" = ").append(l.amount()).append(l.adjustmentFor() == null
                    ? "" : " for " + l.adjustmentFor()).append('\n');
        }
        return sb.toString();
    }

    private static TenantBucket input(final String hour, final String model, final long tokens)
    {
        return bucket(hour, model, ServiceTier.STANDARD, 0, INPUT, tokens);
    }

    @Test
    void graduatedPricesEachBandsUnitsAtItsRateOneLinePerBand() throws Exception
    {
        assertEquals("m-1 input 1-1000000 1000000 @2.00 = 2.00\nm-1 input 1000001- 500000 @1.00 = 0.50\n",
            describe(rate(book("graduated"), input("2025-10-03T10:00:00Z", "m-1", 1_500_000))));
    }

    @Test
    void graduatedBandsFillInTimeOrderAcrossTheModelsOfTheEntry() throws Exception
    {
        final List<InvoiceLine> lines = rate(book("graduated"), input("2025-10-05T10:00:00Z", "m-b", 600_000),
            input("2025-10-03T10:00:00Z", "m-a", 600_000), bucket("2025-10-03T10:00:00Z", "m-a", ServiceTier.STANDARD, 0, OUTPUT, 10));
        assertEquals("m-a input 1-1000000 600000 @2.00 = 1.20\nm-a output null 10 @4.00 = 0.00\n"
            + "m-b input 1-1000000 400000 @2.00 = 0.80\nm-b input 1000001- 200000 @1.00 = 0.20\n", describe(lines),
            "m-a's October 3 units come first; output is flat and counts in no band");
    }

    @Test
    void aBandBoundaryHitExactlyStaysInTheLowerBand() throws Exception
    {
        assertEquals("m-1 input 1-1000000 1000000 @2.00 = 2.00\n",
            describe(rate(book("graduated"), input("2025-10-03T10:00:00Z", "m-1", 1_000_000))));
        assertEquals("m-1 input 1-1000000 1000000 @2.00 = 2.00\n",
            describe(rate(book("volume"), input("2025-10-03T10:00:00Z", "m-1", 1_000_000))), "up_to is inclusive");
        assertEquals("m-1 input 1000001- 1000001 @1.00 = 1.00\n",
            describe(rate(book("volume"), input("2025-10-03T10:00:00Z", "m-1", 1_000_001))), "one token more moves every unit");
    }

    @Test
    void volumePricesEveryUnitAtTheBandThePeriodTotalReaches() throws Exception
    {
        assertEquals("m-a input 1000001- 700000 @1.00 = 0.70\nm-b input 1000001- 800000 @1.00 = 0.80\n",
            describe(rate(book("volume"), input("2025-10-03T10:00:00Z", "m-a", 700_000),
                input("2025-10-04T10:00:00Z", "m-b", 800_000))));
    }

    @Test
    void lateUsageOfAFinalPeriodCountsOnFromWhatWasBilled() throws Exception
    {
        for (final String mode : new String[] {"graduated", "volume"})
        {
            final PriceBook book = book(mode);
            final BookInForce prices = new BookInForce(book, 1, 0, 0);
            final Invoice october = InvoiceCalculator.draft("acme", OCTOBER, prices,
                List.of(input("2025-10-03T10:00:00Z", "m-1", 900_000)), List.of(), 0, null).asFinal("INV-000001", "x");
            final List<TenantBucket> later = new ArrayList<>(List.of(input("2025-10-03T10:00:00Z", "m-1", 1_200_000),
                input("2025-11-03T10:00:00Z", "m-1", 100_000)));
            final Invoice november = InvoiceCalculator.draft("acme", NOVEMBER, prices, later, List.of(october), 0, null);
            if (mode.equals("graduated"))
            {
                assertEquals("m-1 input 1-1000000 100000 @2.00 = 0.20\n"
                    + "m-1 input 1-1000000 100000 @2.00 = 0.20 for 2025-10\nm-1 input 1000001- 200000 @1.00 = 0.20 for 2025-10\n",
                    describe(november.lines()), "October's late units go on from 900,000; November counts from zero");
            }
            else
            {
                assertEquals("m-1 input 1-1000000 100000 @2.00 = 0.20\nm-1 input 1000001- 300000 @1.00 = 0.30 for 2025-10\n",
                    describe(november.lines()));
                assertTrue(november.warnings().stream().anyMatch(w -> w.startsWith("late usage of 2025-10 moved the input total "
                    + "of 'm*' into the volume band 1000001-")), november.warnings()::toString);
            }
        }
    }

    @Test
    @org.junit.jupiter.api.Timeout(10)
    void aSaturatedRunningTotalStaysInTheLastBand() throws Exception
    {
        // a counter flagged saturated at 2^63-1, then more usage: the running total cannot go on, it must not wrap
        final List<InvoiceLine> lines = rate(book("graduated"), input("2025-10-03T10:00:00Z", "m-1", Long.MAX_VALUE),
            input("2025-10-04T10:00:00Z", "m-2", 5));
        assertEquals("m-1 input 1-1000000 1000000 @2.00 = 2.00\nm-1 input 1000001- " + (Long.MAX_VALUE - 1_000_000)
            + " @1.00 = 9223372036853.78\nm-2 input 1000001- 5 @1.00 = 0.00\n", describe(lines));
    }

    @Test
    void bandsSurviveJsonAndCsv() throws Exception
    {
        final Invoice invoice = InvoiceCalculator.draft("acme", OCTOBER, new BookInForce(book("graduated"), 1, 0, 0),
            List.of(input("2025-10-03T10:00:00Z", "m-1", 1_500_000)), List.of(), 0, null);
        final Invoice read = InvoiceJson.read(InvoiceJson.toBytes(invoice, true, false));
        assertEquals(invoice.lines(), read.lines());
        final String csv = InvoiceCsv.render(invoice);
        assertTrue(csv.startsWith("kind,model,service_tier,token_class,context,mode,window,band,"), csv);
        assertTrue(csv.contains("usage,m-1,standard,input,standard,standard,none,1000001-,"), csv);
    }

    @Test
    void bandProblemsAreNamed()
    {
        final String prefix = "{\"currency\":\"USD\",\"models\":{\"m\":[{\"effective_from\":\"2025-01-01T00:00:00Z\",\"per_million\":{"
            + "\"output\":\"1\",\"input\":";
        final String[][] cases = {
            {"{\"tiers\":{\"mode\":\"graduated\",\"bands\":[{\"up_to\":1000,\"per_million\":\"2\"}]}}",
                "models.\"m\"[0].per_million.input.tiers.bands[0].up_to: must be null in the last band"},
            {"{\"tiers\":{\"mode\":\"graduated\",\"bands\":[{\"up_to\":1000,\"per_million\":\"2\"},{\"up_to\":1000,\"per_million\":\"1\"},"
                + "{\"up_to\":null,\"per_million\":\"1\"}]}}", "models.\"m\"[0].per_million.input.tiers.bands[1].up_to: must be a whole"},
            {"{\"tiers\":{\"mode\":\"stepped\",\"bands\":[{\"up_to\":null,\"per_million\":\"2\"}]}}",
                "models.\"m\"[0].per_million.input.tiers.mode: must be \"graduated\""},
            {"{\"tiers\":{\"mode\":\"volume\",\"bands\":[]}}", "models.\"m\"[0].per_million.input.tiers.bands: must be a non-empty"},
            {"{\"tiers\":{\"mode\":\"volume\",\"bands\":[{\"up_to\":0,\"per_million\":\"2\"},{\"up_to\":null,\"per_million\":\"1\"}]}}",
                "models.\"m\"[0].per_million.input.tiers.bands[0].up_to: must be a whole"},
            {"{\"tiers\":{\"mode\":\"volume\",\"bands\":[{\"up_to\":null,\"per_million\":2}]}}",
                "models.\"m\"[0].per_million.input.tiers.bands[0].per_million: must be a decimal string"},
            {"{\"bands\":[]}", "models.\"m\"[0].per_million.input.bands: is not a known field"},
        };
        for (final String[] c : cases)
        {
            final List<String> problems = assertThrows(PriceBookException.class, () -> json(prefix + c[0] + "}}]}}")).problems();
            assertTrue(problems.stream().anyMatch(p -> p.startsWith(c[1])), () -> c[1] + " not in " + problems);
        }
        final List<String> inLong = assertThrows(PriceBookException.class, () -> json(prefix + "\"1\"},\"long_context\":{"
            + "\"above_input_tokens\":10,\"per_million\":{\"input\":{\"tiers\":{}}}}}]}}")).problems();
        assertTrue(inLong.stream().anyMatch(p -> p.startsWith("models.\"m\"[0].long_context.per_million.input: volume tiers are "
            + "given in the version's per_million")), inLong::toString);
    }

    @Test
    void aBookWithTiersPricesACacheWrite1hFromCacheWritesTiers() throws Exception
    {
        final PriceBook book = json("{\"currency\":\"USD\",\"models\":{\"m\":[{\"effective_from\":\"2025-01-01T00:00:00Z\","
            + "\"per_million\":{\"input\":\"1\",\"output\":\"1\",\"cache_write\":{\"tiers\":{\"mode\":\"volume\",\"bands\":["
            + "{\"up_to\":10,\"per_million\":\"3.00\"},{\"up_to\":null,\"per_million\":\"2.00\"}]}}}}]}}");
        final Set<String> warnings = new LinkedHashSet<>();
        final List<InvoiceLine> lines = Rater.rate(book, "acme", List.of(bucket("2025-10-03T10:00:00Z", "m", ServiceTier.STANDARD,
            0, 3, 1_000_000)), null, warnings);
        assertEquals("m cache_write_1h 11- 1000000 @2.00 = 2.00\n", describe(lines));
        assertEquals(Set.of(), warnings);
    }
}
