/**
 * Invoices: the calculator (drafts and late-usage adjustments), JSON and CSV forms, the store of final invoices and
 * the billing service. The service's work runs on its one "billing" thread; invoices are immutable values.
 */
package io.tokenmeter.billing.invoice;
