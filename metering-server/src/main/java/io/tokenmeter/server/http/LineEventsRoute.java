package io.tokenmeter.server.http;

import com.fasterxml.jackson.core.JsonGenerator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.tokenmeter.billing.invoice.BillingService;
import io.tokenmeter.billing.invoice.Invoice;
import io.tokenmeter.billing.invoice.InvoiceJson;
import io.tokenmeter.billing.invoice.LineEvents;
import io.tokenmeter.billing.invoice.Periods;
import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.billing.price.PriceBookException;
import io.tokenmeter.billing.price.RecordedBooks;
import io.tokenmeter.billing.rating.InvoiceLine;
import io.tokenmeter.core.archive.RetainedDigest;
import io.tokenmeter.core.event.RateVariant;
import io.tokenmeter.core.event.ServiceTier;
import io.tokenmeter.core.event.TenantName;
import io.tokenmeter.core.event.TokenClass;
import io.tokenmeter.core.log.EventLog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Instant;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;

/**
 * {@code GET /v1/invoices/{tenant}/{period}/lines/{n}/events}: the events of the log behind line {@code n} of the
 * invoice the invoice route answers, as NDJSON, each with the position and hash of the log document that holds it.
 * The invoice comes from the billing thread; the log is read on a line-event reader thread ({@link
 * ApiContext#lineEventReaders()}), which writes the body in chunks with flow control ({@link ChunkWriter}).
 *
 * <p>Checks, in order: tenant and period (400), the key's access to the tenant (403), readiness (503), then the
 * invoice: {@code n} within its lines (404 naming how many there are) and a usage line (400).
 */
final class LineEventsRoute
{
    private static final Logger LOG = LoggerFactory.getLogger(LineEventsRoute.class);
    /** The response header with the invoice's log index the events are read up to (hex, as the invoice's). */
    static final String LOG_INDEX_HEADER = "Tokenmeter-Log-Index";
    /** The response header with the line's quantity: what the events' {@code line_quantity} sum to. */
    static final String QUANTITY_HEADER = "Tokenmeter-Line-Quantity";

    private final ApiContext api;

    LineEventsRoute(final ApiContext api)
    {
        this.api = api;
    }

    void handle(final ChannelHandlerContext ctx, final ApiRequest request, final Answers answers)
    {
        final String tenant = request.parameters.get(0);
        final String periodText = request.parameters.get(1);
        final String lineText = request.parameters.get(2);
        final YearMonth period = Periods.parse(periodText);
        if (!TenantName.isValid(tenant))
        {
            answers.answer(request, BillingRoutes.error(HttpResponseStatus.BAD_REQUEST, "invalid_request",
                "tenant must match " + TenantName.RULE));
            return;
        }
        if (period == null)
        {
            answers.answer(request, BillingRoutes.error(HttpResponseStatus.BAD_REQUEST, "invalid_request",
                "period must be YYYY-MM, e.g. 2026-10, not '" + periodText + "'"));
            return;
        }
        final int n = lineNumber(lineText);
        if (n < 0)
        {
            answers.answer(request, BillingRoutes.error(HttpResponseStatus.BAD_REQUEST, "invalid_request", "n is the line's "
                + "0-based position in the invoice's lines, a whole number in plain digits, e.g. /v1/invoices/" + tenant + "/"
                + period + "/lines/0/events; not '" + lineText + "'"));
            return;
        }
        final String forbidden = AccessPolicy.check(request.key, AccessPolicy.Action.READ_INVOICE, tenant);
        if (forbidden != null)
        {
            api.metrics().onAuthForbidden();
            answers.answer(request, BillingRoutes.error(HttpResponseStatus.FORBIDDEN, "forbidden", forbidden));
            return;
        }
        final io.tokenmeter.core.partition.Partition partition = api.partitions().of(tenant);
        if (!partition.served())
        {
            final Forwarder forwarder = api.forwarder();
            final String ownerUrl = forwarder == null || Forwarder.forwarded(request) ? null : api.forwardUrl(partition);
            if (ownerUrl == null)
            {
                answers.answer(request, BillingRoutes.unserved(api, tenant));
                return;
            }
            try
            {
                api.lineEventReaders().execute(() -> relay(ctx, request, answers, forwarder, ownerUrl, partition.index()));
            }
            catch (final RejectedExecutionException ex)
            {
                answers.answer(request, busy());
            }
            return;
        }
        final FullHttpResponse refused = BillingRoutes.refuseQueryOrNotReady(api, request);
        if (refused != null)
        {
            answers.answer(request, refused);
            return;
        }
        final BillingService billing = api.billing();
        billing.traceable(tenant, period).whenComplete((traceable, failure) ->
        {
            try
            {
                onTraceable(ctx, request, answers, traceable, failure, n);
            }
            catch (final RuntimeException ex)
            {
                // never leave the request unanswered: the connection would wait for an answer that does not come
                LOG.error("line {} of {} {}: the listing could not be started", n, tenant, period, ex);
                ctx.executor().execute(() -> answers.answer(request, internalError()));
            }
        });
    }

