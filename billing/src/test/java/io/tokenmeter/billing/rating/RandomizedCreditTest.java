package io.tokenmeter.billing.rating;

import io.tokenmeter.billing.LogFixture;
import io.tokenmeter.billing.credit.CreditBalance;
import io.tokenmeter.billing.credit.CreditGrant;
import io.tokenmeter.billing.invoice.Invoice;
import io.tokenmeter.billing.invoice.InvoiceCalculator;
import io.tokenmeter.billing.invoice.Periods;
import io.tokenmeter.billing.price.BookInForce;
import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.billing.price.PriceBookLoader;
import io.tokenmeter.core.aggregate.HourlyAggregator;
import io.tokenmeter.core.event.ServiceTier;
import io.tokenmeter.core.event.TokenClass;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Random credit grants drawn on random usage two ways: through the product (journal, Chronicle log, counters,
 * calculator, drawer) and through a slow computation written here from the rules of docs/billing.md "Prepaid credits",
 * per event, with BigDecimal and the test's own model of the book. October is drawn as a draft, November's draft
 * behind it, October finalized, late October usage and more of November arrive, November drawn again; the credit lines,
 * totals and balances must be equal.
 */
class RandomizedCreditTest
{
    private static final long HOUR_MS = 3_600_000L;
    private static final YearMonth OCTOBER = YearMonth.of(2025, 10);
    private static final YearMonth NOVEMBER = YearMonth.of(2025, 11);
    private static final String TENANT = "acme";
    private static final String[] MODELS = {"alpha", "beta-1", "beta-2", "gamma", "delta"};
    /** Model patterns the grants name; delta has no price (its lines are 0.00). */
    private static final String[] PATTERNS = {"alpha", "beta-*", "beta-2", "gamma", "delta", "*", "b*"};
    private static final BigDecimal MILLION = BigDecimal.valueOf(1_000_000);

    @TempDir
    Path dir;

    /** The test's model of the book: one version per priced model, five rates, tier multipliers. */
    record Price(BigDecimal[] rates, BigDecimal[] multipliers)
    {
    }

    /** One reference line's identity: the invoice's line order within a period is model, tier, class. */
    record LineKey(String model, int tier, int tokenClass) implements Comparable<LineKey>
    {
        @Override
        public int compareTo(final LineKey o)
        {
            return Comparator.comparing(LineKey::model).thenComparingInt(LineKey::tier).thenComparingInt(LineKey::tokenClass)
                .compare(this, o);
        }
    }

    /** A reference line: its exact unit value, and its quantity per hour. */
    static final class RefLine
    {
        final LineKey key;
        final BigDecimal unit;
        final TreeMap<Long, Long> byHour = new TreeMap<>();
        BigDecimal consumed = BigDecimal.ZERO;
        BigDecimal credited = BigDecimal.ZERO;

        RefLine(final LineKey key, final BigDecimal unit)
        {
            this.key = key;
            this.unit = unit;
        }

        long quantity()
        {
            return byHour.values().stream().mapToLong(Long::longValue).sum();
        }

        BigDecimal amount()
        {
            return unit.multiply(BigDecimal.valueOf(quantity())).setScale(2, RoundingMode.HALF_EVEN);
        }
    }

    /** One section of a reference invoice: its period's adjustment name (null for own) and its lines. */
    record RefSection(String adjustmentFor, List<RefLine> lines, BigDecimal returned)
    {
    }

    @Test
    void productAndSlowReferenceDrawTheSameCredits() throws Exception
    {
        final long seed = System.nanoTime();
        System.out.println("RandomizedCreditTest seed " + seed);
        for (int round = 0; round < 24; round++)
        {
            runOnce(seed + round, dir.resolve("r" + round));
        }
        // the runs exercised the rules: credits were drawn, and some grants ran out mid-invoice
        System.out.println("RandomizedCreditTest: " + creditLines + " credit lines, " + usedUp + " grants used up");
        assertTrue(creditLines > 24, "seed " + seed + ": credits were drawn (" + creditLines + " lines)");
        assertTrue(usedUp > 0, "seed " + seed + ": some grant ran out while drawing");
    }

    private int creditLines;
    private int usedUp;

