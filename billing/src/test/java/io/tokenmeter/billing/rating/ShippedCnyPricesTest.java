package io.tokenmeter.billing.rating;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.tokenmeter.billing.invoice.Invoice;
import io.tokenmeter.billing.invoice.InvoiceCalculator;
import io.tokenmeter.billing.price.BookInForce;
import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.billing.price.PriceBookLoader;
import io.tokenmeter.core.aggregate.TenantBucket;
import io.tokenmeter.core.event.ServiceTier;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.time.YearMonth;
import java.util.List;

import static io.tokenmeter.billing.rating.RatingTest.bucket;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Invoices of a CNY tenant priced from the shipped book's CNY section, checked against amounts worked out here from
 * the rates the book was written with (docs/billing.md "The shipped CNY prices"). A change of those rates in the book
 * must come with a change here.
 */
class ShippedCnyPricesTest
{
    private static final int INPUT = 0;
    private static final int CACHE_READ = 1;
    private static final int OUTPUT = 4;
    private static final int STANDARD = 0;
    private static final int LONG = 1;
    private static final String HOUR = "2026-11-20T08:00:00Z";
    private static final YearMonth PERIOD = YearMonth.of(2026, 11);

    /** qwen-plus, China (Beijing): 0-128K, and 128K-256K as long context. */
    private static final String QWEN_PLUS_INPUT = "0.80";
    private static final String QWEN_PLUS_CACHE_READ = "0.16";
    private static final String QWEN_PLUS_OUTPUT = "2.00";
    private static final String QWEN_PLUS_LONG_INPUT = "2.40";
    private static final String QWEN_PLUS_LONG_OUTPUT = "20.00";
    /** deepseek-v4-pro, off-peak since 2026-08-16 16:00 UTC. */
    private static final String DS_PRO_INPUT = "4.50";
    private static final String DS_PRO_CACHE_READ = "0.15";
    private static final String DS_PRO_OUTPUT = "13.50";
    /** The same usage of a USD tenant: qwen-plus at Model Studio Singapore, deepseek-v4-pro at DeepSeek's dollar table. */
    private static final String USD_QWEN_PLUS_INPUT = "0.40";
    private static final String USD_QWEN_PLUS_OUTPUT = "1.20";
    private static final String USD_DS_PRO_INPUT = "0.66";
    private static final String USD_DS_PRO_CACHE_READ = "0.022";
    private static final String USD_DS_PRO_OUTPUT = "1.98";

    private static final List<TenantBucket> USAGE = List.of(
        bucket(HOUR, "qwen-plus", ServiceTier.STANDARD, STANDARD, INPUT, 1_234_567),
        bucket(HOUR, "qwen-plus", ServiceTier.STANDARD, STANDARD, OUTPUT, 345_678),
        bucket(HOUR, "qwen-plus", ServiceTier.STANDARD, STANDARD, CACHE_READ, 2_345_678),
        bucket(HOUR, "qwen-plus", ServiceTier.STANDARD, LONG, INPUT, 150_000),
        bucket(HOUR, "qwen-plus", ServiceTier.STANDARD, LONG, OUTPUT, 4_321),
        bucket(HOUR, "deepseek-v4-pro", ServiceTier.STANDARD, STANDARD, INPUT, 1_000_000),
        bucket(HOUR, "deepseek-v4-pro", ServiceTier.STANDARD, STANDARD, CACHE_READ, 5_000_000),
        bucket(HOUR, "deepseek-v4-pro", ServiceTier.STANDARD, STANDARD, OUTPUT, 250_000));

    private static PriceBook shippedWithCnyTenant() throws Exception
    {
        final ObjectNode root;
        try (InputStream in = PriceBookLoader.class.getResourceAsStream(PriceBookLoader.SHIPPED_RESOURCE))
        {
            root = (ObjectNode) new YAMLMapper().readTree(in);
        }
        root.putObject("tenants").putObject("hangzhou").put("currency", "CNY");
        return PriceBookLoader.parse(new ObjectMapper().writeValueAsString(root).getBytes(StandardCharsets.UTF_8),
            PriceBookLoader.Format.JSON);
    }

    /** @return quantity x rate / 10^6, rounded half-even to the fen (or cent), as SPEC section 5 says. */
    private static BigDecimal amount(final long quantity, final String rate)
    {
        return BigDecimal.valueOf(quantity).multiply(new BigDecimal(rate)).movePointLeft(6).setScale(2, RoundingMode.HALF_EVEN);
    }

    private static InvoiceLine line(final Invoice invoice, final String model, final String tokenClass, final String context)
    {
        return invoice.lines().stream()
            .filter(l -> model.equals(l.model()) && tokenClass.equals(l.tokenClass()) && context.equals(l.context()))
            .findFirst().orElseThrow(() -> new AssertionError("no " + model + " " + tokenClass + " " + context + " line in "
                + invoice.lines()));
    }

    private static void assertLine(final Invoice invoice, final String model, final String tokenClass, final String context,
        final long quantity, final String rate)
    {
        final InvoiceLine line = line(invoice, model, tokenClass, context);
        assertEquals(rate, line.unitPricePerMillion(), model + " " + tokenClass + " " + context + " rate");
        assertEquals(quantity, line.quantity().longValueExact());
        assertEquals(amount(quantity, rate), line.amount(), model + " " + tokenClass + " " + context + " amount");
    }

