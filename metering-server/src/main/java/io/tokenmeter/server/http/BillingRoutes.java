package io.tokenmeter.server.http;

import io.tokenmeter.core.event.TenantName;
import io.tokenmeter.core.partition.Partition;
import com.fasterxml.jackson.core.JsonGenerator;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.tokenmeter.billing.invoice.BillingService;
import io.tokenmeter.billing.invoice.InvoiceCsv;
import io.tokenmeter.billing.invoice.InvoiceJson;
import io.tokenmeter.billing.invoice.Periods;
import io.tokenmeter.billing.invoice.TenantScope;
import io.tokenmeter.billing.price.PartitionedBook;
import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.billing.price.PriceBookException;
import io.tokenmeter.billing.price.PriceBookLoader;
import io.tokenmeter.billing.price.PriceBookRevisions;
import io.tokenmeter.core.log.EventLog;
import io.netty.buffer.ByteBufUtil;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.YearMonth;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Function;

/**
 * The billing routes (SPEC sections 4 and 6): invoices, finalization, the finance listing and the price book. The
 * work runs on the billing thread; answers are built there from byte arrays and written by the connection's event
 * loop.
 */
final class BillingRoutes
{
    private final ApiContext api;

    BillingRoutes(final ApiContext api)
    {
        this.api = api;
    }

    /**
     * Answers a billing route the router matched; the key's role was checked on the head. Checks the tenant's access,
     * then whether the server is ready, then answers.
     *
     * @return the answer's future; routes that answer at once return a completed one.
     */
    CompletableFuture<FullHttpResponse> handle(final ApiRequest request)
    {
        final FullHttpRequest http = request.http;
        final QueryStringDecoder uri = new QueryStringDecoder(http.uri());
        if (!UsageRoute.decodable(uri))
        {
            return done(error(HttpResponseStatus.BAD_REQUEST, "invalid_query",
                "the query holds a malformed percent-escape: encode '%' as %25"));
        }
        return switch (request.route)
        {
            case PRICES -> ready(billing -> done(json(HttpResponseStatus.OK, g -> writePrices(g, billing.prices()))));
            case PRICES_CHANGE -> ready(billing -> putPrices(billing, http));
            case PRICE_REVISIONS -> ready(billing -> revisions(billing, uri));
            case PRICE_REVISION -> ready(billing -> revision(billing, uri, request.parameters.get(0)));
            case INVOICE_LISTING, MARGINS -> acrossPartitions(request, uri);
            case INVOICE, FINALIZE -> invoiceRoute(request, uri);
            default -> throw new IllegalArgumentException("not a billing route: " + request.route);
        };
    }

    /**
     * The finance listing and margins: every partition's tenants, from this node's partitions and, on a cluster node
     * that does not serve them all, from their owners ({@link AcrossPartitions}).
     */
    private CompletableFuture<FullHttpResponse> acrossPartitions(final ApiRequest request, final QueryStringDecoder uri)
    {
        return request.route == Router.Route.INVOICE_LISTING
            ? AcrossPartitions.answer(api, request, "invoices", scope -> ready(billing -> listing(billing, uri, scope)))
            : AcrossPartitions.answer(api, request, "margins", scope -> ready(billing -> margins(billing, uri, scope)));
    }

