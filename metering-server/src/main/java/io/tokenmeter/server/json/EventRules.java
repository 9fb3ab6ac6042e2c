package io.tokenmeter.server.json;

import io.tokenmeter.core.event.StagedEvent;
import io.tokenmeter.core.event.TenantName;
import io.tokenmeter.core.event.TokenClass;

/**
 * The one home of the rules an event's fields must meet (SPEC sections 1 and 2), with the words of their problems:
 * tenant and model names, the timestamp's range and the token counts. Every ingest format checks its fields here, so
 * {@code /v1/events}, CloudEvents and OTLP spans refuse the same values in the same words. Each check returns null
 * when the value is valid (and writes a name's bytes for staging), else the problem. Stateless and allocation-free.
 */
public final class EventRules
{
    public static final String TENANT_LENGTH = "must be 1 to " + StagedEvent.MAX_TENANT_LENGTH + " characters long";
    public static final String TENANT_CHARACTERS = "may contain only letters, digits and . _ : -";
    public static final String MODEL_LENGTH = "must be 1 to " + StagedEvent.MAX_MODEL_LENGTH + " characters long";
    public static final String MODEL_CHARACTERS = "must be printable ASCII without spaces";
    public static final String TOKENS_NEGATIVE = "must be a non-negative integer";
    public static final String TOKENS_TOO_LARGE = "must be at most " + TokenClass.MAX_TOKENS_PER_EVENT;
    public static final String BEFORE_1970 = "must not be before 1970-01-01T00:00:00Z";

    private EventRules()
    {
    }

    /**
     * Checks a tenant name ({@link TenantName#RULE}) and writes its bytes to {@code out}.
     *
     * @return null when valid, else the problem.
     */
    public static String tenant(final char[] chars, final int offset, final int length, final byte[] out)
    {
        if (length < 1 || length > StagedEvent.MAX_TENANT_LENGTH)
        {
            return TENANT_LENGTH;
        }
        for (int i = 0; i < length; i++)
        {
            final char c = chars[offset + i];
            if (!TenantName.isAllowed(c))
            {
                return TENANT_CHARACTERS;
            }
            out[i] = (byte)c;
        }
        return null;
    }

    /** {@link #tenant(char[], int, int, byte[])} for a string, through the caller's {@code scratch} of 64 chars or more. */
    public static String tenant(final String text, final char[] scratch, final byte[] out)
    {
        if (text.isEmpty() || text.length() > StagedEvent.MAX_TENANT_LENGTH)
        {
            return TENANT_LENGTH;
        }
        text.getChars(0, text.length(), scratch, 0);
        return tenant(scratch, 0, text.length(), out);
    }

    /**
     * Checks a model name (printable ASCII without spaces, 1 to 128) and writes its bytes to {@code out}.
     *
     * @return null when valid, else the problem.
     */
    public static String model(final char[] chars, final int offset, final int length, final byte[] out)
    {
        if (length < 1 || length > StagedEvent.MAX_MODEL_LENGTH)
        {
            return MODEL_LENGTH;
        }
        for (int i = 0; i < length; i++)
        {
            final char c = chars[offset + i];
            if (c < 0x21 || c > 0x7E)
            {
                return MODEL_CHARACTERS;
            }
            out[i] = (byte)c;
        }
        return null;
    }

    /** {@link #model(char[], int, int, byte[])} for a string, through the caller's {@code scratch} of 128 chars or more. */
    public static String model(final String text, final char[] scratch, final byte[] out)
    {
        if (text.isEmpty() || text.length() > StagedEvent.MAX_MODEL_LENGTH)
        {
            return MODEL_LENGTH;
        }
        text.getChars(0, text.length(), scratch, 0);
        return model(scratch, 0, text.length(), out);
    }

    /**
     * Checks an event time: not before 1970, at most {@code maxFutureMs} after the receipt.
     *
     * @param unitHint what else to check when the time is in the future (e.g. "that the value is in milliseconds"), or
     *     null.
     * @return null when valid, else the problem.
     */
    public static String timestamp(final long millis, final long receiptMs, final long maxFutureMs, final String unitHint)
    {
        if (millis < 0)
        {
            return BEFORE_1970;
        }
        if (millis > receiptMs + maxFutureMs)
        {
            return "is more than " + (maxFutureMs / 1000) + " seconds in the future; check the sender's clock"
                + (unitHint == null ? "" : " and " + unitHint);
        }
        return null;
    }

    /** @return null when {@code count} is a token count one event may carry (0 to 10^12), else the problem. */
    public static String tokens(final long count)
    {
        if (count < 0)
        {
            return TOKENS_NEGATIVE;
        }
        return count > TokenClass.MAX_TOKENS_PER_EVENT ? TOKENS_TOO_LARGE : null;
    }
}
