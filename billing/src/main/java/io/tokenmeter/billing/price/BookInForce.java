package io.tokenmeter.billing.price;

/**
 * A price book as recorded in the log: its revision (1, 2, ...) and the log index of its PRICE BOOK document, so
 * that an invoice can name exactly the book that priced it.
 */
public record BookInForce(PriceBook book, long revision, long logIndex, long installedAtMs)
{
}
