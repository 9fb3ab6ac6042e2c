package io.tokenmeter.billing.rating;

import io.tokenmeter.billing.LogFixture;
import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.billing.price.PriceBookException;
import io.tokenmeter.billing.price.PriceBookLoader;
import io.tokenmeter.core.aggregate.TenantBucket;
import io.tokenmeter.core.event.ServiceTier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Context tiers, thinking-mode rates and time windows (SPEC section 11), each decided per event by the real journal
 * from the book in force and priced line by line. The numbers are the worked examples of docs/billing.md.
 */
class RateVariantsTest
{
    /** Qwen-style: three context tiers, thinking output rates in the standard tier and in the first tier only. */
    static final String QWEN = "{\"qwen-plus\":[{\"effective_from\":\"2025-01-01T00:00:00Z\","
        + "\"per_million\":{\"input\":\"0.80\",\"output\":\"2.00\"},"
        + "\"thinking\":{\"per_million\":{\"output\":\"8.00\"}},"
        + "\"context_tiers\":["
        + "{\"above_input_tokens\":128000,\"per_million\":{\"input\":\"2.40\",\"output\":\"20.00\"},"
        + "\"thinking\":{\"per_million\":{\"output\":\"24.00\"}}},"
        + "{\"above_input_tokens\":256000,\"per_million\":{\"input\":\"4.80\",\"output\":\"48.00\"}}]}]}";

    /** DeepSeek-style off-peak half price on weekdays (UTC, crossing midnight), and an overlapping window listed second. */
    static final String WINDOWS = "{\"deepseek-chat\":[{\"effective_from\":\"2025-01-01T00:00:00Z\","
        + "\"per_million\":{\"input\":\"0.27\",\"output\":\"1.10\"},"
        + "\"time_windows\":["
        + "{\"name\":\"off_peak\",\"timezone\":\"UTC\",\"days\":[\"mon\",\"tue\",\"wed\",\"thu\",\"fri\"],\"from\":\"16:30\","
        + "\"to\":\"00:30\",\"multiplier\":\"0.5\"},"
        + "{\"name\":\"evening\",\"timezone\":\"Asia/Shanghai\",\"from\":\"00:00\",\"to\":\"01:00\",\"multiplier\":\"0.75\"}]}]}";

    private static final long MILLION = 1_000_000;

    @TempDir
    Path dir;

    private static long ms(final String iso)
    {
        return Instant.parse(iso).toEpochMilli();
    }

    private static LogFixture.Event event(final String id, final String model, final String at, final long prompt,
        final long output, final long reasoning, final boolean thinking)
    {
        return new LogFixture.Event("acme", model, id, ms(at), ServiceTier.STANDARD.code(),
            new long[] {prompt, 0, 0, 0, output, reasoning}, thinking);
    }

    private List<InvoiceLine> meterAndRate(final PriceBook book, final List<LogFixture.Event> events, final Set<String> warnings)
    {
        try (LogFixture fixture = new LogFixture(dir, ms("2025-11-01T00:00:00Z")))
        {
            fixture.install(book.recordedJson(), book);
            assertEquals(events.size(), fixture.append(events));
            final List<TenantBucket> buckets = fixture.count().buckets("acme", RatingTest.hour("2025-10-01T00:00:00Z"),
                RatingTest.hour("2025-11-01T00:00:00Z"));
            return Rater.rate(book, "acme", buckets, null, warnings);
        }
    }

    private static InvoiceLine line(final List<InvoiceLine> lines, final String tokenClass, final String context, final String mode,
        final String window)
    {
        return lines.stream().filter(l -> l.tokenClass().equals(tokenClass) && l.context().equals(context)
            && l.mode().equals(mode) && l.window().equals(window)).findFirst()
            .orElseThrow(() -> new AssertionError("no " + tokenClass + " line " + context + "/" + mode + "/" + window + " in " + lines));
    }

    private static void assertLine(final List<InvoiceLine> lines, final String tokenClass, final String context, final String mode,
        final long quantity, final String rate, final String amount)
    {
        final InvoiceLine line = line(lines, tokenClass, context, mode, InvoiceLine.NO_WINDOW);
        assertEquals(quantity, line.quantity().longValueExact(), tokenClass + " " + context + " " + mode);
        assertEquals(rate, line.unitPricePerMillion(), tokenClass + " " + context + " " + mode + " rate");
        assertEquals(new BigDecimal(amount), line.amount(), tokenClass + " " + context + " " + mode + " amount");
    }

