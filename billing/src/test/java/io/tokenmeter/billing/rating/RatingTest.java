package io.tokenmeter.billing.rating;

import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.billing.price.PriceBookException;
import io.tokenmeter.billing.price.PriceBookLoader;
import io.tokenmeter.core.aggregate.TenantBucket;
import io.tokenmeter.core.event.ServiceTier;
import org.junit.jupiter.api.Test;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Money rules (SPEC sections 4 and 5), one named case each. */
class RatingTest
{
    private static final int INPUT = 0;
    private static final int CACHE_READ = 1;
    private static final int CACHE_WRITE = 2;
    private static final int CACHE_WRITE_1H = 3;
    private static final int OUTPUT = 4;

    static PriceBook book(final String modelsJson, final String tenantsJson) throws PriceBookException
    {
        final String json = "{\"currency\":\"USD\",\"models\":" + modelsJson + (tenantsJson == null ? "" : ",\"tenants\":" + tenantsJson) + "}";
        return PriceBookLoader.parse(json.getBytes(StandardCharsets.UTF_8), PriceBookLoader.Format.JSON);
    }

    static String version(final String from, final String perMillion)
    {
        return "{\"effective_from\":\"" + from + "\",\"per_million\":" + perMillion + "}";
    }

    static long hour(final String iso)
    {
        return Instant.parse(iso).getEpochSecond() / 3600;
    }

    /** A bucket with one token class set. */
    static TenantBucket bucket(final String hourIso, final String model, final ServiceTier tier, final int context,
        final int tokenClass, final long quantity)
    {
        final long[] counters = new long[8];
        counters[0] = 1;
        counters[1 + tokenClass] = quantity;
        return new TenantBucket(hour(hourIso), model, tier.code(), context, counters);
    }

    private static List<InvoiceLine> rate(final PriceBook book, final TenantBucket... buckets)
    {
        return Rater.rate(book, "acme", List.of(buckets), null, new LinkedHashSet<>());
    }

    private static String amountOf(final PriceBook book, final long quantity, final ServiceTier tier)
    {
        final List<InvoiceLine> lines = rate(book, bucket("2025-10-01T05:00:00Z", "m", tier, 0, INPUT, quantity));
        assertEquals(1, lines.size());
        return lines.get(0).amount().toPlainString();
    }

    private static final String M_1000 = "{\"m\":[" + version("2025-01-01T00:00:00Z", "{\"input\":\"1000\",\"output\":\"1\"}") + "]}";

    @Test
    void roundsHalfEvenExactlyAtTheHalfCent() throws Exception
    {
        final PriceBook book = book(M_1000, null);
        assertEquals("0.00", amountOf(book, 5, ServiceTier.STANDARD), "0.005 rounds to the even 0.00");
        assertEquals("0.02", amountOf(book, 15, ServiceTier.STANDARD), "0.015 rounds to the even 0.02");
        assertEquals("0.02", amountOf(book, 25, ServiceTier.STANDARD), "0.025 rounds to the even 0.02");
        assertEquals("0.04", amountOf(book, 35, ServiceTier.STANDARD), "0.035 rounds to the even 0.04");
        assertEquals("1.12", amountOf(book, 1125, ServiceTier.STANDARD), "1.125 rounds to 1.12");
        assertEquals("0.01", amountOf(book, 6, ServiceTier.STANDARD), "0.006 rounds up");
    }

    @Test
    void tinyQuantitiesRoundToZeroButKeepTheirLine() throws Exception
    {
        final PriceBook book = book("{\"m\":[" + version("2025-01-01T00:00:00Z", "{\"input\":\"0.15\",\"output\":\"1\"}") + "]}", null);
        final List<InvoiceLine> lines = rate(book, bucket("2025-10-01T05:00:00Z", "m", ServiceTier.STANDARD, 0, INPUT, 1));
        assertEquals(BigInteger.ONE, lines.get(0).quantity());
        assertEquals("0.00", lines.get(0).amount().toPlainString());
    }

