package io.tokenmeter.server.http;

import com.fasterxml.jackson.core.JsonGenerator;
import io.netty.buffer.ByteBufUtil;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.tokenmeter.billing.credit.CreditBalance;
import io.tokenmeter.billing.credit.CreditGrant;
import io.tokenmeter.billing.credit.CreditGrantParser;
import io.tokenmeter.billing.credit.CreditRecord;
import io.tokenmeter.billing.invoice.BillingService;
import io.tokenmeter.billing.invoice.InvoiceJson;
import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.core.event.TenantName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * The credit routes (SPEC section 11, prepaid credits): {@code POST /v1/tenants/{tenant}/credits} records a grant in the
 * tenant's partition log, decided by its journal (201 recorded, 200 the same grant again, 409 its id taken by other
 * terms), and {@code GET} answers each grant's amount, drawn, held, remaining and expired. The request is checked on
 * the connection's event loop; the journal records, the billing thread computes the balances.
 */
final class CreditRoutes
{
    private static final Logger LOG = LoggerFactory.getLogger(CreditRoutes.class);

    private final ApiContext api;

    CreditRoutes(final ApiContext api)
    {
        this.api = api;
    }

    /** Answers a credit route the router matched; the key's role was checked on the head, its tenant is checked here. */
    CompletableFuture<FullHttpResponse> handle(final ApiRequest request)
    {
        final String tenant = request.parameters.get(0);
        if (!TenantName.isValid(tenant))
        {
            return done(BillingRoutes.error(HttpResponseStatus.BAD_REQUEST, "invalid_request", "tenant must match " + TenantName.RULE));
        }
        final String forbidden = AccessPolicy.check(request.key, request.route.action, tenant);
        if (forbidden != null)
        {
            api.metrics().onAuthForbidden();
            return done(BillingRoutes.error(HttpResponseStatus.FORBIDDEN, "forbidden", forbidden));
        }
        final CompletableFuture<FullHttpResponse> elsewhere = BillingRoutes.elsewhere(api, request, tenant);
        if (elsewhere != null)
        {
            return elsewhere;
        }
        final FullHttpResponse refused = BillingRoutes.refuseQueryOrNotReady(api, request);
        if (refused != null)
        {
            return done(refused);
        }
        final BillingService billing = api.billing();
        return request.route == Router.Route.CREDIT_GRANT ? grant(billing, request, tenant) : balances(billing, tenant);
    }

    private static CompletableFuture<FullHttpResponse> grant(final BillingService billing, final ApiRequest request,
        final String tenant)
    {
        final String contentType = request.http.headers().get(HttpHeaderNames.CONTENT_TYPE, "").toLowerCase(Locale.ROOT);
        if (!contentType.startsWith("application/json"))
        {
            return done(BillingRoutes.error(HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                "send the credit grant as application/json"));
        }
        final PriceBook book = billing.prices().book();
        final String currency = book.currency(tenant);
        final CreditGrantParser.Parsed parsed = CreditGrantParser.parse(tenant, ByteBufUtil.getBytes(request.http.content()),
            currency, book.minorDigits(tenant));
        if (parsed.malformed())
        {
            return done(BillingRoutes.error(HttpResponseStatus.BAD_REQUEST, "malformed_json", "the credit grant " + parsed.problems()
                .get(0).message() + "; nothing was recorded"));
        }
        if (parsed.grant() == null)
        {
            return done(BillingRoutes.problems("invalid_credit_grant", "credit grant", parsed.problems(),
                CreditGrantParser.Problem::field, CreditGrantParser.Problem::message));
        }
        return billing.grantCredit(parsed.grant()).handle((outcome, failure) ->
        {
            if (failure != null)
            {
                return failed(failure);
            }
            return switch (outcome.status())
            {
                case CREATED -> BillingRoutes.json(HttpResponseStatus.CREATED, g -> writeGrant(g, outcome.grant(), null));
                case EXISTS -> BillingRoutes.json(HttpResponseStatus.OK, g -> writeGrant(g, outcome.grant(), null));
                case CONFLICT -> conflict(outcome, parsed.grant());
            };
        });
    }

