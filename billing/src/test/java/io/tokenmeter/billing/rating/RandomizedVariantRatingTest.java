package io.tokenmeter.billing.rating;

import io.tokenmeter.billing.LogFixture;
import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.billing.price.PriceBookLoader;
import io.tokenmeter.core.event.ServiceTier;
import io.tokenmeter.core.event.TokenClass;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.DayOfWeek;
import java.time.Instant;
import java.time.LocalTime;
import java.time.YearMonth;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Context tiers, thinking-mode rates and time windows, randomized: random books (up to three tiers with partial rate
 * tables and thinking rates of their own, version-level thinking rates, up to three windows in UTC, Asia/Shanghai and
 * New York, crossing midnight, on some weekdays), random events through the real journal, log and counters, priced by
 * the Rater; against a slow reference written here that decides each event's tier, mode and window itself (with
 * {@code java.time}, not the product's window arithmetic) and prices it with BigDecimal. Equal line for line.
 */
class RandomizedVariantRatingTest
{
    private static final long HOUR_MS = 3_600_000L;
    private static final YearMonth PERIOD = YearMonth.of(2025, 10);
    private static final String[] MODELS = {"q-max", "q-plus", "q-turbo", "ds", "other"};
    private static final String[] TENANTS = {"t0", "t1"};
    private static final long[] THRESHOLDS = {8_000, 32_000, 64_000, 128_000};
    private static final String[] ZONES = {"UTC", "Asia/Shanghai", "America/New_York"};
    private static final String[] DAY_NAMES = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    private static final BigDecimal DISCOUNT = new BigDecimal("12.5");

    @TempDir
    Path dir;

    record Tier(long above, BigDecimal[] rates, BigDecimal[] thinking)
    {
    }

    record Window(String name, ZoneId zone, boolean[] days, int from, int to, BigDecimal multiplier)
    {
        /** The reference's reading of the SPEC: local time of day and weekday in the zone, via java.time. */
        boolean holds(final long epochMs)
        {
            final ZonedDateTime local = Instant.ofEpochMilli(epochMs).atZone(zone);
            final long msOfDay = local.toLocalTime().toNanoOfDay() / 1_000_000;
            final DayOfWeek day = local.getDayOfWeek();
            final long fromMs = from * 60_000L;
            final long toMs = to * 60_000L;
            if (from < to)
            {
                return days[day.ordinal()] && msOfDay >= fromMs && msOfDay < toMs;
            }
            return days[day.ordinal()] && msOfDay >= fromMs || days[day.minus(1).ordinal()] && msOfDay < toMs;
        }
    }

    record Version(long fromHour, BigDecimal[] rates, BigDecimal[] multipliers, List<Tier> tiers, BigDecimal[] thinking,
        List<Window> windows)
    {
    }

    record Entry(String key, List<Version> versions)
    {
        boolean matches(final String model)
        {
            return key.endsWith("*") ? model.startsWith(key.substring(0, key.length() - 1)) : model.equals(key);
        }

        Version at(final long hour)
        {
            Version found = null;
            for (final Version v : versions)
            {
                if (v.fromHour() <= hour && (found == null || v.fromHour() > found.fromHour()))
                {
                    found = v;
                }
            }
            return found;
        }
    }

