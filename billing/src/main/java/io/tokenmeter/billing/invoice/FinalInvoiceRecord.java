package io.tokenmeter.billing.invoice;

import io.tokenmeter.core.event.LogLayout;
import io.tokenmeter.core.log.ControlRequest;

import java.util.concurrent.CompletableFuture;

/**
 * A request to record one final invoice in its tenant's partition log (a CONTROL record of kind
 * {@link LogLayout#CONTROL_FINAL_INVOICE}), decided by the partition's {@link FinalInvoiceLedger} on the journal
 * thread: recorded when the tenant's period has no final invoice and the invoice carries the series' next number;
 * otherwise nothing is written, and the outcome names the final invoice found (or none: the number was taken).
 */
public final class FinalInvoiceRecord extends ControlRequest
{
    /** The payload's format: the invoice's JSON with its basis ({@link InvoiceJson#toBytes}). */
    public static final long PAYLOAD_FORMAT = 1;

    private final Invoice invoice;
    /** Set by the ledger on the journal thread before the result completes (its completion publishes it). */
    private Invoice found;

    public FinalInvoiceRecord(final Invoice invoice)
    {
        super(LogLayout.CONTROL_FINAL_INVOICE, PAYLOAD_FORMAT, InvoiceJson.toBytes(invoice, true, false));
        this.invoice = invoice;
    }

    /** The final invoice asked for, not yet recorded. */
    public Invoice invoice()
    {
        return invoice;
    }

    void found(final Invoice existing)
    {
        found = existing;
    }

    /**
     * @return completes with the invoice as recorded now, or with the tenant's final invoice for the period recorded
     *     before (then nothing was written); exceptionally when nothing was recorded and none was found (the number was
     *     taken meanwhile, the journal stopping, the log unwritable).
     */
    public CompletableFuture<Invoice> outcome()
    {
        return result().handle((done, failure) ->
        {
            if (failure == null)
            {
                return invoice;
            }
            if (found != null)
            {
                return found;
            }
            throw failure instanceof RuntimeException runtime ? runtime : new IllegalStateException(failure);
        });
    }
}
