package io.tokenmeter.core.event;

/**
 * The binary layout of the log. One Chronicle document per journal drain; all fields little-endian.
 *
 * <pre>
 * Document header (16 bytes)
 *  0    1    2         4                   8                                16
 *  +----+----+---------+-------------------+---------------------------------+
 *  |kind|ver | reserved| recordCount i32   | appendTimeMs i64 (journal clock) |
 *  +----+----+---------+-------------------+---------------------------------+
 *  then recordCount records, each starting with a type byte:
 *
 * NAME record (tenant = 2, model = 3): defines an interned id before its first use
 *  0    1    2         4          8
 *  +----+----+---------+----------+-----------------+
 *  |type|len | reserved| id i32   | name bytes (len)|
 *  +----+----+---------+----------+-----------------+
 *
 * EVENT record, compact (type 4; written since partitions): one accepted event in 28 bytes, then varints, then the id
 * (about 50 to 60 bytes for a 20-byte id, against 116 for type 1)
 *  0    1    2    3    4                   12                  20                  28
 *  +----+----+----+----+-------------------+-------------------+-------------------+---------------------------+------+
 *  |type|tier|flag|iLen| idHashHi i64      | idHashLo i64      | contentHash i64   | varints (below)           | id   |
 *  +----+----+----+----+-------------------+-------------------+-------------------+---------------------------+------+
 *  varints (unsigned LEB128, 7 bits a byte, low first): tenantId, modelId, zigzag(timestampMs - the document's
 *  appendTimeMs), then the six token counts in token class order
 *
 * LINK record (type 5): right after the EVENT record it belongs to, what links that event to more than its usage
 * ({@link EventLink}): the reservation whose hold it settles, the stream it is a checkpoint of (whose event's token
 * counts are then the checkpoint's increase over the stream's highest, as the journal decided it). 44 bytes
 *  0    1    2         4                   12                  20                  28                  36          44
 *  +----+----+---------+-------------------+-------------------+-------------------+-------------------+-----------+
 *  |type|bits| reserved| reservation hi    | reservation lo    | stream hi         | stream lo         | seq i64   |
 *  +----+----+---------+-------------------+-------------------+-------------------+-------------------+-----------+
 *
 * EVENT record (type 1, written before partitions; still read): one accepted event, 96 bytes + id
 *  0    1    2    3    4          8          12         16
 *  +----+----+----+----+----------+----------+----------+--------------------+
 *  |type|tier|flag|iLen|tenantId  |modelId   | reserved | timestampMs i64    |
 *  +----+----+----+----+----------+----------+----------+--------------------+
 *  | idHashHi i64 (24) | idHashLo i64 (32)   | contentHash i64 (40)          |
 *  +-------------------+---------------------+-------------------------------+
 *  | tokens 6 x i64 (48..95): input, cache_read, cache_write, cache_write_1h,  |
 *  | output, reasoning                                                         |
 *  +---------------------------------------------------------------------------+
 *  | id bytes (iLen)                                                           |
 *  +---------------------------------------------------------------------------+
 * </pre>
 *
 * CONTROL document (kind 3): one record that is not usage but changes how the journal or billing decides from this
 * point of the log on, in log order: a price book ({@link #CONTROL_PRICE_BOOK}, payload the book's JSON), a tenant's
 * prepaid credit grant ({@link #CONTROL_CREDIT_GRANT}, payload the grant's JSON, in its tenant's partition only), and
 * the kinds later versions add (budgets, reservations, final invoices). Each kind has one handler in the journal's command table.
 * <pre>
 *  0    1    2         4          8                   16            20          24                 32          36
 *  +----+----+---------+----------+-------------------+-------------+-----------+------------------+-----------+---------------+
 *  | 3  |ver | reserved| 0 i32    | appendTimeMs i64  | control i32 | reserved  | revision i64     | len i32   | payload (len) |
 *  +----+----+---------+----------+-------------------+-------------+-----------+------------------+-----------+---------------+
 * </pre>
 *
 * PRICE BOOK document (kind 2, written before CONTROL documents existed and still read, as a CONTROL record of kind
 * {@link #CONTROL_PRICE_BOOK}):
 * <pre>
 *  0    1    2         4          8                   16                 24          28
 *  +----+----+---------+----------+-------------------+------------------+-----------+----------------------+
 *  | 2  |ver | reserved| 0 i32    | appendTimeMs i64  | revision i64     | len i32   | book JSON, UTF-8 (len)|
 *  +----+----+---------+----------+-------------------+------------------+-----------+----------------------+
 * </pre>
 *
 * Event record flags: bit 0 ({@link #FLAG_STAMPED_AT_RECEIPT}) the client sent no timestamp; bits 1 to 7 the event's
 * {@link RateVariant}: bits 1-3 its context tier in the book in force when it was journaled (0 standard; tier 1, {@link
 * #FLAG_LONG_CONTEXT}, is also the one-tier {@code long_context}, the only tier logs of earlier versions hold), bit 4
 * ({@link #FLAG_THINKING}) the request was made in thinking mode, bits 5-7 the time window its timestamp fell in.
 *
 * Version 2 documents (of both kinds) end with a CRC32C (i32) over every byte before it, so a document damaged on disk
 * (a file cut short and zero-filled, a torn write) is recognised and skipped whole instead of counted wrong; version 1
 * documents have no checksum and are still read. Version 3 documents (of both kinds, written since the chain) hold, just
 * before the CRC32C, the SHA-256 of the whole previous document of the partition's log (32 zero bytes for its first
 * document), so the log is a hash chain: an edited document, even with its CRC32C recomputed, a removed one and two
 * swapped are found by {@code io.tokenmeter.core.log.ChainVerifier}. The checksum covers the hash.
 *
 * Only accepted events are written, so counting needs no dedup on replay. The journal's clock only ever moves
 * forward ({@code appendTimeMs} never decreases), which makes the dedup window a function of the log alone.
 */
