/**
 * The audit: recomputes invoices from the log alone and compares them with the final invoices and served drafts.
 * Single-threaded, read-only.
 */
package io.tokenmeter.billing.audit;
