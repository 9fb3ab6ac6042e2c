package io.tokenmeter.billing.credit;

import io.tokenmeter.core.event.LogLayout;
import io.tokenmeter.core.log.ControlRequest;

import java.util.concurrent.CompletableFuture;

/**
 * A request to record one credit grant in its tenant's partition log (a CONTROL record of kind
 * {@link LogLayout#CONTROL_CREDIT_GRANT}), decided by the partition's {@link CreditLedger} on the journal thread: a new
 * id is recorded; an id the tenant already has is not, and the outcome says whether the terms were the same (an
 * idempotent repeat) or not (a conflict).
 */
public final class CreditRecord extends ControlRequest
{
    /** What became of the request. */
    public enum Status
    {
        /** Recorded now. */
        CREATED,
        /** The same id with the same terms was recorded before: nothing was written. */
        EXISTS,
        /** The id was recorded before with other terms: nothing was written. */
        CONFLICT
    }

    /** The outcome: the grant as in the log (the one recorded before, for EXISTS and CONFLICT), and the status. */
    public record Outcome(CreditGrant grant, Status status)
    {
    }

    private final CreditGrant grant;
    /** Set by the ledger on the journal thread before the result completes (its completion publishes it). */
    private CreditGrant found;
    private CreditGrant recorded;

    public CreditRecord(final CreditGrant grant)
    {
        super(LogLayout.CONTROL_CREDIT_GRANT, CreditGrant.PAYLOAD_FORMAT, grant.payload());
        this.grant = grant;
    }

    /** The grant asked for, not yet recorded. */
    public CreditGrant grant()
    {
        return grant;
    }

    void found(final CreditGrant existing)
    {
        found = existing;
    }

    void recorded(final CreditGrant inLog)
    {
        recorded = inLog;
    }

    /**
     * @return completes with the outcome once the journal has decided; exceptionally when nothing was decided (the
     *     journal stopping, the log unwritable).
     */
    public CompletableFuture<Outcome> outcome()
    {
        return result().handle((done, failure) ->
        {
            if (failure == null)
            {
                return new Outcome(recorded, Status.CREATED);
            }
            if (found != null)
            {
                return new Outcome(found, found.sameTermsAs(grant) ? Status.EXISTS : Status.CONFLICT);
            }
            throw failure instanceof RuntimeException runtime ? runtime : new IllegalStateException(failure);
        });
    }
}
