package io.tokenmeter.billing.invoice;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tokenmeter.billing.price.PriceVersion;
import io.tokenmeter.billing.rating.InvoiceLine;
import io.tokenmeter.billing.rating.Rater;
import io.tokenmeter.core.aggregate.HourlyAggregator;
import io.tokenmeter.core.aggregate.TenantBucket;
import io.tokenmeter.core.event.ServiceTier;
import io.tokenmeter.core.log.EventLog;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Invoices as JSON (SPEC section 6). Money is a string with exactly the currency's minor-unit digits; quantities are
 * integers; log indexes are hex strings (as in the server's logs), since they exceed what JSON numbers hold exactly
 * in many clients. The basis (hour buckets) is written to stored final invoices and on request.
 */
public final class InvoiceJson
{
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private InvoiceJson()
    {
    }

    /** @return the invoice as UTF-8 JSON with costs and margins; {@code pretty} for stored files. */
    public static byte[] toBytes(final Invoice invoice, final boolean includeBasis, final boolean pretty)
    {
        return toBytes(invoice, includeBasis, pretty, true);
    }

    /**
     * @param includeCost whether lines show {@code cost} and {@code margin}: what the provider charges us is for finance,
     *                    not for the tenant's own keys.
     */
    public static byte[] toBytes(final Invoice invoice, final boolean includeBasis, final boolean pretty, final boolean includeCost)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream(1024);
        try (JsonGenerator json = MAPPER.createGenerator(out))
        {
            if (pretty)
            {
                json.useDefaultPrettyPrinter();
            }
            write(json, invoice, includeBasis, includeCost);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        return out.toByteArray();
    }

    /** @return the invoice as a JSON tree (the audit compares trees). */
    public static JsonNode toTree(final Invoice invoice, final boolean includeBasis)
    {
        try
        {
            return MAPPER.readTree(toBytes(invoice, includeBasis, false));
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    public static void write(final JsonGenerator json, final Invoice invoice, final boolean includeBasis, final boolean includeCost)
        throws IOException
    {
        json.writeStartObject();
        json.writeStringField("tenant", invoice.tenant());
        json.writeStringField("period", invoice.period());
        json.writeStringField("currency", invoice.currency());
        json.writeStringField("status", invoice.status());
        if (invoice.isFinal())
        {
            json.writeStringField("invoice_number", invoice.invoiceNumber());
            json.writeStringField("finalized_at", invoice.finalizedAt());
        }
        json.writeStringField("usage_through", invoice.usageThrough());
        json.writeStringField("log_index", indexText(invoice.logIndex()));
        if (invoice.logSha256() != null)
        {
            json.writeStringField("log_sha256", invoice.logSha256());
        }
        json.writeObjectFieldStart("price_book");
        json.writeNumberField("revision", invoice.priceBook().revision());
        json.writeStringField("sha256", invoice.priceBook().sha256());
        json.writeStringField("log_index", indexText(invoice.priceBook().logIndex()));
        json.writeEndObject();
        json.writeArrayFieldStart("lines");
        for (final InvoiceLine line : invoice.lines())
        {
            json.writeStartObject();
            json.writeStringField("kind", line.kind());
            json.writeStringField("model", line.model());
            json.writeStringField("service_tier", line.serviceTier());
            json.writeStringField("token_class", line.tokenClass());
            json.writeStringField("context", line.context());
            if (line.isUsage())
            {
                json.writeStringField("mode", line.mode());
                json.writeStringField("window", line.window());
            }
            if (line.band() != null)
            {
                json.writeStringField("band", line.band());
            }
            json.writeStringField("price_from", line.priceFrom());
            json.writeStringField("price_entry", line.priceEntry());
            json.writeStringField("price_scope", line.priceScope());
            json.writeFieldName("quantity");
            if (line.quantity() == null)
            {
                json.writeNull();
            }
            else
            {
                json.writeNumber(line.quantity());
            }
            json.writeStringField("unit_price_per_million", line.unitPricePerMillion());
            json.writeStringField("service_tier_multiplier", line.serviceTierMultiplier());
            if (line.isUsage())
            {
                json.writeStringField("window_multiplier", line.windowMultiplier());
            }
            json.writeStringField("discount_percent", line.discountPercent());
            json.writeStringField("amount", line.amount().toPlainString());
            if (includeCost && line.cost() != null)
            {
                json.writeStringField("cost", line.cost().toPlainString());
                json.writeStringField("margin", line.margin().toPlainString());
            }
            if (line.grant() != null)
            {
                json.writeStringField("grant", line.grant());
            }
            if (line.adjustmentFor() != null)
            {
                json.writeStringField("adjustment_for", line.adjustmentFor());
            }
            json.writeEndObject();
        }
        json.writeEndArray();
        json.writeStringField("subtotal", invoice.subtotal().toPlainString());
        json.writeStringField("adjustments", invoice.adjustments().toPlainString());
        json.writeStringField("total", invoice.total().toPlainString());
        json.writeArrayFieldStart("warnings");
        for (final String warning : invoice.warnings())
        {
            json.writeString(warning);
        }
        json.writeEndArray();
        if (includeBasis)
        {
            writeBasis(json, invoice.basis());
        }
        json.writeEndObject();
    }

    /**
     * Basis rows: {@code [hour start, model, service tier, context, requests, input, cache_read, cache_write,
     * cache_write_1h, output, reasoning, saturated, variant]}, compact because a month holds up to 744 hours per model.
     * {@code context} is {@code standard}, {@code long} (tier 1) or {@code tier N}; {@code variant} is the bucket's
     * {@link io.tokenmeter.core.event.RateVariant} (context tier, mode, window); rows written before it existed lack it
     * and read as their context says.
     */
    private static void writeBasis(final JsonGenerator json, final Map<String, List<TenantBucket>> basis) throws IOException
    {
        json.writeObjectFieldStart("basis");
        for (final Map.Entry<String, List<TenantBucket>> part : basis.entrySet())
        {
            json.writeArrayFieldStart(part.getKey());
            for (final TenantBucket b : part.getValue())
            {
                json.writeStartArray();
                json.writeString(Instant.ofEpochSecond(b.hour() * 3600).toString());
                json.writeString(b.model());
                json.writeString(ServiceTier.fromCode(b.tierCode()).jsonName());
                json.writeString(PriceVersion.NO_RULES.contextLabel(b.variant()));
                for (final long counter : b.counters())
                {
                    json.writeNumber(counter);
                }
                json.writeNumber(b.variant());
                json.writeEndArray();
            }
            json.writeEndArray();
        }
        json.writeEndObject();
    }

    /** Reads an invoice written by {@link #toBytes}. */
    public static Invoice read(final byte[] bytes) throws IOException
    {
        final JsonNode root = MAPPER.readTree(bytes);
        final List<InvoiceLine> lines = new ArrayList<>();
        for (final JsonNode l : root.path("lines"))
        {
            final String kind = text(l, "kind") == null ? InvoiceLine.USAGE : text(l, "kind");
            final boolean usage = InvoiceLine.USAGE.equals(kind);
            // invoices stored before modes and windows existed were all standard mode, outside every window
            lines.add(new InvoiceLine(kind, text(l, "model"), text(l, "service_tier"), text(l, "token_class"), text(l, "context"),
                usage ? textOr(l, "mode", InvoiceLine.MODE_STANDARD) : null, usage ? textOr(l, "window", InvoiceLine.NO_WINDOW) : null,
                text(l, "price_from"), text(l, "price_entry"), text(l, "price_scope"),
                l.path("quantity").isNull() || l.path("quantity").isMissingNode() ? null : l.path("quantity").bigIntegerValue(),
                text(l, "unit_price_per_million"), text(l, "service_tier_multiplier"),
                usage ? textOr(l, "window_multiplier", "1") : null, text(l, "discount_percent"),
                new BigDecimal(text(l, "amount")), text(l, "adjustment_for"), text(l, "band"), decimal(l, "cost"),
                decimal(l, "margin"), text(l, "grant")));
        }
        final List<String> warnings = new ArrayList<>();
        root.path("warnings").forEach(w -> warnings.add(w.asText()));
        final Map<String, List<TenantBucket>> basis = new LinkedHashMap<>();
        root.path("basis").fields().forEachRemaining(part ->
        {
            final List<TenantBucket> buckets = new ArrayList<>();
            for (final JsonNode row : part.getValue())
            {
                final long[] counters = new long[HourlyAggregator.STRIDE];
                for (int i = 0; i < counters.length; i++)
                {
                    counters[i] = row.get(4 + i).asLong();
                }
                final int variant = row.size() > 4 + counters.length ? row.get(4 + counters.length).asInt()
                    : Rater.CONTEXT_LONG.equals(row.get(3).asText()) ? 1 : 0;
                buckets.add(new TenantBucket(Instant.parse(row.get(0).asText()).getEpochSecond() / 3600, row.get(1).asText(),
                    tierCode(row.get(2).asText()), variant, counters));
            }
            basis.put(part.getKey(), buckets);
        });
        final JsonNode book = root.path("price_book");
        return new Invoice(text(root, "tenant"), text(root, "period"), text(root, "currency"), text(root, "status"),
            text(root, "invoice_number"), text(root, "finalized_at"), text(root, "usage_through"),
            parseIndex(text(root, "log_index")),
            new Invoice.PriceBookRef(book.path("revision").asLong(), text(book, "sha256"), parseIndex(text(book, "log_index"))),
            lines, new BigDecimal(text(root, "subtotal")), new BigDecimal(text(root, "adjustments")),
            new BigDecimal(text(root, "total")), warnings, basis, root.hasNonNull("log_sha256") ? text(root, "log_sha256") : null);
    }

    private static BigDecimal decimal(final JsonNode node, final String field)
    {
        final String value = text(node, field);
        return value == null ? null : new BigDecimal(value);
    }

    private static String textOr(final JsonNode node, final String field, final String missing)
    {
        final String value = text(node, field);
        return value == null ? missing : value;
    }

    private static String text(final JsonNode node, final String field)
    {
        final JsonNode value = node.get(field);
        return value == null || value.isNull() ? null : value.asText();
    }

    private static int tierCode(final String name)
    {
        for (final ServiceTier tier : ServiceTier.values())
        {
            if (tier.jsonName().equals(name))
            {
                return tier.code();
            }
        }
        throw new IllegalArgumentException("unknown service tier '" + name + "'");
    }

    /** @return a log index as hex, or "none" for {@link EventLog#NO_INDEX}. */
    public static String indexText(final long index)
    {
        return index == EventLog.NO_INDEX ? "none" : Long.toHexString(index);
    }

    public static long parseIndex(final String text)
    {
        return text == null || text.equals("none") ? EventLog.NO_INDEX : Long.parseUnsignedLong(text, 16);
    }
}
