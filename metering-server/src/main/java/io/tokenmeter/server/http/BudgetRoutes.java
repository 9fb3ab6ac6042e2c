package io.tokenmeter.server.http;

import com.fasterxml.jackson.core.JsonGenerator;
import io.netty.buffer.ByteBufUtil;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.tokenmeter.billing.budget.Budget;
import io.tokenmeter.billing.budget.BudgetLedger;
import io.tokenmeter.billing.budget.BudgetRequests;
import io.tokenmeter.billing.budget.Reservation;
import io.tokenmeter.billing.invoice.BillingService;
import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.core.event.LogLayout;
import io.tokenmeter.core.event.TenantName;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.money.Money;
import io.tokenmeter.server.alert.WebhookUrl;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * The budget and reservation routes (SPEC section 12). A budget or reservation is recorded by the tenant's journal in
 * its partition log, which puts concurrent requests in one order; what it decides is then read from the partition's
 * budget ledger once its aggregator has applied the record (a pure function of the log up to it, so a replay decides
 * the same). The request is checked on the connection's event loop.
 *
 * <pre>
 *   PUT    /v1/budgets/{tenant}               admin: the budget in force from now on
 *   GET    /v1/budgets/{tenant}               limit, spent, reserved, available, the period
 *   GET    /v1/budgets/{tenant}/alerts        the thresholds crossed, with their webhook deliveries
 *   POST   /v1/reservations                   201 a hold, 200 the same hold again, 402 budget_exceeded, 409 other terms
 *   GET    /v1/reservations/{tenant}/{id}     the hold and what became of it
 *   DELETE /v1/reservations/{tenant}/{id}     releases the hold
 * </pre>
 */
final class BudgetRoutes
{
    private static final Logger LOG = LoggerFactory.getLogger(BudgetRoutes.class);

    private final ApiContext api;

    BudgetRoutes(final ApiContext api)
    {
        this.api = api;
    }

    CompletableFuture<FullHttpResponse> handle(final ApiRequest request)
    {
        final FullHttpResponse refused = BillingRoutes.refuseQueryOrNotReady(api, request);
        if (refused != null)
        {
            return done(refused);
        }
        final BillingService billing = api.billing();
        if (request.route == Router.Route.RESERVE)
        {
            return reserve(billing, request);
        }
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
        return switch (request.route)
        {
            case BUDGET_SET -> setBudget(billing, request, tenant);
            case BUDGET -> budget(tenant, EventLog.NO_INDEX, HttpResponseStatus.OK);
            case BUDGET_ALERTS -> alerts(tenant);
            case RESERVATION -> reservation(tenant, request.parameters.get(1));
            default -> release(tenant, request.parameters.get(1));
        };
    }

    private CompletableFuture<FullHttpResponse> setBudget(final BillingService billing, final ApiRequest request,
        final String tenant)
    {
        final FullHttpResponse media = requireJson(request, "the budget");
        if (media != null)
        {
            return done(media);
        }
        final PriceBook book = billing.prices().book();
        final BudgetRequests.Parsed<Budget> parsed = BudgetRequests.parseBudget(tenant,
            ByteBufUtil.getBytes(request.http.content()), book.currency(tenant), book.minorDigits(tenant));
        if (parsed.value() == null)
        {
            return done(invalid(parsed, "invalid_budget", "budget"));
        }
        final String hookProblem = parsed.value().webhook() == null ? null : WebhookUrl.problem(parsed.value().webhook());
        if (hookProblem != null)
        {
            return done(invalid(new BudgetRequests.Parsed<>(null, List.of(new BudgetRequests.Problem("webhook", hookProblem)),
                false), "invalid_budget", "budget"));
        }
        return api.budgets().record(tenant, LogLayout.CONTROL_BUDGET, parsed.value().toPayload())
            .thenCompose(index -> budget(tenant, index, HttpResponseStatus.OK))
            .exceptionally(BudgetRoutes::failed);
    }

    private CompletableFuture<FullHttpResponse> budget(final String tenant, final long atIndex, final HttpResponseStatus status)
    {
        final long now = System.currentTimeMillis();
        return ask(tenant, atIndex, ledger -> ledger.view(tenant, now), view ->
        {
            if (view == null)
            {
                return BillingRoutes.error(HttpResponseStatus.NOT_FOUND, "no_budget", "tenant " + tenant + " has no budget; "
                    + "an admin key sets one with PUT /v1/budgets/" + tenant);
            }
            return BillingRoutes.json(status, g -> writeBudget(g, view));
        });
    }

