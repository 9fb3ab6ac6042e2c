/**
 * Cluster mode's storage and ownership: a partition's log on a Kafka topic partition
 * ({@link io.tokenmeter.kafka.KafkaEventLog}, its appending side owned by the partition's journal thread, each reader by
 * its own thread), the log topic's creation and checks ({@link io.tokenmeter.kafka.LogTopic}, cold path, no state), and
 * which partitions this node owns ({@link io.tokenmeter.kafka.PartitionOwnership}, its state owned by its own poll
 * thread, its answers readable from any).
 */
package io.tokenmeter.kafka;
