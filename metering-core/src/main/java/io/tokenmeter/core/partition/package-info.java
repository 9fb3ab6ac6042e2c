/**
 * Partitions, the unit of state: which partition a tenant is in ({@link io.tokenmeter.core.partition.Partitioner}),
 * where each partition's log and snapshots live ({@link io.tokenmeter.core.partition.DataLayout}). Immutable; any thread.
 */
package io.tokenmeter.core.partition;