    private CompletableFuture<FullHttpResponse> alerts(final String tenant)
    {
        return ask(tenant, EventLog.NO_INDEX, ledger -> ledger.crossings(tenant), crossings ->
            BillingRoutes.json(HttpResponseStatus.OK, g ->
            {
                g.writeStartObject();
                g.writeStringField("tenant", tenant);
                g.writeArrayFieldStart("alerts");
                for (final BudgetLedger.Crossing c : crossings)
                {
                    writeCrossing(g, c, api.budgets().delivery(tenant, c.id()));
                }
                g.writeEndArray();
                g.writeEndObject();
            }));
    }

    private CompletableFuture<FullHttpResponse> reserve(final BillingService billing, final ApiRequest request)
    {
        final FullHttpResponse media = requireJson(request, "the reservation");
        if (media != null)
        {
            return done(media);
        }
        final BudgetRequests.Parsed<Reservation> parsed = BudgetRequests.parseReservation(
            ByteBufUtil.getBytes(request.http.content()));
        if (parsed.value() == null)
        {
            return done(invalid(parsed, "invalid_reservation", "reservation"));
        }
        final Reservation reservation = parsed.value();
        final String forbidden = AccessPolicy.check(request.key, AccessPolicy.Action.RESERVE, reservation.tenant());
        if (forbidden != null)
        {
            api.metrics().onAuthForbidden();
            return done(BillingRoutes.error(HttpResponseStatus.FORBIDDEN, "forbidden", forbidden));
        }
        final CompletableFuture<FullHttpResponse> elsewhere = BillingRoutes.elsewhere(api, request, reservation.tenant());
        if (elsewhere != null)
        {
            return elsewhere;
        }
        final int digits = billing.prices().book().minorDigits(reservation.tenant());
        return api.budgets().record(reservation.tenant(), LogLayout.CONTROL_RESERVATION, reservation.toPayload())
            .thenCompose(index -> ask(reservation.tenant(), index, ledger -> ledger.outcomeAt(index),
                outcome -> reserved(reservation, outcome, digits)))
            .exceptionally(BudgetRoutes::failed);
    }

