package io.tokenmeter.core.event;

/**
 * What links an event to more than its own usage (SPEC section 12): the reservation whose hold it settles, and the
 * stream it is a checkpoint of. Staged after the event ({@link StagedEvent#encodeLink}) and logged as a LINK record
 * right after the event's record ({@link LogLayout#RECORD_EVENT_LINK}). Names are kept as 128-bit hashes, scoped to
 * the tenant like event ids: {@code tenant 0x01 reservation} and {@code tenant 0x02 stream}.
 */
public final class EventLink
{
    /** The event settles the hold of the reservation it names. */
    public static final int RESERVATION = 1;
    /** The event is a checkpoint of a stream: its token counts in the log are its increase over the stream's highest. */
    public static final int STREAM = 2;
    /** The stream's last checkpoint. */
    public static final int FINAL = 4;
    /**
     * Set by the journal: the stream had a checkpoint before this one, so its event is not another request (the
     * counters take back the request its event would add; its tokens count).
     */
    public static final int CONTINUED = 8;

    /** The byte between the tenant and a reservation id in its hash's key. */
    public static final byte RESERVATION_SEPARATOR = 1;
    /** The byte between the tenant and a stream id in its hash's key. */
    public static final byte STREAM_SEPARATOR = 2;

    private EventLink()
    {
    }
}
