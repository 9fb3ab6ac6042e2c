package io.tokenmeter.server.http;

import io.tokenmeter.server.auth.ApiKey;

/**
 * The one access policy (SPEC section 7): {@link #check(ApiKey, Action, String)} says whether a key may take an action,
 * for a tenant when the action concerns one. Routes ask it twice when a tenant is named in the body or the query: on
 * the request head with no tenant (the role alone, so a key that can never be allowed is refused before its body is
 * read), then with the tenant. A refusal names the key by its name, never by its secret or hash.
 */
final class AccessPolicy
{
    /** What a request does, with the wording of a refusal. */
    enum Action
    {
        /** Health: open to all. */
        NONE("", ""),
        POST_EVENTS("post events", "an ingest key for the event's tenant, or an admin key"),
        READ_USAGE("read usage", null),
        READ_INVOICE("read invoices", null),
        READ_CREDITS("read the credit grants", null),
        LIST_INVOICES("list every tenant's invoices", "a read key for every tenant (\"*\"), or an admin key"),
        READ_PRICES("read the price book", "a read key for every tenant (\"*\"), or an admin key"),
        READ_METRICS("read metrics", "a read key for every tenant (\"*\"), or an admin key (or set metrics-access: open)"),
        FINALIZE("finalize invoices", "an admin key"),
        CHANGE_PRICES("change prices", "an admin key"),
        GRANT_CREDITS("grant credits", "an admin key"),
        SET_BUDGET("set the budget", "an admin key"),
        READ_BUDGET("read the budget", null),
        RESERVE("reserve", "an ingest key for the reservation's tenant, or an admin key"),
        READ_RESERVATION("read the reservations", "an ingest key for the tenant, or an admin key"),
        READ_CLUSTER("read the cluster's owners", "an admin key");

        final String verb;
        /** What the action needs; null when it depends on the tenant. */
        private final String needs;

        Action(final String verb, final String needs)
        {
            this.verb = verb;
            this.needs = needs;
        }
    }

    private AccessPolicy()
    {
    }

    /**
     * @param tenant the tenant the action concerns, or null to check the key's role alone.
     * @return null when allowed, else the message of a 403: e.g. "key 'finance-eu' (role read, tenants acme) may not
     *     change prices; that needs an admin key".
     */
    static String check(final ApiKey key, final Action action, final String tenant)
    {
        final boolean allowed = switch (action)
        {
            case NONE -> true;
            case POST_EVENTS, RESERVE, READ_RESERVATION -> key.mayIngest() && (tenant == null || key.actsFor(tenant));
            // a gateway reads the budget it reserves against with its ingest key; finance with a read key
            case READ_BUDGET -> (key.mayRead() || key.mayIngest()) && (tenant == null || key.actsFor(tenant));
            case READ_USAGE, READ_INVOICE, READ_CREDITS -> key.mayRead() && (tenant == null || key.actsFor(tenant));
            case LIST_INVOICES, READ_PRICES, READ_METRICS -> key.mayReadAllTenants();
            case FINALIZE, CHANGE_PRICES, GRANT_CREDITS, SET_BUDGET, READ_CLUSTER -> key.isAdmin();
        };
        if (allowed)
        {
            return null;
        }
        final String what = tenant == null ? action.verb : action.verb + (action == Action.POST_EVENTS
            || action == Action.GRANT_CREDITS || action == Action.RESERVE ? " for" : " of")
            + " tenant " + tenant;
        return forbidden(key, what, needs(action, tenant));
    }

    private static String needs(final Action action, final String tenant)
    {
        if (action.needs != null)
        {
            return action.needs;
        }
        if (action == Action.READ_BUDGET)
        {
            return tenant == null ? "a read or ingest key (or an admin key)"
                : "a read or ingest key for tenant " + tenant + " (or \"*\"), or an admin key";
        }
        return tenant == null ? "a read key (or an admin key)"
            : "a read key for tenant " + tenant + " (or \"*\"), or an admin key";
    }

    /** @return the 403 message for a key that may not do {@code what}. */
    static String forbidden(final ApiKey key, final String what, final String needs)
    {
        return "key '" + key.name() + "' (role " + key.role().code() + ", tenants " + String.join(",", key.tenants())
            + ") may not " + what + "; that needs " + needs;
    }

    /** @return the 403 message for ingest events of tenants the key does not act for (up to five are named). */
    static String forbiddenTenants(final ApiKey key, final String tenants)
    {
        return forbidden(key, "post events for tenant " + tenants, Action.POST_EVENTS.needs)
            + "; nothing in this request was accepted";
    }
}