    @Test
    void promptsArePricedInTheHighestTierTheyExceedAndThinkingRequestsAtThinkingRates() throws Exception
    {
        final PriceBook book = RatingTest.book(QWEN, null);
        final List<InvoiceLine> lines = meterAndRate(book, List.of(
            event("at-first-threshold", "qwen-plus", "2025-10-01T10:00:00Z", 128_000, MILLION, 0, false),
            event("one-above-first", "qwen-plus", "2025-10-01T10:00:00Z", 128_001, MILLION, 0, false),
            event("at-second-threshold", "qwen-plus", "2025-10-01T11:00:00Z", 256_000, MILLION, 0, false),
            event("one-above-second", "qwen-plus", "2025-10-01T11:00:00Z", 256_001, MILLION, 0, false),
            event("reasoning", "qwen-plus", "2025-10-01T12:00:00Z", 1_000, MILLION, 500, false),
            event("said-thinking", "qwen-plus", "2025-10-01T12:00:00Z", 1_000, MILLION, 0, true),
            event("thinking-tier-1", "qwen-plus", "2025-10-01T13:00:00Z", 200_000, MILLION, 10, false),
            event("thinking-tier-2", "qwen-plus", "2025-10-01T13:00:00Z", 300_000, MILLION, 10, false)), new LinkedHashSet<>());
        assertEquals(12, lines.size(), lines.toString());
        assertLine(lines, "input", "standard", "standard", 128_000, "0.80", "0.10");
        assertLine(lines, "output", "standard", "standard", MILLION, "2.00", "2.00");
        assertLine(lines, "input", "standard", "thinking", 2_000, "0.80", "0.00");
        assertLine(lines, "output", "standard", "thinking", 2 * MILLION, "8.00", "16.00");
        assertLine(lines, "input", "128000", "standard", 384_001, "2.40", "0.92");
        assertLine(lines, "output", "128000", "standard", 2 * MILLION, "20.00", "40.00");
        assertLine(lines, "input", "128000", "thinking", 200_000, "2.40", "0.48");
        assertLine(lines, "output", "128000", "thinking", MILLION, "24.00", "24.00");
        assertLine(lines, "input", "256000", "standard", 256_001, "4.80", "1.23");
        assertLine(lines, "output", "256000", "standard", MILLION, "48.00", "48.00");
        assertLine(lines, "input", "256000", "thinking", 300_000, "4.80", "1.44");
        // the second tier names no thinking rate: its own output rate is more specific than the version's thinking rate
        assertLine(lines, "output", "256000", "thinking", MILLION, "48.00", "48.00");
        assertEquals(List.of("standard", "standard", "128000", "128000", "256000", "256000"),
            lines.stream().filter(l -> l.tokenClass().equals("input")).map(InvoiceLine::context).toList(), "tiers by size");
        assertEquals(new BigDecimal("182.17"), Rater.sum(lines, 2));
    }

    @Test
    void requestsInATimeWindowTakeItsMultiplierAndTheFirstListedWindowWins() throws Exception
    {
        final PriceBook book = RatingTest.book(WINDOWS, null);
        final List<InvoiceLine> lines = meterAndRate(book, List.of(
            event("friday-first-ms", "deepseek-chat", "2025-10-03T16:30:00.000Z", MILLION, 0, 0, false),
            event("saturday-last-ms", "deepseek-chat", "2025-10-04T00:29:59.999Z", MILLION, 0, 0, false),
            event("saturday-after", "deepseek-chat", "2025-10-04T00:30:00.000Z", MILLION, 0, 0, false),
            // 00:15 in Beijing on Monday is 16:15 UTC on Sunday: off_peak does not open on Sunday, evening does
            event("sunday-utc-evening", "deepseek-chat", "2025-10-05T16:15:00Z", MILLION, 0, 0, false),
            // Tuesday 16:45 UTC is 00:45 Wednesday in Beijing: both windows hold it, off_peak is listed first
            event("both", "deepseek-chat", "2025-10-07T16:45:00Z", MILLION, 0, 0, false)), new LinkedHashSet<>());
        assertEquals(3, lines.size(), lines.toString());
        final InvoiceLine none = line(lines, "input", "standard", "standard", "none");
        assertEquals(MILLION, none.quantity().longValueExact());
        assertEquals("1", none.windowMultiplier());
        assertEquals(new BigDecimal("0.27"), none.amount());
        final InvoiceLine offPeak = line(lines, "input", "standard", "standard", "off_peak");
        assertEquals(3 * MILLION, offPeak.quantity().longValueExact());
        assertEquals("0.5", offPeak.windowMultiplier());
        assertEquals(new BigDecimal("0.40"), offPeak.amount(), "3,000,000 x 0.27 x 0.5 = 0.405, half-even to 0.40");
        final InvoiceLine evening = line(lines, "input", "standard", "standard", "evening");
        assertEquals(MILLION, evening.quantity().longValueExact());
        assertEquals(new BigDecimal("0.20"), evening.amount(), "1,000,000 x 0.27 x 0.75 = 0.2025");
        assertEquals(List.of("none", "evening", "off_peak"), lines.stream().map(InvoiceLine::window).toList());
    }

