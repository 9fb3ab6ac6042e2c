package io.tokenmeter.core.log;

import org.agrona.DirectBuffer;

/**
 * One ingest request handed to the journal: its validated events, staged back to back in
 * {@link io.tokenmeter.core.event.StagedEvent} layout. The journal calls exactly one of the callbacks
 * ({@link #onJournaled}, or one of the two {@code onRefused}), on the journal thread, after the request's accepted
 * events are in the log (or certainly not).
 */
public interface JournalRequest
{
    DirectBuffer stagedEvents();

    int stagedLength();

    int eventCount();

    /** The request's accepted events are appended (and flushed in sync mode); duplicates and conflicts were not. */
    void onJournaled(int accepted, int duplicates, int conflicts);

    /** Nothing of the request was appended. */
    void onRefused(Refusal refusal);

    /**
     * Nothing of the request was appended, because of its event at {@code eventIndex} (0-based, in staged order): the
     * event whose name did not fit ({@link Refusal#TOO_MANY_MODELS}, {@link Refusal#TOO_MANY_NAMES}), so that the
     * answer can name it. By default the same as {@link #onRefused(Refusal)}.
     */
    default void onRefused(final Refusal refusal, final int eventIndex)
    {
        onRefused(refusal);
    }

    /** @return this request as a control record to record, or null for an event batch (the journal's command table). */
    default ControlRequest asControl()
    {
        return null;
    }

    /** Why a request was refused as a whole. */
    enum Refusal
    {
        /** The log could not be written; the client should retry later. */
        LOG_UNWRITABLE,
        /** The request would define more distinct tenant or model names than the log's id fields hold. */
        TOO_MANY_NAMES,
        /** The request would give a tenant more distinct models than the journal's {@code maxModelsPerTenant}. */
        TOO_MANY_MODELS,
        /** The journal is stopping. */
        SHUTTING_DOWN,
        /** A price book's revision is not above the one in force in this partition (a second install raced it). */
        STALE_REVISION,
        /** A control record of a kind this journal has no handler for. */
        UNKNOWN_CONTROL,
        /**
         * The handler holds a record with the same key already (an idempotent repeat, or a conflicting reuse of the key):
         * nothing was written, and the handler told the request which record it found.
         */
        ALREADY_RECORDED
    }
}
