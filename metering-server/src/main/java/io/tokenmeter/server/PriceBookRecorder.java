package io.tokenmeter.server;

import io.tokenmeter.billing.price.PartitionedBook;
import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.billing.price.PriceBookException;
import io.tokenmeter.billing.price.RecordedBooks;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.log.JournalAgent;
import io.tokenmeter.core.log.ControlRequest;
import io.tokenmeter.core.log.PriceBookInstall;
import io.tokenmeter.core.partition.Partition;
import io.tokenmeter.core.partition.Partitions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Puts price books in force: a book is a global record, written by every partition's journal into its own log at
 * the same revision (SPEC section 9), and in force once all have it. At start, finds the book in force from the
 * journals' checkpoints and logs; a partition that lacks the newest revision (the server stopped while a price
 * change was reaching the partitions) is given it again at that revision, so all partitions agree before any event
 * is priced. Cold path: billing thread and start-up.
 */
final class PriceBookRecorder
{
    private static final Logger LOG = LoggerFactory.getLogger(PriceBookRecorder.class);

    private final Partitions partitions;
    /** The newest revision any partition was asked to record (a failed change may have reached some partitions). */
    private long lastRevision;

    PriceBookRecorder(final Partitions partitions)
    {
        this.partitions = partitions;
    }

    /**
     * After the journals recovered and before they run: gives the journals that hold the newest recorded book its
     * context rules, and answers which partitions lack it.
     *
     * @return the newest recorded book and where each partition has it ({@link EventLog#NO_INDEX} where it lacks it),
     *     or null when no partition has recorded any book.
     */
    PartitionedBook recovered()
    {
        int newest = -1;
        for (final Partition partition : partitions.all())
        {
            final JournalAgent journal = partition.journal();
            if (journal.priceBookRevision() > 0
                && (newest < 0 || journal.priceBookRevision() > partitions.get(newest).journal().priceBookRevision()))
            {
                newest = partition.index();
            }
        }
        if (newest < 0)
        {
            return null;
        }
        final JournalAgent holder = partitions.get(newest).journal();
        final long revision = holder.priceBookRevision();
        lastRevision = revision;
        final Recorded recorded = read(partitions.get(newest), holder.priceBookIndex(), revision);
        final long[] indexes = new long[partitions.count()];
        for (final Partition partition : partitions.all())
        {
            final JournalAgent journal = partition.journal();
            if (journal.priceBookRevision() == revision)
            {
                indexes[partition.index()] = journal.priceBookIndex();
                journal.useContextRules(recorded.book());
            }
            else
            {
                indexes[partition.index()] = EventLog.NO_INDEX;
            }
        }
        return new PartitionedBook(recorded.book(), revision, indexes, recorded.appendTimeMs());
    }

    /** Records a recovered book in the partitions that lack it, at its own revision. Journals running. */
    PartitionedBook complete(final PartitionedBook recovered)
    {
        final List<Integer> lacking = new ArrayList<>();
        for (int p = 0; p < recovered.logIndexes().length; p++)
        {
            if (recovered.logIndexes()[p] == EventLog.NO_INDEX)
            {
                lacking.add(p);
            }
        }
        if (lacking.isEmpty())
        {
            return recovered;
        }
        LOG.warn("price book revision {} is recorded in {} of {} partitions (the server stopped while it was being put in "
            + "force); recording it in partitions {} now", recovered.revision(), partitions.count() - lacking.size(),
            partitions.count(), lacking);
        return await(record(recovered.book(), recovered.revision(), lacking, recovered.logIndexes()));
    }

    /** Records a new book in every partition at the next revision; completes once all have it. Billing thread. */
    CompletableFuture<PartitionedBook> recordNext(final PriceBook book)
    {
        long revision = lastRevision;
        for (final Partition partition : partitions.all())
        {
            revision = Math.max(revision, partition.journal().priceBookRevision());
        }
        lastRevision = revision + 1;
        final List<Integer> all = new ArrayList<>();
        for (int p = 0; p < partitions.count(); p++)
        {
            all.add(p);
        }
        return record(book, revision + 1, all, new long[partitions.count()]);
    }

    /** Records and waits (start-up only). */
    PartitionedBook recordNow(final PriceBook book)
    {
        return await(recordNext(book));
    }

    private CompletableFuture<PartitionedBook> record(final PriceBook book, final long revision, final List<Integer> into,
        final long[] knownIndexes)
    {
        final long[] indexes = knownIndexes.clone();
        final List<CompletableFuture<ControlRequest.Recorded>> installs = new ArrayList<>();
        for (final int p : into)
        {
            final PriceBookInstall install = new PriceBookInstall(book.recordedJson(), book, revision);
            if (!partitions.get(p).journal().offer(install))
            {
                return CompletableFuture.failedFuture(new IllegalStateException("the journal queue of partition " + p
                    + " is full; the book in force is unchanged, retry shortly"));
            }
            installs.add(install.result().thenApply(installed ->
            {
                indexes[p] = installed.logIndex();
                return installed;
            }));
        }
        return CompletableFuture.allOf(installs.toArray(CompletableFuture[]::new)).thenApply(done ->
        {
            long installedAtMs = 0;
            for (final CompletableFuture<ControlRequest.Recorded> install : installs)
            {
                installedAtMs = Math.max(installedAtMs, install.join().appendTimeMs());
            }
            return new PartitionedBook(book, revision, indexes, installedAtMs);
        });
    }

    private static PartitionedBook await(final CompletableFuture<PartitionedBook> future)
    {
        try
        {
            return future.get(30, TimeUnit.SECONDS);
        }
        catch (final Exception ex)
        {
            final Throwable cause = ex instanceof java.util.concurrent.ExecutionException ? ex.getCause() : ex;
            throw new IllegalStateException("the price book could not be recorded in the log: " + cause.getMessage(), cause);
        }
    }

    private record Recorded(PriceBook book, long appendTimeMs)
    {
    }

    /** Reads the book a journal names as in force from its partition's log. */
    private static Recorded read(final Partition partition, final long index, final long revision)
    {
        final RecordedBooks.Recorded recorded = RecordedBooks.readAt(partition.log(), index);
        if (recorded == null || recorded.revision() != revision)
        {
            throw new IllegalStateException(partition + ": the journal names log index " + Long.toHexString(index)
                + " as price book revision " + revision + ", but " + (recorded == null ? "no price book is there"
                : "revision " + recorded.revision() + " is there"));
        }
        try
        {
            return new Recorded(recorded.parse(), recorded.appendTimeMs());
        }
        catch (final PriceBookException ex)
        {
            throw new IllegalStateException(partition + ": the price book revision " + revision + " recorded at log index "
                + Long.toHexString(index) + " no longer validates: " + ex.getMessage(), ex);
        }
    }
}
