package io.tokenmeter.core.dedup;

/**
 * The live segments as the background thread last published them: immutable, handed to the journal thread through
 * one volatile field. Segments are in batch order, oldest first.
 */
final class SegmentList
{
    static final SegmentList EMPTY = new SegmentList(0, new Segment[0], -1, Long.MIN_VALUE);

    /** Grows by one with every publication; the journal reports the version it has adopted. */
    final long version;
    final Segment[] segments;
    /** The highest batch number ever sealed (it stays when that batch's segment leaves). */
    final long sealedThroughBatch;
    /** The newest acceptedAtMs ever sealed (it stays when that segment leaves). */
    final long newestDurableAcceptedAtMs;

    SegmentList(final long version, final Segment[] segments, final long sealedThroughBatch,
        final long newestDurableAcceptedAtMs)
    {
        this.version = version;
        this.segments = segments;
        this.sealedThroughBatch = sealedThroughBatch;
        this.newestDurableAcceptedAtMs = newestDurableAcceptedAtMs;
    }
}
