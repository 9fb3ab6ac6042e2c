package io.tokenmeter.billing.credit;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tokenmeter.billing.invoice.Periods;
import io.tokenmeter.core.log.EventLog;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;

/**
 * A prepaid credit grant of one tenant (SPEC section 11), as recorded in the log of the tenant's partition: an amount in
 * the tenant's currency that invoices draw on for the usage it covers, the usage of its models in the UTC hours
 * {@code [effectiveHour, expiresHour)}. Immutable.
 *
 * <p>The record's payload is the grant's canonical JSON ({@link #payload}), the same bytes for the same terms: an
 * idempotent repeat of a grant is recognised by its terms, whatever the order or spelling of the request's fields.
 *
 * @param tenant        the tenant it belongs to.
 * @param id            the grant's id, unique within its tenant (the idempotency key); credit lines name it.
 * @param amount        in {@code currency}, at exactly its minor unit's digits; positive.
 * @param currency      the tenant's currency when the grant was recorded: it draws only on invoices in it.
 * @param effectiveHour the first UTC hour it covers (hours since 1970).
 * @param expiresHour   the first UTC hour it no longer covers; after {@code effectiveHour}.
 * @param priority      lower draws first.
 * @param models        the model names and patterns (a trailing {@code *}) it covers, sorted; {@code ["*"]} for every model.
 * @param logIndex      where it is in the partition's log; {@link EventLog#NO_INDEX} before it is recorded.
 * @param recordedAtMs  the journal time of its record; 0 before it is recorded.
 */
public record CreditGrant(String tenant, String id, BigDecimal amount, String currency, long effectiveHour, long expiresHour,
    int priority, List<String> models, long logIndex, long recordedAtMs)
{
    /** The control record's revision: the payload's format. */
    public static final long PAYLOAD_FORMAT = 1;
    /** The pattern that covers every model. */
    public static final String EVERY_MODEL = "*";

    /** The order invoices draw grants in (SPEC section 11): priority, then soonest expiry, then oldest grant (log order). */
    public static final Comparator<CreditGrant> DRAW_ORDER = Comparator.comparingInt(CreditGrant::priority)
        .thenComparingLong(CreditGrant::expiresHour).thenComparingLong(CreditGrant::logIndex);

    private static final ObjectMapper JSON = new ObjectMapper();

    public CreditGrant
    {
        models = List.copyOf(models);
    }

    /** @return whether the grant covers usage of this model (the price book's matching: exact, or a prefix before '*'). */
    public boolean coversModel(final String model)
    {
        for (final String pattern : models)
        {
            if (pattern.endsWith(EVERY_MODEL) ? model.startsWith(pattern.substring(0, pattern.length() - 1)) : pattern.equals(model))
            {
                return true;
            }
        }
        return false;
    }

    /** @return whether the grant covers usage in this UTC hour. */
    public boolean coversHour(final long hour)
    {
        return hour >= effectiveHour && hour < expiresHour;
    }

    /** @return the period of the first hour it covers. */
    public YearMonth firstPeriod()
    {
        return Periods.ofHour(effectiveHour);
    }

    /** @return the period of the last hour it covers: once that period's invoice is final, nothing draws it any more. */
    public YearMonth lastPeriod()
    {
        return Periods.ofHour(expiresHour - 1);
    }

    public String effectiveAt()
    {
        return hourText(effectiveHour);
    }

    public String expiresAt()
    {
        return hourText(expiresHour);
    }

    /** @return this grant as recorded at {@code index}. */
    public CreditGrant recordedAt(final long index, final long appendTimeMs)
    {
        return new CreditGrant(tenant, id, amount, currency, effectiveHour, expiresHour, priority, models, index, appendTimeMs);
    }

    /** @return whether the two grants have the same tenant, id and terms (where and when they were recorded aside). */
    public boolean sameTermsAs(final CreditGrant other)
    {
        return tenant.equals(other.tenant) && id.equals(other.id) && amount.compareTo(other.amount) == 0
            && currency.equals(other.currency) && effectiveHour == other.effectiveHour && expiresHour == other.expiresHour
            && priority == other.priority && models.equals(other.models);
    }

    /** @return the terms in which {@code asked} differs from this grant, e.g. {@code amount 200.00 (recorded: 100.00)}. */
    public List<String> differences(final CreditGrant asked)
    {
        final List<String> found = new ArrayList<>();
        differ(found, "amount", asked.amount.toPlainString(), amount.toPlainString());
        differ(found, "currency", asked.currency, currency);
        differ(found, "effective_at", asked.effectiveAt(), effectiveAt());
        differ(found, "expires_at", asked.expiresAt(), expiresAt());
        differ(found, "priority", Integer.toString(asked.priority), Integer.toString(priority));
        differ(found, "models", asked.models.toString(), models.toString());
        return found;
    }

    private static void differ(final List<String> found, final String field, final String asked, final String recorded)
    {
        if (!Objects.equals(asked, recorded))
        {
            found.add(field + " " + asked + " (recorded: " + recorded + ")");
        }
    }

    /** @return the grant's canonical JSON, as written in its control record. */
    public byte[] payload()
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream(256);
        try (JsonGenerator g = JSON.createGenerator(out))
        {
            g.writeStartObject();
            g.writeStringField("tenant", tenant);
            g.writeStringField("id", id);
            g.writeStringField("amount", amount.toPlainString());
            g.writeStringField("currency", currency);
            g.writeStringField("effective_at", effectiveAt());
            g.writeStringField("expires_at", expiresAt());
            g.writeNumberField("priority", priority);
            g.writeArrayFieldStart("models");
            for (final String model : models)
            {
                g.writeString(model);
            }
            g.writeEndArray();
            g.writeEndObject();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        return out.toByteArray();
    }

    /**
     * @return the grant a control record holds.
     * @throws IllegalStateException when the payload is not a grant's canonical JSON (a log written by another version).
     */
    public static CreditGrant fromPayload(final byte[] payload, final long logIndex, final long appendTimeMs)
    {
        try
        {
            final JsonNode node = JSON.readTree(payload);
            final List<String> models = new ArrayList<>();
            node.get("models").forEach(m -> models.add(m.asText()));
            return new CreditGrant(node.get("tenant").asText(), node.get("id").asText(), new BigDecimal(node.get("amount").asText()),
                node.get("currency").asText(), hourOf(node.get("effective_at").asText()), hourOf(node.get("expires_at").asText()),
                node.get("priority").asInt(), models, logIndex, appendTimeMs);
        }
        catch (final IOException | RuntimeException ex)
        {
            throw new IllegalStateException("the credit grant recorded at log index " + Long.toHexString(logIndex)
                + " cannot be read: " + ex.getMessage(), ex);
        }
    }

    static String hourText(final long hour)
    {
        return Instant.ofEpochSecond(hour * 3600).toString();
    }

    private static long hourOf(final String text)
    {
        return Math.floorDiv(Instant.parse(text).getEpochSecond(), 3600);
    }
}