    @Test
    void aLaterBookWithoutTheTierOrWindowPricesAtStandardRatesWithAWarning() throws Exception
    {
        final PriceBook metered = RatingTest.book(QWEN.replace("qwen-plus", "m"), null);
        final List<TenantBucket> buckets;
        try (LogFixture fixture = new LogFixture(dir, ms("2025-11-01T00:00:00Z")))
        {
            fixture.install(metered.recordedJson(), metered);
            fixture.append(List.of(event("big", "m", "2025-10-01T10:00:00Z", 300_000, 0, 0, false)));
            buckets = fixture.count().buckets("acme", RatingTest.hour("2025-10-01T00:00:00Z"), RatingTest.hour("2025-11-01T00:00:00Z"));
        }
        assertEquals(2, buckets.get(0).contextTier(), "metered in the second tier");
        final PriceBook later = RatingTest.book("{\"m\":[{\"effective_from\":\"2025-01-01T00:00:00Z\","
            + "\"per_million\":{\"input\":\"1.00\",\"output\":\"2.00\"},\"long_context\":{\"above_input_tokens\":100,"
            + "\"per_million\":{\"input\":\"3.00\"}}}]}", null);
        final Set<String> warnings = new LinkedHashSet<>();
        final List<InvoiceLine> lines = Rater.rate(later, "acme", buckets, null, warnings);
        assertEquals("1.00", lines.get(0).unitPricePerMillion(), "the standard rate");
        assertEquals("tier 2", lines.get(0).context(), "the line still says what the log decided");
        assertTrue(warnings.iterator().next().contains("has no such tier"), warnings.toString());
    }

    @Test
    void theBookNamesEveryProblemOfTiersThinkingAndWindows()
    {
        final String version = "{\"effective_from\":\"2025-01-01T00:00:00Z\",\"per_million\":{\"input\":\"1\",\"output\":\"1\"},";
        assertProblems(version + "\"long_context\":{\"above_input_tokens\":10,\"per_million\":{}},"
            + "\"context_tiers\":[{\"above_input_tokens\":10,\"per_million\":{}}]}", "cannot stand beside long_context");
        assertProblems(version + "\"context_tiers\":[{\"above_input_tokens\":200,\"per_million\":{}},"
            + "{\"above_input_tokens\":100,\"per_million\":{}}]}", "context_tiers[1].above_input_tokens", "is not above");
        assertProblems(version + "\"context_tiers\":[" + "{\"above_input_tokens\":1,\"per_million\":{}},".repeat(7)
            + "{\"above_input_tokens\":9,\"per_million\":{}}]}", "1 to 7 tiers");
        assertProblems(version + "\"context_tiers\":[{\"above_input_tokens\":-1,\"per_million\":{\"input\":{\"tiers\":{}}}}]}",
            "above_input_tokens", "volume tiers are given in the version's per_million");
        assertProblems(version + "\"thinking\":{\"output\":\"8\"}}", "thinking.output", "thinking.per_million");
        final String window = version + "\"time_windows\":[{\"name\":\"";
        assertProblems(window + "none\",\"timezone\":\"Mars/Olympus\",\"from\":\"25:00\",\"to\":\"24:00\"}]}",
            "time_windows[0].name", "not a time zone", "time_windows[0].from", "time_windows[0].multiplier");
        assertProblems(window + "a\",\"timezone\":\"UTC\",\"days\":[\"mon\",\"mon\",\"xyz\"],\"from\":\"10:00\",\"to\":\"10:00\","
            + "\"multiplier\":\"0.5\"},{\"name\":\"a\",\"timezone\":\"UTC\",\"from\":\"24:00\",\"to\":\"01:00\",\"multiplier\":\"1\"}]}",
            "is listed twice", "must be one of mon", "equals from", "names an earlier window", "time_windows[1].from");
    }

    @Test
    void theCostBookTakesNoTimeWindows()
    {
        final String book = "{\"currency\":\"USD\",\"models\":{\"m\":[{\"effective_from\":\"2025-01-01T00:00:00Z\","
            + "\"per_million\":{\"input\":\"1\",\"output\":\"1\"}}]},\"cost\":{\"currency\":\"USD\",\"models\":{\"m\":["
            + "{\"effective_from\":\"2025-01-01T00:00:00Z\",\"per_million\":{\"input\":\"1\",\"output\":\"1\"},"
            + "\"time_windows\":[{\"name\":\"w\",\"timezone\":\"UTC\",\"from\":\"00:00\",\"to\":\"01:00\",\"multiplier\":\"1\"}]}]}}}";
        final PriceBookException ex = assertThrows(PriceBookException.class,
            () -> PriceBookLoader.parse(book.getBytes(StandardCharsets.UTF_8), PriceBookLoader.Format.JSON));
        assertTrue(ex.getMessage().contains("the cost book has no time windows"), ex.getMessage());
    }

    private static void assertProblems(final String versionJson, final String... expected)
    {
        final PriceBookException ex = assertThrows(PriceBookException.class, () -> RatingTest.book("{\"m\":[" + versionJson + "]}", null));
        for (final String text : expected)
        {
            assertTrue(ex.getMessage().contains(text), "'" + text + "' in: " + ex.getMessage());
        }
    }
}
