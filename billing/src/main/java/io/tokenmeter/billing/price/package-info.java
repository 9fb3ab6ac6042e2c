/**
 * The price book: loading, validation, model matching, price versions, and the revisions recorded in the logs. Books
 * are immutable once built and shared freely; the one in force is swapped whole; earlier ones are read from the logs
 * on the price-revisions thread ({@link io.tokenmeter.billing.price.PriceBookRevisions}).
 */
package io.tokenmeter.billing.price;