    /** The routes of one tenant's invoice: the path's tenant and period, decoded once by the router. */
    private CompletableFuture<FullHttpResponse> invoiceRoute(final ApiRequest request, final QueryStringDecoder uri)
    {
        final String tenant = request.parameters.get(0);
        final String periodText = request.parameters.get(1);
        final YearMonth period = Periods.parse(periodText);
        if (!TenantName.isValid(tenant))
        {
            return done(error(HttpResponseStatus.BAD_REQUEST, "invalid_request", "tenant must match " + TenantName.RULE));
        }
        if (period == null)
        {
            return done(error(HttpResponseStatus.BAD_REQUEST, "invalid_request", "period must be YYYY-MM, e.g. 2026-10, not '"
                + periodText + "'"));
        }
        if (request.route == Router.Route.FINALIZE)
        {
            final CompletableFuture<FullHttpResponse> elsewhere = elsewhere(api, request, tenant);
            return elsewhere != null ? elsewhere : ready(billing -> finalizeInvoice(billing, tenant, period));
        }
        final String forbidden = AccessPolicy.check(request.key, AccessPolicy.Action.READ_INVOICE, tenant);
        if (forbidden != null)
        {
            api.metrics().onAuthForbidden();
            return done(error(HttpResponseStatus.FORBIDDEN, "forbidden", forbidden));
        }
        final CompletableFuture<FullHttpResponse> elsewhere = elsewhere(api, request, tenant);
        if (elsewhere != null)
        {
            return elsewhere;
        }
        // what the providers charge us is for finance (keys that read every tenant), not for the tenant's own keys
        final boolean costs = request.key.mayReadAllTenants();
        return ready(billing -> invoice(billing, request.http, uri, tenant, period, costs));
    }

    /** Answers 503 while the server is not ready, else the route. */
    private CompletableFuture<FullHttpResponse> ready(final Function<BillingService, CompletableFuture<FullHttpResponse>> route)
    {
        final List<String> notReady = api.notReadyReasons();
        final BillingService billing = api.billing();
        if (!notReady.isEmpty() || billing == null)
        {
            final FullHttpResponse response = error(HttpResponseStatus.SERVICE_UNAVAILABLE, "not_ready",
                "the server is not ready (" + String.join("; ", notReady) + "); retry shortly");
            response.headers().set(HttpHeaderNames.RETRY_AFTER, 1);
            return done(response);
        }
        return route.apply(billing);
    }

    private static CompletableFuture<FullHttpResponse> invoice(final BillingService billing, final FullHttpRequest request, final QueryStringDecoder uri,
        final String tenant, final YearMonth period, final boolean costs)
    {
        final Map<String, List<String>> params = uri.parameters();
        final String unknown = unknownParameter(params, Set.of("format", "basis"));
        if (unknown != null)
        {
            return done(error(HttpResponseStatus.BAD_REQUEST, "invalid_query", unknown + "; allowed: format=json|csv, basis=true"));
        }
        final String format = single(params, "format");
        final String accept = request.headers().get(HttpHeaderNames.ACCEPT, "");
        final boolean csv = "csv".equals(format) || format == null && accept.toLowerCase(Locale.ROOT).contains("text/csv");
        if (format != null && !format.equals("csv") && !format.equals("json"))
        {
            return done(error(HttpResponseStatus.BAD_REQUEST, "invalid_query", "format must be json or csv"));
        }
        final boolean basis = "true".equals(single(params, "basis"));
        return answer(billing.invoice(tenant, period), invoice -> csv
            ? response(HttpResponseStatus.OK, "text/csv; charset=utf-8", InvoiceCsv.render(invoice, costs).getBytes(StandardCharsets.UTF_8))
            : response(HttpResponseStatus.OK, "application/json", InvoiceJson.toBytes(invoice, basis, false, costs)));
    }

    private static CompletableFuture<FullHttpResponse> finalizeInvoice(final BillingService billing, final String tenant,
        final YearMonth period)
    {
        return answer(billing.finalizeInvoice(tenant, period), finalized -> response(
            finalized.created() ? HttpResponseStatus.CREATED : HttpResponseStatus.OK, "application/json",
            InvoiceJson.toBytes(finalized.invoice(), false, false)));
    }