public final class LogLayout
{
    public static final byte DOCUMENT_KIND_EVENTS = 1;
    /** Price book documents of earlier versions; read, no longer written (a CONTROL of kind {@link #CONTROL_PRICE_BOOK}). */
    public static final byte DOCUMENT_KIND_PRICE_BOOK = 2;
    public static final byte DOCUMENT_KIND_CONTROL = 3;

    /** Control kind: a price book put in force; payload its JSON (UTF-8). */
    public static final int CONTROL_PRICE_BOOK = 1;
    /**
     * Control kind: a prepaid credit grant of one tenant (SPEC section 11), written in that tenant's partition only;
     * payload the grant's canonical JSON (UTF-8, with its tenant), revision 1 (the payload's format).
     */
    public static final int CONTROL_CREDIT_GRANT = 2;
    /**
     * Control kind: a tenant's budget put in force (SPEC section 12), in its partition only; payload the budget's
     * canonical JSON (UTF-8, with its tenant), revision 1 (the payload's format).
     */
    public static final int CONTROL_BUDGET = 3;
    /**
     * Control kind: a reservation asked for, or released (SPEC section 12), in its tenant's partition only; payload the
     * request's canonical JSON (UTF-8), revision 1. What it decides is a function of the log up to it, so replay decides
     * the same.
     */
    public static final int CONTROL_RESERVATION = 4;
    /**
     * Control kind: a tenant's final invoice (cluster mode with an owners group), in its partition only, numbered in the
     * partition's own series; payload the invoice's JSON (UTF-8, with its basis), revision 1 (the payload's format).
     */
    public static final int CONTROL_FINAL_INVOICE = 5;
    /** Control kinds are below this (the size of the journal's command table). */
    public static final int MAX_CONTROL_KINDS = 16;
    public static final int CONTROL_KIND_OFFSET = 16;
    public static final int CONTROL_REVISION_OFFSET = 24;
    public static final int CONTROL_LENGTH_OFFSET = 32;
    public static final int CONTROL_PAYLOAD_OFFSET = 36;
    /**
     * The version written: 3 ends every document with the previous document's SHA-256 and a CRC32C; versions 2 (only the
     * CRC32C) and 1 (neither) are still read.
     */
    public static final byte DOCUMENT_VERSION = 3;
    public static final byte DOCUMENT_VERSION_WITHOUT_CHAIN = 2;
    public static final byte DOCUMENT_VERSION_WITHOUT_CHECKSUM = 1;
    /** Length of the CRC32C (i32, little-endian) that ends a version 2 or 3 document, over every byte before it. */
    public static final int CHECKSUM_LENGTH = 4;
    /** Length of the previous document's SHA-256 that a version 3 document holds just before its CRC32C. */
    public static final int CHAIN_HASH_LENGTH = 32;
    /** What a version 3 document holds after its content: the chain hash and the checksum. */
    public static final int CHAINED_TRAILER_LENGTH = CHAIN_HASH_LENGTH + CHECKSUM_LENGTH;

