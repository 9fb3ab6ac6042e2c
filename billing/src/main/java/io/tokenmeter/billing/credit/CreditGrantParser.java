package io.tokenmeter.billing.credit;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tokenmeter.core.log.EventLog;

import java.io.IOException;
import java.math.BigDecimal;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Reads the body of {@code POST /v1/tenants/{tenant}/credits} into a {@link CreditGrant}, checking every field and
 * collecting every problem, each naming its field and what to write instead. Cold path; any thread.
 */
public final class CreditGrantParser
{
    /** Grant ids: printable ASCII without spaces, as model names (they appear in invoice lines and CSV cells). */
    public static final Pattern ID = Pattern.compile("[!-~]{1,128}");
    /** At most this many model names or patterns in one grant. */
    public static final int MAX_MODELS = 100;

    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    private static final Set<String> FIELDS = Set.of("id", "amount", "effective_at", "expires_at", "priority", "models");
    private static final Pattern DECIMAL = Pattern.compile("[0-9]{1,15}(\\.[0-9]+)?");
    private static final Pattern MODEL = Pattern.compile("[!-~]{1,128}");
    /** 9999-12-31T23:00:00Z: the last hour RFC 3339's four-digit years can write. */
    private static final long LAST_HOUR = 70_389_527L;

    /** One problem of a request, by field. */
    public record Problem(String field, String message)
    {
        @Override
        public String toString()
        {
            return field + ": " + message;
        }
    }

    /** The grant asked for (not yet recorded), or the problems that stop it; {@code malformed} when it is not JSON. */
    public record Parsed(CreditGrant grant, List<Problem> problems, boolean malformed)
    {
    }

    private final List<Problem> problems = new ArrayList<>();
    private final String currency;
    private final int digits;

    private CreditGrantParser(final String currency, final int digits)
    {
        this.currency = currency;
        this.digits = digits;
    }

    /**
     * @param currency the tenant's currency now: the grant's amount is in it.
     * @param digits   the currency's minor-unit digits.
     */
    public static Parsed parse(final String tenant, final byte[] body, final String currency, final int digits)
    {
        final JsonNode root;
        try
        {
            root = JSON.readTree(body);
        }
        catch (final JsonProcessingException ex)
        {
            return new Parsed(null, List.of(new Problem("body", "is not JSON: " + ex.getOriginalMessage()
                + " (line " + ex.getLocation().getLineNr() + ", column " + ex.getLocation().getColumnNr() + ")")), true);
        }
        catch (final IOException ex)
        {
            return new Parsed(null, List.of(new Problem("body", "cannot be read: " + ex.getMessage())), true);
        }
        return new CreditGrantParser(currency, digits).read(tenant, root);
    }

    private Parsed read(final String tenant, final JsonNode root)
    {
        if (root == null || !root.isObject())
        {
            problem("body", "must be a JSON object: {\"id\", \"amount\", \"effective_at\", \"expires_at\", \"priority\", \"models\"}");
            return new Parsed(null, List.copyOf(problems), false);
        }
        for (final Iterator<String> names = root.fieldNames(); names.hasNext(); )
        {
            final String name = names.next();
            if (!FIELDS.contains(name))
            {
                problem(name, "is not a field of a credit grant; the fields are id, amount, effective_at, expires_at, priority "
                    + "and models (the tenant is the path's)");
            }
        }
        final String id = id(root.get("id"));
        final BigDecimal amount = amount(root.get("amount"));
        final Long effective = hour(root.get("effective_at"), "effective_at");
        final Long expires = hour(root.get("expires_at"), "expires_at");
        if (effective != null && expires != null && expires <= effective)
        {
            problem("expires_at", "must be after effective_at (" + CreditGrant.hourText(effective) + "): a grant covers the "
                + "usage of the hours from effective_at to expires_at, expires_at excluded");
        }
        final int priority = priority(root.get("priority"));
        final List<String> models = models(root.get("models"));
        if (!problems.isEmpty())
        {
            return new Parsed(null, List.copyOf(problems), false);
        }
        return new Parsed(new CreditGrant(tenant, id, amount, currency, effective, expires, priority, models, EventLog.NO_INDEX,
            0), List.of(), false);
    }

    private String id(final JsonNode node)
    {
        if (node == null || node.isNull())
        {
            problem("id", "is required: the grant's id, unique within the tenant (a retry with the same id and terms "
                + "records nothing twice)");
            return null;
        }
        if (!node.isTextual() || !ID.matcher(node.asText()).matches())
        {
            problem("id", "must be a string of 1 to 128 printable ASCII characters without spaces, e.g. \"promo-2026-11\"");
            return null;
        }
        return node.asText();
    }