    @Test
    void hugeQuantitiesNeitherOverflowNorLoseDigits() throws Exception
    {
        final PriceBook book = book("{\"m\":[" + version("2025-01-01T00:00:00Z", "{\"input\":\"75.00\",\"output\":\"0.000000000001\"}") + "]}", null);
        assertEquals("75000000000.00", amountOf(book, 1_000_000_000_000_000L, ServiceTier.STANDARD), "10^15 tokens at 75/M");
        final List<InvoiceLine> lines = rate(book,
            bucket("2025-10-01T05:00:00Z", "m", ServiceTier.STANDARD, 0, INPUT, Long.MAX_VALUE),
            bucket("2025-10-01T06:00:00Z", "m", ServiceTier.STANDARD, 0, INPUT, Long.MAX_VALUE),
            bucket("2025-10-01T07:00:00Z", "m", ServiceTier.STANDARD, 0, OUTPUT, Long.MAX_VALUE));
        final BigInteger twice = BigInteger.valueOf(Long.MAX_VALUE).shiftLeft(1);
        assertEquals(twice, lines.get(0).quantity(), "a line sums past 2^63 exactly");
        assertEquals("1383505805528216.37", lines.get(0).amount().toPlainString(), "(2^64-2) x 75 / 10^6 = ...216.37105");
        assertEquals("9.22", lines.get(1).amount().toPlainString(), "(2^63-1) x 10^-12 / 10^6 = 9.223372036854775807 -> 9.22");
    }

    @Test
    void zeroPricesGiveZeroAmountLines() throws Exception
    {
        final PriceBook book = book("{\"m\":[" + version("2025-01-01T00:00:00Z", "{\"input\":\"0\",\"output\":\"0.00\"}") + "]}", null);
        final List<InvoiceLine> lines = rate(book, bucket("2025-10-01T05:00:00Z", "m", ServiceTier.STANDARD, 0, OUTPUT, 1_000_000));
        assertEquals("0.00", lines.get(0).amount().toPlainString());
        assertEquals("0.00", lines.get(0).unitPricePerMillion());
    }

    @Test
    void appliesTheTenantDiscountToEveryLine() throws Exception
    {
        final String models = "{\"m\":[" + version("2025-01-01T00:00:00Z", "{\"input\":\"10\",\"output\":\"1\"}") + "]}";
        final PriceBook book = book(models, "{\"acme\":{\"discount_percent\":\"12.5\"}}");
        final List<InvoiceLine> lines = rate(book, bucket("2025-10-01T05:00:00Z", "m", ServiceTier.STANDARD, 0, INPUT, 1_000_001));
        assertEquals("8.75", lines.get(0).amount().toPlainString(), "10.00001 x 0.875 = 8.75000875");
        assertEquals("12.5", lines.get(0).discountPercent());
        final List<InvoiceLine> other = Rater.rate(book, "other", List.of(bucket("2025-10-01T05:00:00Z", "m",
            ServiceTier.STANDARD, 0, INPUT, 1_000_000)), null, new LinkedHashSet<>());
        assertEquals("10.00", other.get(0).amount().toPlainString(), "another tenant pays full price");
    }

    @Test
    void appliesServiceTierMultipliersAndFullPriceWithoutOne() throws Exception
    {
        final PriceBook book = book("{\"m\":[{\"effective_from\":\"2025-01-01T00:00:00Z\",\"per_million\":{\"input\":\"2.50\",\"output\":\"1\"},"
            + "\"service_tier_multiplier\":{\"batch\":\"0.5\",\"priority\":\"1.7\"}}]}", "{\"acme\":{\"discount_percent\":\"10\"}}");
        assertEquals("2.25", amountOf(book, 1_000_000, ServiceTier.STANDARD), "2.50 x 0.9");
        assertEquals("1.12", amountOf(book, 1_000_000, ServiceTier.BATCH), "2.50 x 0.5 x 0.9 = 1.125 -> 1.12 (half-even)");
        assertEquals("3.82", amountOf(book, 1_000_000, ServiceTier.PRIORITY), "2.50 x 1.7 x 0.9 = 3.825 -> 3.82 (half-even)");
    }

