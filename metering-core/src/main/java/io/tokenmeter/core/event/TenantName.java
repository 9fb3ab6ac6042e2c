package io.tokenmeter.core.event;

import java.util.regex.Pattern;

/** The one rule for a tenant name (SPEC section 1): {@code [A-Za-z0-9._:-]{1,64}}. Stateless; any thread. */
public final class TenantName
{
    /** The rule as written in error messages. */
    public static final String RULE = "[A-Za-z0-9._:-]{1,64}";
    public static final int MAX_LENGTH = StagedEvent.MAX_TENANT_LENGTH;
    private static final Pattern PATTERN = Pattern.compile(RULE);

    private TenantName()
    {
    }

    /** @return true when {@code name} is a tenant name. */
    public static boolean isValid(final String name)
    {
        return name != null && PATTERN.matcher(name).matches();
    }

    /** @return true when the byte is allowed in a tenant name (the event parser checks names byte by byte). */
    public static boolean isAllowed(final int b)
    {
        return b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == ':'
            || b == '-';
    }
}
