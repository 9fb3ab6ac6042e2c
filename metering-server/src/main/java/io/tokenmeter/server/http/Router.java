package io.tokenmeter.server.http;

import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.QueryStringDecoder;

import java.util.ArrayList;
import java.util.List;

/**
 * The route table: {@code {path template, method, route}}. Matched on the request head, before any body is read, so
 * that 404 and 405 are answered without reading it. A template's {@code {name}} segment matches one non-empty path
 * segment, percent-decoded once.
 *
 * <pre>
 *   POST /v1/events                                  INGEST
 *   POST /api/v1/events                              CLOUD_EVENTS
 *   POST /v1/traces                                  TRACES (OTLP/HTTP)
 *   GET  /v1/usage                                   USAGE
 *   GET  /v1/invoices                                INVOICE_LISTING
 *   GET  /v1/invoices/{tenant}/{period}              INVOICE
 *   POST /v1/invoices/{tenant}/{period}/finalize     FINALIZE
 *   GET  /v1/invoices/{tenant}/{period}/lines/{n}/events   LINE_EVENTS (NDJSON, streamed)
 *   GET  /v1/margins                                 MARGINS
 *   GET  /v1/prices   PUT /v1/prices                 PRICES, PRICES_CHANGE
 *   GET  /v1/prices/revisions                        PRICE_REVISIONS
 *   GET  /v1/prices/revisions/{revision}             PRICE_REVISION
 *   GET  /v1/tenants/{tenant}/credits                CREDITS
 *   POST /v1/tenants/{tenant}/credits                CREDIT_GRANT
 *   GET  /v1/budgets/{tenant}  PUT /v1/budgets/{tenant}   BUDGET, BUDGET_SET
 *   GET  /v1/budgets/{tenant}/alerts                 BUDGET_ALERTS
 *   POST /v1/reservations                            RESERVE
 *   GET  /v1/reservations/{tenant}/{id}  DELETE ...  RESERVATION, RESERVATION_RELEASE
 *   GET  /health/live  GET /health/ready  GET /metrics
 *   GET  /v1/cluster                                 CLUSTER (this node, each partition's owner)
 *   GET  /console  GET /console/**                   CONSOLE (the web console's static files)
 * </pre>
 *
 * A template's last segment {@code **} matches the rest of the path, however many segments, none included.
 */
final class Router
{
    /** Each route, with the action the access policy checks on the head. */
    enum Route
    {
        INGEST(AccessPolicy.Action.POST_EVENTS, true),
        CLOUD_EVENTS(AccessPolicy.Action.POST_EVENTS, true),
        TRACES(AccessPolicy.Action.POST_EVENTS, true),
        USAGE(AccessPolicy.Action.READ_USAGE, false),
        INVOICE_LISTING(AccessPolicy.Action.LIST_INVOICES, false),
        INVOICE(AccessPolicy.Action.READ_INVOICE, false),
        FINALIZE(AccessPolicy.Action.FINALIZE, false),
        LINE_EVENTS(AccessPolicy.Action.READ_INVOICE, false),
        MARGINS(AccessPolicy.Action.LIST_INVOICES, false),
        PRICES(AccessPolicy.Action.READ_PRICES, false),
        PRICES_CHANGE(AccessPolicy.Action.CHANGE_PRICES, true),
        PRICE_REVISIONS(AccessPolicy.Action.READ_PRICES, false),
        PRICE_REVISION(AccessPolicy.Action.READ_PRICES, false),
        CREDITS(AccessPolicy.Action.READ_CREDITS, false),
        CREDIT_GRANT(AccessPolicy.Action.GRANT_CREDITS, true),
        BUDGET(AccessPolicy.Action.READ_BUDGET, false),
        BUDGET_SET(AccessPolicy.Action.SET_BUDGET, true),
        BUDGET_ALERTS(AccessPolicy.Action.READ_BUDGET, false),
        RESERVE(AccessPolicy.Action.RESERVE, true),
        RESERVATION(AccessPolicy.Action.READ_RESERVATION, false),
        RESERVATION_RELEASE(AccessPolicy.Action.RESERVE, false),
        LIVE(AccessPolicy.Action.NONE, false),
        READY(AccessPolicy.Action.NONE, false),
        METRICS(AccessPolicy.Action.READ_METRICS, false),
        CLUSTER(AccessPolicy.Action.READ_CLUSTER, false),
        /** Static files: no key, as they hold no data; the data they show comes from the routes above, with the user's key. */
        CONSOLE(AccessPolicy.Action.NONE, false);

