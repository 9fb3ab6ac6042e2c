package io.tokenmeter.billing.rating;

import io.tokenmeter.billing.LogFixture;
import io.tokenmeter.billing.invoice.Invoice;
import io.tokenmeter.billing.invoice.InvoiceCalculator;
import io.tokenmeter.billing.invoice.Periods;
import io.tokenmeter.billing.price.BookInForce;
import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.billing.price.PriceBookLoader;
import io.tokenmeter.core.event.ServiceTier;
import io.tokenmeter.core.event.TokenClass;
import io.tokenmeter.core.log.PriceBookInstall;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Rates thousands of random events two ways: through the product (journal, Chronicle log, counters, calculator) and
 * through a slow, obviously correct computation written here, per event, with BigDecimal and the test's own model of
 * the book (two currencies, a discount, graduated and volume tiers, minimum commitments). The invoices must be equal
 * line for line.
 */
class RandomizedRatingTest
{
    private static final long HOUR_MS = 3_600_000L;
    private static final YearMonth PERIOD = YearMonth.of(2025, 10);
    private static final String[] MODELS = {"alpha", "alpha-2", "alpha-2-mini", "beta-x", "bz", "gamma"};
    private static final String[] TENANTS = {"t0", "t1", "t2", "t3"};
    /** The key of the JPY section's entries in the test's scopes ("" is the USD section, others are tenants). */
    private static final String JPY_SECTION = "JPY section";

    @TempDir
    Path dir;

    /** The test's own model of a price version: all five rates given, in both context tiers. */
    record Version(long fromHour, BigDecimal[] rates, BigDecimal[] multipliers, long longAbove, BigDecimal[] longRates,
        TestBands[] bands)
    {
    }

    /** The test's own model of volume tiers: {@code upTo} inclusive running totals, the last {@link Long#MAX_VALUE}. */
    record TestBands(boolean graduated, long[] upTo, BigDecimal[] rates)
    {
        int bandOf(final long position)
        {
            int band = 0;
            while (band < upTo.length - 1 && position > upTo[band])
            {
                band++;
            }
            return band;
        }

        String label(final int band)
        {
            return (band == 0 ? 1 : upTo[band - 1] + 1) + "-" + (band == upTo.length - 1 ? "" : Long.toString(upTo[band]));
        }
    }