    @Test
    void aCnyTenantIsInvoicedInYuanAtTheShippedCnyRates() throws Exception
    {
        final BookInForce prices = new BookInForce(shippedWithCnyTenant(), 1, 0, 0);
        final Invoice invoice = InvoiceCalculator.draft("hangzhou", PERIOD, prices, USAGE, List.of(), 0, null);
        assertEquals("CNY", invoice.currency());
        assertEquals(8, invoice.lines().size(), invoice.lines().toString());
        // 1,234,567 x 0.80 = 0.9876536 -> 0.99; 345,678 x 2.00 = 0.691356 -> 0.69; 2,345,678 x 0.16 = 0.37530848 -> 0.38
        assertLine(invoice, "qwen-plus", "input", Rater.CONTEXT_STANDARD, 1_234_567, QWEN_PLUS_INPUT);
        assertLine(invoice, "qwen-plus", "output", Rater.CONTEXT_STANDARD, 345_678, QWEN_PLUS_OUTPUT);
        assertLine(invoice, "qwen-plus", "cache_read", Rater.CONTEXT_STANDARD, 2_345_678, QWEN_PLUS_CACHE_READ);
        // a 150,000-token prompt is above 128K: 150,000 x 2.40 = 0.36; 4,321 x 20.00 = 0.08642 -> 0.09
        assertLine(invoice, "qwen-plus", "input", Rater.CONTEXT_LONG, 150_000, QWEN_PLUS_LONG_INPUT);
        assertLine(invoice, "qwen-plus", "output", Rater.CONTEXT_LONG, 4_321, QWEN_PLUS_LONG_OUTPUT);
        // 1,000,000 x 4.50 = 4.50; 5,000,000 x 0.15 = 0.75; 250,000 x 13.50 = 3.375 -> 3.38 (half-even, to the even 8)
        assertLine(invoice, "deepseek-v4-pro", "input", Rater.CONTEXT_STANDARD, 1_000_000, DS_PRO_INPUT);
        assertLine(invoice, "deepseek-v4-pro", "cache_read", Rater.CONTEXT_STANDARD, 5_000_000, DS_PRO_CACHE_READ);
        assertLine(invoice, "deepseek-v4-pro", "output", Rater.CONTEXT_STANDARD, 250_000, DS_PRO_OUTPUT);
        final BigDecimal expected = amount(1_234_567, QWEN_PLUS_INPUT).add(amount(345_678, QWEN_PLUS_OUTPUT))
            .add(amount(2_345_678, QWEN_PLUS_CACHE_READ)).add(amount(150_000, QWEN_PLUS_LONG_INPUT))
            .add(amount(4_321, QWEN_PLUS_LONG_OUTPUT)).add(amount(1_000_000, DS_PRO_INPUT))
            .add(amount(5_000_000, DS_PRO_CACHE_READ)).add(amount(250_000, DS_PRO_OUTPUT));
        assertEquals(new BigDecimal("11.14"), expected, "0.99 + 0.69 + 0.38 + 0.36 + 0.09 + 4.50 + 0.75 + 3.38");
        assertEquals(expected, invoice.total());
        assertTrue(invoice.warnings().isEmpty(), invoice.warnings().toString());
    }

    @Test
    void theSameUsageOfAUsdTenantIsPricedFromTheUsdSectionWithoutConversion() throws Exception
    {
        final BookInForce prices = new BookInForce(shippedWithCnyTenant(), 1, 0, 0);
        // The journal decides long context per tenant by its own version's threshold (256K in Singapore), so the USD
        // tenant's usage here is all standard context.
        final List<TenantBucket> standard = USAGE.stream().filter(b -> b.variant() == STANDARD).toList();
        final Invoice invoice = InvoiceCalculator.draft("acme", PERIOD, prices, standard, List.of(), 0, null);
        assertEquals("USD", invoice.currency());
        assertEquals(6, invoice.lines().size(), invoice.lines().toString());
        assertLine(invoice, "qwen-plus", "input", Rater.CONTEXT_STANDARD, 1_234_567, USD_QWEN_PLUS_INPUT);
        assertLine(invoice, "qwen-plus", "output", Rater.CONTEXT_STANDARD, 345_678, USD_QWEN_PLUS_OUTPUT);
        final InvoiceLine hits = line(invoice, "qwen-plus", "cache_read", Rater.CONTEXT_STANDARD);
        assertNull(hits.unitPricePerMillion(), "no international cache-hit rate was found: an unpriced line, not a guess");
        assertEquals(new BigDecimal("0.00"), hits.amount());
        assertLine(invoice, "deepseek-v4-pro", "input", Rater.CONTEXT_STANDARD, 1_000_000, USD_DS_PRO_INPUT);
        assertLine(invoice, "deepseek-v4-pro", "cache_read", Rater.CONTEXT_STANDARD, 5_000_000, USD_DS_PRO_CACHE_READ);
        assertLine(invoice, "deepseek-v4-pro", "output", Rater.CONTEXT_STANDARD, 250_000, USD_DS_PRO_OUTPUT);
        assertTrue(invoice.warnings().stream().anyMatch(w -> w.contains("qwen-plus")), invoice.warnings().toString());
    }
}
