package io.tokenmeter.billing.rating;

import io.tokenmeter.billing.invoice.Invoice;
import io.tokenmeter.billing.invoice.InvoiceCalculator;
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
import static io.tokenmeter.billing.rating.RatingTest.version;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** SPEC section 11, currencies: several in one book, one per tenant, no implicit exchange rate. */
class CurrenciesTest
{
    private static final int INPUT = 0;
    private static final int OUTPUT = 4;
    private static final String FROM = "2025-01-01T00:00:00Z";
    private static final String HOUR = "2025-10-01T05:00:00Z";

    /** USD first (the default), then CNY and JPY; qwen-max is priced only in CNY, gpt-4o only in USD. */
    private static final String BOOK = "{\"currencies\":{"
        + "\"USD\":{\"models\":{\"gpt-4o\":[" + version(FROM, "{\"input\":\"2.50\",\"output\":\"10.00\"}") + "],"
        + "\"shared\":[" + version(FROM, "{\"input\":\"1.00\",\"output\":\"2.00\"}") + "]}},"
        + "\"CNY\":{\"models\":{\"qwen-max\":[" + version(FROM, "{\"input\":\"2.40\",\"output\":\"9.60\"}") + "],"
        + "\"shared\":[" + version(FROM, "{\"input\":\"7.00\",\"output\":\"14.00\"}") + "]}},"
        + "\"JPY\":{\"models\":{\"shared\":[" + version(FROM, "{\"input\":\"150\",\"output\":\"300\"}") + "]}}},"
        + "\"tenants\":{\"hangzhou\":{\"currency\":\"CNY\"},\"tokyo\":{\"currency\":\"JPY\"},"
        + "\"shenzhen\":{\"currency\":\"CNY\",\"discount_percent\":\"10\",\"models\":{\"qwen-max\":["
        + version(FROM, "{\"input\":\"2.00\",\"output\":\"8.00\"}") + "]}}}}";

    private static PriceBook json(final String text) throws PriceBookException
    {
        return PriceBookLoader.parse(text.getBytes(StandardCharsets.UTF_8), PriceBookLoader.Format.JSON);
    }

    private static List<String> problems(final String text)
    {
        return assertThrows(PriceBookException.class, () -> json(text)).problems();
    }

    private static void assertProblem(final List<String> problems, final String expected)
    {
        assertTrue(problems.stream().anyMatch(p -> p.startsWith(expected)), () -> "no problem starting '" + expected + "' in " + problems);
    }

    @Test
    void eachTenantIsBilledInItsCurrencyAndTheFirstIsTheDefault() throws Exception
    {
        final PriceBook book = json(BOOK);
        assertEquals(Set.of("USD", "CNY", "JPY"), book.currencies());
        assertEquals("USD", book.currency("acme"), "a tenant without terms gets the first currency");
        assertEquals("CNY", book.currency("hangzhou"));
        assertEquals("JPY", book.currency("tokyo"));
        assertEquals(2, book.minorDigits("hangzhou"), "CNY has fen: two digits");
        assertEquals(0, book.minorDigits("tokyo"), "JPY has no minor unit in use");
    }

    @Test
    void aTenantIsPricedOnlyFromEntriesOfItsCurrency() throws Exception
    {
        final PriceBook book = json(BOOK);
        final long hour = RatingTest.hour(HOUR);
        assertEquals("7.00", book.resolve("hangzhou", "shared", hour).version().rate(INPUT, false).toPlainString());
        assertEquals("1.00", book.resolve("acme", "shared", hour).version().rate(INPUT, false).toPlainString());
        assertEquals("150", book.resolve("tokyo", "shared", hour).version().rate(INPUT, false).toPlainString());
        assertNull(book.resolve("acme", "qwen-max", hour), "qwen-max has a CNY price only");
        assertNull(book.resolve("hangzhou", "gpt-4o", hour), "gpt-4o has a USD price only: never converted");
        assertEquals("2.00", book.resolve("shenzhen", "qwen-max", hour).version().rate(INPUT, false).toPlainString(),
            "the tenant's own entry, in its currency, comes first");
    }

    @Test
    void aModelWithoutAPriceInTheTenantsCurrencyIsAnUnpricedLineWithAWarning() throws Exception
    {
        final PriceBook book = json(BOOK);
        final Set<String> warnings = new LinkedHashSet<>();
        final List<InvoiceLine> lines = Rater.rate(book, "hangzhou",
            List.of(bucket(HOUR, "gpt-4o", ServiceTier.STANDARD, 0, INPUT, 1_000_000)), null, warnings);
        assertEquals(1, lines.size());
        assertNull(lines.get(0).unitPricePerMillion(), "unpriced");
        assertEquals("0.00", lines.get(0).amount().toPlainString());
        assertTrue(warnings.stream().anyMatch(w -> w.contains("'gpt-4o' has no price in the book in CNY")
            && w.contains("never converted")), warnings::toString);
    }

