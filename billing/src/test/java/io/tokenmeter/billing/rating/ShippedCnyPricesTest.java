package io.tokenmeter.billing.rating;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.tokenmeter.billing.LogFixture;
import io.tokenmeter.billing.invoice.Invoice;
import io.tokenmeter.billing.invoice.InvoiceCalculator;
import io.tokenmeter.billing.price.BookInForce;
import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.billing.price.PriceBookLoader;
import io.tokenmeter.core.aggregate.TenantBucket;
import io.tokenmeter.core.event.ServiceTier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import static io.tokenmeter.billing.rating.RatingTest.bucket;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Invoices of a CNY tenant priced from the shipped book's CNY section, checked against amounts worked out here from
 * the rates the book was written with (docs/billing.md "The shipped CNY prices"): the standard and tier rates from
 * hand-made hour buckets, and Qwen's context tiers and thinking rates and DeepSeek's peak hours and public holidays
 * from events the real journal metered under the shipped book. A change of those rates in the book must come with a
 * change here.
 */
class ShippedCnyPricesTest
{
    private static final int INPUT = 0;
    private static final int CACHE_READ = 1;
    private static final int OUTPUT = 4;
    private static final int STANDARD = 0;
    private static final int TIER_1 = 1;
    /** 20:00 on a Friday in Beijing: off-peak, so the journal would have metered DeepSeek's usage outside every window. */
    private static final String HOUR = "2026-11-20T12:00:00Z";
    private static final YearMonth PERIOD = YearMonth.of(2026, 11);
    private static final long MILLION = 1_000_000;
    private static final String CNY_TENANT = "hangzhou";
    private static final String PEAK = "peak";
    private static final String MIDDAY = "off_peak_midday";
    private static final String NONE = InvoiceLine.NO_WINDOW;

