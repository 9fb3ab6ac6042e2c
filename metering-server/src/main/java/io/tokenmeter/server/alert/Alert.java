package io.tokenmeter.server.alert;

import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.Objects;

/**
 * One threshold crossing of a tenant's budget, as detected by the budget ledger: what {@link AlertSender} posts.
 *
 * @param id               stable for the crossing, {@link #idOf}: {@code tenant/period key/percent}, e.g.
 *                         {@code acme/2026-12/80}; a re-send carries the same id, so receivers dedupe by it.
 * @param tenant           the tenant whose spend crossed the threshold.
 * @param thresholdPercent the threshold crossed, in percent of the limit.
 * @param spent            the spend that crossed it, a decimal string in {@code currency} (money is never a number).
 * @param limit            the budget's limit, a decimal string in {@code currency}.
 * @param currency         ISO 4217 code of both amounts.
 * @param period           {@code month} or {@code day}.
 * @param periodStart      first instant of the period, RFC 3339 UTC ({@code 2026-12-01T00:00:00Z}).
 * @param periodEnd        first instant after the period, RFC 3339 UTC.
 * @param webhookUrl       http or https URL to post to (loopback allowed), or null: the alert is only listed.
 * @param crossedAtMs      when the spend crossed the threshold, epoch milliseconds; retries end
 *                         {@link AlertSender.Settings#giveUpAfter} after it.
 */
public record Alert(String id, String tenant, int thresholdPercent, String spent, String limit, String currency,
                    String period, String periodStart, String periodEnd, String webhookUrl, long crossedAtMs)
{
    public Alert
    {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(tenant, "tenant");
        Objects.requireNonNull(spent, "spent");
        Objects.requireNonNull(limit, "limit");
        Objects.requireNonNull(currency, "currency");
        Objects.requireNonNull(periodStart, "periodStart");
        Objects.requireNonNull(periodEnd, "periodEnd");
        if (!"month".equals(period) && !"day".equals(period))
        {
            throw new IllegalArgumentException("period must be month or day, not " + period);
        }
        if (thresholdPercent < 1)
        {
            throw new IllegalArgumentException("thresholdPercent must be at least 1, not " + thresholdPercent);
        }
    }

    /**
     * An alert with its id made by {@link #idOf}, the one way ids are made.
     */
    public static Alert of(final String tenant, final int thresholdPercent, final String spent, final String limit,
        final String currency, final String period, final String periodStart, final String periodEnd,
        final String webhookUrl, final long crossedAtMs)
    {
        return new Alert(idOf(tenant, period, periodStart, thresholdPercent), tenant, thresholdPercent, spent, limit,
            currency, period, periodStart, periodEnd, webhookUrl, crossedAtMs);
    }

    /**
     * @return {@code tenant + "/" + period key + "/" + percent}, the period key being the UTC month
     *     ({@code 2026-12}) or day ({@code 2026-12-02}) that {@code periodStart} begins: the same for every detection
     *     of one crossing, on any node and after any restart.
     * @throws IllegalArgumentException when {@code periodStart} is not an RFC 3339 instant or the period is unknown.
     */
    public static String idOf(final String tenant, final String period, final String periodStart, final int percent)
    {
        final LocalDate start;
        try
        {
            start = LocalDate.ofInstant(Instant.parse(periodStart), ZoneOffset.UTC);
        }
        catch (final DateTimeParseException ex)
        {
            throw new IllegalArgumentException("periodStart must be an RFC 3339 instant like 2026-12-01T00:00:00Z, not "
                + periodStart, ex);
        }
        final String key = switch (period)
        {
            case "month" -> start.toString().substring(0, 7);
            case "day" -> start.toString();
            default -> throw new IllegalArgumentException("period must be month or day, not " + period);
        };
        return tenant + "/" + key + "/" + percent;
    }
}
