package io.tokenmeter.core.log;

import io.tokenmeter.core.event.LogLayout;

/**
 * A request to put a price book in force in one partition: recorded as a CONTROL record of kind
 * {@link LogLayout#CONTROL_PRICE_BOOK} (so every invoice can be recomputed later with the book it was priced by);
 * from then on the journal decides each event's context tier and time window by the book's rules. The result completes on the journal thread.
 */
public final class PriceBookInstall extends ControlRequest
{
    private final RateRules rules;

    /** The SHA-256 of the book's bytes, computed here on the caller's thread rather than on the journal's. */
    private final byte[] sha256;

    /**
     * @param json     the book as recorded (UTF-8 JSON).
     * @param rules    the book's context tiers and time windows.
     * @param revision the book's revision, the same in every partition; above the revision in force.
     */
    public PriceBookInstall(final byte[] json, final RateRules rules, final long revision)
    {
        super(LogLayout.CONTROL_PRICE_BOOK, revision, json);
        this.rules = rules;
        this.sha256 = PriceBookHistory.sha256Of(json, 0, json.length);
    }

    public byte[] json()
    {
        return payload();
    }

    public RateRules rules()
    {
        return rules;
    }

    /** @return the SHA-256 of {@link #json()} (32 bytes; not to be changed). */
    byte[] sha256()
    {
        return sha256;
    }
}