    /** qwen-plus, China (Beijing): 0-128K, 128K-256K (context "128000"), 256K-1M ("256000"). */
    private static final String QWEN_PLUS_INPUT = "0.80";
    private static final String QWEN_PLUS_CACHE_READ = "0.16";
    private static final String QWEN_PLUS_OUTPUT = "2.00";
    private static final String QWEN_PLUS_LONG_INPUT = "2.40";
    private static final String QWEN_PLUS_LONG_OUTPUT = "20.00";
    private static final String QWEN_PLUS_TIER_1 = "128000";
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
        bucket(HOUR, "qwen-plus", ServiceTier.STANDARD, TIER_1, INPUT, 150_000),
        bucket(HOUR, "qwen-plus", ServiceTier.STANDARD, TIER_1, OUTPUT, 4_321),
        bucket(HOUR, "deepseek-v4-pro", ServiceTier.STANDARD, STANDARD, INPUT, 1_000_000),
        bucket(HOUR, "deepseek-v4-pro", ServiceTier.STANDARD, STANDARD, CACHE_READ, 5_000_000),
        bucket(HOUR, "deepseek-v4-pro", ServiceTier.STANDARD, STANDARD, OUTPUT, 250_000));

    @TempDir
    Path dir;

    private static PriceBook shippedWithCnyTenant() throws Exception
    {
        final ObjectNode root;
        try (InputStream in = PriceBookLoader.class.getResourceAsStream(PriceBookLoader.SHIPPED_RESOURCE))
        {
            root = (ObjectNode) new YAMLMapper().readTree(in);
        }
        root.putObject("tenants").putObject(CNY_TENANT).put("currency", "CNY");
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
        final Invoice invoice = InvoiceCalculator.draft(CNY_TENANT, PERIOD, prices, USAGE, List.of(), 0, null);
        assertEquals("CNY", invoice.currency());
        assertEquals(8, invoice.lines().size(), invoice.lines().toString());
        // 1,234,567 x 0.80 = 0.9876536 -> 0.99; 345,678 x 2.00 = 0.691356 -> 0.69; 2,345,678 x 0.16 = 0.37530848 -> 0.38
        assertLine(invoice, "qwen-plus", "input", Rater.CONTEXT_STANDARD, 1_234_567, QWEN_PLUS_INPUT);
        assertLine(invoice, "qwen-plus", "output", Rater.CONTEXT_STANDARD, 345_678, QWEN_PLUS_OUTPUT);
        assertLine(invoice, "qwen-plus", "cache_read", Rater.CONTEXT_STANDARD, 2_345_678, QWEN_PLUS_CACHE_READ);
        // a 150,000-token prompt is above 128K: 150,000 x 2.40 = 0.36; 4,321 x 20.00 = 0.08642 -> 0.09
        assertLine(invoice, "qwen-plus", "input", QWEN_PLUS_TIER_1, 150_000, QWEN_PLUS_LONG_INPUT);
        assertLine(invoice, "qwen-plus", "output", QWEN_PLUS_TIER_1, 4_321, QWEN_PLUS_LONG_OUTPUT);
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
        // The journal decides the context tier per tenant by its own version's thresholds (256K in Singapore), so the
        // USD tenant's usage here is all standard context.
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

    private static long ms(final String iso)
    {
        return Instant.parse(iso).toEpochMilli();
    }

    /** A request of {@code model} at {@code at} (UTC) with {@code prompt} input tokens; {@code thinking} as the event says. */
    private static LogFixture.Event event(final String tenant, final String id, final String model, final String at,
        final long prompt, final long output, final long reasoning, final boolean thinking)
    {
        return new LogFixture.Event(tenant, model, id, ms(at), ServiceTier.STANDARD.code(),
            new long[] {prompt, 0, 0, 0, output, reasoning}, thinking);
    }

    /** Journals the events under the shipped book (with a CNY tenant) and rates {@code tenant}'s hours in [from, to). */
    private List<InvoiceLine> meterAndRate(final String tenant, final List<LogFixture.Event> events, final String from,
        final String to, final Set<String> warnings) throws Exception
    {
        final PriceBook book = shippedWithCnyTenant();
        try (LogFixture fixture = new LogFixture(dir, ms(to)))
        {
            fixture.install(book.recordedJson(), book);
            assertEquals(events.size(), fixture.append(events));
            final List<TenantBucket> buckets = fixture.count().buckets(tenant, RatingTest.hour(from), RatingTest.hour(to));
            return Rater.rate(book, tenant, buckets, null, warnings);
        }
    }

    private static InvoiceLine line(final List<InvoiceLine> lines, final String tokenClass, final String context, final String mode,
        final String window, final String priceFrom)
    {
        return lines.stream().filter(l -> l.tokenClass().equals(tokenClass) && l.context().equals(context) && l.mode().equals(mode)
            && l.window().equals(window) && (priceFrom == null || priceFrom.equals(l.priceFrom()))).findFirst()
            .orElseThrow(() -> new AssertionError("no " + tokenClass + " line " + context + "/" + mode + "/" + window + " from "
                + priceFrom + " in " + lines));
    }

    /** Asserts the line's quantity, rate, window multiplier and its amount, given worked out by hand. */
    private static void assertLine(final List<InvoiceLine> lines, final String tokenClass, final String context, final String mode,
        final String window, final String priceFrom, final long quantity, final String rate, final String windowMultiplier,
        final String amount)
    {
        final String what = tokenClass + " " + context + "/" + mode + "/" + window + " from " + priceFrom;
        final InvoiceLine line = line(lines, tokenClass, context, mode, window, priceFrom);
        assertEquals(quantity, line.quantity().longValueExact(), what + " quantity");
        assertEquals(rate, line.unitPricePerMillion(), what + " rate");
        assertEquals(windowMultiplier, line.windowMultiplier(), what + " window multiplier");
        assertEquals(new BigDecimal(amount), line.amount(), what + " amount");
    }

    @Test
    void qwenPlusPricesItsThreeContextTiersAndEachTiersThinkingRate() throws Exception
    {
        final String at = "2026-11-20T12:00:00Z";
        final Set<String> warnings = new LinkedHashSet<>();
        final List<InvoiceLine> lines = meterAndRate(CNY_TENANT, List.of(
            event(CNY_TENANT, "above-256k", "qwen-plus", at, 300_000, 10_000, 0, false),
            event(CNY_TENANT, "at-256k", "qwen-plus", at, 256_000, 1_000, 0, false),
            event(CNY_TENANT, "thinking-standard", "qwen-plus", at, 100_000, 50_000, 20_000, false),
            event(CNY_TENANT, "thinking-128k", "qwen-plus", at, 200_000, 30_000, 0, true),
            event(CNY_TENANT, "thinking-256k", "qwen-plus", at, 256_001, 10_000, 1, false)),
            "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z", warnings);
        assertEquals(10, lines.size(), lines.toString());
        // above 256K: 300,000 x 4.80 = 1.44; 10,000 x 48.00 = 0.48
        assertLine(lines, "input", "256000", "standard", NONE, null, 300_000, "4.80", "1", "1.44");
        assertLine(lines, "output", "256000", "standard", NONE, null, 10_000, "48.00", "1", "0.48");
        // exactly 256,000 is not above 256K: 256,000 x 2.40 = 0.6144 -> 0.61; 1,000 x 20.00 = 0.02
        assertLine(lines, "input", "128000", "standard", NONE, null, 256_000, "2.40", "1", "0.61");
        assertLine(lines, "output", "128000", "standard", NONE, null, 1_000, "20.00", "1", "0.02");
        // thinking (reasoning tokens) in the standard tier: 100,000 x 0.80 = 0.08; 50,000 x 8.00 = 0.40
        assertLine(lines, "input", "standard", "thinking", NONE, null, 100_000, "0.80", "1", "0.08");
        assertLine(lines, "output", "standard", "thinking", NONE, null, 50_000, "8.00", "1", "0.40");
        // thinking ("thinking": true) in 128K-256K: 200,000 x 2.40 = 0.48; 30,000 x 24.00 = 0.72
        assertLine(lines, "input", "128000", "thinking", NONE, null, 200_000, "2.40", "1", "0.48");
        assertLine(lines, "output", "128000", "thinking", NONE, null, 30_000, "24.00", "1", "0.72");
        // thinking above 256K: 256,001 x 4.80 = 1.2288048 -> 1.23; 10,000 x 64.00 = 0.64
        assertLine(lines, "input", "256000", "thinking", NONE, null, 256_001, "4.80", "1", "1.23");
        assertLine(lines, "output", "256000", "thinking", NONE, null, 10_000, "64.00", "1", "0.64");
        assertEquals(new BigDecimal("6.10"), Rater.sum(lines, 2), "1.44 + 0.48 + 0.61 + 0.02 + 0.08 + 0.40 + 0.48 + 0.72 + 1.23 + 0.64");
        assertTrue(warnings.isEmpty(), warnings.toString());
    }

    @Test
    void deepseekPeakHoursAreOneWindowOnBeijingWeekdaysAtTwiceTheOffPeakRates() throws Exception
    {
        final String pro = "deepseek-v4-pro";
        final List<String[]> requests = List.of(
            // Friday 2026-11-20 in Beijing (UTC+8)
            new String[] {"first-ms-of-peak", "2026-11-20T01:00:00.000Z"},
            new String[] {"last-ms-of-morning-peak", "2026-11-20T03:59:59.999Z"},
            new String[] {"first-ms-of-afternoon-peak", "2026-11-20T06:00:00.000Z"},
            new String[] {"last-ms-of-peak", "2026-11-20T09:59:59.999Z"},
            new String[] {"before-peak", "2026-11-20T00:59:59.999Z"},
            new String[] {"after-peak", "2026-11-20T10:00:00.000Z"},
            new String[] {"saturday", "2026-11-21T02:00:00.000Z"},
            new String[] {"midday-first-ms", "2026-11-20T04:00:00.000Z"},
            new String[] {"midday-last-ms", "2026-11-20T05:59:59.999Z"});
        final List<LogFixture.Event> events = new ArrayList<>();
        for (final String[] r : requests)
        {
            events.add(event(CNY_TENANT, r[0], pro, r[1], MILLION, 100_000, 0, false));
        }
        final Set<String> warnings = new LinkedHashSet<>();
        final List<InvoiceLine> lines = meterAndRate(CNY_TENANT, events, "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z",
            warnings);
        assertEquals(6, lines.size(), lines.toString());
        // 09:00:00.000, 11:59:59.999, 14:00:00.000 and 17:59:59.999 Beijing: 4,000,000 x 4.50 x 2 = 36.00;
        // 400,000 x 13.50 x 2 = 10.80
        assertLine(lines, "input", "standard", "standard", PEAK, null, 4 * MILLION, "4.50", "2", "36.00");
        assertLine(lines, "output", "standard", "standard", PEAK, null, 400_000, "13.50", "2", "10.80");
        // 08:59:59.999, 18:00:00.000 and Saturday 10:00: 3,000,000 x 4.50 = 13.50; 300,000 x 13.50 = 4.05
        assertLine(lines, "input", "standard", "standard", NONE, null, 3 * MILLION, "4.50", "1", "13.50");
        assertLine(lines, "output", "standard", "standard", NONE, null, 300_000, "13.50", "1", "4.05");
        // 12:00:00.000 and 13:59:59.999: the midday break, listed before peak: 2,000,000 x 4.50 x 1 = 9.00; 2.70
        assertLine(lines, "input", "standard", "standard", MIDDAY, null, 2 * MILLION, "4.50", "1", "9.00");
        assertLine(lines, "output", "standard", "standard", MIDDAY, null, 200_000, "13.50", "1", "2.70");
        assertEquals(new BigDecimal("76.05"), Rater.sum(lines, 2), "36.00 + 10.80 + 13.50 + 4.05 + 9.00 + 2.70");
        assertTrue(warnings.isEmpty(), warnings.toString());
    }

    @Test
    void deepseekPeakAppliedEveryDayForAWeekThenOnWeekdaysExceptPublicHolidays() throws Exception
    {
        final String pro = "deepseek-v4-pro";
        final List<String[]> requests = List.of(
            new String[] {"saturday-in-the-first-week", "2026-08-22T02:00:00Z"},
            new String[] {"first-sunday-off-peak", "2026-08-23T02:00:00Z"},
            new String[] {"monday", "2026-08-24T02:00:00Z"},
            new String[] {"sunday-worked-for-national-day", "2026-09-20T02:00:00Z"},
            new String[] {"mid-autumn-friday", "2026-09-25T02:00:00Z"},
            new String[] {"national-day-thursday", "2026-10-01T02:00:00Z"},
            new String[] {"last-holiday-last-peak-ms", "2026-10-07T09:59:59.999Z"},
            new String[] {"first-peak-after-the-holiday", "2026-10-08T01:00:00.000Z"},
            new String[] {"saturday-worked-for-national-day", "2026-10-10T02:00:00Z"},
            new String[] {"new-years-day-2027", "2027-01-01T02:00:00Z"},
            new String[] {"first-monday-of-2027", "2027-01-04T02:00:00Z"});
        final List<LogFixture.Event> events = new ArrayList<>();
        for (final String[] r : requests)
        {
            events.add(event(CNY_TENANT, r[0], pro, r[1], MILLION, 0, 0, false));
        }
        final Set<String> warnings = new LinkedHashSet<>();
        final List<InvoiceLine> lines = meterAndRate(CNY_TENANT, events, "2026-08-01T00:00:00Z", "2027-02-01T00:00:00Z",
            warnings);
        assertEquals(9, lines.size(), lines.toString());
        // 10:00 Beijing, 1,000,000 x 4.50 = 4.50 off-peak, x 2 = 9.00 at peak
        assertLine(lines, "input", "standard", "standard", PEAK, "2026-08-16T16:00:00Z", MILLION, "4.50", "2", "9.00");
        assertLine(lines, "input", "standard", "standard", NONE, "2026-08-22T16:00:00Z", 2 * MILLION, "4.50", "1", "9.00");
        assertLine(lines, "input", "standard", "standard", PEAK, "2026-08-22T16:00:00Z", MILLION, "4.50", "2", "9.00");
        assertLine(lines, "input", "standard", "standard", NONE, "2026-09-24T16:00:00Z", MILLION, "4.50", "1", "4.50");
        assertLine(lines, "input", "standard", "standard", NONE, "2026-09-30T16:00:00Z", 2 * MILLION, "4.50", "1", "9.00");
        assertLine(lines, "input", "standard", "standard", PEAK, "2026-10-07T16:00:00Z", MILLION, "4.50", "2", "9.00");
        assertLine(lines, "input", "standard", "standard", NONE, "2026-10-07T16:00:00Z", MILLION, "4.50", "1", "4.50");
        assertLine(lines, "input", "standard", "standard", NONE, "2026-12-31T16:00:00Z", MILLION, "4.50", "1", "4.50");
        assertLine(lines, "input", "standard", "standard", PEAK, "2027-01-01T16:00:00Z", MILLION, "4.50", "2", "9.00");
        assertEquals(new BigDecimal("67.50"), Rater.sum(lines, 2), "9.00 x 6 + 4.50 x 3");
        assertTrue(warnings.isEmpty(), warnings.toString());
    }

    @Test
    void zhipuPutsAPromptOfExactly32kInItsUpperRowAndArkInItsLowerOne() throws Exception
    {
        final String at = "2026-11-20T12:00:00Z";
        final Set<String> warnings = new LinkedHashSet<>();
        final List<InvoiceLine> lines = meterAndRate(CNY_TENANT, List.of(
            event(CNY_TENANT, "glm-below-32k", "glm-4.6", at, 31_999, 0, 0, false),
            event(CNY_TENANT, "glm-at-32k", "glm-4.6", at, 32_000, 0, 0, false),
            event(CNY_TENANT, "ark-at-32k", "doubao-seed-1-6-251015", at, 32_000, 0, 0, false),
            event(CNY_TENANT, "ark-above-128k", "doubao-seed-1-6-251015", at, 128_001, 0, 0, false)),
            "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z", warnings);
        assertEquals(4, lines.size(), lines.toString());
        // bigmodel.cn's [0, 32K): 31,999 x 3.00 = 0.095997 -> 0.10; 32,000 is in "32K and above": 32,000 x 4.00 = 0.128 -> 0.13
        final List<InvoiceLine> glm = lines.stream().filter(l -> l.model().equals("glm-4.6")).toList();
        assertLine(glm, "input", "standard", "standard", NONE, null, 31_999, "3.00", "1", "0.10");
        assertLine(glm, "input", "31999", "standard", NONE, null, 32_000, "4.00", "1", "0.13");
        // Ark's [0, 32K]: 32,000 x 0.80 = 0.0256 -> 0.03; (128K, 256K]: 128,001 x 2.40 = 0.3072024 -> 0.31
        final List<InvoiceLine> ark = lines.stream().filter(l -> l.model().startsWith("doubao")).toList();
        assertLine(ark, "input", "standard", "standard", NONE, null, 32_000, "0.80", "1", "0.03");
        assertLine(ark, "input", "128000", "standard", NONE, null, 128_001, "2.40", "1", "0.31");
        assertTrue(warnings.isEmpty(), warnings.toString());
    }

    @Test
    void aUsdTenantPaysPeakAtTwiceDeepSeeksDollarRates() throws Exception
    {
        final Set<String> warnings = new LinkedHashSet<>();
        final List<InvoiceLine> lines = meterAndRate("acme", List.of(
            event("acme", "usd-peak", "deepseek-v4-pro", "2026-11-20T01:00:00.000Z", MILLION, 0, 0, false),
            event("acme", "usd-off-peak", "deepseek-v4-pro", "2026-11-20T00:59:59.999Z", MILLION, 0, 0, false)),
            "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z", warnings);
        assertEquals(2, lines.size(), lines.toString());
        // 1,000,000 x 0.66 x 2 = 1.32 at 09:00 Beijing (01:00 UTC); 0.66 a millisecond before
        assertLine(lines, "input", "standard", "standard", PEAK, null, MILLION, "0.66", "2", "1.32");
        assertLine(lines, "input", "standard", "standard", NONE, null, MILLION, "0.66", "1", "0.66");
    }
}
