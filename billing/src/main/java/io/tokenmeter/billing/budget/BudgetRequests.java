package io.tokenmeter.billing.budget;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tokenmeter.core.event.TenantName;

import java.io.IOException;
import java.math.BigDecimal;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the bodies of {@code PUT /v1/budgets/{tenant}} and {@code POST /v1/reservations}, checking every field and
 * collecting every problem, each naming its field and what to write instead. Cold path; any thread.
 */
public final class BudgetRequests
{
    /** Reservation ids: printable ASCII without spaces, 1 to 128 bytes, as event ids are bounded. */
    public static final Pattern ID = Pattern.compile("[!-~]{1,128}");
    /** The longest a hold may last. */
    public static final long MAX_TTL_MS = 24 * 3_600_000L;
    /** The {@code ttl} of a reservation that gives none. */
    public static final long DEFAULT_TTL_MS = 600_000L;
    /** At most this many alert percents. */
    public static final int MAX_ALERTS = 20;

    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    private static final Set<String> BUDGET_FIELDS = Set.of("limit", "period", "mode", "alert_percents", "webhook");
    private static final Set<String> RESERVATION_FIELDS = Set.of("id", "tenant", "model", "service_tier", "max_input_tokens",
        "max_output_tokens", "thinking", "ttl");
    private static final Set<String> TIERS = Set.of("standard", "batch", "flex", "priority");
    private static final Pattern DECIMAL = Pattern.compile("[0-9]{1,15}(\\.[0-9]+)?");
    private static final Pattern MODEL = Pattern.compile("[!-~]{1,128}");
    private static final Pattern DURATION = Pattern.compile("([0-9]{1,7})(ms|s|m|h)");
    /** The most tokens one reservation may hold for one class, as one event may carry (SPEC section 1). */
    private static final long MAX_TOKENS = 1L << 53;

    /** One problem of a request, by field. */
    public record Problem(String field, String message)
    {
        @Override
        public String toString()
        {
            return field + ": " + message;
        }
    }

    /** What a body asked for, or the problems that stop it; {@code malformed} when it is not JSON. */
    public record Parsed<T>(T value, List<Problem> problems, boolean malformed)
    {
    }

    private final List<Problem> problems = new ArrayList<>();

    private BudgetRequests()
    {
    }

    /**
     * @param digits the minor-unit digits of the tenant's currency: the limit may have no more.
     */
    public static Parsed<Budget> parseBudget(final String tenant, final byte[] body, final String currency, final int digits)
    {
        final BudgetRequests r = new BudgetRequests();
        final JsonNode root = r.read(body);
        if (root == null)
        {
            return new Parsed<>(null, r.problems, true);
        }
        r.unknown(root, BUDGET_FIELDS);
        BigDecimal limit = null;
        final JsonNode limitNode = root.get("limit");
        if (limitNode == null)
        {
            r.problem("limit", "is required: the most the tenant may spend in the period, a decimal string in " + currency
                + ", e.g. \"500.00\"");
        }
        else if (!limitNode.isTextual() || !DECIMAL.matcher(limitNode.textValue()).matches())
        {
            r.problem("limit", "must be a decimal string such as \"500.00\" (a JSON number would lose cents)");
        }
        else
        {
            limit = new BigDecimal(limitNode.textValue());
            if (limit.scale() > digits)
            {
                r.problem("limit", "has " + limit.scale() + " decimals; " + currency + " has " + digits);
                limit = null;
            }
        }
        final String period = r.choice(root, "period", Set.of("month", "day"), "month");
        final String mode = r.choice(root, "mode", Set.of("hard", "soft"), "hard");
        final List<Integer> percents = new ArrayList<>();
        final JsonNode alerts = root.get("alert_percents");
        if (alerts != null)
        {
            if (!alerts.isArray() || alerts.size() > MAX_ALERTS)
            {
                r.problem("alert_percents", "must be a list of at most " + MAX_ALERTS + " whole percents, e.g. [50, 80, 100]");
            }
            else
            {
                final TreeSet<Integer> seen = new TreeSet<>();
                for (final JsonNode p : alerts)
                {
                    if (!p.isInt() || p.intValue() < 1 || p.intValue() > 1000)
                    {
                        r.problem("alert_percents", "each must be a whole percent from 1 to 1000, not " + p);
                    }
                    else if (!seen.add(p.intValue()))
                    {
                        r.problem("alert_percents", p.intValue() + " appears twice");
                    }
                }
                percents.addAll(seen);
            }
        }
        String webhook = null;
        final JsonNode hook = root.get("webhook");
        if (hook != null && !hook.isNull())
        {
            webhook = r.webhook(hook);
        }
        if (!r.problems.isEmpty())
        {
            return new Parsed<>(null, r.problems, false);
        }
        return new Parsed<>(new Budget(tenant, limit, "day".equals(period) ? Budget.Period.DAY : Budget.Period.MONTH,
            "hard".equals(mode), percents, webhook), List.of(), false);
    }

