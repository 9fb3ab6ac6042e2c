package io.tokenmeter.core.log;

import org.agrona.DirectBuffer;

import java.util.concurrent.CompletableFuture;

/**
 * A request to the journal to put a price book in force: the journal writes it to the log as its own document
 * (so every invoice can be recomputed later with the book it was priced by), then marks long-context events by its
 * rules from that point on. The result completes on the journal thread.
 */
public final class PriceBookInstall implements JournalRequest
{
    /** Where the book landed in the log. */
    public record Installed(long revision, long logIndex, long appendTimeMs)
    {
    }

    private final byte[] json;
    private final LongContextRules rules;
    private final long revision;
    private final CompletableFuture<Installed> result = new CompletableFuture<>();

    /**
     * @param json     the book as recorded (UTF-8 JSON).
     * @param rules    the book's long-context rules.
     * @param revision the book's revision, the same in every partition; above the revision in force.
     */
    public PriceBookInstall(final byte[] json, final LongContextRules rules, final long revision)
    {
        this.json = json;
        this.rules = rules;
        this.revision = revision;
    }

    public long revision()
    {
        return revision;
    }

    public byte[] json()
    {
        return json;
    }

    public LongContextRules rules()
    {
        return rules;
    }

    /** @return completes with the log position, or exceptionally when the log could not be written. */
    public CompletableFuture<Installed> result()
    {
        return result;
    }

    void onInstalled(final Installed installed)
    {
        result.complete(installed);
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
        throw new IllegalStateException("a price book install is not an event batch");
    }

    @Override
    public void onRefused(final Refusal refusal)
    {
        result.completeExceptionally(new IllegalStateException(switch (refusal)
        {
            case SHUTTING_DOWN -> "the server is stopping; the book in force is unchanged";
            case STALE_REVISION -> "revision " + revision + " is not above the revision in force; retry";
            default -> "the log cannot be written (see /health/ready); the book in force is unchanged, retry later";
        }));
    }
}
