package io.tokenmeter.core.event;

import org.agrona.DirectBuffer;
import org.agrona.ExpandableDirectByteBuffer;
import org.agrona.MutableDirectBuffer;

import static io.tokenmeter.core.event.LogLayout.*;

/**
 * Assembles one log document (layout in {@link LogLayout}) in a reusable direct buffer. Owned by the journal thread.
 * A position can be marked and restored, so that a request refused part-way leaves nothing behind.
 */
public final class LogDocumentWriter
{
    private final java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    /** A view of the buffer's memory for the checksum, remade only when the buffer grows. */
    private java.nio.ByteBuffer checksumSource;
    private java.nio.ByteBuffer checksumView;

    private final ExpandableDirectByteBuffer buffer;
    private int length;
    private int recordCount;
    private long appendTimeMs;

    public LogDocumentWriter(final int initialCapacity)
    {
        buffer = new ExpandableDirectByteBuffer(initialCapacity);
    }

    public void begin(final long appendTimeMs)
    {
        buffer.putByte(DOC_KIND_OFFSET, DOCUMENT_KIND_EVENTS);
        buffer.putByte(DOC_VERSION_OFFSET, DOCUMENT_VERSION);
        buffer.putShort(DOC_KIND_OFFSET + 2, (short)0);
        buffer.putInt(DOC_RECORD_COUNT_OFFSET, 0);
        buffer.putLong(DOC_APPEND_TIME_OFFSET, appendTimeMs);
        this.appendTimeMs = appendTimeMs;
        length = DOC_HEADER_LENGTH;
        recordCount = 0;
    }

    public void appendName(final byte recordType, final int id, final DirectBuffer src, final int srcOffset, final int nameLength)
    {
        final MutableDirectBuffer out = buffer;
        final int at = length;
        out.putByte(at, recordType);
        out.putByte(at + NAME_LENGTH_OFFSET, (byte)nameLength);
        out.putShort(at + 2, (short)0);
        out.putInt(at + NAME_ID_OFFSET, id);
        out.putBytes(at + NAME_BYTES_OFFSET, src, srcOffset, nameLength);
        length = at + NAME_BYTES_OFFSET + nameLength;
        recordCount++;
    }

    /**
     * Appends a compact EVENT record (type 4); {@code extraFlags} (e.g. {@link LogLayout#FLAG_LONG_CONTEXT}) join the
     * event's own. The timestamp is stored relative to the document's time, the ids and token counts as varints.
     */
    public void appendEvent(final StagedEvent event, final int tenantId, final int modelId, final int extraFlags)
    {
        appendEvent(event, tenantId, modelId, extraFlags, null);
    }

    /**
     * As {@link #appendEvent(StagedEvent, int, int, int)}, with the token counts to log in place of the staged ones (a
     * stream checkpoint's increase over the stream's highest), or null for the staged ones.
     */
    public void appendEvent(final StagedEvent event, final int tenantId, final int modelId, final int extraFlags,
        final long[] tokens)
    {
        final MutableDirectBuffer out = buffer;
        final int idLength = event.idLength();
        buffer.checkLimit(length + COMPACT_MAX_LENGTH);
        final int start = length;
        out.putByte(start, RECORD_EVENT_COMPACT);
        out.putByte(start + EVENT_TIER_OFFSET, (byte)event.tierCode());
        out.putByte(start + EVENT_FLAGS_OFFSET, (byte)((event.flags() & StagedEvent.LOGGED_FLAGS) | extraFlags));
        out.putByte(start + EVENT_ID_LENGTH_OFFSET, (byte)idLength);
        out.putLong(start + COMPACT_ID_HASH_HI_OFFSET, event.idHashHi());
        out.putLong(start + COMPACT_ID_HASH_LO_OFFSET, event.idHashLo());
        out.putLong(start + COMPACT_CONTENT_HASH_OFFSET, event.contentHash());
        int at = start + COMPACT_VARINTS_OFFSET;
        at = putVarint(out, at, tenantId);
        at = putVarint(out, at, modelId);
        final long delta = event.timestampMs() - appendTimeMs;
        at = putVarint(out, at, (delta << 1) ^ (delta >> 63));
        for (int i = 0; i < TokenClass.COUNT; i++)
        {
            at = putVarint(out, at, tokens == null ? event.tokens(i) : tokens[i]);
        }
        out.putBytes(at, event.buffer(), event.idOffset(), idLength);
        length = at + idLength;
        recordCount++;
    }

