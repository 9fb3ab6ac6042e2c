package io.tokenmeter.server.alert;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.GeneralSecurityException;
import java.time.Instant;
import java.util.HexFormat;

/**
 * The webhook body of an {@link Alert} and its signature (docs/api.md, "Budget alert webhooks"):
 *
 * <pre>
 * {"id":"acme/2026-12/80","tenant":"acme","threshold_percent":80,"spent":"400.20","limit":"500.00",
 *  "currency":"USD","period":"month","period_start":"2026-12-01T00:00:00Z","period_end":"2027-01-01T00:00:00Z",
 *  "crossed_at":"2026-12-17T09:12:44.051Z"}
 *
 * Tokenmeter-Signature: sha256=HEX     HEX = lowercase hex of HMAC-SHA256(key = secret as UTF-8, data = body bytes)
 * </pre>
 *
 * The body is written once per alert and its bytes are the ones signed and sent on every attempt. Stateless.
 */
public final class AlertBody
{
    /** The header that carries the signature. */
    public static final String SIGNATURE_HEADER = "Tokenmeter-Signature";

    private static final JsonFactory JSON = new JsonFactory();
    private static final String HMAC = "HmacSHA256";

    private AlertBody()
    {
    }

    /** @return the UTF-8 JSON body posted for {@code alert}, fields in the documented order. */
    public static byte[] of(final Alert alert)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream(320);
        try (JsonGenerator g = JSON.createGenerator(out))
        {
            g.writeStartObject();
            writeFields(g, alert);
            g.writeEndObject();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("writing an alert body to memory failed", ex);
        }
        return out.toByteArray();
    }

    /** Writes the body's fields (not the braces) to {@code g}, so that a listing can show an alert as it was posted. */
    public static void writeFields(final JsonGenerator g, final Alert alert) throws IOException
    {
        g.writeStringField("id", alert.id());
        g.writeStringField("tenant", alert.tenant());
        g.writeNumberField("threshold_percent", alert.thresholdPercent());
        g.writeStringField("spent", alert.spent());
        g.writeStringField("limit", alert.limit());
        g.writeStringField("currency", alert.currency());
        g.writeStringField("period", alert.period());
        g.writeStringField("period_start", alert.periodStart());
        g.writeStringField("period_end", alert.periodEnd());
        g.writeStringField("crossed_at", Instant.ofEpochMilli(alert.crossedAtMs()).toString());
    }

    /** @return {@code sha256=} and the lowercase hex HMAC-SHA256 of {@code body} under {@code key}. */
    public static String signature(final byte[] body, final byte[] key)
    {
        try
        {
            final Mac mac = Mac.getInstance(HMAC);
            mac.init(new SecretKeySpec(key, HMAC));
            return "sha256=" + HexFormat.of().formatHex(mac.doFinal(body));
        }
        catch (final GeneralSecurityException ex)
        {
            throw new IllegalStateException("HMAC-SHA256 is not available in this JVM", ex);
        }
    }
}
