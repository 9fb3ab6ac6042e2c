/**
 * Cluster mode (SPEC section 10): the node's partitions on a Kafka topic, opened and checked at start
 * ({@link io.tokenmeter.server.cluster.KafkaLogs}, the starting thread), and served as the owners group assigns them
 * ({@link io.tokenmeter.server.cluster.OwnedPartitions}: the ownership thread, the partition-recovery threads and the
 * owners-view thread); the logs opened belong to their partitions' journals and aggregators.
 */
package io.tokenmeter.server.cluster;
