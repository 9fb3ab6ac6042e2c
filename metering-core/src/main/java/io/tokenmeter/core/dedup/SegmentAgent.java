package io.tokenmeter.core.dedup;

import org.agrona.concurrent.UnsafeBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.locks.LockSupport;

/**
 * The disk tier's background thread: seals handed-off spill buffers as level-0 segments, merges neighbouring
 * segments ({@link MergePolicy}), drops segments past the window or beyond the disk budget, and deletes the files of
 * segments the journal thread no longer maps. It owns the segment list and publishes it, immutable, through
 * {@link #published}; it never maps a segment (merges read files with plain reads).
 *
 * <p>Fields and their one writer:
 * <pre>
 *   journal thread:     toSeal, journalNowMs, adoptedVersion, closing, abandoned
 *   this thread:        published, sealedThroughBatch, the gauges
 * </pre>
 * A merge checks for a buffer to seal every {@value #MERGE_POLL_RECORDS} records and seals it in between, so a long
 * merge never holds the journal back by more than that.
 */
final class SegmentAgent implements Runnable
{
    private static final Logger LOG = LoggerFactory.getLogger(SegmentAgent.class);
    private static final int MERGE_POLL_RECORDS = 1 << 16;
    private static final int READ_CHUNK = 1 << 20;
    private static final long IDLE_NS = 1_000_000L;
    private static final long FAILURE_BACKOFF_NS = 1_000_000_000L;

    private final Path directory;
    private final long windowMs;
    private final long maxSpanMs;
    private final long diskBudgetBytes;
    private final RecordSort sort;
    private final SegmentWriter sealWriter;
    private final SegmentWriter mergeWriter;
    private final ByteBuffer[] readBuffers = new ByteBuffer[MergePolicy.FAN_IN];
    /** The read buffers as Agrona views, read at a cursor of their own: no ByteBuffer position or scope checks. */
    private final UnsafeBuffer[] readViews = new UnsafeBuffer[MergePolicy.FAN_IN];
    /** Files of segments removed from the list, with the list version that removed them. */
    private final List<Path> retiredFiles = new ArrayList<>();
    private final List<Long> retiredAtVersion = new ArrayList<>();

    volatile SpillBuffer toSeal;
    volatile long journalNowMs = Long.MIN_VALUE;
    volatile long adoptedVersion;
    volatile boolean closing;
    /** While set (the journal replays its log), segments are sealed but not merged: the replay waits on seals only. */
    volatile boolean mergesPaused;
    volatile boolean abandoned;

    volatile SegmentList published;
    volatile long sealedThroughBatch;
    volatile long segmentIds;
    volatile long diskBytes;
    volatile int segmentCount;
    volatile long filterBytes;
    volatile long oldestAcceptedAtMs = Long.MAX_VALUE;
    volatile long evictedByBudget;
    volatile long expiredIds;
    volatile long merges;
    volatile long failures;
    /** Duty cycles that found nothing to do: lets a test wait until the background is quiet. */
    volatile long idleCycles;
    volatile Throwable stoppedBy;

    private Segment[] segments;
    private long version;
    private long newestDurableAcceptedAtMs;
    private long appliedNowMs = Long.MIN_VALUE;
    private long backoffUntilNs;

    SegmentAgent(final Path directory, final long windowMs, final long diskBudgetBytes, final int bufferCapacity,
        final int bitsPerId, final Segment[] recovered)
    {
        this.directory = directory;
        this.windowMs = windowMs;
        this.maxSpanMs = windowMs / 8;
        this.diskBudgetBytes = diskBudgetBytes;
        this.sort = new RecordSort(bufferCapacity);
        this.sealWriter = new SegmentWriter(bitsPerId, () -> abandoned);
        this.mergeWriter = new SegmentWriter(bitsPerId, () -> abandoned || closing);
        for (int i = 0; i < readBuffers.length; i++)
        {
            readBuffers[i] = ByteBuffer.allocateDirect(READ_CHUNK).order(ByteOrder.LITTLE_ENDIAN);
            readViews[i] = new UnsafeBuffer(readBuffers[i]);
        }
        this.segments = recovered;
        long sealedThrough = -1;
        long newest = Long.MIN_VALUE;
        for (final Segment segment : recovered)
        {
            sealedThrough = Math.max(sealedThrough, segment.lastBatch);
            newest = Math.max(newest, segment.newestAcceptedAtMs);
        }
        this.sealedThroughBatch = sealedThrough;
        this.newestDurableAcceptedAtMs = newest;
        this.backoffUntilNs = System.nanoTime();
        publish();
    }

