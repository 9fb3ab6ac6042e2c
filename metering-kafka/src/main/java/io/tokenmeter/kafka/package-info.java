/**
 * Cluster mode's storage: a partition's log on a Kafka topic partition ({@link io.tokenmeter.kafka.KafkaEventLog}, its
 * appending side owned by the partition's journal thread, each reader by its own thread) and the log topic's creation
 * and checks ({@link io.tokenmeter.kafka.LogTopic}, cold path, no state).
 */
package io.tokenmeter.kafka;
