package io.tokenmeter.billing.price;

import io.tokenmeter.core.log.RateRules;
import io.tokenmeter.core.log.RateSchedule;
import io.tokenmeter.core.log.TimeWindow;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.YearMonth;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Currency;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A validated price book (SPEC section 4), immutable and safe to share between threads. Built by
 * {@link PriceBookLoader}; {@link #recordedJson()} is the exact form written to the log, {@link #sha256()} its hash.
 *
 * <p>Matching: for a (tenant, model, hour) the candidates are, in order, the tenant's exact entry, the tenant's
 * patterns (longest first), the global exact entry, the global patterns (longest first); the first candidate with a
 * version in effect at the start of the hour prices it. A candidate whose versions all start later is passed over
 * (docs/billing.md explains why).
 */
public final class PriceBook implements RateRules
{
    /** Where a price was found. */
    public record Resolved(String scope, String entryKey, PriceVersion version)
    {
        public static final String TENANT = "tenant";
        public static final String GLOBAL = "global";
    }

    /**
     * A tenant's own terms: its discount, the currency it is billed in, its own entries (in that currency), and its
     * minimum commitment per period (null: none) with the first period it applies to even without usage (null: only
     * periods with usage).
     */
    public record TenantTerms(BigDecimal discountPercent, String currency, List<PriceEntry> entries, BigDecimal minimumCommit,
        YearMonth commitFrom)
    {
    }

    /** The global entries of one currency. */
    public record CurrencySection(String currency, List<PriceEntry> entries)
    {
    }

    private record Candidate(String scope, PriceEntry entry)
    {
    }

    private static final Comparator<PriceEntry> PRECEDENCE = Comparator
        .comparing(PriceEntry::isPattern)
        .thenComparing(Comparator.comparingInt((PriceEntry e) -> e.prefix().length()).reversed());

    private final Map<String, CurrencySection> currencies;
    private final PriceBook cost;
    private final CurrencySection first;
    private final Map<String, TenantTerms> tenants;
    private final byte[] recordedJson;
    private final String sha256;
    private final boolean anyRule;
    private final boolean anyWindow;
    private final long smallestThreshold;
    private final Map<String, List<Candidate>> candidatesCache = new ConcurrentHashMap<>();

    /**
     * @param currencies the book's currency sections in the order written (the first is the default currency of a tenant
     *                   whose terms name none); never empty.
     * @param tenants    each tenant's terms; a tenant's currency is the one its terms name, else the first section's.
     */
    /** @param cost the cost book (what the providers charge us), or null. */
    PriceBook(final Map<String, CurrencySection> currencies, final Map<String, TenantTerms> tenants, final byte[] recordedJson,
        final PriceBook cost)
    {
        this.cost = cost;
        this.currencies = Map.copyOf(currencies);
        this.first = currencies.values().iterator().next();
        this.tenants = tenants;
        this.recordedJson = recordedJson;
        this.sha256 = sha256Hex(recordedJson);
        final List<PriceEntry> all = new ArrayList<>();
        currencies.values().forEach(section -> all.addAll(section.entries()));
        tenants.values().forEach(terms -> all.addAll(terms.entries()));
        long smallest = Long.MAX_VALUE;
        boolean windows = false;
        boolean tiers = false;
        for (final PriceEntry entry : all)
        {
            for (final PriceVersion version : entry.versions())
            {
                smallest = Math.min(smallest, version.smallestThreshold());
                windows |= version.hasTimeWindows();
                tiers |= version.hasContextTiers();
            }
        }
        this.smallestThreshold = smallest;
        this.anyWindow = windows;
        this.anyRule = windows || tiers;
    }

    @Override
    public long smallestThreshold()
    {
        return smallestThreshold;
    }

    @Override
    public boolean hasTimeWindows()
    {
        return anyWindow;
    }

    /** The smallest tier of any entry that matches the model, in any currency section or tenant's terms. */
    @Override
    public long smallestThreshold(final String model)
    {
        long smallest = Long.MAX_VALUE;
        for (final PriceEntry entry : entriesMatching(model))
        {
            for (final PriceVersion version : entry.versions())
            {
                smallest = Math.min(smallest, version.smallestThreshold());
            }
        }
        return smallest;
    }

    @Override
    public boolean hasTimeWindows(final String model)
    {
        return entriesMatching(model).stream().anyMatch(e -> e.versions().stream().anyMatch(PriceVersion::hasTimeWindows));
    }

    private List<PriceEntry> entriesMatching(final String model)
    {
        final List<PriceEntry> matching = new ArrayList<>();
        currencies.values().forEach(section -> section.entries().stream().filter(e -> e.matches(model)).forEach(matching::add));
        tenants.values().forEach(terms -> terms.entries().stream().filter(e -> e.matches(model)).forEach(matching::add));
        return matching;
    }

    /** @return the book's first currency: the one a tenant whose terms name none is billed in. */
    public String currency()
    {
        return first.currency();
    }

    /** @return true when the book has a cost book: invoice lines then carry cost and margin. */
    public boolean hasCosts()
    {
        return cost != null;
    }

    /**
     * @return what the provider charges us for {@code model} at the start of {@code hour}, in the tenant's currency (the
     *     cost book's section of that currency), or null: no cost book, or no cost for the model in that currency.
     */
    public Resolved costOf(final String tenant, final String model, final long hour)
    {
        if (cost == null)
        {
            return null;
        }
        final CurrencySection section = cost.currencies.get(currency(tenant));
        if (section == null)
        {
            return null;
        }
        final List<Candidate> candidates = new ArrayList<>();
        addMatches(candidates, Resolved.GLOBAL, section.entries(), model);
        for (final Candidate candidate : candidates)
        {
            final PriceVersion version = candidate.entry().versionAt(hour);
            if (version != null)
            {
                return new Resolved("cost", candidate.entry().key(), version);
            }
        }
        return null;
    }

    /** @return the tenant's minimum commitment per period, or null when it has none. */
    public BigDecimal minimumCommit(final String tenant)
    {
        final TenantTerms terms = tenants.get(tenant);
        return terms == null ? null : terms.minimumCommit();
    }

    /**
     * @return true when the tenant's commitment is owed for {@code period} even without usage in it: the terms name a
     *     {@code commit_from} at or before it.
     */
    public boolean commitOwedWithoutUsage(final String tenant, final YearMonth period)
    {
        final TenantTerms terms = tenants.get(tenant);
        return terms != null && terms.minimumCommit() != null && terms.commitFrom() != null && !period.isBefore(terms.commitFrom());
    }

    /** @return tenants whose commitment is owed for {@code period} even without usage. */
    public List<String> tenantsOwingCommitment(final YearMonth period)
    {
        return tenants.keySet().stream().filter(t -> commitOwedWithoutUsage(t, period)).sorted().toList();
    }

    /** @return the codes of the book's currency sections. */
    public java.util.Set<String> currencies()
    {
        return currencies.keySet();
    }

    /** @return the currency the tenant is billed in (ISO 4217). */
    public String currency(final String tenant)
    {
        final TenantTerms terms = tenants.get(tenant);
        return terms == null ? first.currency() : terms.currency();
    }

    /** @return digits of the minor unit of the tenant's currency (2 for USD, EUR and CNY, 0 for JPY). */
    public int minorDigits(final String tenant)
    {
        return Currency.getInstance(currency(tenant)).getDefaultFractionDigits();
    }

    /** @return the book as recorded in the log: UTF-8 JSON. Do not modify. */
    public byte[] recordedJson()
    {
        return recordedJson;
    }

    public String recordedJsonText()
    {
        return new String(recordedJson, StandardCharsets.UTF_8);
    }

    /** @return hex SHA-256 of {@link #recordedJson()}. */
    public String sha256()
    {
        return sha256;
    }

    /** @return the tenant's discount in percent, 0 when it has none. */
    public BigDecimal discountPercent(final String tenant)
    {
        final TenantTerms terms = tenants.get(tenant);
        return terms == null ? BigDecimal.ZERO : terms.discountPercent();
    }

    /** @return the price of {@code model} for {@code tenant} in effect at the start of {@code hour}, or null: unpriced. */
    public Resolved resolve(final String tenant, final String model, final long hour)
    {
        for (final Candidate candidate : candidates(tenant, model))
        {
            final PriceVersion version = candidate.entry().versionAt(hour);
            if (version != null)
            {
                return new Resolved(candidate.scope(), candidate.entry().key(), version);
            }
        }
        return null;
    }

    private List<Candidate> candidates(final String tenant, final String model)
    {
        return candidatesCache.computeIfAbsent(tenant + '\0' + model, k ->
        {
            final List<Candidate> result = new ArrayList<>();
            final TenantTerms terms = tenants.get(tenant);
            if (terms != null)
            {
                addMatches(result, Resolved.TENANT, terms.entries(), model);
            }
            final CurrencySection section = currencies.get(currency(tenant));
            if (section != null)
            {
                addMatches(result, Resolved.GLOBAL, section.entries(), model);
            }
            return List.copyOf(result);
        });
    }

    private static void addMatches(final List<Candidate> out, final String scope, final List<PriceEntry> entries, final String model)
    {
        entries.stream().filter(e -> e.matches(model)).sorted(PRECEDENCE).forEach(e -> out.add(new Candidate(scope, e)));
    }

    @Override
    public boolean isEmpty()
    {
        return !anyRule;
    }

    /** The context tiers and time windows of the versions that price the pair, from each version's first hour. */
    @Override
    public RateSchedule schedule(final String tenant, final String model)
    {
        final TreeSet<Long> boundaries = new TreeSet<>();
        for (final Candidate candidate : candidates(tenant, model))
        {
            candidate.entry().versions().forEach(v -> boundaries.add(v.fromHour()));
        }
        final List<Long> hours = new ArrayList<>();
        final List<long[]> thresholds = new ArrayList<>();
        final List<TimeWindow[]> windows = new ArrayList<>();
        boolean anyRuleOfPair = false;
        for (final long hour : boundaries)
        {
            final Resolved resolved = resolve(tenant, model, hour);
            hours.add(hour);
            thresholds.add(resolved == null ? new long[0] : resolved.version().thresholds());
            windows.add(resolved == null ? new TimeWindow[0] : resolved.version().windowRules());
            anyRuleOfPair |= resolved != null && (resolved.version().hasContextTiers() || resolved.version().hasTimeWindows());
        }
        if (!anyRuleOfPair)
        {
            return RateSchedule.EMPTY;
        }
        return new RateSchedule(hours.stream().mapToLong(Long::longValue).toArray(), thresholds.toArray(new long[0][]),
            windows.toArray(new TimeWindow[0][]));
    }

    static String sha256Hex(final byte[] bytes)
    {
        try
        {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        }
        catch (final NoSuchAlgorithmException ex)
        {
            throw new IllegalStateException("SHA-256 missing from the JDK", ex);
        }
    }
}