    private FullHttpResponse reserved(final Reservation asked, final BudgetLedger.Outcome outcome, final int digits)
    {
        if (outcome == null)
        {
            return BillingRoutes.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "unavailable", "the reservation was recorded but "
                + "its decision is no longer held; send it again (the same id and terms answer the same hold)");
        }
        api.metrics().onReservation(outcome.kind().name().toLowerCase(Locale.ROOT));
        return switch (outcome.kind())
        {
            case GRANTED -> BillingRoutes.json(HttpResponseStatus.CREATED, g -> writeHold(g, asked.tenant(), outcome.hold(),
                outcome.currency(), digits));
            case EXISTING -> BillingRoutes.json(HttpResponseStatus.OK, g -> writeHold(g, asked.tenant(), outcome.hold(),
                outcome.currency(), digits));
            case REFUSED -> BillingRoutes.json(HttpResponseStatus.PAYMENT_REQUIRED, g ->
            {
                g.writeStartObject();
                g.writeStringField("error", "budget_exceeded");
                g.writeStringField("message", "the hard budget of tenant " + asked.tenant() + " cannot cover reservation '"
                    + asked.id() + "': it needs " + money(outcome.needed(), digits) + " " + outcome.currency() + " and "
                    + money(outcome.available(), digits) + " is available; nothing was held. Ask for fewer tokens, release "
                    + "or settle other reservations, or raise the budget");
                g.writeStringField("available", money(outcome.available(), digits));
                g.writeStringField("needed", money(outcome.needed(), digits));
                g.writeStringField("currency", outcome.currency());
                g.writeEndObject();
            });
            case TOO_MANY -> BillingRoutes.error(HttpResponseStatus.TOO_MANY_REQUESTS, "too_many_reservations", "tenant "
                + asked.tenant() + " holds " + BudgetLedger.MAX_OPEN_HOLDS + " open reservations, the most one tenant may; "
                + "nothing was held. Settle or release some (or let them expire) and retry");
            default -> BillingRoutes.error(HttpResponseStatus.CONFLICT, "reservation_conflict", "reservation '" + asked.id()
                + "' of tenant " + asked.tenant() + " was made with other terms at "
                + Instant.ofEpochMilli(outcome.hold().createdAtMs()) + " (it is " + outcome.hold().state().jsonName()
                + "); reservation ids are unique within a tenant: use a new id for new terms");
        };
    }

    private CompletableFuture<FullHttpResponse> reservation(final String tenant, final String id)
    {
        final int digits = digits(tenant);
        return ask(tenant, EventLog.NO_INDEX, ledger -> ledger.hold(tenant, id), hold -> hold == null
            ? notFound(tenant, id)
            : BillingRoutes.json(HttpResponseStatus.OK, g -> writeHold(g, tenant, hold, currency(tenant), digits)));
    }

    private CompletableFuture<FullHttpResponse> release(final String tenant, final String id)
    {
        if (!BudgetRequests.ID.matcher(id).matches())
        {
            return done(BillingRoutes.error(HttpResponseStatus.BAD_REQUEST, "invalid_request", "reservation ids match "
                + BudgetRequests.ID.pattern()));
        }
        final int digits = digits(tenant);
        return api.budgets().record(tenant, LogLayout.CONTROL_RESERVATION, Reservation.release(tenant, id).toPayload())
            .thenCompose(index -> ask(tenant, index, ledger -> ledger.outcomeAt(index), outcome ->
            {
                if (outcome == null)
                {
                    return BillingRoutes.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "unavailable", "the release was recorded "
                        + "but its decision is no longer held; send it again");
                }
                api.metrics().onReservation(outcome.kind().name().toLowerCase(Locale.ROOT));
                return switch (outcome.kind())
                {
                    case NOT_FOUND -> notFound(tenant, id);
                    case CLOSED -> outcome.hold().state() == BudgetLedger.HoldState.RELEASED
                        ? BillingRoutes.json(HttpResponseStatus.OK, g -> writeHold(g, tenant, outcome.hold(), outcome.currency(),
                            digits))
                        : BillingRoutes.error(HttpResponseStatus.CONFLICT, "reservation_closed", "reservation '" + id
                            + "' of tenant " + tenant + " is " + outcome.hold().state().jsonName() + " since "
                            + Instant.ofEpochMilli(outcome.hold().closedAtMs()) + ": it holds nothing to release");
                    default -> BillingRoutes.json(HttpResponseStatus.OK, g -> writeHold(g, tenant, outcome.hold(),
                        outcome.currency(), digits));
                };
            }))
            .exceptionally(BudgetRoutes::failed);
    }

    private static FullHttpResponse notFound(final String tenant, final String id)
    {
        return BillingRoutes.error(HttpResponseStatus.NOT_FOUND, "no_reservation", "tenant " + tenant + " has no reservation '"
            + id + "' (or it closed more than a dedup window ago)");
    }

    /** Asks the tenant's ledger, then answers; a full aggregator queue or a failure is a 503. */
    private <T> CompletableFuture<FullHttpResponse> ask(final String tenant, final long atIndex,
        final java.util.function.Function<BudgetLedger, T> question,
        final java.util.function.Function<T, FullHttpResponse> answer)
    {
        final CompletableFuture<T> asked = api.budgets().ask(tenant, atIndex, question);
        if (asked == null)
        {
            return done(unavailable("the counters' queue is full; retry shortly"));
        }
        return asked.orTimeout(api.settings().queryTimeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
            .thenApply(answer).exceptionally(BudgetRoutes::failed);
    }

    private int digits(final String tenant)
    {
        final BillingService billing = api.billing();
        return billing == null ? 2 : billing.prices().book().minorDigits(tenant);
    }

    private String currency(final String tenant)
    {
        final BillingService billing = api.billing();
        return billing == null ? "USD" : billing.prices().book().currency(tenant);
    }

    private static void writeBudget(final JsonGenerator g, final BudgetLedger.View view) throws IOException
    {
        final Budget budget = view.budget();
        final int digits = Math.max(budget.limit().scale(), view.spent().scale());
        g.writeStartObject();
        g.writeStringField("tenant", view.tenant());
        g.writeStringField("limit", money(budget.limit(), digits));
        g.writeStringField("currency", view.currency());
        g.writeStringField("period", budget.period().jsonName());
        g.writeStringField("mode", budget.hard() ? "hard" : "soft");
        g.writeArrayFieldStart("alert_percents");
        for (final int percent : budget.alertPercents())
        {
            g.writeNumber(percent);
        }
        g.writeEndArray();
        if (budget.webhook() != null)
        {
            g.writeStringField("webhook", budget.webhook());
        }
        g.writeStringField("spent", money(view.spent(), digits));
        g.writeStringField("reserved", money(view.reserved(), digits));
        g.writeStringField("available", money(view.available(), digits));
        g.writeNumberField("open_reservations", view.openHolds());
        g.writeStringField("period_start", Instant.ofEpochMilli(view.periodStartMs()).toString());
        g.writeStringField("period_end", Instant.ofEpochMilli(view.periodEndMs()).toString());
        g.writeEndObject();
    }

    private static void writeHold(final JsonGenerator g, final String tenant, final BudgetLedger.HoldView hold,
        final String currency, final int digits) throws IOException
    {
        g.writeStartObject();
        g.writeStringField("reservation", hold.id());
        g.writeStringField("tenant", tenant);
        g.writeStringField("held", money(hold.held(), digits));
        g.writeStringField("currency", currency);
        g.writeStringField("state", hold.state().jsonName());
        g.writeStringField("created_at", Instant.ofEpochMilli(hold.createdAtMs()).toString());
        g.writeStringField("expires_at", Instant.ofEpochMilli(hold.expiresAtMs()).toString());
        if (hold.state() != BudgetLedger.HoldState.OPEN)
        {
            g.writeStringField("closed_at", Instant.ofEpochMilli(hold.closedAtMs()).toString());
        }
        g.writeEndObject();
    }

    private static void writeCrossing(final JsonGenerator g, final BudgetLedger.Crossing c, final Budgets.AlertDelivery delivery)
        throws IOException
    {
        g.writeStartObject();
        g.writeStringField("id", c.id());
        g.writeNumberField("threshold_percent", c.percent());
        g.writeStringField("spent", c.spent().toPlainString());
        g.writeStringField("limit", c.limit().toPlainString());
        g.writeStringField("currency", c.currency());
        g.writeStringField("period", c.period().jsonName());
        g.writeStringField("period_start", Instant.ofEpochMilli(c.periodStartMs()).toString());
        g.writeStringField("period_end", Instant.ofEpochMilli(c.periodEndMs()).toString());
        g.writeStringField("crossed_at", Instant.ofEpochMilli(c.crossedAtMs()).toString());
        if (c.webhook() != null)
        {
            // where it went, without the path and query, which often carry a token
            g.writeStringField("webhook", WebhookUrl.destination(java.net.URI.create(c.webhook())));
        }
        if (delivery != null)
        {
            g.writeObjectFieldStart("delivery");
            g.writeNumberField("attempts", delivery.attempts());
            g.writeBooleanField("delivered", delivery.delivered());
            g.writeBooleanField("gave_up", delivery.gaveUp());
            if (delivery.deliveredAtMs() != null)
            {
                g.writeStringField("delivered_at", Instant.ofEpochMilli(delivery.deliveredAtMs()).toString());
            }
            if (delivery.lastError() != null)
            {
                g.writeStringField("last_error", delivery.lastError());
            }
            g.writeEndObject();
        }
        g.writeEndObject();
    }

    private static String money(final BigDecimal amount, final int digits)
    {
        return Money.round(amount, digits).toPlainString();
    }

    private static FullHttpResponse requireJson(final ApiRequest request, final String what)
    {
        final String contentType = request.http.headers().get(HttpHeaderNames.CONTENT_TYPE, "").toLowerCase(Locale.ROOT);
        return contentType.startsWith("application/json") ? null : BillingRoutes.error(HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type", "send " + what + " as application/json");
    }

    private static <T> FullHttpResponse invalid(final BudgetRequests.Parsed<T> parsed, final String code, final String what)
    {
        if (parsed.malformed())
        {
            return BillingRoutes.error(HttpResponseStatus.BAD_REQUEST, "malformed_json", "the " + what + " "
                + parsed.problems().get(0).message() + "; nothing was recorded");
        }
        return BillingRoutes.problems(code, what, parsed.problems(), BudgetRequests.Problem::field,
            BudgetRequests.Problem::message);
    }

    private static FullHttpResponse unavailable(final String message)
    {
        final FullHttpResponse response = BillingRoutes.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "unavailable", message);
        response.headers().set(HttpHeaderNames.RETRY_AFTER, 1);
        return response;
    }

    private static FullHttpResponse failed(final Throwable failure)
    {
        final Throwable cause = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
        if (cause instanceof java.util.concurrent.TimeoutException)
        {
            return unavailable("the counters did not answer within query-timeout; retry shortly");
        }
        if (cause instanceof IllegalStateException)
        {
            // the journal refused the record (queue full, log unwritable, stopping): its message says which
            return unavailable(cause.getMessage());
        }
        LOG.error("budget request failed", cause);
        return BillingRoutes.error(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal_error",
            "the budget request failed; the failure is logged");
    }

    private static CompletableFuture<FullHttpResponse> done(final FullHttpResponse response)
    {
        return CompletableFuture.completedFuture(response);
    }
}