    /** Direct and scratch bytes this thread holds whatever the segments (the sort scratch and I/O buffers). */
    long fixedMemoryBytes()
    {
        return sort.memoryBytes() + 2L * SegmentWriter.WRITE_CHUNK + (long)readBuffers.length * READ_CHUNK;
    }

    @Override
    public void run()
    {
        try
        {
            while (!abandoned)
            {
                boolean worked = sealPending();
                if (closing)
                {
                    if (!worked)
                    {
                        return;
                    }
                    continue;
                }
                if (System.nanoTime() - backoffUntilNs >= 0)
                {
                    worked |= expireAndEnforceBudget();
                    worked |= deleteRetired(adoptedVersion);
                    worked = worked || !mergesPaused && mergeOnce();
                }
                if (!worked)
                {
                    idleCycles++;
                    LockSupport.parkNanos(IDLE_NS);
                }
            }
        }
        catch (final CancellationException ignored)
        {
            // abandoned: stop where we are, as a crash would
        }
        catch (final Throwable t)
        {
            stoppedBy = t;
            LOG.error("dedup disk tier in {} stopped", directory, t);
        }
        finally
        {
            if (abandoned)
            {
                sealWriter.abandon();
                mergeWriter.abandon();
            }
        }
    }

    /** Deletes the files of every retired segment: only once the journal maps none of them. */
    void deleteAllRetired()
    {
        deleteRetired(Long.MAX_VALUE);
    }

    /**
     * Seals the handed-off buffer when its batch is the next one: {@code sealedThroughBatch + 1}. The buffer read
     * from {@link #toSeal} may be stale: read just before the journal hands off the next one, it is the buffer
     * already sealed, which the journal then clears and refills for the batch after (a buffer is reused once its
     * segment is published). Its batch is then the sealed one or that one plus two, never the next, so it is
     * skipped and the next cycle reads the buffer really handed off. The journal hands batches off in order, one at
     * a time, each only once the one before is sealed, so the next to seal is always {@code sealedThroughBatch + 1}.
     *
     * @return whether a buffer was sealed.
     */
    private boolean sealPending()
    {
        final SpillBuffer buffer = toSeal;
        final long batch = buffer == null ? -1 : buffer.batch();
        if (buffer == null || batch != sealedThroughBatch + 1)
        {
            return false;
        }
        if (System.nanoTime() - backoffUntilNs < 0 && !closing)
        {
            return false;
        }
        final String name = SegmentFile.fileName(0, batch, batch);
        try
        {
            final int n = buffer.size();
            sort.sort(buffer.hi, buffer.loFold, n);
            sealWriter.begin(directory.resolve(name + SegmentFile.TMP_SUFFIX), n);
            for (int i = 0; i < n; i++)
            {
                final long loFold = sort.loFold(i);
                final long hi = sort.hi(i);
                // an id added twice: its copies are adjacent, in the order added; only the last, the newest, is kept
                if (i + 1 < n && sort.hi(i + 1) == hi && (int)(sort.loFold(i + 1) >>> 32) == (int)(loFold >>> 32))
                {
                    continue;
                }
                sealWriter.add(hi, (int)(loFold >>> 32), (int)loFold);
            }
            final Segment segment = sealWriter.seal(directory.resolve(name), 0, batch, batch,
                buffer.oldestAcceptedAtMs(), buffer.newestAcceptedAtMs());
            final Segment[] next = Arrays.copyOf(segments, segments.length + 1);
            next[segments.length] = segment;
            segments = next;
            newestDurableAcceptedAtMs = Math.max(newestDurableAcceptedAtMs, segment.newestAcceptedAtMs);
            sealedThroughBatch = batch;
            publish();
            return true;
        }
        catch (final IOException ex)
        {
            sealWriter.abort();
            fail("sealing " + name, ex);
            return false;
        }
    }

