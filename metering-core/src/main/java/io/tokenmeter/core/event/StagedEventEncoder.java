package io.tokenmeter.core.event;

import org.agrona.MutableDirectBuffer;

/**
 * Encodes one validated event as a {@link StagedEvent} for the journal, and in doing so defines the two hashes the
 * dedup index decides by: the id hash (128-bit XXH3 over {@code tenant 0x00 id}: the idempotency key) and the
 * content hash ("same content" for a retry: the fields as the client sent them, a missing timestamp hashed as absent
 * rather than as the time of receipt, so that a retry without one is a duplicate). One instance per thread; its
 * scratch arrays are reused, so encoding allocates nothing.
 */
public final class StagedEventEncoder
{
    private static final int REASONING = TokenClass.REASONING.ordinal();

    private final EventHasher hasher = new EventHasher();
    private final StagedEvent staged = new StagedEvent();
    private final byte[] names = new byte[StagedEvent.MAX_TENANT_LENGTH + StagedEvent.MAX_MODEL_LENGTH + StagedEvent.MAX_ID_LENGTH];
    private final byte[] key = new byte[StagedEvent.MAX_TENANT_LENGTH + 1 + StagedEvent.MAX_ID_LENGTH];
    private final byte[] content = new byte[3 + StagedEvent.MAX_TENANT_LENGTH + StagedEvent.MAX_MODEL_LENGTH
        + StagedEvent.MAX_ID_LENGTH + 2 + 8 + 8 * TokenClass.COUNT + 1];

    /** {@link #encode(MutableDirectBuffer, int, byte[], int, byte[], int, byte[], int, int, boolean, long, long, long[], boolean)} of an event that does not say it was made in thinking mode. */
    public int encode(final MutableDirectBuffer out, final int offset,
        final byte[] tenant, final int tenantLength, final byte[] id, final int idLength, final byte[] model,
        final int modelLength, final int tierCode, final boolean hasTimestamp, final long timestampMs, final long receiptMs,
        final long[] tokens)
    {
        return encode(out, offset, tenant, tenantLength, id, idLength, model, modelLength, tierCode, hasTimestamp, timestampMs,
            receiptMs, tokens, false);
    }

    /**
     * Encodes the event at {@code offset} of {@code out}, which must have room for {@link StagedEvent#MAX_LENGTH} bytes.
     * The event is marked {@link StagedEvent#FLAG_THINKING} when it says so or has reasoning tokens.
     *
     * @param hasTimestamp false when the client sent none: {@code receiptMs} is then the event's time.
     * @param thinking     the event said it was made in thinking mode ({@code "thinking": true}); part of its content.
     * @return the encoded length.
     */
    public int encode(final MutableDirectBuffer out, final int offset,
        final byte[] tenant, final int tenantLength, final byte[] id, final int idLength, final byte[] model,
        final int modelLength, final int tierCode, final boolean hasTimestamp, final long timestampMs, final long receiptMs,
        final long[] tokens, final boolean thinking)
    {
        System.arraycopy(tenant, 0, key, 0, tenantLength);
        key[tenantLength] = 0;
        System.arraycopy(id, 0, key, tenantLength + 1, idLength);
        hasher.hashId(key, 0, tenantLength + 1 + idLength);

        int at = 0;
        content[at++] = (byte)tenantLength;
        System.arraycopy(tenant, 0, content, at, tenantLength);
        at += tenantLength;
        content[at++] = (byte)idLength;
        System.arraycopy(id, 0, content, at, idLength);
        at += idLength;
        content[at++] = (byte)modelLength;
        System.arraycopy(model, 0, content, at, modelLength);
        at += modelLength;
        content[at++] = (byte)tierCode;
        content[at++] = (byte)(hasTimestamp ? 1 : 0);
        at = putLong(content, at, hasTimestamp ? timestampMs : 0);
        for (int i = 0; i < TokenClass.COUNT; i++)
        {
            at = putLong(content, at, tokens[i]);
        }
        if (thinking)
        {
            // only when said: events without the field hash as they did before it existed, so their retries stay duplicates
            content[at++] = 1;
        }
        final long contentHash = EventHasher.contentHash(content, 0, at);

        System.arraycopy(tenant, 0, names, 0, tenantLength);
        System.arraycopy(model, 0, names, tenantLength, modelLength);
        System.arraycopy(id, 0, names, tenantLength + modelLength, idLength);
        return staged.wrap(out, offset).encode(hasher.idHashHi(), hasher.idHashLo(), contentHash,
            hasTimestamp ? timestampMs : receiptMs, tokens, tierCode,
            (hasTimestamp ? 0 : StagedEvent.FLAG_STAMPED_AT_RECEIPT)
                | (thinking || tokens[REASONING] > 0 ? StagedEvent.FLAG_THINKING : 0),
            names, tenantLength, modelLength, idLength);
    }

    private static int putLong(final byte[] target, final int at, final long value)
    {
        for (int i = 0; i < 8; i++)
        {
            target[at + i] = (byte)(value >>> (i * 8));
        }
        return at + 8;
    }
}
