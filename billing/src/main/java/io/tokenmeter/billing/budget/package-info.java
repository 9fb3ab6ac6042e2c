/**
 * Budgets, reservations and alerts (SPEC section 12): spend limits decided in each tenant's partition in log order, so
 * that parallel requests cannot pass them and a replay decides the same.
 */
package io.tokenmeter.billing.budget;
