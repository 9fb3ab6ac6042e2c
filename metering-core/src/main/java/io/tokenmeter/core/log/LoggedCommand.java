package io.tokenmeter.core.log;

import org.agrona.DirectBuffer;

/**
 * The journal's handler of a kind of control record it records and keeps nothing of: budgets and reservations, which
 * the partition's aggregator decides in log order ({@link io.tokenmeter.core.aggregate.LogFollower}). The journal's
 * part is the order itself: records of every thread are serialized in its one log.
 */
public final class LoggedCommand implements ControlHandler
{
    @Override
    public JournalRequest.Refusal check(final ControlRequest request)
    {
        return null;
    }

    @Override
    public void onRecorded(final ControlRequest request, final long logIndex, final long appendTimeMs)
    {
    }

    @Override
    public void onReplayed(final long revision, final DirectBuffer payload, final int offset, final int length,
        final long logIndex, final long appendTimeMs)
    {
    }
}
