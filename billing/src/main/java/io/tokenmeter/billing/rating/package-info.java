/**
 * Rating: hour buckets priced into invoice lines, exactly, each line rounded once. Stateless; runs on the billing
 * thread (server) or the audit's thread.
 */
package io.tokenmeter.billing.rating;
