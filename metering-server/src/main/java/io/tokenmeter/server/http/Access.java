package io.tokenmeter.server.http;

import io.tokenmeter.server.auth.ApiKey;

/** The wording of access refusals. A refusal names the key by its name, never by its secret or hash. */
final class Access
{
    static final String INGEST = "an ingest key for the event's tenant, or an admin key";
    static final String READ_ALL = "a read key for every tenant (\"*\"), or an admin key";
    static final String ADMIN = "an admin key";

    private Access()
    {
    }

    static String readTenant(final String tenant)
    {
        return "a read key for tenant " + tenant + " (or \"*\"), or an admin key";
    }

    /** @return e.g. "key 'finance-eu' (role read, tenants acme) may not change prices; that needs an admin key". */
    static String forbidden(final ApiKey key, final String action, final String needs)
    {
        return "key '" + key.name() + "' (role " + key.role().code() + ", tenants " + String.join(",", key.tenants())
            + ") may not " + action + "; that needs " + needs;
    }
}