    private void runOnce(final long seed, final Path runDir) throws Exception
    {
        final Random random = new Random(seed);
        final String why = "seed " + seed;
        final Map<String, Price> prices = new LinkedHashMap<>();
        prices.put("alpha", price(random));
        prices.put("beta-*", price(random));
        prices.put("gamma", price(random));
        final BigDecimal discount = random.nextBoolean() ? BigDecimal.ZERO : BigDecimal.valueOf(random.nextInt(300), 1);
        final long start = Instant.parse("2025-10-01T00:00:00Z").toEpochMilli();
        final List<LogFixture.Event> first = events(random, "a", 150 + random.nextInt(150), start, 61 * 24);
        final List<LogFixture.Event> late = events(random, "b", random.nextInt(60), start, 31 * 24);
        late.addAll(events(random, "c", random.nextInt(60), start + 31 * 24 * HOUR_MS, 30 * 24));
        // half the runs have a minimum commitment near October's usage, so that some true up and late usage is returned
        final BigDecimal commit = random.nextBoolean() ? null : sum(section(null, first, OCTOBER, prices, discount).lines())
            .multiply(BigDecimal.valueOf(50 + random.nextInt(100), 2)).setScale(2, RoundingMode.HALF_EVEN);
        final PriceBook book = PriceBookLoader.parse(render(prices, discount, commit).getBytes(StandardCharsets.UTF_8),
            PriceBookLoader.Format.JSON);
        final List<CreditGrant> grants = new ArrayList<>();
        final long earliest = Instant.parse("2025-09-25T00:00:00Z").getEpochSecond() / 3600;
        for (int g = 0, n = 1 + random.nextInt(6); g < n; g++)
        {
            final long from = earliest + random.nextInt(70 * 24);
            final long to = from + 1 + random.nextInt(random.nextBoolean() ? 24 : 45 * 24);
            final List<String> models = new ArrayList<>();
            if (random.nextInt(3) == 0)
            {
                models.add("*");
            }
            else
            {
                for (int m = 0, k = 1 + random.nextInt(2); m < k; m++)
                {
                    final String pattern = PATTERNS[random.nextInt(PATTERNS.length)];
                    if (!models.contains(pattern))
                    {
                        models.add(pattern);
                    }
                }
                models.sort(null);
            }
            // small, middling and large against a month of usage (a few hundred), so that some run out and some last
            final BigDecimal amount = BigDecimal.valueOf(1 + random.nextInt(new int[] {500, 10_000, 200_000}[random.nextInt(3)]), 2);
            grants.add(new CreditGrant(TENANT, "g" + g, amount, "USD", from, to, random.nextInt(3) - 1, models, 100 + g, 0));
        }

        try (LogFixture fixture = new LogFixture(runDir, Instant.parse("2025-12-15T00:00:00Z").toEpochMilli()))
        {
            final var installed = fixture.install(book.recordedJson(), book);
            final BookInForce inForce = new BookInForce(book, installed.revision(), installed.logIndex(), 0);
            assertEquals(first.size(), fixture.append(first), why);
            HourlyAggregator counters = fixture.count();
            final Invoice octoberDraft = draft(inForce, OCTOBER, counters, List.of(), grants);
            final Invoice novemberDraft = draft(inForce, NOVEMBER, counters, List.of(), grants);

            // the reference: October draws first, then November
            final Map<String, BigDecimal> balances = new LinkedHashMap<>();
            grants.forEach(g -> balances.put(g.id(), g.amount()));
            final List<RefSection> octoberSections = List.of(section(null, first, OCTOBER, prices, discount));
            final List<String> octoberCredits = draw(OCTOBER, octoberSections, grants, balances, List.of());
            final List<String> novemberCredits = draw(NOVEMBER, List.of(section(null, first, NOVEMBER, prices, discount)), grants,
                balances, List.of());
            assertEquals(octoberCredits, credits(octoberDraft), why + ": October's draft");
            assertEquals(novemberCredits, credits(novemberDraft), why + ": November's draft behind October's");
            assertEquals(total(octoberSections, commit, octoberCredits), octoberDraft.total(), why + ": October's total");
            assertTrue(octoberDraft.total().signum() >= 0 && novemberDraft.total().signum() >= 0, why);

            // October final; late October usage and more of November
            final Invoice octoberFinal = octoberDraft.asFinal("INV-000001", "2025-11-01T02:00:00Z");
            assertEquals(late.size(), fixture.append(late), why);
            counters = fixture.count();
            final Invoice november = draft(inForce, NOVEMBER, counters, List.of(octoberFinal), grants);
            final Map<String, BigDecimal> afterOctober = new LinkedHashMap<>();
            grants.forEach(g -> afterOctober.put(g.id(), g.amount().subtract(drawnOn(octoberCredits, g.id()))));
            final List<LogFixture.Event> all = new ArrayList<>(first);
            all.addAll(late);
            final List<LogFixture.Event> lateOctober = late.stream().filter(e -> periodOf(e).equals(OCTOBER)).toList();
            final BigDecimal octoberTrueUp = trueUp(octoberSections, commit);
            final RefSection lateSection = section("2025-10", lateOctober, OCTOBER, prices, discount);
            final BigDecimal lateUsage = sum(lateSection.lines());
            final BigDecimal returned = octoberTrueUp.min(lateUsage);
            final RefSection withReturn = new RefSection("2025-10", lateSection.lines(), returned.negate());
            final List<RefSection> novemberSections = List.of(section(null, all, NOVEMBER, prices, discount), withReturn);
            final List<String> expected = draw(NOVEMBER, novemberSections, grants, afterOctober, List.of(OCTOBER));
            assertEquals(expected, credits(november), why + ": November after October's final, with late October usage");
            creditLines += octoberCredits.size() + expected.size();
            usedUp += (int)afterOctober.values().stream().filter(b -> b.signum() == 0).count();
            assertTrue(november.total().signum() >= 0, why);
            assertEquals(total(novemberSections, commit, expected), november.total(), why + ": November's total");

            // balances: drawn on October's final, held by November's draft, expired when October was a grant's last period
            final List<CreditBalance> product = InvoiceCalculator.credits(TENANT, NOVEMBER.plusMonths(1), inForce,
                counters.buckets(TENANT, Periods.startHour(YearMonth.of(2025, 9)), Periods.endHour(NOVEMBER.plusMonths(1))),
                List.of(octoberFinal), grants);
            for (final CreditBalance b : product)
            {
                final CreditGrant g = b.grant();
                final BigDecimal drawn = drawnOn(octoberCredits, g.id());
                final boolean closed = g.lastPeriod().equals(OCTOBER) || g.lastPeriod().isBefore(OCTOBER);
                final BigDecimal held = closed ? BigDecimal.ZERO : drawnOn(expected, g.id());
                final BigDecimal rest = g.amount().subtract(drawn).subtract(held);
                assertEquals(drawn.setScale(2) + "/" + held.setScale(2) + "/" + (closed && g.lastPeriod().equals(OCTOBER)
                    ? "0.00/" + rest.setScale(2) : rest.setScale(2) + "/0.00"), b.drawn() + "/" + b.held() + "/" + b.remaining() + "/"
                    + b.expired(), why + ": balance of " + g);
            }
        }
    }

