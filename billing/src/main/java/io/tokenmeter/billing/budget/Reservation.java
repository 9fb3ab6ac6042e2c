package io.tokenmeter.billing.budget;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tokenmeter.core.event.EventLink;
import io.tokenmeter.core.event.StagedEventEncoder;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * A reservation as asked for ({@code reserve}: the most a request may use, and for how long) or its release, recorded in
 * the tenant's log as canonical JSON. Two reserve requests with the same id are the same reservation only when every
 * term is equal ({@link #sameTerms}).
 */
public record Reservation(Op op, String id, String tenant, String model, String serviceTier, long maxInputTokens,
    long maxOutputTokens, boolean thinking, long ttlMs)
{
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What a reservation record asks. */
    public enum Op
    {
        RESERVE, RELEASE
    }

    /** @return a release of the tenant's reservation {@code id}. */
    public static Reservation release(final String tenant, final String id)
    {
        return new Reservation(Op.RELEASE, id, tenant, null, null, 0, 0, false, 0);
    }

    /** @return the tenant-scoped hash of the id (hi, lo), as events that settle it carry it in the log. */
    public long[] idHash()
    {
        return StagedEventEncoder.scopedHash(tenant.getBytes(StandardCharsets.UTF_8), EventLink.RESERVATION_SEPARATOR,
            id.getBytes(StandardCharsets.UTF_8));
    }

    /** @return whether {@code other} asks for the same hold (a retry), not other terms under the same id. */
    public boolean sameTerms(final Reservation other)
    {
        return id.equals(other.id) && model.equals(other.model) && serviceTier.equals(other.serviceTier)
            && maxInputTokens == other.maxInputTokens && maxOutputTokens == other.maxOutputTokens
            && thinking == other.thinking && ttlMs == other.ttlMs;
    }

    public byte[] toPayload()
    {
        final ObjectNode node = JSON.createObjectNode();
        node.put("op", op == Op.RESERVE ? "reserve" : "release");
        node.put("id", id);
        node.put("tenant", tenant);
        if (op == Op.RESERVE)
        {
            node.put("model", model);
            node.put("service_tier", serviceTier);
            node.put("max_input_tokens", maxInputTokens);
            node.put("max_output_tokens", maxOutputTokens);
            node.put("thinking", thinking);
            node.put("ttl_ms", ttlMs);
        }
        try
        {
            return JSON.writeValueAsBytes(node);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    public static Reservation fromPayload(final byte[] payload)
    {
        try
        {
            final JsonNode node = JSON.readTree(payload);
            if ("release".equals(node.get("op").textValue()))
            {
                return release(node.get("tenant").textValue(), node.get("id").textValue());
            }
            return new Reservation(Op.RESERVE, node.get("id").textValue(), node.get("tenant").textValue(),
                node.get("model").textValue(), node.get("service_tier").textValue(), node.get("max_input_tokens").longValue(),
                node.get("max_output_tokens").longValue(), node.get("thinking").booleanValue(), node.get("ttl_ms").longValue());
        }
        catch (final IOException | RuntimeException ex)
        {
            throw new IllegalStateException("a reservation record in the log cannot be read: " + ex.getMessage(), ex);
        }
    }

    /** @return the tenant a budget or reservation payload belongs to (repartition sends it to that tenant's partition). */
    public static String tenantOf(final byte[] payload)
    {
        try
        {
            return JSON.readTree(payload).get("tenant").textValue();
        }
        catch (final IOException | RuntimeException ex)
        {
            throw new IllegalStateException("a budget or reservation record in the log names no tenant: " + ex.getMessage(), ex);
        }
    }
}