    private BigDecimal amount(final JsonNode node)
    {
        final String example = "e.g. \"100" + (digits == 0 ? "" : "." + "0".repeat(digits)) + "\"";
        if (node == null || node.isNull())
        {
            problem("amount", "is required: the credit in " + currency + ", the tenant's currency, as a decimal string, " + example);
            return null;
        }
        if (!node.isTextual())
        {
            problem("amount", "must be a decimal string in " + currency + ", " + example + " (money is never a JSON number)");
            return null;
        }
        final String text = node.asText();
        if (text.startsWith("-"))
        {
            problem("amount", "'" + text + "' is negative: a grant's amount must be positive");
            return null;
        }
        if (!DECIMAL.matcher(text).matches())
        {
            problem("amount", "'" + text + "' is not a decimal amount: write digits with an optional fraction, " + example);
            return null;
        }
        final BigDecimal amount = new BigDecimal(text);
        if (amount.scale() > digits)
        {
            problem("amount", "'" + text + "' has " + amount.scale() + " decimals; " + currency + " has " + digits
                + (digits == 0 ? " (no minor unit): write a whole number" : " (its minor unit): round it to " + digits));
            return null;
        }
        if (amount.signum() <= 0)
        {
            problem("amount", "'" + text + "' is zero: a grant's amount must be positive");
            return null;
        }
        return amount.setScale(digits);
    }

    private Long hour(final JsonNode node, final String field)
    {
        final String example = field.equals("effective_at") ? "2026-11-01T00:00:00Z" : "2026-12-01T00:00:00Z";
        if (node == null || node.isNull())
        {
            problem(field, "is required: an RFC 3339 time in UTC on a whole hour, e.g. " + example);
            return null;
        }
        if (!node.isTextual())
        {
            problem(field, "must be an RFC 3339 time in UTC on a whole hour, as a string, e.g. \"" + example + "\"");
            return null;
        }
        final String text = node.asText();
        final OffsetDateTime time;
        try
        {
            time = OffsetDateTime.parse(text);
        }
        catch (final DateTimeParseException ex)
        {
            problem(field, "'" + text + "' is not an RFC 3339 time; write e.g. " + example);
            return null;
        }
        if (!time.getOffset().equals(ZoneOffset.UTC))
        {
            problem(field, "'" + text + "' is not in UTC: write the same instant as " + time.toInstant() + " (billing hours are UTC)");
            return null;
        }
        final long seconds = time.toEpochSecond();
        if (time.getMinute() != 0 || time.getSecond() != 0 || time.getNano() != 0)
        {
            problem(field, "'" + text + "' is not on a whole UTC hour: usage is kept in hour buckets, so a grant starts and "
                + "ends on whole hours; write e.g. " + CreditGrant.hourText(Math.floorDiv(seconds, 3600)));
            return null;
        }
        final long hour = Math.floorDiv(seconds, 3600);
        if (hour < 0 || hour > LAST_HOUR)
        {
            problem(field, "'" + text + "' is outside 1970-01-01T00:00:00Z to 9999-12-31T23:00:00Z");
            return null;
        }
        return hour;
    }

    private int priority(final JsonNode node)
    {
        if (node == null)
        {
            return 0;
        }
        if (!node.isIntegralNumber() || !node.canConvertToInt())
        {
            problem("priority", "must be an integer from " + Integer.MIN_VALUE + " to " + Integer.MAX_VALUE + " (lower draws "
                + "first; 0 when left out)");
            return 0;
        }
        return node.intValue();
    }

    private List<String> models(final JsonNode node)
    {
        if (node == null)
        {
            return List.of(CreditGrant.EVERY_MODEL);
        }
        final String rule = "a list of model names or patterns as the price book's (an exact name, or a prefix ending in "
            + "'*'), e.g. [\"gpt-4o*\"]; leave it out, or [\"*\"], for every model";
        if (!node.isArray())
        {
            problem("models", "must be " + rule);
            return List.of();
        }
        if (node.isEmpty())
        {
            problem("models", "is empty: a grant that covers no model could never be drawn; give " + rule);
            return List.of();
        }
        if (node.size() > MAX_MODELS)
        {
            problem("models", "holds " + node.size() + " entries; at most " + MAX_MODELS + " (use a pattern such as \"gpt-4o*\")");
            return List.of();
        }
        final TreeSet<String> models = new TreeSet<>();
        for (int i = 0; i < node.size(); i++)
        {
            final JsonNode m = node.get(i);
            final String text = m.isTextual() ? m.asText() : null;
            if (text == null || !MODEL.matcher(text).matches() || text.indexOf('*') >= 0 && text.indexOf('*') != text.length() - 1)
            {
                problem("models[" + i + "]", (text == null ? "is not a string" : "'" + text + "' is not a model name or "
                    + "pattern") + ": each entry is printable ASCII without spaces, 1 to 128 characters, with at most one "
                    + "'*', at its end");
                continue;
            }
            models.add(text);
        }
        return models.contains(CreditGrant.EVERY_MODEL) ? List.of(CreditGrant.EVERY_MODEL) : List.copyOf(models);
    }

    private void problem(final String field, final String message)
    {
        problems.add(new Problem(field, message));
    }
}