        final AccessPolicy.Action action;
        /** Whether the route reads a request body; the others answer 413 to a body beyond the discard allowance. */
        final boolean takesBody;

        Route(final AccessPolicy.Action action, final boolean takesBody)
        {
            this.action = action;
            this.takesBody = takesBody;
        }

        boolean isIngest()
        {
            return this == INGEST || this == CLOUD_EVENTS || this == TRACES;
        }
    }

    /**
     * The outcome of a match: a route with its path parameters, or no route for the path (404), or a route for the
     * path but not the method (405, with {@code allowed}).
     */
    record Match(Route route, List<String> parameters, String allowed)
    {
        boolean found()
        {
            return route != null;
        }

        boolean pathKnown()
        {
            return route != null || allowed != null;
        }
    }

    /** The routes as they are listed in a 404's message. */
    static final String LISTING = "POST /v1/events, POST /api/v1/events (CloudEvents), POST /v1/traces (OTLP), GET /v1/usage, "
        + "GET /v1/invoices, "
        + "GET /v1/invoices/{tenant}/{period}, POST /v1/invoices/{tenant}/{period}/finalize, "
        + "GET /v1/invoices/{tenant}/{period}/lines/{n}/events, GET|PUT /v1/prices, "
        + "GET /v1/prices/revisions, GET /v1/prices/revisions/{revision}, "
        + "GET|POST /v1/tenants/{tenant}/credits, GET|PUT /v1/budgets/{tenant}, GET /v1/budgets/{tenant}/alerts, "
        + "POST /v1/reservations, GET|DELETE /v1/reservations/{tenant}/{id}, "
        + "GET /health/live, GET /health/ready, GET /metrics, GET /v1/cluster, GET /console/ (the web console)";

    private record Entry(String[] segments, HttpMethod method, Route route)
    {
    }

    private static final Match NOT_FOUND = new Match(null, List.of(), null);
    /** The last segment of a template that matches the rest of the path. */
    private static final String REST = "**";

    private final List<Entry> entries = new ArrayList<>();

    Router()
    {
        add("/v1/events", HttpMethod.POST, Route.INGEST);
        add("/api/v1/events", HttpMethod.POST, Route.CLOUD_EVENTS);
        add("/v1/traces", HttpMethod.POST, Route.TRACES);
        add("/v1/usage", HttpMethod.GET, Route.USAGE);
        add("/v1/invoices", HttpMethod.GET, Route.INVOICE_LISTING);
        add("/v1/invoices/{tenant}/{period}", HttpMethod.GET, Route.INVOICE);
        add("/v1/invoices/{tenant}/{period}/finalize", HttpMethod.POST, Route.FINALIZE);
        add("/v1/invoices/{tenant}/{period}/lines/{n}/events", HttpMethod.GET, Route.LINE_EVENTS);
        add("/v1/margins", HttpMethod.GET, Route.MARGINS);
        add("/v1/prices", HttpMethod.GET, Route.PRICES);
        add("/v1/prices", HttpMethod.PUT, Route.PRICES_CHANGE);
        add("/v1/prices/revisions", HttpMethod.GET, Route.PRICE_REVISIONS);
        add("/v1/prices/revisions/{revision}", HttpMethod.GET, Route.PRICE_REVISION);
        add("/v1/tenants/{tenant}/credits", HttpMethod.GET, Route.CREDITS);
        add("/v1/tenants/{tenant}/credits", HttpMethod.POST, Route.CREDIT_GRANT);
        add("/v1/budgets/{tenant}", HttpMethod.GET, Route.BUDGET);
        add("/v1/budgets/{tenant}", HttpMethod.PUT, Route.BUDGET_SET);
        add("/v1/budgets/{tenant}/alerts", HttpMethod.GET, Route.BUDGET_ALERTS);
        add("/v1/reservations", HttpMethod.POST, Route.RESERVE);
        add("/v1/reservations/{tenant}/{id}", HttpMethod.GET, Route.RESERVATION);
        add("/v1/reservations/{tenant}/{id}", HttpMethod.DELETE, Route.RESERVATION_RELEASE);
        add("/health/live", HttpMethod.GET, Route.LIVE);
        add("/health/ready", HttpMethod.GET, Route.READY);
        add("/metrics", HttpMethod.GET, Route.METRICS);
        add("/v1/cluster", HttpMethod.GET, Route.CLUSTER);
        add("/console/**", HttpMethod.GET, Route.CONSOLE);
        // HEAD as a browser or a link checker sends it: the codec answers it with the GET's head and no body
        add("/console/**", HttpMethod.HEAD, Route.CONSOLE);
    }