    @Test
    void productAndSlowReferenceGiveEqualLines() throws Exception
    {
        final long seed = System.nanoTime();
        final Random random = new Random(seed);
        final String why = "seed " + seed;
        final Map<String, List<Entry>> scopes = new TreeMap<>();
        scopes.put("", List.of(entry(random, "q-max"), entry(random, "q*"), entry(random, "ds")));
        scopes.put("t1", List.of(entry(random, "q-p*")));
        final List<LogFixture.Event> events = new ArrayList<>();
        final long from = Instant.parse("2025-10-01T00:00:00Z").toEpochMilli();
        for (int i = 0; i < 4000; i++)
        {
            final long[] tokens = new long[TokenClass.COUNT];
            final long prompt = prompt(random);
            // the prompt is spread over the four prompt classes, so that the test proves all of them count
            tokens[0] = prompt;
            for (int c = 1; c < 4; c++)
            {
                final long moved = random.nextInt(3) == 0 ? Math.min(tokens[0], random.nextInt(5000)) : 0;
                tokens[0] -= moved;
                tokens[c] = moved;
            }
            tokens[4] = random.nextInt(4) == 0 ? 0 : random.nextInt(2_000_000);
            tokens[5] = random.nextInt(3) == 0 ? Math.min(tokens[4], random.nextInt(1000)) : 0;
            final long at = random.nextInt(5) == 0 ? windowEdge(random, from) : from + (long)(random.nextDouble() * 31 * 24 * HOUR_MS);
            events.add(new LogFixture.Event(TENANTS[random.nextInt(TENANTS.length)], MODELS[random.nextInt(MODELS.length)], "e" + i,
                at, random.nextInt(4), tokens, random.nextInt(6) == 0));
        }
        final PriceBook book = PriceBookLoader.parse(renderBook(scopes).getBytes(StandardCharsets.UTF_8), PriceBookLoader.Format.JSON);
        try (LogFixture fixture = new LogFixture(dir, Instant.parse("2025-12-01T00:00:00Z").toEpochMilli()))
        {
            fixture.install(book.recordedJson(), book);
            assertEquals(events.size(), fixture.append(events), why);
            final var counters = fixture.count();
            for (final String tenant : TENANTS)
            {
                final List<InvoiceLine> lines = Rater.rate(book, tenant, counters.buckets(tenant,
                    Instant.parse("2025-10-01T00:00:00Z").getEpochSecond() / 3600, Instant.parse("2025-11-01T00:00:00Z").getEpochSecond() / 3600),
                    null, new java.util.LinkedHashSet<>());
                final Map<String, String[]> actual = new TreeMap<>();
                for (final InvoiceLine l : lines)
                {
                    actual.put(String.join("|", l.model(), l.serviceTier(), l.tokenClass(), l.context(), l.mode(), l.window(),
                        String.valueOf(l.priceScope()), String.valueOf(l.priceEntry()), String.valueOf(l.priceFrom())),
                        new String[] {l.quantity().toString(), l.amount().toPlainString()});
                }
                assertEquals(render(reference(events, tenant, scopes)), render(actual), why + ", tenant " + tenant);
            }
        }
    }

    /** Prompts around the thresholds: exactly at one, one above, or anywhere. */
    private static long prompt(final Random random)
    {
        final long threshold = THRESHOLDS[random.nextInt(THRESHOLDS.length)];
        return switch (random.nextInt(4))
        {
            case 0 -> threshold;
            case 1 -> threshold + 1;
            default -> random.nextInt(200_000);
        };
    }

    /** A time on or next to a window edge (whole half hours of the day, in one of the zones), in October. */
    private static long windowEdge(final Random random, final long monthStart)
    {
        final ZoneId zone = ZoneId.of(ZONES[random.nextInt(ZONES.length)]);
        final ZonedDateTime day = Instant.ofEpochMilli(monthStart).atZone(zone).plusDays(1 + random.nextInt(29));
        final ZonedDateTime edge = day.with(LocalTime.of(random.nextInt(24), random.nextBoolean() ? 0 : 30));
        return edge.toInstant().toEpochMilli() - (random.nextBoolean() ? 1 : 0);
    }

