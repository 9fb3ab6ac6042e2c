/** Cluster mode (SPEC section 10): the node's partitions on a Kafka topic, opened and checked at start. */
package io.tokenmeter.server.cluster;
