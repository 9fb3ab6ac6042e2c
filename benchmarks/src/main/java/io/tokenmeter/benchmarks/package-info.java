/**
 * Benchmarks of tokenmeter: JMH benchmarks of the hot path ({@code jmh}), the load generator ({@code load}) and the
 * reference servers every throughput figure is compared with ({@code reference}). See BENCHMARKS.md.
 */
package io.tokenmeter.benchmarks;
