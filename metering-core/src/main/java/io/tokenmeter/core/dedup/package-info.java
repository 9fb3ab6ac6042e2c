/**
 * Exact idempotency of (tenant, id) within a time window: the in-memory {@code DedupIndex} and, for ids it evicts
 * by capacity, the {@code DedupDiskTier}. Both are owned by the journal thread; the disk tier's background thread
 * owns its segment list and files and publishes them. The index is rebuilt on start by replaying the log; the disk
 * tier recovers its segments from its folder.
 */
package io.tokenmeter.core.dedup;