    @Test
    void invoicesCarryTheTenantsCurrencyAndRoundToItsMinorUnit() throws Exception
    {
        final PriceBook book = json(BOOK);
        final BookInForce prices = new BookInForce(book, 1, 0, 0);
        final List<TenantBucket> cny = List.of(
            bucket(HOUR, "qwen-max", ServiceTier.STANDARD, 0, INPUT, 1_234_567),
            bucket(HOUR, "qwen-max", ServiceTier.STANDARD, 0, OUTPUT, 345_678));
        final Invoice hangzhou = InvoiceCalculator.draft("hangzhou", YearMonth.of(2025, 10), prices, cny, List.of(), 0, null);
        assertEquals("CNY", hangzhou.currency());
        // 1,234,567 x 2.40 / 10^6 = 2.9629608 -> 2.96; 345,678 x 9.60 / 10^6 = 3.3185088 -> 3.32
        assertEquals("6.28", hangzhou.total().toPlainString());
        final Invoice shenzhen = InvoiceCalculator.draft("shenzhen", YearMonth.of(2025, 10), prices, cny, List.of(), 0, null);
        // own rates 2.00 / 8.00 and 10 % off: 2.469134 x 0.9 = 2.2222206 -> 2.22; 2.765424 x 0.9 = 2.4888816 -> 2.49
        assertEquals("4.71", shenzhen.total().toPlainString());
        final Invoice tokyo = InvoiceCalculator.draft("tokyo", YearMonth.of(2025, 10), prices,
            List.of(bucket(HOUR, "shared", ServiceTier.STANDARD, 0, INPUT, 12_345)), List.of(), 0, null);
        assertEquals("JPY", tokyo.currency());
        // 12,345 x 150 / 10^6 = 1.85175 -> 2 (no minor unit)
        assertEquals("2", tokyo.total().toPlainString());
    }

    @Test
    void theOneCurrencyFormIsABookOfOneSection() throws Exception
    {
        final PriceBook book = json("{\"currency\":\"EUR\",\"models\":{\"m\":[" + version(FROM,
            "{\"input\":\"1.00\",\"output\":\"2.00\"}") + "]},\"tenants\":{\"t\":{\"discount_percent\":\"5\"}}}");
        assertEquals(Set.of("EUR"), book.currencies());
        assertEquals("EUR", book.currency("t"));
        assertEquals("EUR", book.currency("other"));
    }

    @Test
    void currencyProblemsAreNamed()
    {
        final String m = "{\"m\":[" + version(FROM, "{\"input\":\"1.00\",\"output\":\"2.00\"}") + "]}";
        assertProblem(problems("{\"currency\":\"USD\",\"currencies\":{\"USD\":{\"models\":" + m + "}}}"),
            "currency: cannot stand beside \"currencies\"");
        assertProblem(problems("{\"currencies\":{\"USD\":{\"models\":" + m + "}},\"models\":" + m + "}"),
            "models: cannot stand beside \"currencies\"");
        assertProblem(problems("{\"currencies\":{}}"), "currencies: must be a non-empty object");
        assertProblem(problems("{\"currencies\":{\"RMB\":{\"models\":" + m + "}}}"), "currencies.RMB: 'RMB' is not an ISO 4217");
        assertProblem(problems("{\"currencies\":{\"XAU\":{\"models\":" + m + "}}}"), "currencies.XAU: 'XAU' has no minor unit");
        assertProblem(problems("{\"currencies\":{\"CNY\":{\"models\":" + m + ",\"rate\":\"7.1\"}}}"),
            "currencies.CNY.rate: is not a known field");
        assertProblem(problems("{\"currencies\":{\"CNY\":{}}}"), "currencies.CNY: must be an object with models");
        assertProblem(problems("{\"currencies\":{\"CNY\":{\"models\":{\"m\":[{\"effective_from\":\"2025-01-01T00:00:00Z\","
            + "\"per_million\":{\"input\":\"1\"}}]}}}}"), "currencies.CNY.models.\"m\"[0].per_million.output: is required");
        assertProblem(problems("{\"currencies\":{\"USD\":{\"models\":" + m + "}},\"tenants\":{\"t\":{\"currency\":\"CAD\"}}}"),
            "tenants.\"t\".currency: 'CAD' has no prices in this book");
        assertProblem(problems("{\"currency\":\"USD\",\"models\":" + m + ",\"tenants\":{\"t\":{\"currency\":\"yuan\"}}}"),
            "tenants.\"t\".currency: 'yuan' is not an ISO 4217");
    }

    @Test
    void aTenantCurrencyWithOnlyItsOwnModelsIsAccepted() throws Exception
    {
        final PriceBook book = json("{\"currency\":\"USD\",\"models\":{\"m\":[" + version(FROM,
            "{\"input\":\"1.00\",\"output\":\"2.00\"}") + "]},\"tenants\":{\"berlin\":{\"currency\":\"EUR\",\"models\":{\"m\":["
            + version(FROM, "{\"input\":\"0.90\",\"output\":\"1.80\"}") + "]}}}}");
        assertEquals("EUR", book.currency("berlin"));
        assertEquals("0.90", book.resolve("berlin", "m", RatingTest.hour(HOUR)).version().rate(INPUT, false).toPlainString());
    }
}