    private static Invoice draft(final BookInForce book, final YearMonth period, final HourlyAggregator counters,
        final List<Invoice> finals, final List<CreditGrant> grants)
    {
        final YearMonth earliest = InvoiceCalculator.earliestNeeded(period, finals, grants);
        return InvoiceCalculator.draft(TENANT, period, book, counters.buckets(TENANT, Periods.startHour(earliest),
            Periods.endHour(period)), finals, grants, 0, "");
    }

    private static List<String> credits(final Invoice invoice)
    {
        return invoice.lines().stream().filter(l -> InvoiceLine.CREDIT.equals(l.kind()))
            .map(l -> l.grant() + " " + l.amount().toPlainString() + " " + l.adjustmentFor()).toList();
    }

    private static BigDecimal drawnOn(final List<String> credits, final String id)
    {
        BigDecimal drawn = BigDecimal.ZERO;
        for (final String line : credits)
        {
            final String[] parts = line.split(" ");
            if (parts[0].equals(id))
            {
                drawn = drawn.subtract(new BigDecimal(parts[1]));
            }
        }
        return drawn;
    }

    /** The reference's lines of one period's usage among {@code events}: per (model, tier, class), quantities by hour. */
    private static RefSection section(final String adjustmentFor, final List<LogFixture.Event> events, final YearMonth period,
        final Map<String, Price> prices, final BigDecimal discount)
    {
        final TreeMap<LineKey, RefLine> lines = new TreeMap<>();
        for (final LogFixture.Event e : events)
        {
            if (!periodOf(e).equals(period))
            {
                continue;
            }
            final Price price = priceOf(e.model(), prices);
            for (int c = 0; c < 5; c++)
            {
                if (e.tokens()[c] == 0)
                {
                    continue;
                }
                final int tokenClass = c;
                final LineKey key = new LineKey(e.model(), e.tier(), c);
                final RefLine line = lines.computeIfAbsent(key, k -> new RefLine(k, price == null ? BigDecimal.ZERO
                    : price.rates()[tokenClass].multiply(price.multipliers()[e.tier()]).multiply(BigDecimal.ONE.subtract(
                        discount.movePointLeft(2))).divide(MILLION)));
                line.byHour.merge(Math.floorDiv(e.timestampMs(), HOUR_MS), e.tokens()[c], Long::sum);
            }
        }
        return new RefSection(adjustmentFor, new ArrayList<>(lines.values()), BigDecimal.ZERO);
    }

