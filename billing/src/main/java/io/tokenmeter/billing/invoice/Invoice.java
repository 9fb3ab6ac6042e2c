package io.tokenmeter.billing.invoice;

import io.tokenmeter.billing.rating.InvoiceLine;
import io.tokenmeter.core.aggregate.TenantBucket;

import java.math.BigDecimal;
import java.util.List;
import java.util.Map;

/**
 * An invoice of one tenant for one period (SPEC section 6), draft or final. Immutable.
 *
 * @param invoiceNumber  null for a draft.
 * @param finalizedAt    RFC 3339 time of finalization, null for a draft.
 * @param usageThrough   usage acknowledged before this time is included.
 * @param logIndex       the counters it was computed from reflect the log up to this index (-1: empty log).
 * @param priceBook      the book that priced it.
 * @param subtotal       sum of the period's own rounded lines.
 * @param adjustments    sum of the rounded adjustment lines (late usage of finalized periods).
 * @param total          subtotal + adjustments: the sum of every rounded line.
 * @param basis          the hour buckets each part was priced from, by period: the invoice's own period, and each
 *                       finalized period whose late usage it carries. Later invoices subtract it, so late usage is
 *                       billed exactly once.
 * @param logSha256      of a final invoice, the SHA-256 (hex) of the log document at {@code logIndex} in the tenant's
 *                       partition: the head of its hash chain when the invoice was made final, so the audit proves the
 *                       log it recomputes from is the log the invoice was made from; null for drafts, an empty log,
 *                       and invoices made final before the chain.
 */
public record Invoice(
    String tenant,
    String period,
    String currency,
    String status,
    String invoiceNumber,
    String finalizedAt,
    String usageThrough,
    long logIndex,
    PriceBookRef priceBook,
    List<InvoiceLine> lines,
    BigDecimal subtotal,
    BigDecimal adjustments,
    BigDecimal total,
    List<String> warnings,
    Map<String, List<TenantBucket>> basis,
    String logSha256)
{
    public static final String DRAFT = "draft";
    public static final String FINAL = "final";

    /** The price book an invoice was priced by. */
    public record PriceBookRef(long revision, String sha256, long logIndex)
    {
    }

    public boolean isFinal()
    {
        return FINAL.equals(status);
    }

    /** @return this draft made final: the same lines and totals, numbered and dated. */
    public Invoice asFinal(final String number, final String finalizedAtText)
    {
        return new Invoice(tenant, period, currency, FINAL, number, finalizedAtText, finalizedAtText, logIndex, priceBook, lines,
            subtotal, adjustments, total, warnings, basis, logSha256);
    }

    /** @return this invoice naming {@code sha256} as the hash of the log document at its {@code logIndex}. */
    public Invoice withLogSha256(final String sha256)
    {
        return new Invoice(tenant, period, currency, status, invoiceNumber, finalizedAt, usageThrough, logIndex, priceBook, lines,
            subtotal, adjustments, total, warnings, basis, sha256);
    }
}