    /** The slow way: event by event, the test's own decisions, matching and arithmetic. */
    private static Map<String, String[]> reference(final List<LogFixture.Event> events, final String tenant,
        final Map<String, List<Entry>> scopes)
    {
        final Map<String, BigDecimal> quantities = new TreeMap<>();
        final Map<String, BigDecimal> perToken = new TreeMap<>();
        for (final LogFixture.Event e : events)
        {
            if (!e.tenant().equals(tenant) || !YearMonth.from(Instant.ofEpochMilli(e.timestampMs()).atZone(ZoneOffset.UTC)).equals(PERIOD))
            {
                continue;
            }
            final long hour = Math.floorDiv(e.timestampMs(), HOUR_MS);
            String scope = null;
            Entry entry = null;
            Version version = null;
            for (final String s : new String[] {tenant, ""})
            {
                final List<Entry> candidates = new ArrayList<>(scopes.getOrDefault(s, List.of()).stream()
                    .filter(x -> x.matches(e.model())).toList());
                candidates.sort(Comparator.comparing((Entry x) -> x.key().endsWith("*")).thenComparing(x -> -x.key().length()));
                for (final Entry candidate : candidates)
                {
                    if (version == null && candidate.at(hour) != null)
                    {
                        scope = s.equals(tenant) ? "tenant" : "global";
                        entry = candidate;
                        version = candidate.at(hour);
                    }
                }
            }
            final long prompt = e.tokens()[0] + e.tokens()[1] + e.tokens()[2] + e.tokens()[3];
            final boolean thinking = e.thinking() || e.tokens()[5] > 0;
            Tier tier = null;
            Window window = null;
            if (version != null)
            {
                for (final Tier t : version.tiers())
                {
                    if (prompt > t.above())
                    {
                        tier = t;
                    }
                }
                for (final Window w : version.windows())
                {
                    if (window == null && w.holds(e.timestampMs()))
                    {
                        window = w;
                    }
                }
            }
            for (int c = 0; c < 5; c++)
            {
                if (e.tokens()[c] == 0)
                {
                    continue;
                }
                final String key = String.join("|", e.model(), ServiceTier.fromCode(e.tier()).jsonName(),
                    TokenClass.of(c).className(), tier == null ? "standard" : Long.toString(tier.above()),
                    thinking ? "thinking" : "standard", window == null ? "none" : window.name(), String.valueOf(scope),
                    String.valueOf(entry == null ? null : entry.key()),
                    String.valueOf(version == null ? null : Instant.ofEpochSecond(version.fromHour() * 3600).toString()));
                quantities.merge(key, BigDecimal.valueOf(e.tokens()[c]), BigDecimal::add);
                if (version == null)
                {
                    perToken.put(key, BigDecimal.ZERO);
                    continue;
                }
                BigDecimal rate = null;
                if (tier != null && thinking && tier.thinking() != null)
                {
                    rate = in(tier.thinking(), c);
                }
                if (rate == null && tier != null)
                {
                    rate = in(tier.rates(), c);
                }
                if (rate == null && thinking && version.thinking() != null)
                {
                    rate = in(version.thinking(), c);
                }
                if (rate == null)
                {
                    rate = version.rates()[c];
                }
                final BigDecimal multiplier = version.multipliers()[e.tier()] == null ? BigDecimal.ONE : version.multipliers()[e.tier()];
                final BigDecimal windowMultiplier = window == null ? BigDecimal.ONE : window.multiplier();
                final BigDecimal keep = BigDecimal.ONE.subtract(discount(tenant).movePointLeft(2));
                perToken.put(key, rate.multiply(multiplier).multiply(windowMultiplier).multiply(keep).movePointLeft(6));
            }
        }
        final Map<String, String[]> lines = new TreeMap<>();
        quantities.forEach((key, quantity) -> lines.put(key, new String[] {quantity.toPlainString(),
            quantity.multiply(perToken.get(key)).setScale(2, RoundingMode.HALF_EVEN).toPlainString()}));
        return lines;
    }

    private static BigDecimal discount(final String tenant)
    {
        return "t1".equals(tenant) ? DISCOUNT : BigDecimal.ZERO;
    }

    /** A rate table's rate of a class; cache_write_1h falls back to cache_write within the same table. */
    private static BigDecimal in(final BigDecimal[] table, final int tokenClass)
    {
        return table[tokenClass] == null && tokenClass == 3 ? table[2] : table[tokenClass];
    }

    private static Entry entry(final Random random, final String key)
    {
        final List<Version> versions = new ArrayList<>();
        final long base = Instant.parse("2025-09-25T00:00:00Z").getEpochSecond() / 3600;
        final int count = 1 + random.nextInt(2);
        for (int i = 0; i < count; i++)
        {
            final long fromHour = i == 0 ? base + random.nextInt(10 * 24) : base + 12 * 24 + random.nextInt(20 * 24);
            if (versions.stream().anyMatch(v -> v.fromHour() == fromHour))
            {
                continue;
            }
            final BigDecimal[] multipliers = new BigDecimal[4];
            if (random.nextBoolean())
            {
                multipliers[1] = new BigDecimal("0.5");
            }
            final List<Tier> tiers = new ArrayList<>();
            for (final long threshold : THRESHOLDS)
            {
                if (tiers.size() < 3 && random.nextInt(3) > 0)
                {
                    tiers.add(new Tier(threshold, partialRates(random), random.nextBoolean() ? partialRates(random) : null));
                }
            }
            final List<Window> windows = new ArrayList<>();
            for (int w = 0, n = random.nextInt(4); w < n; w++)
            {
                final boolean[] days = new boolean[7];
                for (int d = 0; d < 7; d++)
                {
                    days[d] = random.nextInt(3) > 0;
                }
                days[random.nextInt(7)] = true;
                final int fromMinute = 30 * random.nextInt(48);
                int toMinute = 30 * (1 + random.nextInt(48));
                if (toMinute == fromMinute)
                {
                    toMinute = fromMinute == 0 ? 1440 : 0;
                }
                windows.add(new Window("w" + w, ZoneId.of(ZONES[random.nextInt(ZONES.length)]), days, fromMinute, toMinute,
                    BigDecimal.valueOf(1 + random.nextInt(200), 2)));
            }
            versions.add(new Version(fromHour, fullRates(random), multipliers, tiers, random.nextBoolean() ? partialRates(random) : null,
                windows));
        }
        return new Entry(key, versions);
    }

