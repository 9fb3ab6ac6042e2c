package io.tokenmeter.billing.price;

import java.util.ArrayList;
import java.util.List;

/**
 * The price books in force on a node, one per partition: a book is a global record that every partition's journal
 * writes into its own log at the same revision (SPEC section 9), so normally every entry is the same book. An entry
 * is always what that partition's journal put in force, so an invoice (computed from one partition) is priced with
 * the book its events were decided by. While a change has reached only some partitions (one could not record it),
 * {@link #lacking()} names the others; recording the same book again completes it. Immutable.
 */
public final class PartitionedBook
{
    private final BookInForce[] partitions;
    private final BookInForce newest;

    /** @param partitions the book in force in each partition, by partition. */
    public PartitionedBook(final BookInForce[] partitions)
    {
        this.partitions = partitions.clone();
        BookInForce max = partitions[0];
        for (final BookInForce book : partitions)
        {
            if (book.revision() > max.revision())
            {
                max = book;
            }
        }
        this.newest = max;
    }

    /** @return the same book at one revision in every partition, at {@code logIndexes[p]} in partition p's log. */
    public static PartitionedBook everywhere(final PriceBook book, final long revision, final long[] logIndexes,
        final long installedAtMs)
    {
        final BookInForce[] entries = new BookInForce[logIndexes.length];
        for (int p = 0; p < entries.length; p++)
        {
            entries[p] = new BookInForce(book, revision, logIndexes[p], installedAtMs);
        }
        return new PartitionedBook(entries);
    }

    /** @return the book as in force in partition {@code p}. */
    public BookInForce inPartition(final int p)
    {
        return partitions[p];
    }

    public int partitionCount()
    {
        return partitions.length;
    }

    /** @return the newest book (the highest revision any partition has). */
    public PriceBook book()
    {
        return newest.book();
    }

    public long revision()
    {
        return newest.revision();
    }

    /** @return the time the newest book was recorded. */
    public long installedAtMs()
    {
        return newest.installedAtMs();
    }

    /** @return each partition's position of its book in force. */
    public long[] logIndexes()
    {
        final long[] indexes = new long[partitions.length];
        for (int p = 0; p < indexes.length; p++)
        {
            indexes[p] = partitions[p].logIndex();
        }
        return indexes;
    }

    /** @return the partitions whose book in force is not the newest revision. */
    public List<Integer> lacking()
    {
        final List<Integer> lacking = new ArrayList<>();
        for (int p = 0; p < partitions.length; p++)
        {
            if (partitions[p].revision() != newest.revision())
            {
                lacking.add(p);
            }
        }
        return lacking;
    }

    /** @return this with partition {@code p}'s book replaced. */
    public PartitionedBook with(final int p, final BookInForce book)
    {
        final BookInForce[] next = partitions.clone();
        next[p] = book;
        return new PartitionedBook(next);
    }
}
