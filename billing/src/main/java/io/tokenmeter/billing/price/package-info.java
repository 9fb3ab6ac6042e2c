/**
 * The price book: loading, validation, model matching and price versions. Books are immutable once built and shared
 * freely; the one in force is swapped whole.
 */
package io.tokenmeter.billing.price;