    private static BigDecimal[] fullRates(final Random random)
    {
        final BigDecimal[] rates = new BigDecimal[5];
        for (int c = 0; c < 5; c++)
        {
            rates[c] = BigDecimal.valueOf(random.nextInt(2_000_000), random.nextInt(5));
        }
        return rates;
    }

    /** Some classes only; cache_write_1h left out more often, so that its fallback to cache_write is exercised. */
    private static BigDecimal[] partialRates(final Random random)
    {
        final BigDecimal[] rates = new BigDecimal[5];
        for (int c = 0; c < 5; c++)
        {
            if (random.nextInt(c == 3 ? 4 : 2) == 0)
            {
                rates[c] = BigDecimal.valueOf(random.nextInt(2_000_000), random.nextInt(5));
            }
        }
        return rates;
    }

    private static String render(final Map<String, String[]> lines)
    {
        final StringBuilder sb = new StringBuilder();
        lines.forEach((k, v) -> sb.append(k).append(" qty=").append(v[0]).append(" amount=").append(v[1]).append('\n'));
        return sb.toString();
    }

    private static String renderBook(final Map<String, List<Entry>> scopes)
    {
        final StringBuilder sb = new StringBuilder("{\"currency\":\"USD\",\"models\":");
        renderEntries(sb, scopes.get(""));
        sb.append(",\"tenants\":{\"t1\":{\"discount_percent\":\"").append(DISCOUNT.toPlainString()).append("\",\"models\":");
        renderEntries(sb, scopes.get("t1"));
        return sb.append("}}}").toString();
    }

    private static void renderEntries(final StringBuilder sb, final List<Entry> entries)
    {
        final List<String> parts = new ArrayList<>();
        for (final Entry e : entries)
        {
            final List<String> versions = new ArrayList<>();
            for (final Version v : e.versions())
            {
                final StringBuilder vs = new StringBuilder("{\"effective_from\":\"").append(Instant.ofEpochSecond(v.fromHour() * 3600))
                    .append("\",\"per_million\":").append(rateObject(v.rates()));
                if (v.multipliers()[1] != null)
                {
                    vs.append(",\"service_tier_multiplier\":{\"batch\":\"").append(v.multipliers()[1]).append("\"}");
                }
                if (v.thinking() != null)
                {
                    vs.append(",\"thinking\":{\"per_million\":").append(rateObject(v.thinking())).append('}');
                }
                if (!v.tiers().isEmpty())
                {
                    final List<String> tiers = new ArrayList<>();
                    for (final Tier t : v.tiers())
                    {
                        tiers.add("{\"above_input_tokens\":" + t.above() + ",\"per_million\":" + rateObject(t.rates())
                            + (t.thinking() == null ? "" : ",\"thinking\":{\"per_million\":" + rateObject(t.thinking()) + "}") + "}");
                    }
                    vs.append(",\"context_tiers\":[").append(String.join(",", tiers)).append(']');
                }
                if (!v.windows().isEmpty())
                {
                    final List<String> windows = new ArrayList<>();
                    for (final Window w : v.windows())
                    {
                        final List<String> days = new ArrayList<>();
                        for (int d = 0; d < 7; d++)
                        {
                            if (w.days()[d])
                            {
                                days.add("\"" + DAY_NAMES[d] + "\"");
                            }
                        }
                        windows.add("{\"name\":\"" + w.name() + "\",\"timezone\":\"" + w.zone().getId() + "\",\"days\":["
                            + String.join(",", days) + "],\"from\":\"" + clock(w.from()) + "\",\"to\":\"" + clock(w.to())
                            + "\",\"multiplier\":\"" + w.multiplier().toPlainString() + "\"}");
                    }
                    vs.append(",\"time_windows\":[").append(String.join(",", windows)).append(']');
                }
                versions.add(vs.append('}').toString());
            }
            parts.add("\"" + e.key() + "\":[" + String.join(",", versions) + "]");
        }
        sb.append('{').append(String.join(",", parts)).append('}');
    }

    private static String clock(final int minutes)
    {
        return String.format("%02d:%02d", minutes / 60, minutes % 60);
    }

    private static String rateObject(final BigDecimal[] rates)
    {
        final List<String> parts = new ArrayList<>();
        for (int c = 0; c < 5; c++)
        {
            if (rates[c] != null)
            {
                parts.add("\"" + TokenClass.of(c).className() + "\":\"" + rates[c].toPlainString() + "\"");
            }
        }
        return "{" + String.join(",", parts) + "}";
    }
}