    @Test
    void changesPriceAtTheHourBoundaryInsideAMonth() throws Exception
    {
        final PriceBook book = book("{\"m\":[" + version("2025-10-01T00:00:00Z", "{\"input\":\"1.00\",\"output\":\"1\"}") + ","
            + version("2025-10-15T13:00:00Z", "{\"input\":\"3.00\",\"output\":\"1\"}") + "]}", null);
        final List<InvoiceLine> lines = rate(book,
            bucket("2025-10-15T12:00:00Z", "m", ServiceTier.STANDARD, 0, INPUT, 1_000_000),
            bucket("2025-10-15T13:00:00Z", "m", ServiceTier.STANDARD, 0, INPUT, 1_000_000),
            bucket("2025-10-20T00:00:00Z", "m", ServiceTier.STANDARD, 0, INPUT, 2_000_000));
        assertEquals(2, lines.size());
        assertEquals("2025-10-01T00:00:00Z", lines.get(0).priceFrom());
        assertEquals("1.00", lines.get(0).amount().toPlainString());
        assertEquals("2025-10-15T13:00:00Z", lines.get(1).priceFrom());
        assertEquals(BigInteger.valueOf(3_000_000), lines.get(1).quantity());
        assertEquals("9.00", lines.get(1).amount().toPlainString());
    }

    @Test
    void tenantEntriesBeatGlobalOnesEvenExactOnes() throws Exception
    {
        final String global = "{\"gpt-4o-2024-08-06\":[" + version("2024-08-06T00:00:00Z", "{\"input\":\"2.50\",\"output\":\"10\"}") + "]}";
        final String tenants = "{\"acme\":{\"models\":{\"gpt-4o*\":[" + version("2024-08-06T00:00:00Z", "{\"input\":\"2.00\",\"output\":\"8\"}") + "]}}}";
        final PriceBook book = book(global, tenants);
        final PriceBook.Resolved forAcme = book.resolve("acme", "gpt-4o-2024-08-06", hour("2025-10-01T00:00:00Z"));
        assertEquals(PriceBook.Resolved.TENANT, forAcme.scope());
        assertEquals("gpt-4o*", forAcme.entryKey());
        final PriceBook.Resolved forOther = book.resolve("other", "gpt-4o-2024-08-06", hour("2025-10-01T00:00:00Z"));
        assertEquals(PriceBook.Resolved.GLOBAL, forOther.scope());
        final List<InvoiceLine> lines = rate(book, bucket("2025-10-01T05:00:00Z", "gpt-4o-2024-08-06", ServiceTier.STANDARD, 0, INPUT, 1_000_000));
        assertEquals("2.00", lines.get(0).amount().toPlainString());
        assertEquals("tenant", lines.get(0).priceScope());
    }

    @Test
    void exactNameBeatsAnyPatternAndLongerPatternBeatsShorter() throws Exception
    {
        final PriceBook book = book("{\"gpt-4o*\":[" + version("2024-01-01T00:00:00Z", "{\"input\":\"2.50\",\"output\":\"1\"}") + "],"
            + "\"gpt-4o-mini*\":[" + version("2024-01-01T00:00:00Z", "{\"input\":\"0.15\",\"output\":\"1\"}") + "],"
            + "\"gpt-4o-mini-2024-07-18\":[" + version("2024-01-01T00:00:00Z", "{\"input\":\"0.10\",\"output\":\"1\"}") + "],"
            + "\"*\":[" + version("2024-01-01T00:00:00Z", "{\"input\":\"9\",\"output\":\"9\"}") + "]}", null);
        final long h = hour("2025-01-01T00:00:00Z");
        assertEquals("gpt-4o-mini-2024-07-18", book.resolve("t", "gpt-4o-mini-2024-07-18", h).entryKey(), "exact beats patterns");
        assertEquals("gpt-4o-mini*", book.resolve("t", "gpt-4o-mini-2025", h).entryKey(), "longer pattern beats shorter");
        assertEquals("gpt-4o*", book.resolve("t", "gpt-4o-2024-08-06", h).entryKey());
        assertEquals("*", book.resolve("t", "llama", h).entryKey(), "a bare * catches the rest");
    }

    @Test
    void aCandidateWithoutAVersionInEffectIsPassedOver() throws Exception
    {
        final PriceBook book = book("{\"m\":[" + version("2025-06-01T00:00:00Z", "{\"input\":\"5\",\"output\":\"1\"}") + "],"
            + "\"m*\":[" + version("2025-01-01T00:00:00Z", "{\"input\":\"1\",\"output\":\"1\"}") + "]}", null);
        assertEquals("m*", book.resolve("t", "m", hour("2025-05-31T23:00:00Z")).entryKey());
        assertEquals("m", book.resolve("t", "m", hour("2025-06-01T00:00:00Z")).entryKey());
        assertNull(book.resolve("t", "m", hour("2024-12-31T23:00:00Z")), "nothing in effect: unpriced");
    }

