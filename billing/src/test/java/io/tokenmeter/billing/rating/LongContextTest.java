package io.tokenmeter.billing.rating;

import io.tokenmeter.billing.LogFixture;
import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.core.aggregate.TenantBucket;
import io.tokenmeter.core.event.ServiceTier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashSet;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The long-context split is decided per event by the journal, from the book in force, at the threshold exactly. */
class LongContextTest
{
    @TempDir
    Path dir;

    private static long ms(final String iso)
    {
        return Instant.parse(iso).toEpochMilli();
    }

    /** Prompt split over the four prompt classes, so the test proves all of them count. */
    private static LogFixture.Event event(final String id, final String model, final String at, final long prompt)
    {
        final long quarter = prompt / 4;
        return new LogFixture.Event("acme", model, id, ms(at), ServiceTier.STANDARD.code(),
            new long[] {prompt - 3 * quarter, quarter, quarter, quarter, 1000, 0});
    }

    @Test
    void promptsAboveTheThresholdAreLongAndAtItStandard() throws Exception
    {
        final PriceBook book = RatingTest.book("{\"gem*\":[{\"effective_from\":\"2025-01-01T00:00:00Z\","
            + "\"per_million\":{\"input\":\"1\",\"cache_read\":\"1\",\"cache_write\":\"1\",\"output\":\"10\"},"
            + "\"long_context\":{\"above_input_tokens\":200000,\"per_million\":{\"input\":\"2\",\"output\":\"15\"}}},"
            + "{\"effective_from\":\"2025-10-10T00:00:00Z\",\"per_million\":{\"input\":\"1\",\"cache_read\":\"1\",\"cache_write\":\"1\",\"output\":\"10\"}}],"
            + "\"plain\":[{\"effective_from\":\"2025-01-01T00:00:00Z\",\"per_million\":{\"input\":\"1\",\"output\":\"1\"}}]}", null);
        assertEquals(1, book.schedule("acme", "gem-pro").decide(ms("2025-01-01T00:00:00Z"), 200_001), "tier 1 from 2025-01-01");
        assertEquals(0, book.schedule("acme", "gem-pro").decide(ms("2024-12-31T23:59:59.999Z"), 900_000), "no rule before");
        assertEquals(0, book.schedule("acme", "gem-pro").decide(ms("2025-10-10T00:00:00Z"), 900_000), "no rule from 2025-10-10");
        assertTrue(book.schedule("acme", "plain").isEmpty(), "no rule: no schedule");

        try (LogFixture fixture = new LogFixture(dir, ms("2025-11-01T00:00:00Z")))
        {
            fixture.install(book.recordedJson(), book);
            fixture.append(List.of(
                event("at-threshold", "gem-pro", "2025-10-01T10:00:00Z", 200_000),
                event("one-above", "gem-pro", "2025-10-01T11:00:00Z", 200_001),
                event("above-but-rule-ended", "gem-pro", "2025-10-10T00:00:00Z", 500_000),
                event("above-no-rule", "plain", "2025-10-01T10:00:00Z", 900_000)));
            final List<TenantBucket> buckets = fixture.count().buckets("acme", hour("2025-10-01T00:00:00Z"), hour("2025-11-01T00:00:00Z"));
            assertEquals(4, buckets.size());
            assertEquals(0, find(buckets, "gem-pro", "2025-10-01T10:00:00Z").variant(), "a prompt of exactly 200,000 is standard");
            final TenantBucket oneAbove = find(buckets, "gem-pro", "2025-10-01T11:00:00Z");
            assertEquals(1, oneAbove.variant(), "200,001 is long");
            assertEquals(0, find(buckets, "gem-pro", "2025-10-10T00:00:00Z").variant(), "the version from 2025-10-10 has no rule");
            assertEquals(0, find(buckets, "plain", "2025-10-01T10:00:00Z").variant(), "a model without the rule is never long");

            final List<InvoiceLine> lines = Rater.rate(book, "acme", List.of(oneAbove), null, new LinkedHashSet<>());
            assertEquals("long", lines.get(0).context());
            assertEquals("2", lines.get(0).unitPricePerMillion(), "long input rate");
            assertEquals("1", lines.get(1).unitPricePerMillion(), "no long cache_read rate: the standard one");
        }
    }

    private static TenantBucket find(final List<TenantBucket> buckets, final String model, final String hourIso)
    {
        return buckets.stream().filter(b -> b.model().equals(model) && b.hour() == hour(hourIso)).findFirst().orElseThrow();
    }

    private static long hour(final String iso)
    {
        return RatingTest.hour(iso);
    }
}
