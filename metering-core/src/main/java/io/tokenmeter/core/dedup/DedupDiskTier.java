package io.tokenmeter.core.dedup;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The disk tier of the dedup window, one per partition: the ids the in-memory {@link DedupIndex} evicts because of
 * its capacity are spilled here, so the whole window stays exact within a disk budget. Owned by the partition's
 * journal thread (the only caller of every method but the gauges); a background thread of its own
 * ({@link SegmentAgent}) seals, merges, expires and deletes.
 *
 * <pre>
 *   journal thread                                              background thread
 *   spill() --> current SpillBuffer (searchable at once)
 *   endOfDocument(): full? --hand off--> in-flight SpillBuffer  --> sort, write .tmp, force, rename: level-0 segment
 *                    adopt the published SegmentList  <--volatile--  publish (merge 4 neighbours into the next level,
 *                    map new segments, unmap gone ones                drop segments past the window or the budget)
 *                    report the adopted version      --volatile-->  delete files no longer mapped
 *   find(): the recent filters (RecentFilters: the ids spilled lately, one 128-byte probe); when they say no, only the
 *           buffers and segments older than they cover; else current buffer, in-flight buffer, then each segment
 *           newest first: filter (one 64-byte block), directory, interpolation in about 32 to 64 mapped records
 * </pre>
 *
 * <p>A record keeps 96 bits of the 128-bit id hash and a 32-bit fold of the content hash (layout in
 * {@link SegmentFile}). A new id is mistaken for a held one only if all 96 bits match one of the {@code n} held ids:
 * about {@code n / 2^96} per lookup; with the 1.73 billion ids of a 24 h window at 20,000 ids/s that is
 * 2^30.7 / 2^96 = 2^-65.3 per lookup, and over the 1.73 billion lookups of a day 2^-34.6, one in about 26 billion
 * days. The fold only chooses between {@link DedupIndex#DUPLICATE} and {@link DedupIndex#CONFLICT}, neither of which
 * is counted, so a fold collision (one in 2^32 conflicts) mislabels a conflict as a duplicate and nothing else.
 *
 * <p>Sizing, per id held: on disk 16 bytes of record plus the filter and the directory stored beside them
 * (bitsPerId / 8 + at most 1/8 bytes), so 17.6 bytes at the default 12 bits; in memory (heap) the same filter and
 * directory, 1.6 bytes. Add, once per tier, two spill buffers of {@code 2 x spillBatch} ids (21 bytes a slot), the
 * background's sort scratch ({@code 64 x spillBatch} bytes) and 12 MiB of I/O buffers, so {@code 148 x spillBatch}
 * bytes and 12 MiB; the recent filters ({@link RecentFilters}, 16 MiB at the default batch); and during a merge its
 * output's filter. A
 * merge writes its output before it deletes its inputs, so the folder can exceed the budget for a while by one
 * merge output: at most {@code windowMs / 8} of ids. {@link #diskBytes()} and {@link #memoryBytes()} give the exact
 * figures.
 *
 * <p>Holding: a segment leaves when its newest id is older than the window ({@code nowMs - windowMs}), so an id is
 * held at least the window and at most the window plus its segment's span (at most {@code windowMs / 8} for a
 * merged segment, a batch's span for a level-0 one); or earlier when the segments exceed the disk budget, oldest
 * first, counted in {@link #evictedByBudget()}.
 *
 * <p>Durability and restart, the rules the journal follows:
 * <ul>
 *   <li>{@link #spill} takes the memory ring's sequence number {@code seq} (monotone). {@link #durableSeq()} is such
 *   that every id spilled with a smaller seq is in a sealed segment: forced, renamed, and its folder forced.
 *   It is {@code Long.MAX_VALUE} when every spilled id is durable. The journal's checkpoint must replay the log from
 *   a document at or before the one holding {@code min(dedupIndex.head(), tier.durableSeq())}.</li>
 *   <li>After a restart the journal replays and spills again whatever its index evicts by capacity; spilling an id
 *   that is already on disk is harmless (lookups find either copy; merges keep one). It may skip an id whose
 *   {@code acceptedAtMs < }{@link #newestDurableAcceptedAtMs()}: ids are spilled in acceptance order and batches are
 *   sealed in order, so every earlier spilled id is on disk (an id with an equal time may not be).</li>
 *   <li>{@link #close()} seals the partial buffer too, so after a clean close everything spilled is durable; after a
 *   crash, the buffers not yet sealed are lost and the replay spills them again.</li>
 * </ul>
 *
 * <p>Back-pressure: the buffer being filled holds {@code 2 x spillBatch} ids and is handed off once it holds
 * {@code spillBatch} and the previous one is sealed. {@link #endOfDocument} returns true while the background is a
 * whole batch behind; {@link #spill} returns false (the id is not held, counted in {@link #spillsRefused()}) only if
 * it stays behind for another whole batch. The journal never waits inside this class, except in {@link #close()}.
 */
public final class DedupDiskTier implements AutoCloseable
{
    /** Filter bits per id unless told otherwise: false positives about 0.3 % a segment (docs/dedup.md). */
    public static final int DEFAULT_FILTER_BITS_PER_ID = 12;

    private static final Logger LOG = LoggerFactory.getLogger(DedupDiskTier.class);
    private static final long CLOSE_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(60);
    private static final MappedSegment[] NO_SEGMENTS = new MappedSegment[0];

    private final Path directory;
    private final int spillBatch;
    private final SegmentAgent agent;
    private final Thread thread;
    private final long fixedMemoryBytes;

    private final RecentFilters recent;
    private SpillBuffer current;
    private SpillBuffer inFlight;
    private SpillBuffer spare;
    private long nextBatch;
    private SegmentList adopted;
    /** Adopted segments, newest first: the order of {@link #find}. */
    private MappedSegment[] mapped = NO_SEGMENTS;
    private boolean closed;
    /** Sums what {@link #prefetchSpill} loads, so that the JIT cannot drop those loads. */
    private long prefetchSink;

    private volatile long bufferedIds;
    private volatile long bufferedOldestAcceptedAtMs = Long.MAX_VALUE;
    private volatile long spillsRefused;
    private volatile long behindDocuments;

    private DedupDiskTier(final Path directory, final int spillBatch, final SegmentAgent agent,
        final ThreadFactory threadFactory, final int bufferCapacity)
    {
        this.directory = directory;
        this.spillBatch = spillBatch;
        this.agent = agent;
        final SegmentList initial = agent.published;
        this.nextBatch = initial.sealedThroughBatch + 1;
        this.current = new SpillBuffer(bufferCapacity);
        this.current.clear(nextBatch++);
        this.spare = new SpillBuffer(bufferCapacity);
        this.recent = new RecentFilters(RecentFilters.capacityFor(spillBatch));
        this.fixedMemoryBytes = 2 * current.memoryBytes() + agent.fixedMemoryBytes();
        adopt();
        this.thread = threadFactory.newThread(agent);
        this.thread.setDaemon(true);
        this.thread.start();
    }

    /** {@link #open(Path, long, long, int, int, ThreadFactory)} with {@link #DEFAULT_FILTER_BITS_PER_ID}. */
    public static DedupDiskTier open(final Path directory, final long windowMs, final long diskBudgetBytes,
        final int spillBatch, final ThreadFactory threadFactory) throws IOException
    {
        return open(directory, windowMs, diskBudgetBytes, spillBatch, DEFAULT_FILTER_BITS_PER_ID, threadFactory);
    }

    /**
     * Creates or recovers the tier in {@code directory} and starts its background thread. Call it on the thread
     * that will own the tier. Recovery: a {@code .tmp} file (a write that a crash cut short) is deleted; a segment
     * whose header, name, length, directory or filter fails its check is deleted (its ids are lost, logged); a
     * segment whose batch range lies within another's (a merge that crashed before deleting its inputs) is
     * deleted. Nothing is expired until the first {@link #endOfDocument}.
     *
     * @param windowMs        how long an id is held, on the journal's clock.
     * @param diskBudgetBytes most bytes of segments; beyond it the oldest go early.
     * @param spillBatch      ids per level-0 segment.
     * @param filterBitsPerId filter bits per id of new segments (existing ones keep theirs), 4 to 32.
     */
    public static DedupDiskTier open(final Path directory, final long windowMs, final long diskBudgetBytes,
        final int spillBatch, final int filterBitsPerId, final ThreadFactory threadFactory) throws IOException
    {
        if (windowMs < 1 || diskBudgetBytes < 0 || spillBatch < 1 || spillBatch > (1 << 28)
            || filterBitsPerId < 4 || filterBitsPerId > 32)
        {
            throw new IllegalArgumentException("window and spill batch must be positive, the budget not negative, "
                + "the spill batch at most 2^28 and the filter 4 to 32 bits per id");
        }
        Files.createDirectories(directory);
        final Segment[] recovered = recover(directory);
        final int bufferCapacity = 2 * spillBatch;
        final SegmentAgent agent = new SegmentAgent(directory, windowMs, diskBudgetBytes, bufferCapacity,
            filterBitsPerId, recovered);
        long ids = 0;
        for (final Segment segment : recovered)
        {
            ids += segment.ids;
        }
        LOG.info("dedup disk tier {}: {} segments, {} ids, {} bytes on disk", directory, recovered.length, ids,
            agent.diskBytes);
        return new DedupDiskTier(directory, spillBatch, agent, threadFactory, bufferCapacity);
    }

    /**
     * Holds an id the in-memory index evicted because of its capacity. Ids come in acceptance order: neither
     * {@code acceptedAtMs} nor {@code seq} decreases.
     *
     * @param seq the id's sequence number in the memory ring, for {@link #durableSeq()}.
     * @return false when the id could not be held because the background is two batches behind (counted).
     */
    public boolean spill(final long idHashHi, final long idHashLo, final long contentHash, final long acceptedAtMs,
        final long seq)
    {
        final int fold = fold(contentHash);
        if (add(idHashHi, idHashLo, fold, acceptedAtMs, seq))
        {
            return true;
        }
        poll();
        if (add(idHashHi, idHashLo, fold, acceptedAtMs, seq))
        {
            return true;
        }
        spillsRefused++;
        return false;
    }

    private boolean add(final long idHashHi, final long idHashLo, final int fold, final long acceptedAtMs, final long seq)
    {
        final int before = current.size();
        if (!current.add(idHashHi, idHashLo, fold, acceptedAtMs, seq))
        {
            return false;
        }
        recent.add(idHashHi, (int)(idHashLo >>> 32), current.batch(), before);
        return true;
    }

    /**
     * @return {@link DedupIndex#NEW} when the id is not held, else {@link DedupIndex#DUPLICATE} or
     * {@link DedupIndex#CONFLICT} by the content its newest copy was spilled with. Allocates nothing.
     */
    public int find(final long idHashHi, final long idHashLo, final long contentHash)
    {
        final int lo32 = (int)(idHashLo >>> 32);
        // the recent filters answer for the buffers and the young segments at once; older ones are probed one by one
        final boolean recentMight = recent.mightContain(idHashHi, lo32);
        final long coveredFrom = recent.coveredFrom();
        long found = SpillBuffer.ABSENT;
        if (recentMight || current.batch() < coveredFrom)
        {
            found = current.find(idHashHi, lo32);
        }
        if (found == SpillBuffer.ABSENT && inFlight != null && (recentMight || inFlight.batch() < coveredFrom))
        {
            found = inFlight.find(idHashHi, lo32);
        }
        if (found == SpillBuffer.ABSENT)
        {
            final MappedSegment[] segments = mapped;
            for (final MappedSegment segment : segments)
            {
                if ((recentMight || segment.firstBatch < coveredFrom)
                    && SegmentFilter.mightContain(segment.filter, segment.filterBlocks, idHashHi, lo32))
                {
                    found = segment.find(idHashHi, lo32);
                    if (found != SpillBuffer.ABSENT)
                    {
                        break;
                    }
                }
            }
        }
        if (found == SpillBuffer.ABSENT)
        {
            return DedupIndex.NEW;
        }
        return (int)found == fold(contentHash) ? DedupIndex.DUPLICATE : DedupIndex.CONFLICT;
    }

    /** Loads what a {@link #find} of this id will read first (the recent filters' blocks): see {@link DedupIndex#prefetch}. */
    public void prefetch(final long idHashHi)
    {
        recent.prefetch(idHashHi);
    }

    /**
     * Loads what a {@link #spill} of this id will write first: its block in the newer recent filter and its bucket head
     * in the current spill buffer (should the buffer be handed off before the spill, the load was only wasted).
     */
    public void prefetchSpill(final long idHashHi)
    {
        recent.prefetchNewer(idHashHi);
        prefetchSink += current.prefetch(idHashHi);
    }

    /**
     * After each log document: adopts what the background published (mapping new segments, unmapping gone ones),
     * hands the buffer off once it holds {@code spillBatch} ids, and tells the background the clock for expiry.
     *
     * @param nowMs the journal clock; ids older than {@code nowMs - windowMs} may go.
     * @return true while the background is a whole batch behind (the buffer is full and the previous one not yet
     * sealed): a sign to slow intake before {@link #spill} starts refusing.
     */
    public boolean endOfDocument(final long nowMs)
    {
        if (nowMs > agent.journalNowMs)
        {
            agent.journalNowMs = nowMs;
        }
        final boolean behind = poll();
        if (behind)
        {
            behindDocuments++;
        }
        return behind;
    }

    /**
     * Pauses (or resumes) the background's merges, not its seals: a replay that spills millions of ids (a new owner of
     * a partition) waits on the seal of each full buffer, and merges on the same thread would make it wait longer;
     * the segments the replay sealed are merged once it ends. Journal thread.
     */
    public void pauseMerges(final boolean paused)
    {
        agent.mergesPaused = paused;
    }

    /** @return ids {@link #spill} can still take before it must refuse, if the background stays where it is. */
    public int spillRoom()
    {
        return current.capacity() - current.size();
    }

    /**
     * Waits, on the journal thread, until the background has caught up (nothing full waiting to be handed off);
     * for a bulk spill such as a replay after restart.
     *
     * @return false if it did not within the timeout.
     */
    public boolean awaitCaughtUp(final long timeoutMs)
    {
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (poll())
        {
            if (System.nanoTime() - deadline > 0 || !thread.isAlive())
            {
                return false;
            }
            LockSupport.parkNanos(100_000);
        }
        return true;
    }

    /**
     * @return a seq such that every id spilled with a smaller one is durably on disk; {@code Long.MAX_VALUE} when
     * all are. Journal thread.
     */
    public long durableSeq()
    {
        if (inFlight != null && agent.sealedThroughBatch < inFlight.batch())
        {
            return inFlight.firstSeq();
        }
        return current.size() > 0 ? current.firstSeq() : Long.MAX_VALUE;
    }

    /**
     * @return the newest acceptedAtMs ever sealed in this folder (Long.MIN_VALUE if none): after a restart the
     * journal need not spill again an id accepted before it.
     */
    public long newestDurableAcceptedAtMs()
    {
        return agent.published.newestDurableAcceptedAtMs;
    }

    /**
     * @return ids held, in segments and in buffers (an id spilled twice, by a replay or again after the window, may
     * count twice until its copies meet in a seal or a merge). Any thread.
     */
    public long ids()
    {
        return agent.segmentIds + bufferedIds;
    }

    /** @return bytes of the live segment files. Any thread. */
    public long diskBytes()
    {
        return agent.diskBytes;
    }

    /** @return live segments. Any thread. */
    public int segments()
    {
        return agent.segmentCount;
    }

    /** @return the oldest acceptedAtMs held, Long.MAX_VALUE when empty. Any thread. */
    public long oldestAcceptedAtMs()
    {
        return Math.min(agent.oldestAcceptedAtMs, bufferedOldestAcceptedAtMs);
    }

    /** @return heap and direct bytes: filters and directories of the segments, spill buffers, sort and I/O buffers. */
    public long memoryBytes()
    {
        return agent.filterBytes + fixedMemoryBytes + recent.memoryBytes();
    }

    /** @return ids dropped before the window ended because the segments exceeded the disk budget. Any thread. */
    public long evictedByBudget()
    {
        return agent.evictedByBudget;
    }

    /** @return ids dropped because their segment's newest id passed the window. Any thread. */
    public long expiredIds()
    {
        return agent.expiredIds;
    }

    /** @return ids {@link #spill} could not hold. Any thread. */
    public long spillsRefused()
    {
        return spillsRefused;
    }

    /** @return documents after which the background was a whole batch behind. Any thread. */
    public long behindDocuments()
    {
        return behindDocuments;
    }

    /** @return failed seals and merges (each retried after a second, logged). Any thread. */
    public long failures()
    {
        return agent.failures;
    }

    /** @return merges done since open. Any thread. */
    public long merges()
    {
        return agent.merges;
    }

    /** @return false once the background thread has stopped (after close, or on an unexpected error). */
    public boolean isRunning()
    {
        return thread.isAlive();
    }

    public Path directory()
    {
        return directory;
    }

    /**
     * Seals what is buffered, stops the background (a merge in progress is abandoned and its {@code .tmp}
     * deleted), unmaps every segment and deletes the files of retired ones. Journal thread; waits at most about a
     * minute for the background, then logs and stops anyway (the replay covers what was not sealed).
     */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        final long deadline = System.nanoTime() + CLOSE_TIMEOUT_NS;
        while (thread.isAlive() && System.nanoTime() - deadline < 0)
        {
            poll();
            if (inFlight == null)
            {
                if (current.size() == 0)
                {
                    break;
                }
                handOff();
            }
            LockSupport.parkNanos(100_000);
        }
        if (inFlight != null || current.size() > 0)
        {
            LOG.warn("dedup disk tier {}: closing with {} ids not sealed; the log replay spills them again", directory,
                current.size() + (inFlight == null ? 0 : inFlight.size()));
        }
        agent.closing = true;
        join();
        unmapAll();
        agent.deleteAllRetired();
    }

    /** Stops the background where it is, sealing nothing and deleting nothing, as a crash would. For tests. */
    public void abandonForTest()
    {
        closed = true;
        agent.abandoned = true;
        join();
        unmapAll();
    }

    /**
     * Waits, on the journal thread, until the background has nothing left to do: every handed-off buffer sealed,
     * expiry applied, merges done, retired files deleted. For tools and tests.
     *
     * @return false if it did not within the timeout.
     */
    public boolean awaitIdle(final long timeoutMs)
    {
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (System.nanoTime() - deadline < 0 && thread.isAlive())
        {
            poll();
            final SegmentList list = agent.published;
            final long cycles = agent.idleCycles;
            if (inFlight == null && adopted == list)
            {
                // a cycle that starts after this read has seen everything this thread did before it
                while (agent.idleCycles < cycles + 2 && System.nanoTime() - deadline < 0 && thread.isAlive())
                {
                    LockSupport.parkNanos(100_000);
                }
                if (agent.published == list && agent.idleCycles >= cycles + 2)
                {
                    return true;
                }
            }
            LockSupport.parkNanos(100_000);
        }
        return false;
    }

    /** Adopts the published list and hands off a full buffer if it can. @return whether it is behind. */
    private boolean poll()
    {
        if (agent.published != adopted)
        {
            adopt();
        }
        if (current.size() >= spillBatch)
        {
            if (inFlight != null)
            {
                return true;
            }
            handOff();
        }
        updateBufferGauges();
        return false;
    }

    private void handOff()
    {
        inFlight = current;
        agent.toSeal = inFlight;
        current = spare;
        spare = null;
        // the background may still hold the spare from an earlier read of toSeal: it skips it by its batch number
        current.clear(nextBatch++);
        updateBufferGauges();
    }

    private void adopt()
    {
        final SegmentList list = agent.published;
        final Map<Segment, MappedSegment> byFile = new IdentityHashMap<>();
        for (final MappedSegment segment : mapped)
        {
            byFile.put(segment.segment, segment);
        }
        final MappedSegment[] next = new MappedSegment[list.segments.length];
        for (int i = 0; i < next.length; i++)
        {
            final Segment segment = list.segments[list.segments.length - 1 - i];
            final MappedSegment already = byFile.remove(segment);
            try
            {
                next[i] = already != null ? already : new MappedSegment(segment);
            }
            catch (final IOException ex)
            {
                for (int j = 0; j < i; j++)
                {
                    if (!contains(mapped, next[j]))
                    {
                        next[j].unmap();
                    }
                }
                throw new UncheckedIOException("cannot map dedup segment " + segment.path, ex);
            }
        }
        mapped = next;
        for (final MappedSegment gone : byFile.values())
        {
            gone.unmap();
        }
        adopted = list;
        agent.adoptedVersion = list.version;
        if (inFlight != null && list.sealedThroughBatch >= inFlight.batch())
        {
            spare = inFlight;
            inFlight = null;
        }
        updateBufferGauges();
    }

    private void updateBufferGauges()
    {
        long ids = current.size();
        long oldest = current.oldestAcceptedAtMs();
        if (inFlight != null && agent.sealedThroughBatch < inFlight.batch())
        {
            ids += inFlight.size();
            oldest = Math.min(oldest, inFlight.oldestAcceptedAtMs());
        }
        bufferedIds = ids;
        bufferedOldestAcceptedAtMs = oldest;
    }

    private void join()
    {
        try
        {
            thread.join(TimeUnit.NANOSECONDS.toMillis(CLOSE_TIMEOUT_NS));
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive())
        {
            LOG.warn("dedup disk tier {}: background thread did not stop", directory);
        }
    }

    private void unmapAll()
    {
        for (final MappedSegment segment : mapped)
        {
            segment.unmap();
        }
        mapped = NO_SEGMENTS;
    }

    private static boolean contains(final MappedSegment[] segments, final MappedSegment segment)
    {
        for (final MappedSegment s : segments)
        {
            if (s == segment)
            {
                return true;
            }
        }
        return false;
    }

    static int fold(final long contentHash)
    {
        return (int)(contentHash ^ (contentHash >>> 32));
    }

    /** Reads the folder: deletes leftovers and damaged or superseded segments, returns the rest in batch order. */
    private static Segment[] recover(final Path directory) throws IOException
    {
        final List<Segment> loaded = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory))
        {
            for (final Path file : files)
            {
                final String name = file.getFileName().toString();
                if (name.endsWith(SegmentFile.TMP_SUFFIX))
                {
                    LOG.info("dedup disk tier {}: deleting {}, left by a write that did not finish", directory, name);
                    Files.deleteIfExists(file);
                }
                else if (SegmentFile.isSegmentName(name))
                {
                    try
                    {
                        loaded.add(SegmentFile.load(file));
                    }
                    catch (final IOException ex)
                    {
                        LOG.warn("dedup disk tier {}: deleting damaged segment {} ({}); its ids are forgotten",
                            directory, name, ex.getMessage());
                        Files.deleteIfExists(file);
                    }
                }
            }
        }
        final List<Segment> kept = new ArrayList<>();
        for (final Segment segment : loaded)
        {
            boolean covered = false;
            for (final Segment other : loaded)
            {
                covered |= other.covers(segment);
            }
            if (covered)
            {
                LOG.info("dedup disk tier {}: deleting {}, already merged into a larger segment", directory,
                    segment.path.getFileName());
                Files.deleteIfExists(segment.path);
            }
            else
            {
                kept.add(segment);
            }
        }
        kept.sort(Comparator.comparingLong((Segment s) -> s.firstBatch).thenComparingLong(s -> s.lastBatch));
        return kept.toArray(new Segment[0]);
    }
}
