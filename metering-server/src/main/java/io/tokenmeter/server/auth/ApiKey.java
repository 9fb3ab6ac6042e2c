package io.tokenmeter.server.auth;

import org.agrona.DirectBuffer;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * One configured key: its name (shown in logs and errors), the SHA-256 of the secret (never the secret), its role and
 * the tenants it acts for. Immutable; shared by every event loop.
 */
public final class ApiKey
{
    /** Every tenant. */
    public static final String ALL_TENANTS = "*";

    /** The implicit key of a server that runs without a keys file: everything, for every tenant. */
    public static final ApiKey OPEN = new ApiKey("open-loopback", new byte[32], Role.ADMIN, List.of(ALL_TENANTS));

    private final String name;
    private final byte[] sha256;
    private final Role role;
    private final List<String> tenants;
    private final boolean allTenants;
    private final byte[][] tenantBytes;

    ApiKey(final String name, final byte[] sha256, final Role role, final List<String> tenants)
    {
        this.name = name;
        this.sha256 = sha256.clone();
        this.role = role;
        this.tenants = List.copyOf(tenants);
        this.allTenants = role == Role.ADMIN || tenants.contains(ALL_TENANTS);
        this.tenantBytes = new byte[tenants.size()][];
        for (int i = 0; i < tenants.size(); i++)
        {
            tenantBytes[i] = tenants.get(i).getBytes(StandardCharsets.US_ASCII);
        }
    }

    public String name()
    {
        return name;
    }

    public Role role()
    {
        return role;
    }

    /** @return the tenants as configured ({@code ["*"]} for every tenant). */
    public List<String> tenants()
    {
        return tenants;
    }

    public boolean allTenants()
    {
        return allTenants;
    }

    byte[] sha256()
    {
        return sha256;
    }

    /** @return true if this key may post events at all (the tenants are checked per event). */
    public boolean mayIngest()
    {
        return role == Role.INGEST || role == Role.ADMIN;
    }

    /** @return true if this key may read usage and invoices at all (the tenant is checked per request). */
    public boolean mayRead()
    {
        return role == Role.READ || role == Role.ADMIN;
    }

    /** @return true if this key may read what spans tenants: the finance listing, the price book, metrics. */
    public boolean mayReadAllTenants()
    {
        return mayRead() && allTenants;
    }

    public boolean isAdmin()
    {
        return role == Role.ADMIN;
    }

    /** @return true if the key acts for {@code tenant}. */
    public boolean actsFor(final String tenant)
    {
        return allTenants || tenants.contains(tenant);
    }

    /** @return true if the key acts for the tenant whose ASCII name is at {@code buffer[offset, offset + length)}. */
    public boolean actsFor(final DirectBuffer buffer, final int offset, final int length)
    {
        if (allTenants)
        {
            return true;
        }
        for (final byte[] tenant : tenantBytes)
        {
            if (tenant.length == length && equalBytes(tenant, buffer, offset))
            {
                return true;
            }
        }
        return false;
    }

    private static boolean equalBytes(final byte[] tenant, final DirectBuffer buffer, final int offset)
    {
        for (int i = 0; i < tenant.length; i++)
        {
            if (tenant[i] != buffer.getByte(offset + i))
            {
                return false;
            }
        }
        return true;
    }

    @Override
    public String toString()
    {
        return "key " + name + " (" + role.code() + ", tenants " + String.join(",", tenants) + ")";
    }
}