    private boolean expireAndEnforceBudget()
    {
        final long nowMs = journalNowMs;
        long bytes = 0;
        for (final Segment segment : segments)
        {
            bytes += segment.fileBytes;
        }
        if (nowMs == appliedNowMs && bytes <= diskBudgetBytes)
        {
            return false;
        }
        appliedNowMs = nowMs;
        final long oldestKeptMs = nowMs == Long.MIN_VALUE ? Long.MIN_VALUE : nowMs - windowMs;
        final List<Segment> kept = new ArrayList<>(segments.length);
        long expired = 0;
        for (final Segment segment : segments)
        {
            if (segment.newestAcceptedAtMs < oldestKeptMs)
            {
                expired += segment.ids;
                bytes -= segment.fileBytes;
                retire(segment);
            }
            else
            {
                kept.add(segment);
            }
        }
        long evicted = 0;
        while (bytes > diskBudgetBytes && !kept.isEmpty())
        {
            final Segment oldest = kept.remove(0);
            evicted += oldest.ids;
            bytes -= oldest.fileBytes;
            retire(oldest);
            LOG.warn("dedup disk budget of {} bytes reached in {}: dropped {} ({} ids) before the window ended",
                diskBudgetBytes, directory, oldest.path.getFileName(), oldest.ids);
        }
        if (kept.size() == segments.length)
        {
            return false;
        }
        expiredIds += expired;
        evictedByBudget += evicted;
        segments = kept.toArray(new Segment[0]);
        publish();
        return true;
    }

    private boolean mergeOnce()
    {
        final long group = MergePolicy.pick(segments, maxSpanMs);
        if (group < 0)
        {
            return false;
        }
        final int from = (int)(group >>> 32);
        final int to = (int)group;
        final Segment[] inputs = Arrays.copyOfRange(segments, from, to);
        final Segment first = inputs[0];
        final Segment last = inputs[inputs.length - 1];
        final int level = first.level + 1;
        final String name = SegmentFile.fileName(level, first.firstBatch, last.lastBatch);
        final FileChannel[] channels = new FileChannel[inputs.length];
        try
        {
            long maxIds = 0;
            long oldest = Long.MAX_VALUE;
            long newest = Long.MIN_VALUE;
            for (int i = 0; i < inputs.length; i++)
            {
                maxIds += inputs[i].ids;
                oldest = Math.min(oldest, inputs[i].oldestAcceptedAtMs);
                newest = Math.max(newest, inputs[i].newestAcceptedAtMs);
                channels[i] = FileChannel.open(inputs[i].path, StandardOpenOption.READ);
            }
            mergeWriter.begin(directory.resolve(name + SegmentFile.TMP_SUFFIX), maxIds);
            merge(inputs, channels);
            final Segment merged = mergeWriter.seal(directory.resolve(name), level, first.firstBatch, last.lastBatch,
                oldest, newest);
            replace(inputs, merged);
            merges++;
            return true;
        }
        catch (final CancellationException ex)
        {
            if (abandoned)
            {
                throw ex;
            }
            mergeWriter.abort();
            return false;
        }
        catch (final IOException ex)
        {
            mergeWriter.abort();
            fail("merging into " + name, ex);
            return false;
        }
        finally
        {
            for (final FileChannel channel : channels)
            {
                closeQuietly(channel);
            }
        }
    }

    /** A k-way merge of the inputs' records; of equal keys the newest input's goes first (the writer keeps it). */
    private void merge(final Segment[] inputs, final FileChannel[] channels) throws IOException
    {
        final int k = inputs.length;
        final long[] remaining = new long[k];
        final long[] position = new long[k];
        final int[] cursor = new int[k];
        final int[] filled = new int[k];
        final long[] headHi = new long[k];
        final int[] headLo = new int[k];
        final int[] headFold = new int[k];
        final boolean[] live = new boolean[k];
        final Inputs in = new Inputs(channels, remaining, position, cursor, filled, headHi, headLo, headFold);
        for (int i = 0; i < k; i++)
        {
            remaining[i] = inputs[i].ids;
            position[i] = SegmentFile.HEADER_LENGTH;
            live[i] = advance(i, in);
        }
        long written = 0;
        while (true)
        {
            int best = -1;
            for (int i = k - 1; i >= 0; i--)
            {
                if (live[i] && (best < 0 || SegmentWriter.compare(headHi[i], headLo[i], headHi[best], headLo[best]) < 0))
                {
                    best = i;
                }
            }
            if (best < 0)
            {
                return;
            }
            mergeWriter.add(headHi[best], headLo[best], headFold[best]);
            live[best] = advance(best, in);
            if ((++written & (MERGE_POLL_RECORDS - 1)) == 0)
            {
                if (abandoned || closing)
                {
                    throw new CancellationException();
                }
                sealPending();
            }
        }
    }

