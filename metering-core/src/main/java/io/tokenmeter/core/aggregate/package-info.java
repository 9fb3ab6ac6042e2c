/**
 * Hour buckets per (tenant, model, service tier): the aggregator that tails the log, its queries and snapshots.
 * All counters are owned by the aggregator thread; other threads ask it through a bounded queue.
 */
package io.tokenmeter.core.aggregate;
