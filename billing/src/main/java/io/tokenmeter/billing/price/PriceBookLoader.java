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
import io.tokenmeter.core.log.LongContextRules;

import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.OffsetDateTime;
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
    private static final Set<String> VERSION_KEYS = Set.of("effective_from", "per_million", "service_tier_multiplier", "long_context");
    private static final Set<String> LONG_KEYS = Set.of("above_input_tokens", "per_million");
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
        long longAbove = LongContextRules.NO_THRESHOLD;
        BigDecimal[] longRates = null;
        final JsonNode longNode = node.get("long_context");
        if (longNode != null)
        {
            final String longPath = path + ".long_context";
            if (!longNode.isObject())
            {
                problem(longPath, "must be an object with above_input_tokens and per_million");
            }
            else
            {
                unknownKeys(longNode, LONG_KEYS, longPath + ".");
                final JsonNode above = longNode.get("above_input_tokens");
                if (above == null || !above.isIntegralNumber() || above.asLong() < 0 || !above.canConvertToLong())
                {
                    problem(longPath + ".above_input_tokens", "is required: a non-negative integer number of prompt tokens");
                }
                else
                {
                    longAbove = above.asLong();
                }
                longRates = rates(longNode.get("per_million"), longPath + ".per_million", false, null);
            }
        }
        if (problems.size() != before || perMillion == null)
        {
            return null;
        }
        return new PriceVersion(fromHour, effectiveFrom, perMillion, multipliers, longAbove, longRates, bands);
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