    /** Reads a reservation body; its tenant is checked against the caller's key by the route. */
    public static Parsed<Reservation> parseReservation(final byte[] body)
    {
        final BudgetRequests r = new BudgetRequests();
        final JsonNode root = r.read(body);
        if (root == null)
        {
            return new Parsed<>(null, r.problems, true);
        }
        r.unknown(root, RESERVATION_FIELDS);
        final String id = r.text(root, "id", ID, "is required: the reservation's id, 1 to 128 printable ASCII characters "
            + "without spaces, unique within the tenant (events that settle it name it as \"reservation\")");
        final String tenant = r.text(root, "tenant", Pattern.compile(TenantName.RULE), "is required: the tenant, "
            + TenantName.RULE);
        final String model = r.text(root, "model", MODEL, "is required: the model the request will call, as events name it");
        final String tier = r.choice(root, "service_tier", TIERS, "standard");
        final long input = r.tokens(root, "max_input_tokens");
        final long output = r.tokens(root, "max_output_tokens");
        boolean thinking = false;
        final JsonNode think = root.get("thinking");
        if (think != null)
        {
            if (!think.isBoolean())
            {
                r.problem("thinking", "must be true or false");
            }
            else
            {
                thinking = think.booleanValue();
            }
        }
        long ttl = DEFAULT_TTL_MS;
        final JsonNode ttlNode = root.get("ttl");
        if (ttlNode != null)
        {
            final Matcher m = ttlNode.isTextual() ? DURATION.matcher(ttlNode.textValue()) : null;
            if (m == null || !m.matches())
            {
                r.problem("ttl", "must be a duration such as \"90s\", \"10m\" or \"1h\" (units ms, s, m, h)");
            }
            else
            {
                final long n = Long.parseLong(m.group(1));
                ttl = switch (m.group(2))
                {
                    case "ms" -> n;
                    case "s" -> n * 1000;
                    case "m" -> n * 60_000;
                    default -> n * 3_600_000;
                };
                if (ttl < 1000 || ttl > MAX_TTL_MS)
                {
                    r.problem("ttl", "must be from 1s to 24h, not " + ttlNode.textValue());
                }
            }
        }
        if (!r.problems.isEmpty())
        {
            return new Parsed<>(null, r.problems, false);
        }
        return new Parsed<>(new Reservation(Reservation.Op.RESERVE, id, tenant, model, tier, input, output, thinking, ttl),
            List.of(), false);
    }

    private JsonNode read(final byte[] body)
    {
        try
        {
            final JsonNode root = JSON.readTree(body);
            if (root == null || !root.isObject())
            {
                problem("body", "must be a JSON object");
                return null;
            }
            return root;
        }
        catch (final JsonProcessingException ex)
        {
            problem("body", "is not JSON: " + ex.getOriginalMessage() + (ex.getLocation() == null ? ""
                : " (line " + ex.getLocation().getLineNr() + ", column " + ex.getLocation().getColumnNr() + ")"));
            return null;
        }
        catch (final IOException ex)
        {
            problem("body", "cannot be read: " + ex.getMessage());
            return null;
        }
    }

    private void unknown(final JsonNode root, final Set<String> allowed)
    {
        for (final Iterator<String> it = root.fieldNames(); it.hasNext(); )
        {
            final String name = it.next();
            if (!allowed.contains(name))
            {
                problem(name.length() > 64 ? name.substring(0, 64) + "..." : name, "unknown field; allowed fields are: "
                    + String.join(", ", new TreeSet<>(allowed)));
            }
        }
    }

    private String text(final JsonNode root, final String field, final Pattern rule, final String missing)
    {
        final JsonNode node = root.get(field);
        if (node == null)
        {
            problem(field, missing);
            return null;
        }
        if (!node.isTextual() || !rule.matcher(node.textValue()).matches())
        {
            problem(field, "must match " + rule.pattern());
            return null;
        }
        return node.textValue();
    }

    private String choice(final JsonNode root, final String field, final Set<String> allowed, final String absent)
    {
        final JsonNode node = root.get(field);
        if (node == null)
        {
            return absent;
        }
        if (!node.isTextual() || !allowed.contains(node.textValue()))
        {
            problem(field, "must be one of " + String.join(", ", new TreeSet<>(allowed)));
            return absent;
        }
        return node.textValue();
    }

    private long tokens(final JsonNode root, final String field)
    {
        final JsonNode node = root.get(field);
        if (node == null)
        {
            problem(field, "is required: the most tokens of the class the request may use (0 for none)");
            return 0;
        }
        if (!node.isIntegralNumber() || !node.canConvertToLong() || node.longValue() < 0 || node.longValue() > MAX_TOKENS)
        {
            problem(field, "must be a whole number from 0 to 2^53");
            return 0;
        }
        return node.longValue();
    }

    private String webhook(final JsonNode hook)
    {
        if (!hook.isTextual())
        {
            problem("webhook", "must be an http or https URL");
            return null;
        }
        try
        {
            final URI uri = new URI(hook.textValue());
            if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null
                || hook.textValue().length() > 2048)
            {
                problem("webhook", "must be an absolute http or https URL of at most 2048 characters");
                return null;
            }
            return hook.textValue();
        }
        catch (final URISyntaxException ex)
        {
            problem("webhook", "is not a URL: " + ex.getReason());
            return null;
        }
    }

    private void problem(final String field, final String message)
    {
        problems.add(new Problem(field, message));
    }
}
