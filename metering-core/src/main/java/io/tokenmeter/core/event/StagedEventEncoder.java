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
        + StagedEvent.MAX_ID_LENGTH + 2 + 8 + 8 * TokenClass.COUNT + 1 + LINK_CONTENT_LENGTH];
    /** A link's share of the content: a marker, its bits, both names with their lengths, the seq. */
    private static final int LINK_CONTENT_LENGTH = 2 + 2 * (1 + StagedEvent.MAX_ID_LENGTH) + 8;
    private static final byte LINK_MARKER = (byte)0xFE;

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
        return encode(out, offset, tenant, tenantLength, id, idLength, model, modelLength, tierCode, hasTimestamp, timestampMs,
            receiptMs, tokens, thinking, 0, null, 0, null, 0, 0);
    }

    /**
     * As the plain form, with the event's link (SPEC section 12): the reservation it settles and the stream it is a
     * checkpoint of. Both are part of its content (a retry that changes them is a conflict); an event without them
     * hashes as before links existed.
     *
     * @param linkBits    {@link EventLink#RESERVATION}, {@link EventLink#STREAM}, {@link EventLink#FINAL}; 0 for none.
     * @param reservation the reservation id's bytes (when {@link EventLink#RESERVATION}), else ignored.
     * @param stream      the stream id's bytes (when {@link EventLink#STREAM}), else ignored.
     * @param seq         the checkpoint's sequence number (when {@link EventLink#STREAM}).
     */
    public int encode(final MutableDirectBuffer out, final int offset,
        final byte[] tenant, final int tenantLength, final byte[] id, final int idLength, final byte[] model,
        final int modelLength, final int tierCode, final boolean hasTimestamp, final long timestampMs, final long receiptMs,
        final long[] tokens, final boolean thinking, final int linkBits, final byte[] reservation, final int reservationLength,
        final byte[] stream, final int streamLength, final long seq)
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
        if (linkBits != 0)
        {
            content[at++] = LINK_MARKER;
            content[at++] = (byte)linkBits;
            at = putName(content, at, reservation, (linkBits & EventLink.RESERVATION) != 0 ? reservationLength : 0);
            at = putName(content, at, stream, (linkBits & EventLink.STREAM) != 0 ? streamLength : 0);
            at = putLong(content, at, (linkBits & EventLink.STREAM) != 0 ? seq : 0);
        }
        final long contentHash = EventHasher.contentHash(content, 0, at);

        System.arraycopy(tenant, 0, names, 0, tenantLength);
        System.arraycopy(model, 0, names, tenantLength, modelLength);
        System.arraycopy(id, 0, names, tenantLength + modelLength, idLength);
        final long idHashHi = hasher.idHashHi();
        final long idHashLo = hasher.idHashLo();
        int length = staged.wrap(out, offset).encode(idHashHi, idHashLo, contentHash,
            hasTimestamp ? timestampMs : receiptMs, tokens, tierCode,
            (hasTimestamp ? 0 : StagedEvent.FLAG_STAMPED_AT_RECEIPT)
                | (thinking || tokens[REASONING] > 0 ? StagedEvent.FLAG_THINKING : 0),
            names, tenantLength, modelLength, idLength);
        if (linkBits != 0)
        {
            long reservationHi = 0;
            long reservationLo = 0;
            long streamHi = 0;
            long streamLo = 0;
            if ((linkBits & EventLink.RESERVATION) != 0)
            {
                hashScoped(tenant, tenantLength, EventLink.RESERVATION_SEPARATOR, reservation, reservationLength);
                reservationHi = hasher.idHashHi();
                reservationLo = hasher.idHashLo();
            }
            if ((linkBits & EventLink.STREAM) != 0)
            {
                hashScoped(tenant, tenantLength, EventLink.STREAM_SEPARATOR, stream, streamLength);
                streamHi = hasher.idHashHi();
                streamLo = hasher.idHashLo();
            }
            length += staged.encodeLink(linkBits, reservationHi, reservationLo, streamHi, streamLo,
                (linkBits & EventLink.STREAM) != 0 ? seq : 0);
        }
        return length;
    }

    /**
     * @return the 128-bit hash (hi, lo) of a reservation or stream id scoped to its tenant, as the journal and the
     *     budget ledger key them: {@code tenant separator id}. Allocates; for the cold path (the reservation routes).
     */
    public static long[] scopedHash(final byte[] tenant, final byte separator, final byte[] name)
    {
        final byte[] key = new byte[tenant.length + 1 + name.length];
        System.arraycopy(tenant, 0, key, 0, tenant.length);
        key[tenant.length] = separator;
        System.arraycopy(name, 0, key, tenant.length + 1, name.length);
        final EventHasher hasher = new EventHasher();
        hasher.hashId(key, 0, key.length);
        return new long[] {hasher.idHashHi(), hasher.idHashLo()};
    }

    private void hashScoped(final byte[] tenant, final int tenantLength, final byte separator, final byte[] name,
        final int nameLength)
    {
        System.arraycopy(tenant, 0, key, 0, tenantLength);
        key[tenantLength] = separator;
        System.arraycopy(name, 0, key, tenantLength + 1, nameLength);
        hasher.hashId(key, 0, tenantLength + 1 + nameLength);
    }

    private static int putName(final byte[] target, final int at, final byte[] name, final int length)
    {
        target[at] = (byte)length;
        if (length > 0)
        {
            System.arraycopy(name, 0, target, at + 1, length);
        }
        return at + 1 + length;
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