    /** One class of one event in the reference, with its price, ordered as tiers fill: hour, model, tier, context. */
    record Piece(long hour, String model, int tier, boolean isLong, int tokenClass, long quantity, String scope, Entry entry,
        Version version)
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
                if (v.fromHour <= hour && (found == null || v.fromHour > found.fromHour))
                {
                    found = v;
                }
            }
            return found;
        }
    }

    @Test
    void productAndSlowReferenceGiveEqualInvoices() throws Exception
    {
        final long seed = System.nanoTime();
        final Random random = new Random(seed);
        final String why = "seed " + seed;
        final Map<String, List<Entry>> scopes = new TreeMap<>();
        scopes.put("", List.of(entry(random, "alpha"), entry(random, "alpha*"), entry(random, "beta-*"), entry(random, "b*"),
            entry(random, "alpha-2-mini")));
        scopes.put("t1", List.of(entry(random, "alpha*")));
        scopes.put("t2", List.of(entry(random, "alpha-2")));
        // t3 is billed in JPY (no minor unit), from the JPY section only; t0 and t3 have minimum commitments drawn near
        // their usage, so that some runs true up and some do not
        scopes.put(JPY_SECTION, List.of(entry(random, "alpha*"), entry(random, "gamma")));
        final Map<String, BigDecimal> discounts = Map.of("t1", new BigDecimal("10"), "t2", new BigDecimal("33.3"));
        final List<LogFixture.Event> events = new ArrayList<>();
        final long from = Instant.parse("2025-09-28T00:00:00Z").toEpochMilli();
        for (int i = 0; i < 5000; i++)
        {
            final long[] tokens = new long[TokenClass.COUNT];
            for (int c = 0; c < 5; c++)
            {
                tokens[c] = random.nextInt(4) == 0 ? 0 : random.nextInt(random.nextBoolean() ? 3000 : 3_000_000);
            }
            events.add(new LogFixture.Event(TENANTS[random.nextInt(TENANTS.length)], MODELS[random.nextInt(MODELS.length)],
                "e" + i, from + (long)(random.nextDouble() * 38 * 24 * HOUR_MS), random.nextInt(4), tokens));
        }

        // the commitments are drawn around each tenant's own usage (the reference's total), so that about half the
        // runs true up
        final Map<String, BigDecimal> commits = new TreeMap<>();
        for (final String[] committed : new String[][] {{"t0", "2"}, {"t3", "0"}})
        {
            final int digits = Integer.parseInt(committed[1]);
            final BigDecimal usage = reference(events, committed[0], scopes, discounts, digits).values().stream()
                .map(line -> new BigDecimal(line[1])).reduce(BigDecimal.ZERO, BigDecimal::add);
            commits.put(committed[0], usage.multiply(BigDecimal.valueOf(50 + random.nextInt(100), 2))
                .setScale(digits, RoundingMode.HALF_EVEN));
        }
        final PriceBook book = PriceBookLoader.parse(render(scopes, discounts, commits).getBytes(StandardCharsets.UTF_8),
            PriceBookLoader.Format.JSON);
        try (LogFixture fixture = new LogFixture(dir, Instant.parse("2025-12-01T00:00:00Z").toEpochMilli()))
        {
            final io.tokenmeter.core.log.ControlRequest.Recorded installed = fixture.install(book.recordedJson(), book);
            assertEquals(events.size(), fixture.append(events), why);
            final var counters = fixture.count();
            for (final String tenant : TENANTS)
            {
                final Invoice invoice = InvoiceCalculator.draft(tenant, PERIOD,
                    new BookInForce(book, installed.revision(), installed.logIndex(), 0),
                    counters.buckets(tenant, Periods.startHour(PERIOD), Periods.endHour(PERIOD)), List.of(), fixture.lastIndex(), "");
                final int digits = "t3".equals(tenant) ? 0 : 2;
                final Map<String, String[]> expected = reference(events, tenant, scopes, discounts, digits);
                BigDecimal total = BigDecimal.ZERO.setScale(digits);
                for (final String[] line : expected.values())
                {
                    total = total.add(new BigDecimal(line[1]));
                }
                final BigDecimal commit = commits.get(tenant);
                if (commit != null && total.compareTo(commit) < 0)
                {
                    expected.put("~true-up", new String[] {"", commit.subtract(total).setScale(digits).toPlainString()});
                    total = commit.setScale(digits);
                }
                final Map<String, String[]> actual = new TreeMap<>();
                for (final InvoiceLine l : invoice.lines())
                {
                    actual.put(l.isUsage() ? lineKey(l.model(), l.serviceTier(), l.tokenClass(), l.context(), l.priceScope(),
                        l.priceEntry(), l.priceFrom()) + "|" + l.band() : "~true-up", new String[] {l.isUsage() ? l.quantity().toString() : "",
                        l.amount().toPlainString()});
                }
                assertEquals(render(expected), render(actual), why + ", tenant " + tenant);
                assertEquals(total, invoice.total(), why + ", tenant " + tenant + " total");
                assertEquals("t3".equals(tenant) ? "JPY" : "USD", invoice.currency(), why);
            }
        }
    }

    /** The slow way: event by event, the test's own matching and arithmetic. */
    private static Map<String, String[]> reference(final List<LogFixture.Event> events, final String tenant,
        final Map<String, List<Entry>> scopes, final Map<String, BigDecimal> discounts, final int digits)
    {
        final Map<String, BigDecimal> quantities = new TreeMap<>();
        final Map<String, BigDecimal> unitAmounts = new TreeMap<>();
        final List<Piece> pieces = new ArrayList<>();
        for (final LogFixture.Event e : events)
        {
            final long hour = Math.floorDiv(e.timestampMs(), HOUR_MS);
            if (!e.tenant().equals(tenant) || !YearMonth.from(Instant.ofEpochMilli(e.timestampMs()).atZone(java.time.ZoneOffset.UTC)).equals(PERIOD))
            {
                continue;
            }
            String scope = null;
            Entry entry = null;
            Version version = null;
            for (final String s : new String[] {tenant, "t3".equals(tenant) ? JPY_SECTION : ""})
            {
                final List<Entry> candidates = new ArrayList<>(scopes.getOrDefault(s, List.of()).stream().filter(x -> x.matches(e.model())).toList());
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
            final boolean isLong = version != null && prompt > version.longAbove();
            for (int c = 0; c < 5; c++)
            {
                if (e.tokens()[c] != 0)
                {
                    pieces.add(new Piece(hour, e.model(), e.tier(), isLong, c, e.tokens()[c], scope, entry, version));
                }
            }
        }
        pieces.sort(Comparator.comparingLong(Piece::hour).thenComparing(Piece::model).thenComparingInt(Piece::tier)
            .thenComparing(Piece::isLong));
        final Map<String, Long> totals = new TreeMap<>();
        for (final Piece p : pieces)
        {
            if (tiers(p) != null)
            {
                totals.merge(group(p), p.quantity(), Long::sum);
            }
        }
        final Map<String, Long> running = new TreeMap<>();
        for (final Piece p : pieces)
        {
            final TestBands bands = tiers(p);
            if (bands == null)
            {
                put(p, null, p.quantity(), p.version() == null ? BigDecimal.ZERO
                    : p.isLong() ? p.version().longRates()[p.tokenClass()] : p.version().rates()[p.tokenClass()], tenant, discounts,
                    quantities, unitAmounts);
            }
            else if (!bands.graduated())
            {
                final int band = bands.bandOf(totals.get(group(p)));
                put(p, bands.label(band), p.quantity(), bands.rates()[band], tenant, discounts, quantities, unitAmounts);
            }
            else
            {
                // unit by unit would be obviously right but slow; band by band is the same: each unit's number decides
                long position = running.getOrDefault(group(p), 0L);
                long left = p.quantity();
                while (left > 0)
                {
                    final int band = bands.bandOf(position + 1);
                    final long piece = band == bands.upTo().length - 1 ? left : Math.min(left, bands.upTo()[band] - position);
                    put(p, bands.label(band), piece, bands.rates()[band], tenant, discounts, quantities, unitAmounts);
                    position += piece;
                    left -= piece;
                }
                running.put(group(p), position);
            }
        }
        final Map<String, String[]> lines = new TreeMap<>();
        quantities.forEach((key, quantity) -> lines.put(key, new String[] {quantity.toPlainString(),
            quantity.multiply(unitAmounts.get(key)).setScale(digits, RoundingMode.HALF_EVEN).toPlainString()}));
        return lines;
    }

    /** @return the tiers that price the piece: none in the long context (its rates are flat here) or for a flat class. */
    private static TestBands tiers(final Piece p)
    {
        return p.version() == null || p.isLong() ? null : p.version().bands()[p.tokenClass()];
    }

    private static String group(final Piece p)
    {
        return p.scope() + "|" + p.entry().key() + "|" + p.tokenClass();
    }

    private static void put(final Piece p, final String band, final long quantity, final BigDecimal rate, final String tenant,
        final Map<String, BigDecimal> discounts, final Map<String, BigDecimal> quantities, final Map<String, BigDecimal> unitAmounts)
    {
        final String key = lineKey(p.model(), ServiceTier.fromCode(p.tier()).jsonName(), TokenClass.of(p.tokenClass()).className(),
            p.isLong() ? "long" : "standard", p.scope(), p.entry() == null ? null : p.entry().key(),
            p.version() == null ? null : Instant.ofEpochSecond(p.version().fromHour() * 3600).toString()) + "|" + band;
        quantities.merge(key, BigDecimal.valueOf(quantity), BigDecimal::add);
        final BigDecimal multiplier = p.version() == null || p.version().multipliers()[p.tier()] == null
            ? BigDecimal.ONE : p.version().multipliers()[p.tier()];
        final BigDecimal keep = BigDecimal.ONE.subtract(discounts.getOrDefault(tenant, BigDecimal.ZERO)
            .divide(BigDecimal.valueOf(100)));
        unitAmounts.put(key, rate.multiply(multiplier).multiply(keep).divide(BigDecimal.valueOf(1_000_000)));
    }

    private static String lineKey(final String model, final String tier, final String tokenClass, final String context,
        final String scope, final String entry, final String from)
    {
        return String.join("|", model, tier, tokenClass, context, String.valueOf(scope), String.valueOf(entry), String.valueOf(from));
    }

    private static String render(final Map<String, String[]> lines)
    {
        final StringBuilder sb = new StringBuilder();
        lines.forEach((k, v) -> sb.append(k).append(" qty=").append(v[0]).append(" amount=").append(v[1]).append('\n'));
        return sb.toString();
    }

    private static Entry entry(final Random random, final String key)
    {
        final List<Version> versions = new ArrayList<>();
        final long base = Instant.parse("2025-09-20T00:00:00Z").getEpochSecond() / 3600;
        final int count = 1 + random.nextInt(3);
        for (int i = 0; i < count; i++)
        {
            final long fromHour = i == 0 ? base + random.nextInt(20 * 24) : base + 10 * 24 + random.nextInt(30 * 24);
            if (versions.stream().anyMatch(v -> v.fromHour() == fromHour))
            {
                continue;
            }
            final BigDecimal[] multipliers = new BigDecimal[4];
            if (random.nextBoolean())
            {
                multipliers[1] = new BigDecimal("0.5");
            }
            if (random.nextBoolean())
            {
                multipliers[3] = new BigDecimal("1.7");
            }
            final boolean longContext = random.nextBoolean();
            final TestBands[] bands = new TestBands[5];
            for (final int c : new int[] {0, 4})
            {
                if (random.nextBoolean())
                {
                    bands[c] = bands(random);
                }
            }
            versions.add(new Version(fromHour, rates(random), multipliers, longContext ? 1000 + random.nextInt(4000) : Long.MAX_VALUE,
                longContext ? rates(random) : rates(random), bands));
        }
        return new Entry(key, versions);
    }

    /** One to three bands, thresholds where a tenant's month of input or output reaches them (tens of millions). */
    private static TestBands bands(final Random random)
    {
        final int count = 1 + random.nextInt(3);
        final long[] upTo = new long[count];
        final BigDecimal[] rates = new BigDecimal[count];
        long limit = 0;
        for (int i = 0; i < count; i++)
        {
            limit += 1 + random.nextInt(200_000_000);
            upTo[i] = i == count - 1 ? Long.MAX_VALUE : limit;
            rates[i] = BigDecimal.valueOf(random.nextInt(2_000_000), random.nextInt(5));
        }
        return new TestBands(random.nextBoolean(), upTo, rates);
    }

    private static BigDecimal[] rates(final Random random)
    {
        final BigDecimal[] rates = new BigDecimal[5];
        for (int c = 0; c < 5; c++)
        {
            rates[c] = BigDecimal.valueOf(random.nextInt(2_000_000), random.nextInt(5));
        }
        return rates;
    }

    private static String render(final Map<String, List<Entry>> scopes, final Map<String, BigDecimal> discounts,
        final Map<String, BigDecimal> commits)
    {
        final StringBuilder sb = new StringBuilder("{\"currencies\":{\"USD\":{\"models\":");
        renderEntries(sb, scopes.get(""));
        sb.append("},\"JPY\":{\"models\":");
        renderEntries(sb, scopes.get(JPY_SECTION));
        sb.append("}},\"tenants\":{");
        boolean first = true;
        for (final String tenant : TENANTS)
        {
            if (!scopes.containsKey(tenant) && !discounts.containsKey(tenant) && !commits.containsKey(tenant))
            {
                continue;
            }
            sb.append(first ? "" : ",").append('"').append(tenant).append("\":{");
            first = false;
            if ("t3".equals(tenant))
            {
                sb.append("\"currency\":\"JPY\",");
            }
            if (commits.containsKey(tenant))
            {
                sb.append("\"minimum_commit\":\"").append(commits.get(tenant).toPlainString()).append("\"")
                    .append(scopes.containsKey(tenant) || discounts.containsKey(tenant) ? "," : "");
            }
            if (discounts.containsKey(tenant))
            {
                sb.append("\"discount_percent\":\"").append(discounts.get(tenant).toPlainString()).append('"')
                    .append(scopes.containsKey(tenant) ? "," : "");
            }
            if (scopes.containsKey(tenant))
            {
                sb.append("\"models\":");
                renderEntries(sb, scopes.get(tenant));
            }
            sb.append('}');
        }
        return sb.append("}}").toString();
    }

    private static void renderEntries(final StringBuilder sb, final List<Entry> entries)
    {
        sb.append('{');
        for (int i = 0; i < entries.size(); i++)
        {
            final Entry e = entries.get(i);
            sb.append(i == 0 ? "" : ",").append('"').append(e.key()).append("\":[");
            for (int v = 0; v < e.versions().size(); v++)
            {
                final Version version = e.versions().get(v);
                sb.append(v == 0 ? "" : ",").append("{\"effective_from\":\"").append(Instant.ofEpochSecond(version.fromHour() * 3600))
                    .append("\",\"per_million\":").append(rateObject(version.rates(), version.bands())).append(",\"service_tier_multiplier\":{");
                final List<String> multipliers = new ArrayList<>();
                for (int t = 0; t < 4; t++)
                {
                    if (version.multipliers()[t] != null)
                    {
                        multipliers.add("\"" + ServiceTier.fromCode(t).jsonName() + "\":\"" + version.multipliers()[t] + "\"");
                    }
                }
                sb.append(String.join(",", multipliers)).append('}');
                if (version.longAbove() != Long.MAX_VALUE)
                {
                    sb.append(",\"long_context\":{\"above_input_tokens\":").append(version.longAbove()).append(",\"per_million\":")
                        .append(rateObject(version.longRates(), new TestBands[5])).append('}');
                }
                sb.append('}');
            }
            sb.append(']');
        }
        sb.append('}');
    }

    private static String rateObject(final BigDecimal[] rates, final TestBands[] bands)
    {
        final List<String> parts = new ArrayList<>();
        for (int c = 0; c < 5; c++)
        {
            if (bands[c] == null)
            {
                parts.add("\"" + TokenClass.of(c).className() + "\":\"" + rates[c].toPlainString() + "\"");
                continue;
            }
            final List<String> list = new ArrayList<>();
            for (int b = 0; b < bands[c].upTo().length; b++)
            {
                list.add("{\"up_to\":" + (b == bands[c].upTo().length - 1 ? "null" : Long.toString(bands[c].upTo()[b]))
                    + ",\"per_million\":\"" + bands[c].rates()[b].toPlainString() + "\"}");
            }
            parts.add("\"" + TokenClass.of(c).className() + "\":{\"tiers\":{\"mode\":\"" + (bands[c].graduated() ? "graduated"
                : "volume") + "\",\"bands\":[" + String.join(",", list) + "]}}");
        }
        return "{" + String.join(",", parts) + "}";
    }
}