    /** The rules, slowly: grant by grant in draw order, each over the covered units in time order, then line order. */
    private static List<String> draw(final YearMonth period, final List<RefSection> sections, final List<CreditGrant> grants,
        final Map<String, BigDecimal> balances, final List<YearMonth> finalized)
    {
        record Piece(int section, RefLine line, long hour, BigDecimal[] left)
        {
        }
        final List<Piece> pieces = new ArrayList<>();
        final BigDecimal[] rooms = new BigDecimal[sections.size()];
        for (int s = 0; s < sections.size(); s++)
        {
            rooms[s] = sum(sections.get(s).lines()).add(sections.get(s).returned()).max(BigDecimal.ZERO);
            for (final RefLine line : sections.get(s).lines())
            {
                line.consumed = BigDecimal.ZERO;
                line.credited = BigDecimal.ZERO;
                for (final Map.Entry<Long, Long> units : line.byHour.entrySet())
                {
                    pieces.add(new Piece(s, line, units.getKey(), new BigDecimal[] {line.unit.multiply(BigDecimal.valueOf(units.getValue()))}));
                }
            }
        }
        pieces.sort(Comparator.comparingLong(Piece::hour).thenComparing(p -> p.line().key));
        final List<CreditGrant> ordered = new ArrayList<>(grants);
        ordered.sort(Comparator.comparingInt(CreditGrant::priority).thenComparingLong(CreditGrant::expiresHour)
            .thenComparingLong(CreditGrant::logIndex));
        final Map<String, BigDecimal[]> drawn = new LinkedHashMap<>();
        for (final CreditGrant g : ordered)
        {
            final YearMonth last = Periods.ofHour(g.expiresHour() - 1);
            if (period.isAfter(last) || finalized.contains(last) || balances.get(g.id()).signum() <= 0)
            {
                continue;
            }
            final BigDecimal[] bySection = new BigDecimal[sections.size()];
            for (final Piece p : pieces)
            {
                final boolean covered = p.hour() >= g.effectiveHour() && p.hour() < g.expiresHour()
                    && g.models().stream().anyMatch(m -> m.endsWith("*") ? p.line().key.model().startsWith(m.substring(0, m.length() - 1))
                    : m.equals(p.line().key.model()));
                if (!covered || p.left()[0].signum() == 0 || rooms[p.section()].signum() == 0 || balances.get(g.id()).signum() == 0)
                {
                    continue;
                }
                final RefLine line = p.line();
                final BigDecimal offer = line.consumed.add(p.left()[0]).setScale(2, RoundingMode.HALF_EVEN).min(line.amount())
                    .subtract(line.credited);
                final BigDecimal take = offer.min(balances.get(g.id())).min(rooms[p.section()]);
                final BigDecimal used = take.compareTo(offer) == 0 ? p.left()[0] : take;
                line.consumed = line.consumed.add(used);
                p.left()[0] = p.left()[0].subtract(used);
                line.credited = line.credited.add(take);
                balances.put(g.id(), balances.get(g.id()).subtract(take));
                rooms[p.section()] = rooms[p.section()].subtract(take);
                bySection[p.section()] = bySection[p.section()] == null ? take : bySection[p.section()].add(take);
            }
            drawn.put(g.id(), bySection);
        }
        final List<String> own = new ArrayList<>();
        final List<String> adjustments = new ArrayList<>();
        drawn.forEach((id, bySection) ->
        {
            for (int s = 0; s < bySection.length; s++)
            {
                if (bySection[s] != null && bySection[s].signum() > 0)
                {
                    (sections.get(s).adjustmentFor() == null ? own : adjustments).add(id + " " + bySection[s].setScale(2).negate()
                        .toPlainString() + " " + sections.get(s).adjustmentFor());
                }
            }
        });
        own.addAll(adjustments);
        return own;
    }

