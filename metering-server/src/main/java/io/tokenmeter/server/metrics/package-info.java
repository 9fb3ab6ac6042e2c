/**
 * Micrometer meters with a Prometheus registry; names are listed in docs/metrics.md.
 * Meters are thread-safe; hot-path threads record into them without waiting for a scrape.
 */
package io.tokenmeter.server.metrics;
