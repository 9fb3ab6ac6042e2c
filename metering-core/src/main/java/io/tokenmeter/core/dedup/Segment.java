package io.tokenmeter.core.dedup;

import java.nio.file.Path;

/**
 * One sealed segment file as the background thread publishes it: what its header says, plus the filter and the
 * directory held in memory. Immutable once published; the journal thread maps the records itself
 * ({@link MappedSegment}).
 */
final class Segment
{
    final Path path;
    final int level;
    final long firstBatch;
    final long lastBatch;
    final long ids;
    final long oldestAcceptedAtMs;
    final long newestAcceptedAtMs;
    final long fileBytes;
    final long[] filter;
    final int filterBlocks;
    final int[] directory;
    final int directoryBits;

    Segment(final Path path, final int level, final long firstBatch, final long lastBatch, final long ids,
        final long oldestAcceptedAtMs, final long newestAcceptedAtMs, final long fileBytes, final long[] filter,
        final int[] directory, final int directoryBits)
    {
        this.path = path;
        this.level = level;
        this.firstBatch = firstBatch;
        this.lastBatch = lastBatch;
        this.ids = ids;
        this.oldestAcceptedAtMs = oldestAcceptedAtMs;
        this.newestAcceptedAtMs = newestAcceptedAtMs;
        this.fileBytes = fileBytes;
        this.filter = filter;
        this.filterBlocks = SegmentFilter.blocks(filter);
        this.directory = directory;
        this.directoryBits = directoryBits;
    }

    /** @return heap bytes of the filter and the directory. */
    long memoryBytes()
    {
        return (long)filter.length * Long.BYTES + (long)directory.length * Integer.BYTES;
    }

    /** @return whether this segment's batch range holds all of {@code other}'s (and they are not the same file). */
    boolean covers(final Segment other)
    {
        return this != other && firstBatch <= other.firstBatch && other.lastBatch <= lastBatch
            && (firstBatch != other.firstBatch || lastBatch != other.lastBatch || level > other.level);
    }

    @Override
    public String toString()
    {
        return path.getFileName() + " (" + ids + " ids)";
    }
}