    private void add(final String template, final HttpMethod method, final Route route)
    {
        entries.add(new Entry(template.substring(1).split("/", -1), method, route));
    }

    /**
     * @param uri the request target as sent: path and query, still percent-encoded.
     * @return the route, 404 or 405. {@code HEAD} is not served: it is a 405 like any other method a route lacks.
     */
    Match match(final String uri, final HttpMethod method)
    {
        final String path = rawPath(uri);
        if (path.isEmpty() || path.charAt(0) != '/')
        {
            return NOT_FOUND;
        }
        final String[] segments = path.substring(1).split("/", -1);
        StringBuilder allowed = null;
        for (final Entry entry : entries)
        {
            final List<String> parameters = matchSegments(entry.segments, segments);
            if (parameters == null)
            {
                continue;
            }
            if (entry.method.equals(method))
            {
                return new Match(entry.route, parameters, null);
            }
            if (allowed == null)
            {
                allowed = new StringBuilder(entry.method.name());
            }
            else
            {
                allowed.append(", ").append(entry.method.name());
            }
        }
        return allowed == null ? NOT_FOUND : new Match(null, List.of(), allowed.toString());
    }

    /** @return the decoded parameters, or null when the path does not fit the template. */
    private static List<String> matchSegments(final String[] template, final String[] segments)
    {
        final boolean rest = template[template.length - 1].equals(REST);
        if (rest ? segments.length < template.length - 1 : template.length != segments.length)
        {
            return null;
        }
        List<String> parameters = List.of();
        for (int i = 0; i < (rest ? template.length - 1 : template.length); i++)
        {
            final String t = template[i];
            if (t.startsWith("{"))
            {
                if (segments[i].isEmpty())
                {
                    return null;
                }
                if (parameters.isEmpty())
                {
                    parameters = new ArrayList<>(2);
                }
                parameters.add(decode(segments[i]));
            }
            else if (!t.equals(segments[i]))
            {
                return null;
            }
        }
        return parameters;
    }

    private static String decode(final String segment)
    {
        try
        {
            // a path segment: '+' is a plus sign, not a space
            return QueryStringDecoder.decodeComponent(segment.replace("+", "%2B"));
        }
        catch (final IllegalArgumentException ex)
        {
            return segment;
        }
    }

    /**
     * @return whether the target is a path that needs no key whatever the method: health, the console's static files,
     *     and metrics when open.
     */
    static boolean isOpenPath(final String uri, final boolean metricsOpen)
    {
        final String path = rawPath(uri);
        return path.equals("/health/live") || path.equals("/health/ready") || metricsOpen && path.equals("/metrics")
            || isConsolePath(path);
    }

    /** @return whether a raw path is the console's: {@code /console} or anything below {@code /console/}. */
    static boolean isConsolePath(final String path)
    {
        return path.equals("/console") || path.startsWith("/console/");
    }

    /** @return the path of a request target, without query or fragment, as sent (an absolute-form target is reduced). */
    static String rawPath(final String uri)
    {
        String path = uri;
        final int scheme = path.indexOf("://");
        if (scheme > 0 && scheme < path.indexOf('/'))
        {
            final int slash = path.indexOf('/', scheme + 3);
            path = slash < 0 ? "/" : path.substring(slash);
        }
        int end = path.length();
        final int query = path.indexOf('?');
        if (query >= 0)
        {
            end = query;
        }
        final int fragment = path.indexOf('#');
        if (fragment >= 0 && fragment < end)
        {
            end = fragment;
        }
        return path.substring(0, end);
    }
}