    /** The merge's per-input state, so that {@link #advance} takes two arguments. */
    private record Inputs(FileChannel[] channels, long[] remaining, long[] position, int[] cursor, int[] filled,
        long[] headHi, int[] headLo, int[] headFold)
    {
    }

    /** Reads input {@code i}'s next record into its head, refilling its read buffer when it is used up. */
    private boolean advance(final int i, final Inputs in) throws IOException
    {
        if (in.remaining[i] == 0)
        {
            return false;
        }
        int at = in.cursor[i];
        if (at + SegmentFile.RECORD_BYTES > in.filled[i])
        {
            final ByteBuffer buffer = readBuffers[i];
            buffer.clear();
            final long left = in.remaining[i] * SegmentFile.RECORD_BYTES;
            if (left < buffer.capacity())
            {
                buffer.limit((int)left);
            }
            SegmentFile.readFully(in.channels[i], buffer, in.position[i]);
            in.position[i] += buffer.position();
            in.filled[i] = buffer.position();
            at = 0;
        }
        final UnsafeBuffer view = readViews[i];
        in.headHi[i] = view.getLong(at, ByteOrder.LITTLE_ENDIAN);
        in.headLo[i] = view.getInt(at + 8, ByteOrder.LITTLE_ENDIAN);
        in.headFold[i] = view.getInt(at + 12, ByteOrder.LITTLE_ENDIAN);
        in.cursor[i] = at + SegmentFile.RECORD_BYTES;
        in.remaining[i]--;
        return true;
    }

    private void replace(final Segment[] inputs, final Segment merged)
    {
        final List<Segment> next = new ArrayList<>(segments.length);
        boolean placed = false;
        for (final Segment segment : segments)
        {
            if (Arrays.asList(inputs).contains(segment))
            {
                if (!placed)
                {
                    next.add(merged);
                    placed = true;
                }
            }
            else
            {
                next.add(segment);
            }
        }
        if (!placed)
        {
            throw new IllegalStateException("merge inputs left the segment list during the merge");
        }
        segments = next.toArray(new Segment[0]);
        for (final Segment input : inputs)
        {
            retire(input);
        }
        publish();
    }

    private void retire(final Segment segment)
    {
        retiredFiles.add(segment.path);
        retiredAtVersion.add(version + 1);
    }

    private boolean deleteRetired(final long adopted)
    {
        boolean deleted = false;
        for (int i = retiredFiles.size() - 1; i >= 0; i--)
        {
            if (retiredAtVersion.get(i) <= adopted)
            {
                try
                {
                    Files.deleteIfExists(retiredFiles.get(i));
                }
                catch (final IOException ex)
                {
                    LOG.warn("could not delete dedup segment {}: {}", retiredFiles.get(i), ex.toString());
                }
                retiredFiles.remove(i);
                retiredAtVersion.remove(i);
                deleted = true;
            }
        }
        return deleted;
    }

    private void publish()
    {
        long ids = 0;
        long bytes = 0;
        long memory = 0;
        long oldest = Long.MAX_VALUE;
        for (final Segment segment : segments)
        {
            ids += segment.ids;
            bytes += segment.fileBytes;
            memory += segment.memoryBytes();
            oldest = Math.min(oldest, segment.oldestAcceptedAtMs);
        }
        segmentIds = ids;
        diskBytes = bytes;
        filterBytes = memory;
        oldestAcceptedAtMs = oldest;
        segmentCount = segments.length;
        published = new SegmentList(++version, segments, sealedThroughBatch, newestDurableAcceptedAtMs);
    }

    private void fail(final String what, final IOException ex)
    {
        failures++;
        backoffUntilNs = System.nanoTime() + FAILURE_BACKOFF_NS;
        LOG.warn("dedup disk tier in {}: {} failed ({} failures so far), retrying in 1 s: {}", directory, what,
            failures, ex.toString());
    }

    private static void closeQuietly(final FileChannel channel)
    {
        if (channel != null)
        {
            try
            {
                channel.close();
            }
            catch (final IOException ignored)
            {
                // read-only
            }
        }
    }
}
