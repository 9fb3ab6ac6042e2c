package io.tokenmeter.billing.price;

import io.tokenmeter.core.event.TenantName;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.tokenmeter.core.event.ServiceTier;
import io.tokenmeter.core.event.TokenClass;
import io.tokenmeter.core.event.RateVariant;
import io.tokenmeter.core.log.TimeWindow;

import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.YearMonth;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Currency;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads and fully validates a price book (JSON or YAML, SPEC section 4). Every problem is collected, each naming the
 * model key, the version and the field, e.g. {@code models."gpt-4o*"[1].per_million.input: must be a decimal string}.
 * Unknown keys are errors, as in events: a typo must never silently change a price. Money values are decimal
 * strings ("2.50"); JSON numbers are refused for them, since a binary float may not hold the written value.
 */
public final class PriceBookLoader
{
    /** The book shipped in the jar, used when no other is configured. */
    public static final String SHIPPED_RESOURCE = "/io/tokenmeter/billing/default-prices.yaml";

    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    private static final ObjectMapper YAML = YAMLMapper.builder().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION).build();
    private static final Pattern DECIMAL = Pattern.compile("[0-9]{1,15}(\\.[0-9]{1,12})?");
    private static final Pattern MODEL_KEY = Pattern.compile("[!-~]{1,128}");
    private static final Set<String> TOP_KEYS = Set.of("currency", "currencies", "models", "tenants", "description",
        "prices_as_of", "sources", "cost");
    private static final Set<String> COST_KEYS = Set.of("currency", "currencies", "models", "description", "prices_as_of",
        "sources");
    private static final Set<String> CURRENCY_KEYS = Set.of("models");
    private static final Set<String> TENANT_KEYS = Set.of("currency", "discount_percent", "models", "minimum_commit",
        "commit_from");
    private static final Set<String> VERSION_KEYS = Set.of("effective_from", "per_million", "service_tier_multiplier", "long_context",
        "context_tiers", "thinking", "time_windows");
    private static final Set<String> LONG_KEYS = Set.of("above_input_tokens", "per_million");
    private static final Set<String> CONTEXT_TIER_KEYS = Set.of("above_input_tokens", "per_million", "thinking");
    private static final Set<String> THINKING_KEYS = Set.of("per_million");
    private static final Set<String> WINDOW_KEYS = Set.of("name", "timezone", "days", "from", "to", "multiplier");
    private static final List<String> DAYS = List.of("mon", "tue", "wed", "thu", "fri", "sat", "sun");
    private static final Pattern WINDOW_NAME = Pattern.compile("[a-z0-9_-]{1,32}");
    private static final Pattern CLOCK = Pattern.compile("([01][0-9]|2[0-4]):([0-5][0-9])");
    private static final Set<String> TIERS_KEYS = Set.of("tiers");
    private static final Set<String> TIER_KEYS = Set.of("mode", "bands");
    private static final Set<String> BAND_KEYS = Set.of("up_to", "per_million");
    private static final BigDecimal HUNDRED = BigDecimal.valueOf(100);

    /** How a book's bytes are written. */
    public enum Format
    {
        JSON, YAML;

        /** @return YAML for {@code .yaml}/{@code .yml} files, else JSON. */
        public static Format ofFile(final Path file)
        {
            final String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
            return name.endsWith(".yaml") || name.endsWith(".yml") ? YAML : JSON;
        }
    }

    private static final PriceVersion.ContextTier[] NO_CONTEXT_TIERS = new PriceVersion.ContextTier[0];
    private static final PriceVersion.Window[] NO_WINDOWS = new PriceVersion.Window[0];

    private final List<String> problems = new ArrayList<>();
    /** True while reading the cost book, where volume tiers are refused. */
    private boolean costBook;
    /** Written before every problem's path ({@code cost.} in the cost book). */
    private String pathPrefix = "";

    private PriceBookLoader()
    {
    }

    /** Parses and validates a book. */
    public static PriceBook parse(final byte[] bytes, final Format format) throws PriceBookException
    {
        final JsonNode root;
        try
        {
            root = (format == Format.YAML ? YAML : JSON).readTree(bytes);
        }
        catch (final JsonProcessingException ex)
        {
            throw new PriceBookException(List.of("not valid " + format + ": " + ex.getOriginalMessage()
                + (ex.getLocation() == null ? "" : " (line " + ex.getLocation().getLineNr() + ")")));
        }
        catch (final IOException ex)
        {
            throw new PriceBookException(List.of("cannot be read: " + ex.getMessage()));
        }
        return new PriceBookLoader().build(root);
    }

    /** Reads a book from a file; {@code .yaml}/{@code .yml} is YAML, anything else JSON. */
    public static PriceBook load(final Path file) throws PriceBookException
    {
        try
        {
            return parse(Files.readAllBytes(file), Format.ofFile(file));
        }
        catch (final IOException ex)
        {
            throw new PriceBookException(List.of("price book file " + file + " cannot be read: " + ex.getMessage()));
        }
    }

    /** @return the book shipped with tokenmeter. */
    public static PriceBook shipped()
    {
        try (InputStream in = PriceBookLoader.class.getResourceAsStream(SHIPPED_RESOURCE))
        {
            if (in == null)
            {
                throw new IllegalStateException("shipped price book " + SHIPPED_RESOURCE + " missing from the jar");
            }
            return parse(in.readAllBytes(), Format.YAML);
        }
        catch (final IOException | PriceBookException ex)
        {
            throw new IllegalStateException("shipped price book is broken: " + ex.getMessage(), ex);
        }
    }

    private PriceBook build(final JsonNode root) throws PriceBookException
    {
        if (root == null || !root.isObject())
        {
            throw new PriceBookException(List.of("the book must be an object with currency and models (or currencies)"));
        }
        unknownKeys(root, TOP_KEYS, "");
        text(root, "description", "description");
        text(root, "prices_as_of", "prices_as_of");
        final JsonNode sources = root.get("sources");
        if (sources != null && (!sources.isArray() || !allText(sources)))
        {
            problem("sources", "must be a list of strings");
        }
        final Map<String, PriceBook.CurrencySection> currencies = root.has("currencies") ? currencySections(root)
            : oneCurrency(root);
        final Map<String, PriceBook.TenantTerms> tenants = new LinkedHashMap<>();
        final JsonNode tenantsNode = root.get("tenants");
        if (tenantsNode != null)
        {
            if (!tenantsNode.isObject())
            {
                problem("tenants", "must be an object of tenant name to terms");
            }
            else
            {
                tenantsNode.fields().forEachRemaining(field ->
                {
                    final String path = "tenants." + quote(field.getKey());
                    if (!TenantName.isValid(field.getKey()))
                    {
                        problem(path, "is not a tenant name (" + TenantName.RULE + ")");
                    }
                    final JsonNode terms = field.getValue();
                    if (!terms.isObject())
                    {
                        problem(path, "must be an object with currency, discount_percent and/or models");
                        return;
                    }
                    unknownKeys(terms, TENANT_KEYS, path + ".");
                    BigDecimal discount = BigDecimal.ZERO;
                    if (terms.has("discount_percent"))
                    {
                        final BigDecimal d = decimal(terms.get("discount_percent"), path + ".discount_percent");
                        if (d != null && d.compareTo(HUNDRED) > 0)
                        {
                            problem(path + ".discount_percent", "must be between 0 and 100");
                        }
                        else if (d != null)
                        {
                            discount = d;
                        }
                    }
                    final List<PriceEntry> entries = terms.has("models") ? entries(terms.get("models"), path + ".models") : List.of();
                    final String currency = tenantCurrency(terms, path, currencies, entries);
                    final BigDecimal commit = minimumCommit(terms, path, currency);
                    final YearMonth commitFrom = commitFrom(terms, path, commit);
                    tenants.put(field.getKey(), new PriceBook.TenantTerms(discount, currency, entries, commit, commitFrom));
                });
            }
        }
        final PriceBook cost = root.has("cost") ? costBook(root.get("cost")) : null;
        if (!problems.isEmpty())
        {
            throw new PriceBookException(problems);
        }
        final byte[] recorded;
        try
        {
            recorded = JSON.writeValueAsBytes(root);
        }
        catch (final JsonProcessingException ex)
        {
            throw new PriceBookException(List.of("cannot be written as JSON: " + ex.getOriginalMessage()));
        }
        return new PriceBook(currencies, tenants, recorded, cost);
    }

    /**
     * The cost book (SPEC section 11): what the providers charge us, in the same form as the book's prices (one or
     * several currencies) but without tenants, commitments or volume tiers. Its problems are named under {@code cost.}.
     */
    private PriceBook costBook(final JsonNode node)
    {
        if (!node.isObject())
        {
            problem("cost", "must be a book of what the providers charge: {\"currency\": ..., \"models\": {...}} or "
                + "{\"currencies\": {...}}");
            return null;
        }
        final PriceBookLoader inner = new PriceBookLoader();
        inner.costBook = true;
        inner.pathPrefix = "cost.";
        inner.unknownKeys(node, COST_KEYS, "");
        final Map<String, PriceBook.CurrencySection> sections = node.has("currencies") ? inner.currencySections(node)
            : inner.oneCurrency(node);
        inner.problems.forEach(p -> problem(null, p));
        return inner.problems.isEmpty() ? new PriceBook(sections, Map.of(), new byte[0], null) : null;
    }

    /** The SPEC section 4 form: {@code currency} + {@code models}, a book of one currency. */
    private Map<String, PriceBook.CurrencySection> oneCurrency(final JsonNode root)
    {
        final Map<String, PriceBook.CurrencySection> sections = new LinkedHashMap<>();
        final JsonNode currencyNode = root.get("currency");
        String code = "USD";
        if (currencyNode == null || !currencyNode.isTextual())
        {
            problem("currency", "is required: an ISO 4217 code such as \"USD\" (or give \"currencies\", an object of "
                + "currency code to its models)");
        }
        else
        {
            code = currencyNode.asText();
            currencyCode(code, "currency");
        }
        final JsonNode models = root.get("models");
        List<PriceEntry> global = List.of();
        if (models == null)
        {
            problem("models", "is required: an object of model name or pattern to price versions");
        }
        else
        {
            global = entries(models, "models");
        }
        sections.put(code, new PriceBook.CurrencySection(code, global));
        return sections;
    }

    /** SPEC section 11: {@code currencies: {CODE: {models: ...}}}, in the order written; the first is the default. */
    private Map<String, PriceBook.CurrencySection> currencySections(final JsonNode root)
    {
        final Map<String, PriceBook.CurrencySection> sections = new LinkedHashMap<>();
        for (final String single : List.of("currency", "models"))
        {
            if (root.has(single))
            {
                problem(single, "cannot stand beside \"currencies\": write a one-currency book as currency + models, or put "
                    + "the models under currencies.<code>.models");
            }
        }
        final JsonNode node = root.get("currencies");
        if (!node.isObject() || node.isEmpty())
        {
            problem("currencies", "must be a non-empty object of ISO 4217 code to {\"models\": {...}}, e.g. "
                + "{\"USD\": {\"models\": {...}}, \"CNY\": {\"models\": {...}}}");
            sections.put("USD", new PriceBook.CurrencySection("USD", List.of()));
            return sections;
        }
        node.fields().forEachRemaining(field ->
        {
            final String path = "currencies." + field.getKey();
            currencyCode(field.getKey(), path);
            final JsonNode section = field.getValue();
            List<PriceEntry> entries = List.of();
            if (!section.isObject() || !section.has("models"))
            {
                problem(path, "must be an object with models: {model name or pattern: price versions}");
            }
            else
            {
                unknownKeys(section, CURRENCY_KEYS, path + ".");
                entries = entries(section.get("models"), path + ".models");
            }
            sections.put(field.getKey(), new PriceBook.CurrencySection(field.getKey(), entries));
        });
        return sections;
    }

    /** @return the tenant's {@code minimum_commit} (an amount in its currency, at most its minor unit's digits), or null. */
    private BigDecimal minimumCommit(final JsonNode terms, final String path, final String currency)
    {
        if (!terms.has("minimum_commit"))
        {
            return null;
        }
        final BigDecimal commit = decimal(terms.get("minimum_commit"), path + ".minimum_commit");
        if (commit == null)
        {
            return null;
        }
        int digits = 2;
        try
        {
            digits = Currency.getInstance(currency).getDefaultFractionDigits();
        }
        catch (final IllegalArgumentException ex)
        {
            // the currency's own problem is already listed
        }
        if (commit.scale() > digits)
        {
            problem(path + ".minimum_commit", "'" + commit.toPlainString() + "' has more decimals than " + currency
                + "'s minor unit (" + digits + ")");
            return null;
        }
        return commit.setScale(Math.max(digits, 0));
    }

    /** @return the tenant's {@code commit_from} period, or null. */
    private YearMonth commitFrom(final JsonNode terms, final String path, final BigDecimal commit)
    {
        final JsonNode node = terms.get("commit_from");
        if (node == null)
        {
            return null;
        }
        if (!terms.has("minimum_commit"))
        {
            problem(path + ".commit_from", "needs a minimum_commit to start");
            return null;
        }
        try
        {
            if (node.isTextual())
            {
                return YearMonth.parse(node.asText());
            }
        }
        catch (final DateTimeParseException ex)
        {
            // reported below
        }
        problem(path + ".commit_from", "must be a period YYYY-MM, e.g. \"2025-10\"");
        return null;
    }

    /** Checks that {@code code} is an ISO 4217 currency with a minor unit. */
    private void currencyCode(final String code, final String path)
    {
        try
        {
            if (Currency.getInstance(code).getDefaultFractionDigits() < 0)
            {
                problem(path, "'" + code + "' has no minor unit; use a currency such as USD, EUR, CNY or JPY");
            }
        }
        catch (final IllegalArgumentException ex)
        {
            problem(path, "'" + code + "' is not an ISO 4217 currency code (such as USD, EUR, CNY, JPY)");
        }
    }

    /**
     * @return the tenant's currency: the one its terms name, else the book's first. A named currency must have prices
     *     somewhere: a section of the book or the tenant's own models (a valid but unintended code would otherwise bill
     *     every line unpriced).
     */
    private String tenantCurrency(final JsonNode terms, final String path, final Map<String, PriceBook.CurrencySection> currencies,
        final List<PriceEntry> entries)
    {
        final String first = currencies.keySet().iterator().next();
        final JsonNode node = terms.get("currency");
        if (node == null)
        {
            return first;
        }
        if (!node.isTextual())
        {
            problem(path + ".currency", "must be an ISO 4217 code such as \"CNY\"");
            return first;
        }
        final String code = node.asText();
        final int before = problems.size();
        currencyCode(code, path + ".currency");
        if (problems.size() == before && !currencies.containsKey(code) && entries.isEmpty())
        {
            problem(path + ".currency", "'" + code + "' has no prices in this book: add currencies." + code
                + ".models, or models for this tenant (in " + code + "); the book's currencies are "
                + String.join(", ", currencies.keySet()));
        }
        return code;
    }

    private List<PriceEntry> entries(final JsonNode models, final String path)
    {
        if (!models.isObject())
        {
            problem(path, "must be an object of model name or pattern to a list of price versions");
            return List.of();
        }
        final List<PriceEntry> entries = new ArrayList<>();
        models.fields().forEachRemaining(field ->
        {
            final String key = field.getKey();
            final String entryPath = path + "." + quote(key);
            if (!MODEL_KEY.matcher(key).matches() || key.indexOf('*') >= 0 && key.indexOf('*') != key.length() - 1)
            {
                problem(entryPath, "is not a model name (printable ASCII, no spaces, 1..128 bytes) or a pattern with one "
                    + "'*' at the end");
            }
            final JsonNode versions = field.getValue();
            if (!versions.isArray() || versions.isEmpty())
            {
                problem(entryPath, "must be a non-empty list of price versions");
                return;
            }
            final List<PriceVersion> parsed = new ArrayList<>();
            final Set<Long> hours = new HashSet<>();
            for (int i = 0; i < versions.size(); i++)
            {
                final PriceVersion version = version(versions.get(i), entryPath + "[" + i + "]");
                if (version != null)
                {
                    if (!hours.add(version.fromHour()))
                    {
                        problem(entryPath + "[" + i + "].effective_from", version.effectiveFrom()
                            + " is used by another version of this model");
                    }
                    parsed.add(version);
                }
            }
            parsed.sort(Comparator.comparingLong(PriceVersion::fromHour));
            entries.add(new PriceEntry(key, List.copyOf(parsed)));
        });
        return List.copyOf(entries);
    }

    private PriceVersion version(final JsonNode node, final String path)
    {
        if (!node.isObject())
        {
            problem(path, "must be an object with effective_from and per_million");
            return null;
        }
        final int before = problems.size();
        unknownKeys(node, VERSION_KEYS, path + ".");
        long fromHour = 0;
        String effectiveFrom = null;
        final JsonNode from = node.get("effective_from");
        if (from == null || !from.isTextual())
        {
            problem(path + ".effective_from", "is required: an RFC 3339 time on a whole hour, e.g. 2024-08-06T00:00:00Z");
        }
        else
        {
            try
            {
                final Instant instant = OffsetDateTime.parse(from.asText()).toInstant();
                if (instant.getEpochSecond() % 3600 != 0 || instant.getNano() != 0 || instant.getEpochSecond() < 0)
                {
                    problem(path + ".effective_from", "'" + from.asText() + "' is not on a whole hour (minutes, seconds zero)");
                }
                fromHour = instant.getEpochSecond() / 3600;
                effectiveFrom = instant.toString();
            }
            catch (final DateTimeParseException ex)
            {
                problem(path + ".effective_from", "'" + from.asText() + "' is not an RFC 3339 time with an offset");
            }
        }
        final Bands[] bands = new Bands[PriceVersion.BILLABLE_CLASSES];
        final BigDecimal[] perMillion = rates(node.get("per_million"), path + ".per_million", true, bands);
        final BigDecimal[] multipliers = new BigDecimal[ServiceTier.values().length];
        final JsonNode multiplierNode = node.get("service_tier_multiplier");
        if (multiplierNode != null)
        {
            if (!multiplierNode.isObject())
            {
                problem(path + ".service_tier_multiplier", "must be an object of service tier to a decimal string");
            }
            else
            {
                multiplierNode.fields().forEachRemaining(field ->
                {
                    final ServiceTier tier = tier(field.getKey());
                    if (tier == null)
                    {
                        problem(path + ".service_tier_multiplier." + field.getKey(),
                            "is not a service tier (standard, batch, flex, priority)");
                    }
                    else
                    {
                        multipliers[tier.code()] = decimal(field.getValue(), path + ".service_tier_multiplier." + field.getKey());
                    }
                });
            }
        }
        final PriceVersion.ContextTier[] contextTiers = contextTiers(node, path);
        final BigDecimal[] thinking = thinking(node.get("thinking"), path + ".thinking");
        final PriceVersion.Window[] windows = windows(node.get("time_windows"), path + ".time_windows");
        if (problems.size() != before || perMillion == null)
        {
            return null;
        }
        return new PriceVersion(fromHour, effectiveFrom, perMillion, multipliers, contextTiers, thinking, windows, bands);
    }

    /** {@code long_context} (one tier, named {@code long}) or {@code context_tiers} (up to seven, ascending); not both. */
    private PriceVersion.ContextTier[] contextTiers(final JsonNode node, final String path)
    {
        final JsonNode longNode = node.get("long_context");
        final JsonNode tiersNode = node.get("context_tiers");
        if (longNode != null && tiersNode != null)
        {
            problem(path + ".context_tiers", "cannot stand beside long_context: long_context is the one-tier form, give "
                + "its threshold and rates as the first of context_tiers instead");
            return NO_CONTEXT_TIERS;
        }
        if (longNode != null)
        {
            final String longPath = path + ".long_context";
            if (!longNode.isObject())
            {
                problem(longPath, "must be an object with above_input_tokens and per_million");
                return NO_CONTEXT_TIERS;
            }
            unknownKeys(longNode, LONG_KEYS, longPath + ".");
            final long above = aboveInputTokens(longNode, longPath);
            final BigDecimal[] rates = rates(longNode.get("per_million"), longPath + ".per_million", false, null);
            return above < 0 || rates == null ? NO_CONTEXT_TIERS
                : new PriceVersion.ContextTier[] {new PriceVersion.ContextTier(above, PriceVersion.LONG_CONTEXT, rates, null)};
        }
        if (tiersNode == null)
        {
            return NO_CONTEXT_TIERS;
        }
        final String tiersPath = path + ".context_tiers";
        if (!tiersNode.isArray() || tiersNode.isEmpty() || tiersNode.size() > RateVariant.MAX_CONTEXT_TIERS)
        {
            problem(tiersPath, "must be a list of 1 to " + RateVariant.MAX_CONTEXT_TIERS + " tiers {\"above_input_tokens\": "
                + "32000, \"per_million\": {...}}, by ascending above_input_tokens");
            return NO_CONTEXT_TIERS;
        }
        final List<PriceVersion.ContextTier> tiers = new ArrayList<>();
        long previous = -1;
        for (int i = 0; i < tiersNode.size(); i++)
        {
            final String tierPath = tiersPath + "[" + i + "]";
            final JsonNode tier = tiersNode.get(i);
            if (!tier.isObject())
            {
                problem(tierPath, "must be an object with above_input_tokens and per_million");
                continue;
            }
            unknownKeys(tier, CONTEXT_TIER_KEYS, tierPath + ".");
            final long above = aboveInputTokens(tier, tierPath);
            if (above >= 0 && above <= previous)
            {
                problem(tierPath + ".above_input_tokens", above + " is not above the tier before's " + previous
                    + ": list the tiers by ascending above_input_tokens");
            }
            previous = Math.max(previous, above);
            final BigDecimal[] rates = rates(tier.get("per_million"), tierPath + ".per_million", false, null);
            final BigDecimal[] tierThinking = thinking(tier.get("thinking"), tierPath + ".thinking");
            if (above >= 0 && rates != null)
            {
                tiers.add(new PriceVersion.ContextTier(above, Long.toString(above), rates, tierThinking));
            }
        }
        return tiers.toArray(NO_CONTEXT_TIERS);
    }

    /** @return the tier's {@code above_input_tokens}, or -1 after naming the problem. */
    private long aboveInputTokens(final JsonNode tier, final String path)
    {
        final JsonNode above = tier.get("above_input_tokens");
        if (above == null || !above.isIntegralNumber() || !above.canConvertToLong() || above.asLong() < 0)
        {
            problem(path + ".above_input_tokens", "is required: a non-negative integer number of prompt tokens (input + "
                + "cache_read + cache_write + cache_write_1h); a prompt above it is in the tier");
            return -1;
        }
        return above.asLong();
    }

    /** {@code {"per_million": {...}}}: flat rates of a thinking-mode request; null when not given. */
    private BigDecimal[] thinking(final JsonNode node, final String path)
    {
        if (node == null)
        {
            return null;
        }
        if (!node.isObject())
        {
            problem(path, "must be an object {\"per_million\": {\"output\": \"8.00\"}}");
            return null;
        }
        unknownKeys(node, THINKING_KEYS, path + ".");
        return rates(node.get("per_million"), path + ".per_million", false, null);
    }

    /** Up to seven windows {@code {name, timezone, days, from, to, multiplier}}; empty when not given. */
    private PriceVersion.Window[] windows(final JsonNode node, final String path)
    {
        if (node == null)
        {
            return NO_WINDOWS;
        }
        if (costBook)
        {
            problem(path, "the cost book has no time windows: what a request in a window costs us is its cost at the "
                + "cost book's rates");
            return NO_WINDOWS;
        }
        if (!node.isArray() || node.isEmpty() || node.size() > RateVariant.MAX_WINDOWS)
        {
            problem(path, "must be a list of 1 to " + RateVariant.MAX_WINDOWS + " windows {\"name\": \"off_peak\", "
                + "\"timezone\": \"Asia/Shanghai\", \"days\": [\"mon\", ...], \"from\": \"00:30\", \"to\": \"08:30\", "
                + "\"multiplier\": \"0.5\"}");
            return NO_WINDOWS;
        }
        final List<PriceVersion.Window> windows = new ArrayList<>();
        final Set<String> names = new HashSet<>();
        for (int i = 0; i < node.size(); i++)
        {
            final String windowPath = path + "[" + i + "]";
            final JsonNode window = node.get(i);
            if (!window.isObject())
            {
                problem(windowPath, "must be an object with name, timezone, from, to and multiplier");
                continue;
            }
            final int before = problems.size();
            unknownKeys(window, WINDOW_KEYS, windowPath + ".");
            final JsonNode nameNode = window.get("name");
            final String name = nameNode == null || !nameNode.isTextual() ? null : nameNode.asText();
            if (name == null || !WINDOW_NAME.matcher(name).matches() || name.equals("none"))
            {
                problem(windowPath + ".name", "is required: 1 to 32 of a-z 0-9 _ - (not \"none\"), e.g. \"off_peak\"; it "
                    + "names the window on invoice lines");
            }
            else if (!names.add(name))
            {
                problem(windowPath + ".name", "'" + name + "' names an earlier window of this version too");
            }
            final ZoneId zone = zone(window.get("timezone"), windowPath + ".timezone");
            final int dayMask = days(window.get("days"), windowPath + ".days");
            final int from = clock(window.get("from"), windowPath + ".from", false);
            final int to = clock(window.get("to"), windowPath + ".to", true);
            if (from >= 0 && to >= 0 && from == to)
            {
                problem(windowPath + ".to", "equals from: a window needs a length (from inclusive, to exclusive; "
                    + "\"00:00\" to \"24:00\" is the whole day)");
            }
            final JsonNode multiplierNode = window.get("multiplier");
            final BigDecimal multiplier = multiplierNode == null ? null : decimal(multiplierNode, windowPath + ".multiplier");
            if (multiplierNode == null)
            {
                problem(windowPath + ".multiplier", "is required: a decimal string applied to every class, e.g. \"0.5\"");
            }
            if (problems.size() == before)
            {
                windows.add(new PriceVersion.Window(name, multiplier, new TimeWindow(zone, dayMask, from, to)));
            }
        }
        return windows.toArray(NO_WINDOWS);
    }

    private ZoneId zone(final JsonNode node, final String path)
    {
        if (node == null || !node.isTextual())
        {
            problem(path, "is required: an IANA time zone such as \"Asia/Shanghai\" or \"UTC\"");
            return null;
        }
        try
        {
            return ZoneId.of(node.asText());
        }
        catch (final java.time.DateTimeException ex)
        {
            problem(path, "'" + node.asText() + "' is not a time zone: use an IANA name such as \"Asia/Shanghai\", "
                + "\"America/New_York\" or \"UTC\"");
            return null;
        }
    }

    /** @return the mask of ISO days (bit 0 Monday), every day when not given; 0 after naming a problem. */
    private int days(final JsonNode node, final String path)
    {
        if (node == null)
        {
            return 0x7F;
        }
        if (!node.isArray() || node.isEmpty())
        {
            problem(path, "must be a non-empty list of days: mon, tue, wed, thu, fri, sat, sun (omit it for every day)");
            return 0;
        }
        int mask = 0;
        for (int i = 0; i < node.size(); i++)
        {
            final int day = node.get(i).isTextual() ? DAYS.indexOf(node.get(i).asText()) : -1;
            if (day < 0)
            {
                problem(path + "[" + i + "]", "must be one of mon, tue, wed, thu, fri, sat, sun");
            }
            else if ((mask & (1 << day)) != 0)
            {
                problem(path + "[" + i + "]", "'" + node.get(i).asText() + "' is listed twice");
            }
            else
            {
                mask |= 1 << day;
            }
        }
        return mask;
    }

    /** @return minutes since local midnight of an {@code HH:MM} time, -1 after naming the problem. */
    private int clock(final JsonNode node, final String path, final boolean end)
    {
        final java.util.regex.Matcher m = node != null && node.isTextual() ? CLOCK.matcher(node.asText()) : null;
        final int minutes = m != null && m.matches() ? Integer.parseInt(m.group(1)) * 60 + Integer.parseInt(m.group(2)) : -1;
        if (minutes < 0 || minutes > (end ? 1440 : 1439))
        {
            problem(path, "is required: a local time \"HH:MM\" from 00:00 to " + (end ? "24:00" : "23:59")
                + (end ? " (exclusive; a time at or before from crosses midnight)" : " (inclusive)"));
            return -1;
        }
        return minutes;
    }

    /** @param bands receives each class's volume tiers where the class has them; null where tiers are not allowed. */
    private BigDecimal[] rates(final JsonNode node, final String path, final boolean inputAndOutputRequired, final Bands[] bands)
    {
        if (node == null || !node.isObject())
        {
            problem(path, "is required: an object of token class (input, cache_read, cache_write, cache_write_1h, output) "
                + "to a decimal string per million tokens");
            return null;
        }
        final BigDecimal[] rates = new BigDecimal[PriceVersion.BILLABLE_CLASSES];
        node.fields().forEachRemaining(field ->
        {
            final int tokenClass = billableClass(field.getKey());
            if (tokenClass < 0)
            {
                problem(path + "." + field.getKey(), field.getKey().equals("reasoning")
                    ? "reasoning tokens are part of output and have no price of their own"
                    : "is not a token class (input, cache_read, cache_write, cache_write_1h, output)");
            }
            else if (field.getValue().isObject() && bands != null && costBook)
            {
                problem(path + "." + field.getKey(), "the cost book takes flat rates (decimal strings), not volume tiers");
            }
            else if (field.getValue().isObject() && bands != null)
            {
                bands[tokenClass] = bands(field.getValue(), path + "." + field.getKey());
            }
            else if (field.getValue().isObject())
            {
                problem(path + "." + field.getKey(), "volume tiers are given in the version's per_million, not here");
            }
            else
            {
                rates[tokenClass] = decimal(field.getValue(), path + "." + field.getKey());
            }
        });
        if (inputAndOutputRequired)
        {
            if (!node.has("input"))
            {
                problem(path + ".input", "is required");
            }
            if (!node.has("output"))
            {
                problem(path + ".output", "is required");
            }
        }
        return rates;
    }

    /**
     * {@code {"tiers": {"mode": "graduated" | "volume", "bands": [{"up_to": 1000000000, "per_million": "2.50"}, ...,
     * {"up_to": null, "per_million": "2.00"}]}}}: {@code up_to} a running total of tokens, inclusive, increasing, and
     * null for the last band (so that every unit has a rate).
     */
    private Bands bands(final JsonNode node, final String path)
    {
        unknownKeys(node, TIERS_KEYS, path + ".");
        final JsonNode tiers = node.get("tiers");
        if (tiers == null || !tiers.isObject())
        {
            problem(path + ".tiers", "is required: {\"mode\": \"graduated\" or \"volume\", \"bands\": [...]} (or give a "
                + "decimal string for a flat rate)");
            return null;
        }
        unknownKeys(tiers, TIER_KEYS, path + ".tiers.");
        final String tiersPath = path + ".tiers";
        final JsonNode mode = tiers.get("mode");
        final boolean graduated = mode != null && "graduated".equals(mode.asText());
        if (mode == null || !mode.isTextual() || !graduated && !"volume".equals(mode.asText()))
        {
            problem(tiersPath + ".mode", "must be \"graduated\" (each band's units at its rate) or \"volume\" (every unit "
                + "at the rate of the band the period's total reaches)");
        }
        final JsonNode list = tiers.get("bands");
        if (list == null || !list.isArray() || list.isEmpty())
        {
            problem(tiersPath + ".bands", "must be a non-empty list of {\"up_to\", \"per_million\"}");
            return null;
        }
        final int before = problems.size();
        final long[] upTo = new long[list.size()];
        final BigDecimal[] rates = new BigDecimal[list.size()];
        for (int i = 0; i < list.size(); i++)
        {
            final String bandPath = tiersPath + ".bands[" + i + "]";
            final JsonNode band = list.get(i);
            if (!band.isObject())
            {
                problem(bandPath, "must be an object with up_to and per_million");
                continue;
            }
            unknownKeys(band, BAND_KEYS, bandPath + ".");
            final JsonNode limit = band.get("up_to");
            final boolean last = i == list.size() - 1;
            if (last)
            {
                if (limit == null || !limit.isNull())
                {
                    problem(bandPath + ".up_to", "must be null in the last band, so that every unit has a rate");
                }
                upTo[i] = Long.MAX_VALUE;
            }
            else if (limit == null || !limit.isIntegralNumber() || !limit.canConvertToLong() || limit.asLong() <= 0
                || i > 0 && limit.asLong() <= upTo[i - 1])
            {
                problem(bandPath + ".up_to", "must be a whole number of tokens greater than the band before's (a running "
                    + "total, inclusive); only the last band's is null");
            }
            else
            {
                upTo[i] = limit.asLong();
            }
            rates[i] = decimal(band.get("per_million"), bandPath + ".per_million");
        }
        return problems.size() == before ? new Bands(graduated, upTo, rates) : null;
    }

    private static int billableClass(final String name)
    {
        for (int i = 0; i < PriceVersion.BILLABLE_CLASSES; i++)
        {
            if (TokenClass.of(i).className().equals(name))
            {
                return i;
            }
        }
        return -1;
    }

    private static ServiceTier tier(final String name)
    {
        for (final ServiceTier tier : ServiceTier.values())
        {
            if (tier.jsonName().equals(name))
            {
                return tier;
            }
        }
        return null;
    }

    private BigDecimal decimal(final JsonNode node, final String path)
    {
        if (node == null || !node.isTextual())
        {
            problem(path, "must be a decimal string such as \"2.50\""
                + (node != null && node.isNumber() ? " (quoted: a bare number could be read as binary floating point)" : ""));
            return null;
        }
        if (!DECIMAL.matcher(node.asText()).matches())
        {
            problem(path, "'" + node.asText() + "' is not a non-negative decimal with at most 12 decimals, e.g. \"2.50\"");
            return null;
        }
        return new BigDecimal(node.asText());
    }

    private void text(final JsonNode root, final String key, final String path)
    {
        final JsonNode node = root.get(key);
        if (node != null && !node.isTextual())
        {
            problem(path, "must be a string");
        }
    }

    private static boolean allText(final JsonNode array)
    {
        for (final JsonNode n : array)
        {
            if (!n.isTextual())
            {
                return false;
            }
        }
        return true;
    }

    private void unknownKeys(final JsonNode node, final Set<String> allowed, final String prefix)
    {
        ((ObjectNode)node).fieldNames().forEachRemaining(name ->
        {
            if (!allowed.contains(name))
            {
                problem(prefix + name, "is not a known field here; allowed: " + String.join(", ", allowed.stream().sorted().toList()));
            }
        });
    }

    private static String quote(final String key)
    {
        return "\"" + key + "\"";
    }

    /** @param path where the problem is; null when {@code message} already names it. */
    private void problem(final String path, final String message)
    {
        if (problems.size() < 1000)
        {
            problems.add(path == null ? message : pathPrefix + path + ": " + message);
        }
    }
}
