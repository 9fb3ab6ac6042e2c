/**
 * Exact idempotency of (tenant, id) within a time window and a capacity bound.
 * The dedup index is owned by the journal thread; it is rebuilt on start by replaying the log.
 */
package io.tokenmeter.core.dedup;
