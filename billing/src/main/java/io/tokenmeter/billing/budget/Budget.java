package io.tokenmeter.billing.budget;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;

/**
 * A tenant's budget as put in force: its limit in the tenant's currency, the UTC calendar period it applies to, whether
 * it refuses reservations ({@code hard}) or only alerts ({@code soft}), the spend percents that alert and the webhook
 * they post to (null: listed only). Immutable; recorded in the tenant's log as its canonical JSON.
 */
public record Budget(String tenant, BigDecimal limit, Period period, boolean hard, List<Integer> alertPercents,
    String webhook)
{
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The period a budget's spend is counted over: a UTC calendar month or day. */
    public enum Period
    {
        MONTH, DAY;

        public String jsonName()
        {
            return this == MONTH ? "month" : "day";
        }

        /** @return the start (epoch ms, inclusive) of the period holding {@code timeMs}. */
        public long startOf(final long timeMs)
        {
            final LocalDate day = Instant.ofEpochMilli(timeMs).atOffset(ZoneOffset.UTC).toLocalDate();
            final LocalDate start = this == MONTH ? day.withDayOfMonth(1) : day;
            return start.atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
        }

        /** @return the end (epoch ms, exclusive) of the period that starts at {@code startMs}. */
        public long endAfter(final long startMs)
        {
            final LocalDate start = Instant.ofEpochMilli(startMs).atOffset(ZoneOffset.UTC).toLocalDate();
            return (this == MONTH ? start.plusMonths(1) : start.plusDays(1)).atStartOfDay(ZoneOffset.UTC).toInstant()
                .toEpochMilli();
        }

        /** @return the period's name as alerts and their ids give it: {@code 2026-12} or {@code 2026-12-02}. */
        public String label(final long startMs)
        {
            final LocalDate start = Instant.ofEpochMilli(startMs).atOffset(ZoneOffset.UTC).toLocalDate();
            return this == MONTH ? YearMonth.from(start).toString() : start.toString();
        }
    }

    public Budget
    {
        alertPercents = List.copyOf(alertPercents);
    }

    /** @return the budget's canonical JSON, as recorded in the log. */
    public byte[] toPayload()
    {
        final ObjectNode node = JSON.createObjectNode();
        node.put("tenant", tenant);
        node.put("limit", limit.toPlainString());
        node.put("period", period.jsonName());
        node.put("mode", hard ? "hard" : "soft");
        final ArrayNode percents = node.putArray("alert_percents");
        alertPercents.forEach(percents::add);
        if (webhook != null)
        {
            node.put("webhook", webhook);
        }
        try
        {
            return JSON.writeValueAsBytes(node);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    /** @return the budget a payload written by {@link #toPayload} holds. */
    public static Budget fromPayload(final byte[] payload)
    {
        try
        {
            final JsonNode node = JSON.readTree(payload);
            final List<Integer> percents = new ArrayList<>();
            node.get("alert_percents").forEach(p -> percents.add(p.intValue()));
            return new Budget(node.get("tenant").textValue(), new BigDecimal(node.get("limit").textValue()),
                "day".equals(node.get("period").textValue()) ? Period.DAY : Period.MONTH,
                "hard".equals(node.get("mode").textValue()), percents,
                node.hasNonNull("webhook") ? node.get("webhook").textValue() : null);
        }
        catch (final IOException | RuntimeException ex)
        {
            throw new IllegalStateException("a budget record in the log cannot be read: " + ex.getMessage(), ex);
        }
    }
}
