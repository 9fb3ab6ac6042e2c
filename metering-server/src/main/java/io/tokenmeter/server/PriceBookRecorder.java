package io.tokenmeter.server;

import io.tokenmeter.billing.invoice.BillingService;
import io.tokenmeter.billing.price.BookInForce;
import io.tokenmeter.billing.price.PartitionedBook;
import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.billing.price.PriceBookException;
import io.tokenmeter.billing.price.RecordedBooks;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.log.JournalAgent;
import io.tokenmeter.core.log.PriceBookInstall;
import io.tokenmeter.core.partition.Partition;
import io.tokenmeter.core.partition.Partitions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Puts price books in force: a book is a global record, written by every partition's journal into its own log at
 * the same revision (SPEC section 9). Each partition's book in force is what its journal recorded, so billing prices
 * every partition with the book its events were decided by, even while a change has reached only some partitions (a
 * partition whose log could not be written refuses it; the same book put again completes it, and so does a restart,
 * which records the newest revision in every partition that lacks it before any event is taken). Cold path: billing
 * thread and start-up, one at a time.
 */
final class PriceBookRecorder
{
    private static final Logger LOG = LoggerFactory.getLogger(PriceBookRecorder.class);

    /** How long a price change waits for room in a journal queue (shared with ingest) before that partition refuses. */
    private static final long OFFER_PATIENCE_MS = 5_000;

    private final Partitions partitions;
    /** The newest revision any partition was asked to record (a failed change may have reached some partitions). */
    private long lastRevision;

    PriceBookRecorder(final Partitions partitions)
    {
        this.partitions = partitions;
    }

    /**
     * After the journals recovered and before they run: gives each journal the context rules of the book it holds
     * in force, and answers what each partition has.
     *
     * @return the book in force in each partition, or null when no partition has recorded any book.
     */
    PartitionedBook recovered()
    {
        final BookInForce[] entries = new BookInForce[partitions.count()];
        BookInForce newest = null;
        for (final Partition partition : partitions.all())
        {
            final JournalAgent journal = partition.journal();
            if (journal.priceBookRevision() > 0)
            {
                final BookInForce book = read(partition, journal.priceBookIndex(), journal.priceBookRevision());
                journal.useRateRules(book.book());
                entries[partition.index()] = book;
                if (newest == null || book.revision() > newest.revision())
                {
                    newest = book;
                }
            }
        }
        if (newest == null)
        {
            return null;
        }
        lastRevision = newest.revision();
        for (int p = 0; p < entries.length; p++)
        {
            if (entries[p] == null)
            {
                entries[p] = new BookInForce(newest.book(), 0, EventLog.NO_INDEX, 0);
            }
        }
        return new PartitionedBook(entries);
    }

    /**
     * Journals running: records the newest recovered book in the partitions that lack it (the server stopped while a
     * price change was reaching the partitions), at its own revision, so all agree before any event is taken.
     */
    PartitionedBook complete(final PartitionedBook recovered)
    {
        if (recovered.lacking().isEmpty())
        {
            return recovered;
        }
        LOG.warn("price book revision {} is in force in {} of {} partitions (a change that did not reach every partition "
            + "before the server stopped); recording it in partitions {} now", recovered.revision(),
            partitions.count() - recovered.lacking().size(), partitions.count(), recovered.lacking());
        return recordNow(recovered.book(), recovered);
    }

    /** Records a book in every partition that lacks it and waits; start-up only, where a refusal stops the start. */
    PartitionedBook recordNow(final PriceBook book, final PartitionedBook current)
    {
        final BillingService.Recorded done = await(record(book, current));
        if (!done.refusals().isEmpty())
        {
            throw new IllegalStateException("the price book could not be recorded in every partition: "
                + String.join("; ", done.refusals()));
        }
        return done.inForce();
    }

