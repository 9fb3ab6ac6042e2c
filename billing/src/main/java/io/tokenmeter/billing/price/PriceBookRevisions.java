package io.tokenmeter.billing.price;

import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.log.PriceBookHistory;
import io.tokenmeter.core.partition.Partition;
import io.tokenmeter.core.partition.Partitions;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Every revision of the price book ever recorded, for finance to see what book an old invoice was priced with
 * ({@code GET /v1/prices/revisions}). A revision is recorded in every partition's log at the same revision (decision
 * 56); the list merges what each partition's journal holds in its {@link PriceBookHistory} (in memory and in its
 * checkpoint, 56 bytes a book), so listing reads no log. A book's bytes are read from a log only when asked for, from
 * the first partition whose copy reads back whole with its recorded SHA-256, on this class's one "price-revisions"
 * thread behind a queue of {@value #QUEUE} requests, never on an event loop.
 *
 * <p>Listing: any thread. Reading: the price-revisions thread.
 */
public final class PriceBookRevisions implements AutoCloseable
{
    /** Book reads that may wait; beyond, a read is refused ({@link BusyException}). */
    private static final int QUEUE = 16;

    /**
     * One revision as the partitions recorded it.
     *
     * @param recordedAtMs the journal time at which the first partition recorded it, epoch ms.
     * @param logIndexes   its position in each partition's log, by partition; {@link EventLog#NO_INDEX} where a
     *                     partition never recorded it (a change that did not reach every partition).
     */
    public record Revision(long revision, String sha256, long recordedAtMs, long[] logIndexes)
    {
        /** @return the partitions that never recorded this revision, in order. */
        public List<Integer> lacking()
        {
            final List<Integer> lacking = new ArrayList<>();
            for (int p = 0; p < logIndexes.length; p++)
            {
                if (logIndexes[p] == EventLog.NO_INDEX)
                {
                    lacking.add(p);
                }
            }
            return lacking;
        }

        @Override
        public boolean equals(final Object other)
        {
            return other instanceof Revision r && r.revision == revision && r.sha256.equals(sha256)
                && r.recordedAtMs == recordedAtMs && Arrays.equals(r.logIndexes, logIndexes);
        }

        @Override
        public int hashCode()
        {
            return Long.hashCode(revision);
        }

        @Override
        public String toString()
        {
            return "revision " + revision + " (sha256 " + sha256 + ", log indexes " + Arrays.toString(logIndexes) + ")";
        }
    }

    /** A revision and its book's bytes exactly as recorded (the JSON whose SHA-256 is the revision's). */
    public record Book(Revision revision, byte[] json)
    {
    }

    /** No partition's copy of a book reads back whole: the logs are damaged. */
    public static final class UnreadableException extends RuntimeException
    {
        private static final long serialVersionUID = 1L;

        UnreadableException(final String message)
        {
            super(message);
        }
    }

    /** Too many book reads are waiting: retry shortly. */
    public static final class BusyException extends RuntimeException
    {
        private static final long serialVersionUID = 1L;

        BusyException(final String message)
        {
            super(message);
        }
    }

    private final Partitions partitions;
    private final ThreadPoolExecutor thread;

    public PriceBookRevisions(final Partitions partitions)
    {
        this.partitions = partitions;
        this.thread = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(QUEUE), r ->
        {
            final Thread t = new Thread(r, "price-revisions");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * @return every revision any partition recorded, newest first.
     * @throws IllegalStateException when two partitions hold different books under one revision (never written so).
     */
    public List<Revision> list()
    {
        final int count = partitions.count();
        final Map<Long, long[]> indexes = new TreeMap<>(Comparator.reverseOrder());
        final Map<Long, String> shas = new TreeMap<>();
        final Map<Long, Long> firstTimes = new TreeMap<>();
        for (final Partition partition : partitions.all())
        {
            final PriceBookHistory history = partition.journal().priceBooks();
            for (int i = 0; i < history.size(); i++)
            {
                final long revision = history.revision(i);
                final String sha256 = history.sha256(i);
                final String earlier = shas.putIfAbsent(revision, sha256);
                if (earlier != null && !earlier.equals(sha256))
                {
                    throw new IllegalStateException("price book revision " + revision + " is recorded with sha256 " + earlier
                        + " in one partition and " + sha256 + " in partition " + partition.index() + ": one revision must be "
                        + "one book; audit the data directory");
                }
                final long[] at = indexes.computeIfAbsent(revision, r ->
                {
                    final long[] none = new long[count];
                    Arrays.fill(none, EventLog.NO_INDEX);
                    return none;
                });
                at[partition.index()] = history.logIndex(i);
                firstTimes.merge(revision, history.appendTimeMs(i), Math::min);
            }
        }
        final List<Revision> revisions = new ArrayList<>(indexes.size());
        indexes.forEach((revision, at) -> revisions.add(new Revision(revision, shas.get(revision), firstTimes.get(revision), at)));
        return revisions;
    }

    /** @return the revision as recorded, or null when no partition ever recorded it. */
    public Revision find(final long revision)
    {
        for (final Revision r : list())
        {
            if (r.revision() == revision)
            {
                return r;
            }
        }
        return null;
    }

    /**
     * Reads a revision's book from the log, on the price-revisions thread: the first partition's copy that reads back
     * whole, at its revision and with its SHA-256, is answered; a damaged copy is passed over for the next partition's.
     *
     * @return completes with the book, or exceptionally with {@link UnreadableException} when no copy reads back, or
     *     {@link BusyException} when too many reads wait.
     */
    public CompletableFuture<Book> read(final Revision revision)
    {
        try
        {
            return CompletableFuture.supplyAsync(() -> readNow(revision), thread);
        }
        catch (final RejectedExecutionException ex)
        {
            return CompletableFuture.failedFuture(new BusyException(QUEUE + " price book reads are waiting; retry shortly"));
        }
    }

    private Book readNow(final Revision revision)
    {
        final List<String> problems = new ArrayList<>();
        final long[] at = revision.logIndexes();
        for (int p = 0; p < at.length; p++)
        {
            if (at[p] == EventLog.NO_INDEX)
            {
                continue;
            }
            final RecordedBooks.Recorded recorded = RecordedBooks.readAt(partitions.get(p).log(), at[p]);
            if (recorded == null)
            {
                problems.add("partition " + p + ": no whole price book at log index " + Long.toHexString(at[p]));
            }
            else if (recorded.revision() != revision.revision())
            {
                problems.add("partition " + p + ": log index " + Long.toHexString(at[p]) + " holds revision " + recorded.revision());
            }
            else if (!PriceBook.sha256Hex(recorded.json()).equals(revision.sha256()))
            {
                problems.add("partition " + p + ": the book at log index " + Long.toHexString(at[p]) + " does not hash to "
                    + revision.sha256());
            }
            else
            {
                return new Book(revision, recorded.json());
            }
        }
        throw new UnreadableException("price book revision " + revision.revision() + " cannot be read from any partition's log ("
            + String.join("; ", problems) + "); restore the log from a backup and run the audit");
    }

    @Override
    public void close()
    {
        thread.shutdown();
        try
        {
            if (!thread.awaitTermination(10, TimeUnit.SECONDS))
            {
                thread.shutdownNow();
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }
}
