package io.tokenmeter.server.auth;

import java.util.Locale;

/** What a key may do: post events, read usage and invoices, or everything. See docs/access.md. */
public enum Role
{
    /** Posts events for its tenants. */
    INGEST,
    /** Reads usage and invoices of its tenants; with every tenant ({@code *}) also the finance listing and the price book. */
    READ,
    /** Everything, for every tenant: also changes prices and finalizes invoices. */
    ADMIN;

    /** @return the name as written in the keys file. */
    public String code()
    {
        return name().toLowerCase(Locale.ROOT);
    }

    /** @return the role written as {@code code}, or null. */
    public static Role of(final String code)
    {
        for (final Role role : values())
        {
            if (role.code().equals(code))
            {
                return role;
            }
        }
        return null;
    }
}