    @Test
    void oneHourCacheWritesFallBackToTheCacheWriteRate() throws Exception
    {
        final PriceBook book = book("{\"m\":[" + version("2025-01-01T00:00:00Z",
            "{\"input\":\"3\",\"cache_write\":\"3.75\",\"output\":\"15\"}") + "],"
            + "\"n\":[" + version("2025-01-01T00:00:00Z", "{\"input\":\"3\",\"cache_write\":\"3.75\",\"cache_write_1h\":\"6\",\"output\":\"15\"}") + "]}", null);
        final List<InvoiceLine> m = rate(book, bucket("2025-10-01T05:00:00Z", "m", ServiceTier.STANDARD, 0, CACHE_WRITE_1H, 1_000_000));
        assertEquals("3.75", m.get(0).amount().toPlainString());
        final List<InvoiceLine> n = rate(book, bucket("2025-10-01T05:00:00Z", "n", ServiceTier.STANDARD, 0, CACHE_WRITE_1H, 1_000_000));
        assertEquals("6.00", n.get(0).amount().toPlainString());
    }

    @Test
    void unpricedUsageIsListedWithAmountZeroAndAWarning() throws Exception
    {
        final PriceBook book = book("{\"m\":[" + version("2025-01-01T00:00:00Z", "{\"input\":\"1\",\"output\":\"1\"}") + "]}", null);
        final Set<String> warnings = new LinkedHashSet<>();
        final List<InvoiceLine> lines = Rater.rate(book, "acme", List.of(
            bucket("2025-10-01T05:00:00Z", "unknown-model", ServiceTier.STANDARD, 0, INPUT, 500),
            bucket("2025-10-01T05:00:00Z", "m", ServiceTier.STANDARD, 0, CACHE_READ, 700)), null, warnings);
        assertEquals(2, lines.size());
        for (final InvoiceLine line : lines)
        {
            assertTrue(line.unpriced(), line.toString());
            assertEquals("0.00", line.amount().toPlainString());
        }
        assertEquals(2, warnings.size(), warnings.toString());
        assertTrue(warnings.stream().anyMatch(w -> w.contains("'unknown-model' has no price")));
        assertTrue(warnings.stream().anyMatch(w -> w.contains("has no cache_read rate")));
    }

    @Test
    void longContextBucketsUseTheLongRatesAndFallBackPerClass() throws Exception
    {
        final PriceBook book = book("{\"g\":[{\"effective_from\":\"2025-01-01T00:00:00Z\",\"per_million\":{\"input\":\"1.25\","
            + "\"cache_read\":\"0.31\",\"output\":\"10\"},\"long_context\":{\"above_input_tokens\":200000,\"per_million\":{\"input\":\"2.50\","
            + "\"output\":\"15\"}}}]}", null);
        final List<InvoiceLine> lines = rate(book,
            bucket("2025-10-01T05:00:00Z", "g", ServiceTier.STANDARD, 1, INPUT, 1_000_000),
            bucket("2025-10-01T06:00:00Z", "g", ServiceTier.STANDARD, 1, CACHE_READ, 1_000_000),
            bucket("2025-10-01T05:00:00Z", "g", ServiceTier.STANDARD, 0, INPUT, 1_000_000));
        assertEquals(3, lines.size());
        assertEquals("standard", lines.get(0).context());
        assertEquals("1.25", lines.get(0).amount().toPlainString());
        assertEquals("long", lines.get(1).context());
        assertEquals("2.50", lines.get(1).amount().toPlainString());
        assertEquals("0.31", lines.get(2).amount().toPlainString(), "no long cache_read rate: the standard one");
    }

    @Test
    void currenciesWithoutCentsRoundToWholeUnits() throws Exception
    {
        final PriceBook book = PriceBookLoader.parse(("{\"currency\":\"JPY\",\"models\":{\"m\":[" + version("2025-01-01T00:00:00Z",
            "{\"input\":\"375\",\"output\":\"1\"}") + "]}}").getBytes(StandardCharsets.UTF_8), PriceBookLoader.Format.JSON);
        assertEquals(0, book.minorDigits("any-tenant"));
        assertEquals("2", amountOf(book, 5_000, ServiceTier.STANDARD), "1.875 -> 2");
    }
}
