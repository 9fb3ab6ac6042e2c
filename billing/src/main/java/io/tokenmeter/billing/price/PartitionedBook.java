package io.tokenmeter.billing.price;

/**
 * The price book in force on a node: one book at one revision, recorded in every partition's log (a global record,
 * SPEC section 9). {@code logIndexes[p]} is the position of its PRICE BOOK document in partition {@code p}'s log, so
 * that an invoice, which is computed from one partition, names exactly where its book is.
 */
public record PartitionedBook(PriceBook book, long revision, long[] logIndexes, long installedAtMs)
{
    /** @return the book as recorded in partition {@code p}. */
    public BookInForce inPartition(final int p)
    {
        return new BookInForce(book, revision, logIndexes[p], installedAtMs);
    }
}