    public static final int PRICE_BOOK_REVISION_OFFSET = 16;
    public static final int PRICE_BOOK_LENGTH_OFFSET = 24;
    public static final int PRICE_BOOK_JSON_OFFSET = 28;

    public static final int FLAG_STAMPED_AT_RECEIPT = 1;
    /** Context tier 1: the one-tier {@code long_context}, or the first of a version's {@code context_tiers}. */
    public static final int FLAG_LONG_CONTEXT = 2;
    /** The request was made in thinking mode (its reasoning tokens are above 0, or the event said so). */
    public static final int FLAG_THINKING = 1 << 4;

    public static final int DOC_KIND_OFFSET = 0;
    public static final int DOC_VERSION_OFFSET = 1;
    public static final int DOC_RECORD_COUNT_OFFSET = 4;
    public static final int DOC_APPEND_TIME_OFFSET = 8;
    public static final int DOC_HEADER_LENGTH = 16;

    public static final byte RECORD_EVENT = 1;
    public static final byte RECORD_TENANT_NAME = 2;
    public static final byte RECORD_MODEL_NAME = 3;
    public static final byte RECORD_EVENT_COMPACT = 4;
    public static final byte RECORD_EVENT_LINK = 5;
    public static final int LINK_BITS_OFFSET = 1;
    public static final int LINK_RESERVATION_HI_OFFSET = 4;
    public static final int LINK_RESERVATION_LO_OFFSET = 12;
    public static final int LINK_STREAM_HI_OFFSET = 20;
    public static final int LINK_STREAM_LO_OFFSET = 28;
    public static final int LINK_SEQ_OFFSET = 36;
    public static final int LINK_LENGTH = 44;

    public static final int COMPACT_ID_HASH_HI_OFFSET = 4;
    public static final int COMPACT_ID_HASH_LO_OFFSET = 12;
    public static final int COMPACT_CONTENT_HASH_OFFSET = 20;
    public static final int COMPACT_VARINTS_OFFSET = 28;
    /** The longest a compact record can be: its fixed part, nine varints of at most 10 bytes, a 255-byte id. */
    public static final int COMPACT_MAX_LENGTH = COMPACT_VARINTS_OFFSET + 9 * 10 + 255;

    public static final int NAME_LENGTH_OFFSET = 1;
    public static final int NAME_ID_OFFSET = 4;
    public static final int NAME_BYTES_OFFSET = 8;

    public static final int EVENT_TIER_OFFSET = 1;
    public static final int EVENT_FLAGS_OFFSET = 2;
    public static final int EVENT_ID_LENGTH_OFFSET = 3;
    public static final int EVENT_TENANT_ID_OFFSET = 4;
    public static final int EVENT_MODEL_ID_OFFSET = 8;
    public static final int EVENT_TIMESTAMP_OFFSET = 16;
    public static final int EVENT_ID_HASH_HI_OFFSET = 24;
    public static final int EVENT_ID_HASH_LO_OFFSET = 32;
    public static final int EVENT_CONTENT_HASH_OFFSET = 40;
    public static final int EVENT_TOKENS_OFFSET = 48;
    public static final int EVENT_ID_OFFSET = 96;
    public static final int EVENT_FIXED_LENGTH = EVENT_ID_OFFSET;

    private LogLayout()
    {
    }
}