    /**
     * Appends the LINK record of the event appended last ({@link LogLayout#RECORD_EVENT_LINK}): the reservation it
     * settles, the stream checkpoint it is.
     */
    public void appendLink(final int bits, final long reservationHi, final long reservationLo, final long streamHi,
        final long streamLo, final long seq)
    {
        buffer.checkLimit(length + LINK_LENGTH);
        final int start = length;
        buffer.putByte(start, RECORD_EVENT_LINK);
        buffer.putByte(start + LINK_BITS_OFFSET, (byte)bits);
        buffer.putShort(start + 2, (short)0);
        buffer.putLong(start + LINK_RESERVATION_HI_OFFSET, reservationHi);
        buffer.putLong(start + LINK_RESERVATION_LO_OFFSET, reservationLo);
        buffer.putLong(start + LINK_STREAM_HI_OFFSET, streamHi);
        buffer.putLong(start + LINK_STREAM_LO_OFFSET, streamLo);
        buffer.putLong(start + LINK_SEQ_OFFSET, seq);
        length = start + LINK_LENGTH;
        recordCount++;
    }

    /** Unsigned LEB128: 7 bits a byte, low first, the top bit set on every byte but the last. */
    private static int putVarint(final MutableDirectBuffer out, final int offset, final long value)
    {
        int at = offset;
        long v = value;
        while ((v & ~0x7FL) != 0)
        {
            out.putByte(at++, (byte)((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.putByte(at++, (byte)v);
        return at;
    }

    /**
     * Writes a whole CONTROL document (layout in {@link LogLayout}), replacing anything begun.
     *
     * @return the document length.
     */
    public int writeControl(final long appendTimeMs, final int controlKind, final long revision, final byte[] payload,
        final byte[] previousSha256)
    {
        recordHeader(DOCUMENT_KIND_CONTROL, appendTimeMs);
        buffer.putInt(CONTROL_KIND_OFFSET, controlKind);
        buffer.putInt(CONTROL_KIND_OFFSET + 4, 0);
        buffer.putLong(CONTROL_REVISION_OFFSET, revision);
        buffer.putInt(CONTROL_LENGTH_OFFSET, payload.length);
        buffer.putBytes(CONTROL_PAYLOAD_OFFSET, payload);
        length = CONTROL_PAYLOAD_OFFSET + payload.length;
        recordCount = 0;
        return withTrailer(length, previousSha256);
    }

    /** The header of a document that holds one record and no event records. */
    private void recordHeader(final byte kind, final long appendTimeMs)
    {
        buffer.putByte(DOC_KIND_OFFSET, kind);
        buffer.putByte(DOC_VERSION_OFFSET, DOCUMENT_VERSION);
        buffer.putShort(DOC_KIND_OFFSET + 2, (short)0);
        buffer.putInt(DOC_RECORD_COUNT_OFFSET, 0);
        buffer.putLong(DOC_APPEND_TIME_OFFSET, appendTimeMs);
    }

    /** @return a mark to {@link #reset(long)} to: the length and record count packed in one long. */
    public long mark()
    {
        return ((long)recordCount << 32) | length;
    }

    public void reset(final long mark)
    {
        length = (int)mark;
        recordCount = (int)(mark >>> 32);
    }

    /**
     * Completes the document: record count, the previous document's hash and the checksum.
     *
     * @param previousSha256 the SHA-256 of the log's last document ({@code EventLog#lastDocumentSha256()}), 32 bytes.
     * @return its whole length.
     */
    public int finish(final byte[] previousSha256)
    {
        buffer.putInt(DOC_RECORD_COUNT_OFFSET, recordCount);
        return withTrailer(length, previousSha256);
    }

    /** Appends the previous document's SHA-256 and the CRC32C of every byte before it; @return the length with both. */
    private int withTrailer(final int contentLength, final byte[] previousSha256)
    {
        if (previousSha256.length != CHAIN_HASH_LENGTH)
        {
            throw new IllegalArgumentException("a chain hash is " + CHAIN_HASH_LENGTH + " bytes, not " + previousSha256.length);
        }
        buffer.putBytes(contentLength, previousSha256);
        final int checkedLength = contentLength + CHAIN_HASH_LENGTH;
        buffer.checkLimit(checkedLength + CHECKSUM_LENGTH);
        if (checksumView == null || checksumSource != buffer.byteBuffer())
        {
            checksumSource = buffer.byteBuffer();
            checksumView = checksumSource.duplicate();
        }
        checksumView.clear().limit(checkedLength);
        crc.reset();
        crc.update(checksumView);
        buffer.putInt(checkedLength, (int)crc.getValue());
        return checkedLength + CHECKSUM_LENGTH;
    }

    public int recordCount()
    {
        return recordCount;
    }

    public int length()
    {
        return length;
    }

    public ExpandableDirectByteBuffer buffer()
    {
        return buffer;
    }
}