    private static FullHttpResponse conflict(final CreditRecord.Outcome outcome, final CreditGrant asked)
    {
        return BillingRoutes.error(HttpResponseStatus.CONFLICT, "credit_grant_conflict", "credit grant '" + asked.id()
            + "' of tenant " + asked.tenant() + " was recorded at " + Instant.ofEpochMilli(outcome.grant().recordedAtMs())
            + " with other terms: " + String.join("; ", outcome.grant().differences(asked)) + ". A grant never changes and "
            + "nothing was recorded; send the recorded terms to get it again, or record the new terms under a new id");
    }

    private static CompletableFuture<FullHttpResponse> balances(final BillingService billing, final String tenant)
    {
        return billing.credits(tenant).handle((balances, failure) ->
        {
            if (failure != null)
            {
                return failed(failure);
            }
            return BillingRoutes.json(HttpResponseStatus.OK, g ->
            {
                g.writeStartObject();
                g.writeStringField("tenant", tenant);
                g.writeArrayFieldStart("grants");
                for (final CreditBalance balance : balances)
                {
                    writeGrant(g, balance.grant(), balance);
                }
                g.writeEndArray();
                g.writeEndObject();
            });
        });
    }

    /** A grant as recorded, with where it stands when {@code balance} is given. */
    private static void writeGrant(final JsonGenerator g, final CreditGrant grant, final CreditBalance balance) throws IOException
    {
        g.writeStartObject();
        g.writeStringField("tenant", grant.tenant());
        g.writeStringField("id", grant.id());
        g.writeStringField("amount", grant.amount().toPlainString());
        g.writeStringField("currency", grant.currency());
        g.writeStringField("effective_at", grant.effectiveAt());
        g.writeStringField("expires_at", grant.expiresAt());
        g.writeNumberField("priority", grant.priority());
        g.writeArrayFieldStart("models");
        for (final String model : grant.models())
        {
            g.writeString(model);
        }
        g.writeEndArray();
        g.writeStringField("recorded_at", Instant.ofEpochMilli(grant.recordedAtMs()).toString());
        g.writeStringField("log_index", InvoiceJson.indexText(grant.logIndex()));
        if (balance != null)
        {
            g.writeStringField("drawn", balance.drawn().toPlainString());
            g.writeStringField("held", balance.held().toPlainString());
            g.writeStringField("remaining", balance.remaining().toPlainString());
            g.writeStringField("expired", balance.expired().toPlainString());
            g.writeStringField("status", balance.closed() ? "expired" : "active");
        }
        g.writeEndObject();
    }

    private static FullHttpResponse failed(final Throwable failure)
    {
        final Throwable cause = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
        if (cause instanceof BillingService.TooManyGrantsException)
        {
            return BillingRoutes.error(HttpResponseStatus.CONFLICT, "too_many_credit_grants", cause.getMessage());
        }
        if (cause instanceof BillingService.BillingUnavailableException)
        {
            final FullHttpResponse response = BillingRoutes.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "unavailable",
                cause.getMessage());
            response.headers().set(HttpHeaderNames.RETRY_AFTER, 1);
            return response;
        }
        if (cause instanceof java.io.UncheckedIOException)
        {
            LOG.error("invoice store: {}", cause.getMessage());
            return BillingRoutes.error(HttpResponseStatus.INTERNAL_SERVER_ERROR, "invoice_store_damaged", cause.getMessage());
        }
        LOG.error("credit request failed", cause);
        return BillingRoutes.error(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal_error",
            "the credit request failed; the failure is logged");
    }

    private static CompletableFuture<FullHttpResponse> done(final FullHttpResponse response)
    {
        return CompletableFuture.completedFuture(response);
    }
}