    private static CompletableFuture<FullHttpResponse> listing(final BillingService billing, final QueryStringDecoder uri,
        final TenantScope scope)
    {
        final Map<String, List<String>> params = uri.parameters();
        final String unknown = unknownParameter(params, Set.of("period"));
        final YearMonth period = Periods.parse(single(params, "period"));
        if (unknown != null || period == null)
        {
            return done(error(HttpResponseStatus.BAD_REQUEST, "invalid_query",
                (unknown == null ? "" : unknown + "; ") + "period=YYYY-MM is required, e.g. /v1/invoices?period=2026-10"));
        }
        return answer(billing.list(period, scope), entries -> json(HttpResponseStatus.OK, g ->
        {
            g.writeStartObject();
            g.writeStringField("period", period.toString());
            g.writeArrayFieldStart("invoices");
            for (final BillingService.ListingEntry e : entries)
            {
                g.writeStartObject();
                g.writeStringField("tenant", e.tenant());
                g.writeStringField("status", e.status());
                if (e.invoiceNumber() != null)
                {
                    g.writeStringField("invoice_number", e.invoiceNumber());
                }
                g.writeStringField("currency", e.currency());
                g.writeStringField("total", e.total().toPlainString());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        }));
    }

    private static CompletableFuture<FullHttpResponse> margins(final BillingService billing, final QueryStringDecoder uri,
        final TenantScope scope)
    {
        final Map<String, List<String>> params = uri.parameters();
        final String unknown = unknownParameter(params, Set.of("period"));
        final YearMonth period = Periods.parse(single(params, "period"));
        if (unknown != null || period == null)
        {
            return done(error(HttpResponseStatus.BAD_REQUEST, "invalid_query",
                (unknown == null ? "" : unknown + "; ") + "period=YYYY-MM is required, e.g. /v1/margins?period=2026-10"));
        }
        final boolean costBook = billing.prices().book().hasCosts();
        return answer(billing.margins(period, scope), entries -> json(HttpResponseStatus.OK, g ->
        {
            g.writeStartObject();
            g.writeStringField("period", period.toString());
            g.writeBooleanField("cost_book", costBook);
            g.writeArrayFieldStart("margins");
            for (final BillingService.MarginEntry e : entries)
            {
                g.writeStartObject();
                g.writeStringField("tenant", e.tenant());
                g.writeStringField("model", e.model());
                g.writeStringField("currency", e.currency());
                g.writeStringField("amount", e.amount().toPlainString());
                g.writeStringField("cost", e.cost() == null ? null : e.cost().toPlainString());
                g.writeStringField("margin", e.margin() == null ? null : e.margin().toPlainString());
                g.writeStringField("uncosted_amount", e.uncosted().toPlainString());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        }));
    }

    private static CompletableFuture<FullHttpResponse> putPrices(final BillingService billing, final FullHttpRequest request)
    {
        final String contentType = request.headers().get(HttpHeaderNames.CONTENT_TYPE, "").toLowerCase(Locale.ROOT);
        final PriceBookLoader.Format format;
        if (contentType.startsWith("application/json"))
        {
            format = PriceBookLoader.Format.JSON;
        }
        else if (contentType.startsWith("application/yaml") || contentType.startsWith("application/x-yaml")
            || contentType.startsWith("text/yaml"))
        {
            format = PriceBookLoader.Format.YAML;
        }
        else
        {
            return done(error(HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                "send the price book as application/json or application/yaml"));
        }
        final PriceBook book;
        try
        {
            book = PriceBookLoader.parse(ByteBufUtil.getBytes(request.content()), format);
        }
        catch (final PriceBookException ex)
        {
            return done(json(HttpResponseStatus.BAD_REQUEST, g ->
            {
                g.writeStartObject();
                g.writeStringField("error", "invalid_price_book");
                g.writeStringField("message", ex.problems().size() + " problem" + (ex.problems().size() == 1 ? "" : "s")
                    + " in the price book; the book in force is unchanged");
                g.writeArrayFieldStart("details");
                for (final String problem : ex.problems())
                {
                    g.writeString(problem);
                }
                g.writeEndArray();
                g.writeEndObject();
            }));
        }
        return answer(billing.install(book), installed -> json(HttpResponseStatus.OK, g -> writePrices(g, installed)));
    }

    private static void writePrices(final JsonGenerator g, final PartitionedBook prices) throws IOException
    {
        g.writeStartObject();
        g.writeNumberField("revision", prices.revision());
        g.writeStringField("sha256", prices.book().sha256());
        g.writeStringField("log_index", InvoiceJson.indexText(prices.logIndexes()[0]));
        g.writeArrayFieldStart("log_indexes");
        for (final long index : prices.logIndexes())
        {
            g.writeString(InvoiceJson.indexText(index));
        }
        g.writeEndArray();
        if (!prices.lacking().isEmpty())
        {
            // a change that reached only some partitions: each still prices with its own book until the same is put again
            g.writeArrayFieldStart("partitions_lacking");
            for (final int p : prices.lacking())
            {
                g.writeNumber(p);
            }
            g.writeEndArray();
        }
        g.writeStringField("in_force_since", Instant.ofEpochMilli(prices.installedAtMs()).toString());
        g.writeFieldName("book");
        g.writeRawValue(prices.book().recordedJsonText());
        g.writeEndObject();
    }

    /** {@code GET /v1/prices/revisions}: every recorded revision, newest first, from the journals' histories. */
    private CompletableFuture<FullHttpResponse> revisions(final BillingService billing, final QueryStringDecoder uri)
    {
        final String unknown = unknownParameter(uri.parameters(), Set.of());
        if (unknown != null)
        {
            return done(error(HttpResponseStatus.BAD_REQUEST, "invalid_query", unknown + "; this route takes no parameters"));
        }
        final long inForce = billing.prices().revision();
        final List<PriceBookRevisions.Revision> revisions = api.priceRevisions().list();
        return done(json(HttpResponseStatus.OK, g ->
        {
            g.writeStartObject();
            g.writeNumberField("revision_in_force", inForce);
            g.writeNumberField("partitions", api.partitions().count());
            g.writeArrayFieldStart("revisions");
            for (final PriceBookRevisions.Revision r : revisions)
            {
                g.writeStartObject();
                writeRevision(g, r, inForce);
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        }));
    }

    /** {@code GET /v1/prices/revisions/{revision}}: one revision with its book as recorded, read from the log. */
    private CompletableFuture<FullHttpResponse> revision(final BillingService billing, final QueryStringDecoder uri,
        final String text)
    {
        final String unknown = unknownParameter(uri.parameters(), Set.of());
        if (unknown != null)
        {
            return done(error(HttpResponseStatus.BAD_REQUEST, "invalid_query", unknown + "; this route takes no parameters"));
        }
        final long wanted = revisionNumber(text);
        if (wanted < 1)
        {
            return done(error(HttpResponseStatus.BAD_REQUEST, "invalid_request", "a revision is a whole number from 1 up, "
                + "as GET /v1/prices/revisions lists them, e.g. /v1/prices/revisions/2; not '" + text + "'"));
        }
        final long inForce = billing.prices().revision();
        final PriceBookRevisions.Revision revision = api.priceRevisions().find(wanted);
        if (revision == null)
        {
            return done(error(HttpResponseStatus.NOT_FOUND, "not_found", "price book revision " + wanted + " was never "
                + "recorded; the revision in force is " + inForce + " and GET /v1/prices/revisions lists every recorded one"));
        }
        return answer(api.priceRevisions().read(revision), book -> json(HttpResponseStatus.OK, g ->
        {
            g.writeStartObject();
            writeRevision(g, revision, inForce);
            g.writeFieldName("book");
            g.writeRawValue(new String(book.json(), StandardCharsets.UTF_8));
            g.writeEndObject();
        }));
    }

    /** @return the revision a path names, or 0 when it is not a whole number from 1 to 2^63-1 in plain digits. */
    private static long revisionNumber(final String text)
    {
        if (text.isEmpty() || text.length() > 19 || text.charAt(0) == '0' || !text.chars().allMatch(c -> c >= '0' && c <= '9'))
        {
            return 0;
        }
        try
        {
            return Long.parseLong(text);
        }
        catch (final NumberFormatException ex)
        {
            return 0;
        }
    }

    private static void writeRevision(final JsonGenerator g, final PriceBookRevisions.Revision revision, final long inForce)
        throws IOException
    {
        g.writeNumberField("revision", revision.revision());
        g.writeStringField("sha256", revision.sha256());
        g.writeStringField("recorded_at", Instant.ofEpochMilli(revision.recordedAtMs()).toString());
        g.writeBooleanField("in_force", revision.revision() == inForce);
        final long[] at = revision.logIndexes();
        g.writeStringField("log_index", at[0] == EventLog.NO_INDEX ? null : InvoiceJson.indexText(at[0]));
        g.writeArrayFieldStart("log_indexes");
        for (final long index : at)
        {
            if (index == EventLog.NO_INDEX)
            {
                g.writeNull();
            }
            else
            {
                g.writeString(InvoiceJson.indexText(index));
            }
        }
        g.writeEndArray();
        final List<Integer> lacking = revision.lacking();
        if (!lacking.isEmpty())
        {
            // a change that did not reach every partition: they went on pricing with their previous book
            g.writeArrayFieldStart("partitions_lacking");
            for (final int p : lacking)
            {
                g.writeNumber(p);
            }
            g.writeEndArray();
        }
    }

    /** Maps a billing future to a response; expected failures become JSON errors. */
    private static <T> CompletableFuture<FullHttpResponse> answer(final CompletableFuture<T> future,
        final Function<T, FullHttpResponse> onSuccess)
    {
        return future.handle((value, failure) -> failure == null ? onSuccess.apply(value) : failure(failure));
    }

    /** @return the answer to a failed billing future: expected failures become JSON errors, the others a logged 500. */
    static FullHttpResponse failure(final Throwable failure)
    {
        final Throwable cause = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
        if (cause instanceof BillingService.PeriodOpenException)
        {
            return error(HttpResponseStatus.CONFLICT, "period_open", cause.getMessage());
        }
        if (cause instanceof BillingService.BillingUnavailableException || cause instanceof PriceBookRevisions.BusyException)
        {
            final FullHttpResponse response = error(HttpResponseStatus.SERVICE_UNAVAILABLE, "unavailable", cause.getMessage());
            response.headers().set(HttpHeaderNames.RETRY_AFTER, 1);
            return response;
        }
        if (cause instanceof PriceBookRevisions.UnreadableException)
        {
            org.slf4j.LoggerFactory.getLogger(BillingRoutes.class).error("price book revisions: {}", cause.getMessage());
            return error(HttpResponseStatus.INTERNAL_SERVER_ERROR, "log_damaged", cause.getMessage());
        }
        if (cause instanceof java.io.UncheckedIOException)
        {
            org.slf4j.LoggerFactory.getLogger(BillingRoutes.class).error("invoice store: {}", cause.getMessage());
            return error(HttpResponseStatus.INTERNAL_SERVER_ERROR, "invoice_store_damaged", cause.getMessage());
        }
        org.slf4j.LoggerFactory.getLogger(BillingRoutes.class).error("billing request failed", cause);
        return error(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal_error", "the billing request failed; the failure is logged");
    }

    static CompletableFuture<FullHttpResponse> done(final FullHttpResponse response)
    {
        return CompletableFuture.completedFuture(response);
    }

    /**
     * The checks of a route that takes no query parameters and needs billing: a malformed or unknown query (400), a
     * server not ready (503 with Retry-After).
     *
     * @return the refusal, or null when the request may go on.
     */
    /**
     * @return 503 partition_unavailable (Retry-After 1) when this node does not serve {@code tenant}'s partition now
     *     (cluster mode: the message names its owner), else null. One volatile read on a single node.
     */
    static FullHttpResponse unserved(final ApiContext api, final String tenant)
    {
        final Partition partition = api.partitions().of(tenant);
        if (partition.served())
        {
            return null;
        }
        return unavailable(api.unavailable(partition) + "; nothing was done for tenant " + tenant + ", retry later");
    }

    /**
     * @return null when this node serves {@code tenant}'s partition; else the answer of its owner, to which the request
     *     is forwarded (cluster mode, when the owners group names another node and the request was not forwarded to
     *     this node already), or 503 partition_unavailable naming why it is not.
     */
    static CompletableFuture<FullHttpResponse> elsewhere(final ApiContext api, final ApiRequest request, final String tenant)
    {
        final Partition partition = api.partitions().of(tenant);
        if (partition.served())
        {
            return null;
        }
        final Forwarder forwarder = api.forwarder();
        final String ownerUrl = forwarder == null || Forwarder.forwarded(request) ? null : api.forwardUrl(partition);
        if (ownerUrl != null)
        {
            return forwarder.forward(request, ownerUrl, partition.index());
        }
        return done(unserved(api, tenant));
    }

    /** @return 503 partition_unavailable with {@code message} and {@code Retry-After: 1}. */
    static FullHttpResponse unavailable(final String message)
    {
        final FullHttpResponse response = error(HttpResponseStatus.SERVICE_UNAVAILABLE, "partition_unavailable", message);
        response.headers().set(HttpHeaderNames.RETRY_AFTER, 1);
        return response;
    }

    static FullHttpResponse refuseQueryOrNotReady(final ApiContext api, final ApiRequest request)
    {
        final QueryStringDecoder uri = new QueryStringDecoder(request.http.uri());
        if (!UsageRoute.decodable(uri))
        {
            return error(HttpResponseStatus.BAD_REQUEST, "invalid_query",
                "the query holds a malformed percent-escape: encode '%' as %25");
        }
        final String unknown = unknownParameter(uri.parameters(), Set.of());
        if (unknown != null)
        {
            return error(HttpResponseStatus.BAD_REQUEST, "invalid_query", unknown + "; this route takes none");
        }
        final List<String> notReady = api.notReadyReasons();
        if (!notReady.isEmpty() || api.billing() == null)
        {
            final FullHttpResponse response = error(HttpResponseStatus.SERVICE_UNAVAILABLE, "not_ready",
                "the server is not ready (" + String.join("; ", notReady) + "); retry shortly");
            response.headers().set(HttpHeaderNames.RETRY_AFTER, 1);
            return response;
        }
        return null;
    }

    /**
     * A 400 listing every problem of a request body, each with its field: {@code {"error": code, "message": "N problems
     * in the WHAT, nothing was recorded: field: message; ...", "details": [{field, message}]}}.
     */
    static <T> FullHttpResponse problems(final String code, final String what, final List<T> problems,
        final java.util.function.Function<T, String> field, final java.util.function.Function<T, String> message)
    {
        return json(HttpResponseStatus.BAD_REQUEST, g ->
        {
            g.writeStartObject();
            g.writeStringField("error", code);
            g.writeStringField("message", problems.size() + " problem" + (problems.size() == 1 ? "" : "s") + " in the " + what
                + ", nothing was recorded: " + String.join("; ", problems.stream()
                    .map(p -> field.apply(p) + ": " + message.apply(p)).toList()));
            g.writeArrayFieldStart("details");
            for (final T problem : problems)
            {
                g.writeStartObject();
                g.writeStringField("field", field.apply(problem));
                g.writeStringField("message", message.apply(problem));
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        });
    }

    static FullHttpResponse error(final HttpResponseStatus status, final String code, final String message)
    {
        return json(status, g ->
        {
            g.writeStartObject();
            g.writeStringField("error", code);
            g.writeStringField("message", message);
            g.writeEndObject();
        });
    }

    static FullHttpResponse json(final HttpResponseStatus status, final Responses.Body body)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream(256);
        try (JsonGenerator g = Responses.JSON.createGenerator(out))
        {
            body.write(g);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        return response(status, "application/json", out.toByteArray());
    }

    static FullHttpResponse response(final HttpResponseStatus status, final String contentType, final byte[] body)
    {
        final FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(body));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType).setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        return response;
    }

    static String unknownParameter(final Map<String, List<String>> params, final Set<String> allowed)
    {
        for (final Map.Entry<String, List<String>> p : params.entrySet())
        {
            if (!allowed.contains(p.getKey()))
            {
                return "unknown parameter '" + p.getKey() + "'";
            }
            if (p.getValue().size() > 1)
            {
                return "parameter '" + p.getKey() + "' given more than once";
            }
        }
        return null;
    }

    private static String single(final Map<String, List<String>> params, final String name)
    {
        final List<String> values = params.get(name);
        return values == null ? null : values.get(0);
    }
}