    /**
     * Records {@code book} in every partition that does not have it in force: at the newest revision when it is the
     * book some partitions already have (completing a change that failed partway), else at the next revision in all.
     * Completes once every partition has recorded or refused it. Billing thread or start-up.
     */
    CompletableFuture<BillingService.Recorded> record(final PriceBook book, final PartitionedBook current)
    {
        final long revision;
        final List<Integer> into = new ArrayList<>();
        if (current != null && current.book().sha256().equals(book.sha256()))
        {
            revision = current.revision();
            into.addAll(current.lacking());
        }
        else
        {
            long highest = lastRevision;
            for (final Partition partition : partitions.all())
            {
                highest = Math.max(highest, partition.journal().priceBookRevision());
            }
            revision = highest + 1;
            for (int p = 0; p < partitions.count(); p++)
            {
                into.add(p);
            }
        }
        lastRevision = Math.max(lastRevision, revision);
        final List<CompletableFuture<String>> outcomes = new ArrayList<>();
        final BookInForce[] recorded = new BookInForce[partitions.count()];
        for (final int p : into)
        {
            final PriceBookInstall install = new PriceBookInstall(book.recordedJson(), book, revision);
            if (!offer(partitions.get(p), install))
            {
                outcomes.add(CompletableFuture.completedFuture("partition " + p + ": its journal queue stayed full for "
                    + OFFER_PATIENCE_MS + " ms"));
                continue;
            }
            outcomes.add(install.result().handle((done, failure) ->
            {
                if (failure != null)
                {
                    return "partition " + p + ": " + failure.getMessage();
                }
                recorded[p] = new BookInForce(book, done.revision(), done.logIndex(), done.appendTimeMs());
                return null;
            }));
        }
        return CompletableFuture.allOf(outcomes.toArray(CompletableFuture[]::new)).thenApply(all ->
        {
            PartitionedBook inForce = current;
            final List<String> refusals = new ArrayList<>();
            for (int p = 0; p < recorded.length; p++)
            {
                if (recorded[p] != null)
                {
                    inForce = (inForce == null ? firstBook(recorded[p]) : inForce).with(p, recorded[p]);
                }
            }
            for (final CompletableFuture<String> outcome : outcomes)
            {
                if (outcome.join() != null)
                {
                    refusals.add(outcome.join());
                }
            }
            if (inForce == null)
            {
                throw new IllegalStateException("no partition recorded the price book: " + String.join("; ", refusals));
            }
            return new BillingService.Recorded(inForce, refusals);
        });
    }

    /**
     * Cluster mode with an owners group, a partition this node acquired whose journal recovered and runs: puts
     * {@code book} (the node's configured or shipped book) in force in it. A partition whose log holds it in force
     * already keeps its record; any other gets it recorded at the revision after its own newest. The recovery thread.
     *
     * @return the partition's book in force now.
     * @throws IllegalStateException when the book could not be recorded (the partition then stays unserved).
     */
    BookInForce putInForce(final Partition partition, final PriceBook book)
    {
        final JournalAgent journal = partition.journal();
        if (journal.priceBookRevision() > 0)
        {
            final BookInForce recorded = read(partition, journal.priceBookIndex(), journal.priceBookRevision());
            journal.useRateRules(recorded.book());
            if (recorded.book().sha256().equals(book.sha256()))
            {
                return recorded;
            }
            LOG.warn("{} holds price book revision {} (sha256 {}), not this node's book (sha256 {}): recording this node's "
                + "book in it (every node of a cluster must be started with the same --prices)", partition,
                recorded.revision(), recorded.book().sha256(), book.sha256());
        }
        final PriceBookInstall install = new PriceBookInstall(book.recordedJson(), book, journal.priceBookRevision() + 1);
        if (!offer(partition, install))
        {
            throw new IllegalStateException("its journal queue stayed full for " + OFFER_PATIENCE_MS + " ms, so the price "
                + "book was not recorded");
        }
        try
        {
            final io.tokenmeter.core.log.ControlRequest.Recorded done = install.result().get(60, TimeUnit.SECONDS);
            return new BookInForce(book, done.revision(), done.logIndex(), done.appendTimeMs());
        }
        catch (final Exception ex)
        {
            final Throwable cause = ex instanceof ExecutionException ? ex.getCause() : ex;
            throw new IllegalStateException("the price book could not be recorded in " + partition + ": " + cause, cause);
        }
    }

    /** A new data directory's first book: partitions that have not recorded it yet show revision 0, so they lack it. */
    private PartitionedBook firstBook(final BookInForce first)
    {
        final BookInForce[] entries = new BookInForce[partitions.count()];
        Arrays.fill(entries, new BookInForce(first.book(), 0, EventLog.NO_INDEX, 0));
        return new PartitionedBook(entries);
    }

    /** Offers a control record, waiting a little while the journal's queue (shared with ingest) is full. */
    private static boolean offer(final Partition partition, final PriceBookInstall install)
    {
        final long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(OFFER_PATIENCE_MS);
        while (!partition.journal().offer(install))
        {
            if (System.nanoTime() > until)
            {
                return false;
            }
            LockSupport.parkNanos(1_000_000);
        }
        return true;
    }

    private static BillingService.Recorded await(final CompletableFuture<BillingService.Recorded> future)
    {
        try
        {
            return future.get(60, TimeUnit.SECONDS);
        }
        catch (final Exception ex)
        {
            final Throwable cause = ex instanceof ExecutionException ? ex.getCause() : ex;
            throw new IllegalStateException("the price book could not be recorded in the log: " + cause.getMessage(), cause);
        }
    }

    /** Reads the book a journal names as in force from its partition's log. */
    private static BookInForce read(final Partition partition, final long index, final long revision)
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
            return recorded.inForce();
        }
        catch (final PriceBookException ex)
        {
            throw new IllegalStateException(partition + ": the price book revision " + revision + " recorded at log index "
                + Long.toHexString(index) + " no longer validates: " + ex.getMessage(), ex);
        }
    }
}
