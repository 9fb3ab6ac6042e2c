package io.tokenmeter.core.log;

import org.agrona.DirectBuffer;

import java.util.concurrent.CompletableFuture;

/**
 * A request to record one CONTROL record (a price book, a credit grant, later reservations) in a partition's log:
 * the journal looks up the handler of its kind in its command table ({@link JournalAgent#handle}), lets it refuse
 * the request or not, writes the record as a document of its own between event documents, and then lets the handler
 * apply it, all in log order on the journal thread. The result completes on the journal thread.
 */
public class ControlRequest implements JournalRequest
{
    /** Where the record landed in the log. */
    public record Recorded(long revision, long logIndex, long appendTimeMs)
    {
    }

    private final int controlKind;
    private final long revision;
    private final byte[] payload;
    private final CompletableFuture<Recorded> result = new CompletableFuture<>();

    /**
     * @param controlKind one of {@link io.tokenmeter.core.event.LogLayout}'s {@code CONTROL_*}.
     * @param revision    the record's revision (its handler says what it must be above).
     * @param payload     the record's bytes as written to the log.
     */
    public ControlRequest(final int controlKind, final long revision, final byte[] payload)
    {
        this.controlKind = controlKind;
        this.revision = revision;
        this.payload = payload;
    }

    public int controlKind()
    {
        return controlKind;
    }

    public long revision()
    {
        return revision;
    }

    public byte[] payload()
    {
        return payload;
    }

    /** @return completes with the log position, or exceptionally when it was refused or the log could not be written. */
    public CompletableFuture<Recorded> result()
    {
        return result;
    }

    @Override
    public final ControlRequest asControl()
    {
        return this;
    }

    void onRecorded(final Recorded recorded)
    {
        result.complete(recorded);
    }

    @Override
    public DirectBuffer stagedEvents()
    {
        return null;
    }

    @Override
    public int stagedLength()
    {
        return 0;
    }

    @Override
    public int eventCount()
    {
        return 0;
    }

    @Override
    public void onJournaled(final int accepted, final int duplicates, final int conflicts)
    {
        throw new IllegalStateException("a control record is not an event batch");
    }

    @Override
    public void onRefused(final Refusal refusal)
    {
        result.completeExceptionally(new IllegalStateException(switch (refusal)
        {
            case SHUTTING_DOWN -> "the server is stopping; nothing was recorded";
            case STALE_REVISION -> "revision " + revision + " is not above the revision in force; retry";
            case UNKNOWN_CONTROL -> "this journal has no handler for control records of kind " + controlKind;
            case ALREADY_RECORDED -> "a record with the same key is in the log already; nothing was recorded";
            default -> "the log cannot be written (see /health/ready); nothing was recorded, retry later";
        }));
    }
}