    private static BigDecimal trueUp(final List<RefSection> sections, final BigDecimal commit)
    {
        final BigDecimal usage = sum(sections.get(0).lines());
        return commit == null || sections.get(0).lines().isEmpty() || usage.compareTo(commit) >= 0 ? BigDecimal.ZERO.setScale(2)
            : commit.subtract(usage).setScale(2);
    }

    private static BigDecimal total(final List<RefSection> sections, final BigDecimal commit, final List<String> credits)
    {
        BigDecimal total = trueUp(sections, commit);
        for (final RefSection s : sections)
        {
            total = total.add(sum(s.lines())).add(s.returned());
        }
        for (final String line : credits)
        {
            total = total.add(new BigDecimal(line.split(" ")[1]));
        }
        return total.setScale(2);
    }

    private static BigDecimal sum(final List<RefLine> lines)
    {
        BigDecimal sum = BigDecimal.ZERO.setScale(2);
        for (final RefLine line : lines)
        {
            sum = sum.add(line.amount());
        }
        return sum;
    }

    private static YearMonth periodOf(final LogFixture.Event e)
    {
        return YearMonth.from(Instant.ofEpochMilli(e.timestampMs()).atZone(ZoneOffset.UTC));
    }

    private static Price priceOf(final String model, final Map<String, Price> prices)
    {
        if (prices.containsKey(model))
        {
            return prices.get(model);
        }
        return model.startsWith("beta-") ? prices.get("beta-*") : null;
    }

    private static List<LogFixture.Event> events(final Random random, final String idPrefix, final int count, final long fromMs,
        final int hours)
    {
        final List<LogFixture.Event> events = new ArrayList<>();
        for (int i = 0; i < count; i++)
        {
            final long[] tokens = new long[TokenClass.COUNT];
            for (int c = 0; c < 5; c++)
            {
                tokens[c] = random.nextInt(3) == 0 ? 0 : random.nextInt(random.nextBoolean() ? 2000 : 300_000);
            }
            // every event has some billable tokens, so a period with usage has lines (the reference's true-up needs them)
            tokens[0] = Math.max(1, tokens[0]);
            events.add(new LogFixture.Event(TENANT, MODELS[random.nextInt(MODELS.length)], idPrefix + i,
                fromMs + (long)(random.nextDouble() * hours * HOUR_MS), random.nextInt(4), tokens));
        }
        return events;
    }

    private static Price price(final Random random)
    {
        final BigDecimal[] rates = new BigDecimal[5];
        for (int c = 0; c < 5; c++)
        {
            rates[c] = BigDecimal.valueOf(random.nextInt(300_000), 4 + random.nextInt(3));
        }
        final BigDecimal[] multipliers = {BigDecimal.ONE, random.nextBoolean() ? new BigDecimal("0.5") : BigDecimal.ONE,
            BigDecimal.ONE, random.nextBoolean() ? new BigDecimal("1.7") : BigDecimal.ONE};
        return new Price(rates, multipliers);
    }

    private static String render(final Map<String, Price> prices, final BigDecimal discount, final BigDecimal commit)
    {
        final StringBuilder sb = new StringBuilder("{\"currency\":\"USD\",\"models\":{");
        boolean first = true;
        for (final Map.Entry<String, Price> e : prices.entrySet())
        {
            sb.append(first ? "" : ",").append('"').append(e.getKey()).append("\":[{\"effective_from\":\"2025-01-01T00:00:00Z\","
                + "\"per_million\":{");
            first = false;
            for (int c = 0; c < 5; c++)
            {
                sb.append(c == 0 ? "" : ",").append('"').append(TokenClass.of(c).className()).append("\":\"")
                    .append(e.getValue().rates()[c].toPlainString()).append('"');
            }
            sb.append("},\"service_tier_multiplier\":{\"batch\":\"").append(e.getValue().multipliers()[ServiceTier.BATCH.code()])
                .append("\",\"priority\":\"").append(e.getValue().multipliers()[ServiceTier.PRIORITY.code()]).append("\"}}]");
        }
        sb.append("},\"tenants\":{\"").append(TENANT).append("\":{\"discount_percent\":\"").append(discount.toPlainString()).append('"');
        if (commit != null)
        {
            sb.append(",\"minimum_commit\":\"").append(commit.toPlainString()).append('"');
        }
        return sb.append("}}}").toString();
    }
}
