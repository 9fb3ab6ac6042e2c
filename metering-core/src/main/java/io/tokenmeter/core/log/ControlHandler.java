package io.tokenmeter.core.log;

import org.agrona.DirectBuffer;

import java.nio.ByteBuffer;

/**
 * What a journal does with one kind of CONTROL record: an entry of its command table ({@link JournalAgent#handle}).
 * Every method runs on the journal thread, in log order, so a handler decides against the state it owns exactly as
 * replay will decide again: a new kind of record (reservations, credit grants) is a handler, not a change to the
 * journal's duty cycle.
 */
public interface ControlHandler
{
    /**
     * Before the append.
     *
     * @return null to record the request, or why it is refused (nothing is written then).
     */
    JournalRequest.Refusal check(ControlRequest request);

    /** After the request's record was appended at {@code logIndex}. */
    void onRecorded(ControlRequest request, long logIndex, long appendTimeMs);

    /**
     * Recovery: a record of this kind read back from the log at {@code logIndex}; the payload is valid during the call.
     * Recovery replays from the journal checkpoint's replay point (the oldest live dedup id), so a handler sees the
     * records after it: state it needs from older records must be in the checkpoint, as the price book's position and
     * revision and the history of every book are, or in the handler's own {@link #checkpointState}.
     */
    void onReplayed(long revision, DirectBuffer payload, int offset, int length, long logIndex, long appendTimeMs);

    /**
     * The state this handler keeps from its records, written into the journal's checkpoint (as of the checkpoint's log
     * index), so that a recovery that replays from a later point than a record still has it; null when the handler
     * keeps none. Journal thread.
     */
    default byte[] checkpointState()
    {
        return null;
    }

    /**
     * Recovery, before the replay: the state {@link #checkpointState} gave for the checkpoint being loaded. The replay
     * that follows starts at or before the checkpoint's log index, so it may hand the handler records this state
     * already holds: {@link #onReplayed} must take them again without counting them twice.
     */
    default void restoreCheckpointState(final ByteBuffer state)
    {
    }
}