    private void onTraceable(final ChannelHandlerContext ctx, final ApiRequest request, final Answers answers,
        final BillingService.Traceable traceable, final Throwable failure, final int n)
    {
        if (failure != null)
        {
            ctx.executor().execute(() -> answers.answer(request, BillingRoutes.failure(failure)));
            return;
        }
        final FullHttpResponse wrongLine = checkLine(traceable.invoice(), n);
        if (wrongLine != null)
        {
            ctx.executor().execute(() -> answers.answer(request, wrongLine));
            return;
        }
        try
        {
            api.lineEventReaders().execute(() -> stream(ctx, request, answers, traceable, n));
        }
        catch (final RejectedExecutionException ex)
        {
            ctx.executor().execute(() -> answers.answer(request, busy()));
        }
    }

    private static FullHttpResponse busy()
    {
        final FullHttpResponse busy = BillingRoutes.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "unavailable",
            "too many line event listings are being read; retry shortly");
        busy.headers().set(HttpHeaderNames.RETRY_AFTER, 1);
        return busy;
    }

    /**
     * On a line-event reader thread, in cluster mode: the tenant's partition is another node's, so its owner lists the
     * events and its stream is passed on as it comes, chunk by chunk with the same flow control as a listing read here
     * (decision 341). An owner's stream that breaks off cuts this one off too; an answer other than 200 is passed on
     * whole (it is an error, a few hundred bytes).
     */
    private void relay(final ChannelHandlerContext ctx, final ApiRequest request, final Answers answers,
        final Forwarder forwarder, final String ownerUrl, final int partition)
    {
        final java.net.http.HttpResponse<java.io.InputStream> answer;
        try
        {
            answer = forwarder.openStream(request, ownerUrl);
        }
        catch (final IOException | IllegalArgumentException ex)
        {
            final FullHttpResponse refused = BillingRoutes.error(HttpResponseStatus.SERVICE_UNAVAILABLE,
                "partition_unavailable", "forwarding to partition " + partition + "'s owner at " + ownerUrl + " failed ("
                    + ex.getClass().getSimpleName() + (ex.getMessage() == null ? "" : ": " + ex.getMessage()) + "); retry");
            refused.headers().set(HttpHeaderNames.RETRY_AFTER, 1);
            ctx.executor().execute(() -> answers.answer(request, refused));
            return;
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            ctx.executor().execute(() -> answers.answer(request, internalError()));
            return;
        }
        boolean whole = false;
        try (java.io.InputStream body = answer.body())
        {
            if (answer.statusCode() != 200)
            {
                final FullHttpResponse full = Forwarder.copy(answer.statusCode(), answer.headers(),
                    body.readNBytes(1 << 20), ownerUrl);
                ctx.executor().execute(() -> answers.answer(request, full));
                return;
            }
            final HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
            HttpUtil.setTransferEncodingChunked(head, !HttpVersion.HTTP_1_0.equals(request.http.protocolVersion()));
            for (final String name : List.of(HttpHeaderNames.CONTENT_TYPE.toString(), LOG_INDEX_HEADER, QUANTITY_HEADER))
            {
                answer.headers().firstValue(name).ifPresent(value -> head.headers().set(name, value));
            }
            head.headers().set(Forwarder.ANSWERED_BY_HEADER, ownerUrl);
            ctx.executor().execute(() -> answers.startStream(request, head));
            final ChunkWriter writer = new ChunkWriter(ctx, api.settings().idleTimeout.toNanos());
            final byte[] read = new byte[16 * 1024];
            while (true)
            {
                final int n = body.read(read);
                if (n < 0)
                {
                    whole = writer.send();
                    break;
                }
                writer.buffer().write(read, 0, n);
                if (!writer.sendIfFull())
                {
                    break;
                }
            }
        }
        catch (final IOException ex)
        {
            LOG.warn("a line's events from partition {}'s owner at {} broke off ({}); the answer was cut off too", partition,
                ownerUrl, ex.toString());
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        final boolean ended = whole;
        ctx.executor().execute(() -> answers.endStream(request, ended));
    }

    private static FullHttpResponse internalError()
    {
        return BillingRoutes.error(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal_error",
            "the line's events could not be listed; the failure is logged");
    }

    /** @return the refusal of line {@code n} of the invoice, or null when it is a usage line. */
    private static FullHttpResponse checkLine(final Invoice invoice, final int n)
    {
        final List<InvoiceLine> lines = invoice.lines();
        final String which = "the " + invoice.status() + " invoice of " + invoice.tenant() + " for " + invoice.period();
        if (n >= lines.size())
        {
            return BillingRoutes.error(HttpResponseStatus.NOT_FOUND, "not_found", which + " has " + lines.size() + " line"
                + (lines.size() == 1 ? "" : "s") + (lines.isEmpty() ? "" : ", 0 to " + (lines.size() - 1)) + "; there is no line "
                + n + " (GET /v1/invoices/" + invoice.tenant() + "/" + invoice.period() + " lists them)");
        }
        final InvoiceLine line = lines.get(n);
        if (!line.isUsage())
        {
            return BillingRoutes.error(HttpResponseStatus.BAD_REQUEST, "not_a_usage_line", "line " + n + " of " + which
                + " is a " + line.kind() + " line: no events are behind it; its usage lines are " + usageLines(lines));
        }
        return null;
    }

    private static String usageLines(final List<InvoiceLine> lines)
    {
        final List<String> usage = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++)
        {
            if (lines.get(i).isUsage())
            {
                usage.add(Integer.toString(i));
            }
        }
        return usage.isEmpty() ? "none" : String.join(", ", usage);
    }

    /** On a line-event reader thread: finds the line's source, answers the head, streams the events, ends the answer. */
    private void stream(final ChannelHandlerContext ctx, final ApiRequest request, final Answers answers,
        final BillingService.Traceable traceable, final int n)
    {
        final Invoice invoice = traceable.invoice();
        final EventLog log;
        final LineEvents.Source source;
        try
        {
            log = api.partitions().of(invoice.tenant()).log();
            final PriceBook book = book(invoice, log);
            source = book == null ? null : LineEvents.source(invoice, n, book, traceable.finals());
        }
        catch (final RuntimeException ex)
        {
            LOG.error("line {} of {} {}: its source could not be found", n, invoice.tenant(), invoice.period(), ex);
            ctx.executor().execute(() -> answers.answer(request, internalError()));
            return;
        }
        if (source == null)
        {
            ctx.executor().execute(() -> answers.answer(request, BillingRoutes.error(HttpResponseStatus.INTERNAL_SERVER_ERROR,
                "invoice_unmatched", "line " + n + " of the " + invoice.status() + " invoice of " + invoice.tenant() + " for "
                    + invoice.period() + " is not what its basis and price book make: run the audit (tokenmeter audit "
                    + "--data-dir DIR --period " + invoice.period() + " --tenant " + invoice.tenant() + ")")));
            return;
        }
        final RetainedDigest deleted;
        try
        {
            deleted = LineEvents.deletedSource(log, source);
        }
        catch (final RuntimeException ex)
        {
            LOG.error("line {} of {} {}: the log's digests could not be read", n, invoice.tenant(), invoice.period(), ex);
            ctx.executor().execute(() -> answers.answer(request, internalError()));
            return;
        }
        if (deleted != null)
        {
            ctx.executor().execute(() -> answers.answer(request, BillingRoutes.error(HttpResponseStatus.GONE, "events_deleted",
                "events of line " + n + " of the " + invoice.status() + " invoice of " + invoice.tenant() + " for "
                    + invoice.period() + " were in log file " + deleted.file() + ", whose archive log-retention deleted: only "
                    + "its digest is kept, which proves the line's total (tokenmeter audit --period " + invoice.period()
                    + ") but lists no single event; restore the archive from the backup to list them")));
            return;
        }
        final HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        // an HTTP/1.0 client knows no chunks: its body ends when the connection closes (it asked for no keep-alive)
        HttpUtil.setTransferEncodingChunked(head, !HttpVersion.HTTP_1_0.equals(request.http.protocolVersion()));
        head.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/x-ndjson")
            .set(LOG_INDEX_HEADER, InvoiceJson.indexText(invoice.logIndex()))
            .set(QUANTITY_HEADER, source.quantity().toString());
        ctx.executor().execute(() -> answers.startStream(request, head));
        final ChunkWriter writer = new ChunkWriter(ctx, api.settings().idleTimeout.toNanos());
        boolean whole = false;
        try (JsonGenerator json = Responses.JSON.createGenerator(writer.buffer()))
        {
            json.setRootValueSeparator(null);
            final LineEvents.Outcome outcome = LineEvents.scan(log, source, event -> write(json, writer, event));
            json.flush();
            final boolean complete = outcome.units() == source.quantity().longValue();
            whole = !outcome.stopped() && complete && writer.send();
            if (!outcome.stopped() && !complete)
            {
                LOG.error("line {} of the {} invoice of {} for {}: its events in the log sum to {} units, the line bills {} "
                    + "({} damaged documents skipped); the answer was cut off: run the audit", n, invoice.status(),
                    invoice.tenant(), invoice.period(), outcome.units(), source.quantity(), outcome.damaged());
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            LOG.error("line {} of {} {}: listing its events failed", n, invoice.tenant(), invoice.period(), ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        final boolean ended = whole;
        ctx.executor().execute(() -> answers.endStream(request, ended));
    }

    /** @return the book that priced the invoice, read from the tenant's partition log; null when it is not there. */
    private PriceBook book(final Invoice invoice, final EventLog log)
    {
        final Invoice.PriceBookRef ref = invoice.priceBook();
        final RecordedBooks.Recorded recorded = ref.logIndex() == EventLog.NO_INDEX ? null : RecordedBooks.readAt(log, ref.logIndex());
        if (recorded == null)
        {
            final PriceBook inForce = api.billing().prices().book();
            return inForce.sha256().equals(ref.sha256()) ? inForce : null;
        }
        try
        {
            final PriceBook book = recorded.parse();
            return book.sha256().equals(ref.sha256()) ? book : null;
        }
        catch (final PriceBookException ex)
        {
            LOG.error("the price book at log index {} of {} does not validate: {}", InvoiceJson.indexText(ref.logIndex()),
                log.describe(), ex.getMessage());
            return null;
        }
    }

    /** Writes one event as a line of NDJSON: the ingest format's fields, then the line's share and the proof. */
    private static boolean write(final JsonGenerator json, final ChunkWriter writer, final LineEvents.Event event)
    {
        try
        {
            json.writeStartObject();
            json.writeStringField("id", event.id());
            json.writeStringField("tenant", event.tenant());
            json.writeStringField("model", event.model());
            json.writeStringField("timestamp", Instant.ofEpochMilli(event.timestampMs()).toString());
            json.writeStringField("service_tier", ServiceTier.fromCode(event.tierCode()).jsonName());
            for (int c = 0; c < TokenClass.COUNT; c++)
            {
                json.writeNumberField(TokenClass.of(c).fieldName(), event.tokens()[c]);
            }
            if (RateVariant.thinking(event.variant()))
            {
                json.writeBooleanField("thinking", true);
            }
            json.writeNumberField("line_quantity", event.lineQuantity());
            json.writeStringField("log_index", InvoiceJson.indexText(event.logIndex()));
            json.writeStringField("document_sha256", event.documentSha256());
            json.writeEndObject();
            json.writeRaw('\n');
            json.flush();
            return writer.sendIfFull();
        }
        catch (final IOException ex)
        {
            throw new java.io.UncheckedIOException(ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** @return the line number a path names, or -1 when it is not a whole number from 0 in plain digits (at most 9). */
    private static int lineNumber(final String text)
    {
        if (text.isEmpty() || text.length() > 9 || text.length() > 1 && text.charAt(0) == '0'
            || !text.chars().allMatch(c -> c >= '0' && c <= '9'))
        {
            return -1;
        }
        return Integer.parseInt(text);
    }
}
