/**
 * Exact money: line amounts computed in {@link java.math.BigDecimal} and rounded once, half-even.
 * Stateless; any thread.
 */
package io.tokenmeter.core.money;
