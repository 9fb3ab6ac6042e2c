/**
 * Cluster mode (SPEC section 10): the node's partitions on a Kafka topic, opened and checked at start. Cold path, the
 * starting thread only; the logs it opens then belong to their partitions' journals and aggregators.
 */
package io.tokenmeter.server.cluster;
