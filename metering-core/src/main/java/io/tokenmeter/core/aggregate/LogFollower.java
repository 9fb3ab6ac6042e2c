package io.tokenmeter.core.aggregate;

import io.tokenmeter.core.event.LogDocumentReader;
import io.tokenmeter.core.log.EventLog;

import java.nio.ByteBuffer;

/**
 * State kept from a partition's log beside the hour buckets, by the aggregator thread, in log order: every record is
 * handed to the follower right after the {@link HourlyAggregator} applied it, so the follower sees the counters exactly
 * as of the record (the budget ledger decides reservations against the spend the log holds up to each one). Its state
 * is written into the aggregator's snapshot at the same position, so a recovery (a restart, a kill -9) replays the same
 * records onto the same state and decides the same.
 */
public interface LogFollower extends LogDocumentReader.Handler, EventLog.DocumentListener
{
    @Override
    default void onName(final byte recordType, final int id, final org.agrona.DirectBuffer buffer, final int offset,
        final int length)
    {
    }

    /** @return the follower's state as of the last document it was handed, for the aggregator's snapshot. */
    byte[] snapshotState();

    /** Recovery, before any record: the state {@link #snapshotState} gave for the snapshot being loaded. */
    void restoreSnapshotState(ByteBuffer state);

    /**
     * Each duty cycle of the aggregator, after the documents read and the queries answered: room for work that is not a
     * function of the log (a paced check of alert thresholds). Must not block.
     *
     * @return work done, 0 for none.
     */
    default int doWork(final long nowMs)
    {
        return 0;
    }
}
