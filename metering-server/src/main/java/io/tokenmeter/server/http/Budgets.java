package io.tokenmeter.server.http;

import io.tokenmeter.billing.budget.BudgetLedger;

import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/** What the budget and reservation routes need of the running server: the tenant's journal and its budget ledger. */
public interface Budgets
{
    /**
     * Records a budget or reservation record ({@link io.tokenmeter.core.event.LogLayout#CONTROL_BUDGET}, {@code
     * CONTROL_RESERVATION}) in the tenant's partition log.
     *
     * @return completes with the record's log index, or exceptionally when the journal refused it (queue full, log
     *     unwritable, stopping).
     */
    CompletableFuture<Long> record(String tenant, int controlKind, byte[] payload);

    /**
     * Asks the tenant's budget ledger a question on its aggregator thread, once the log is applied up to {@code
     * minLogIndex} ({@link io.tokenmeter.core.log.EventLog#NO_INDEX}: as of everything acknowledged so far).
     *
     * @return the answer, or null when the aggregator's queue is full (503).
     */
    <T> CompletableFuture<T> ask(String tenant, long minLogIndex, Function<BudgetLedger, T> question);

    /** @return whether an alert of the tenant was delivered to its webhook, and how it went; null when not known. */
    AlertDelivery delivery(String tenant, String alertId);

    /** How an alert's webhook delivery went (in this run of the server). */
    record AlertDelivery(int attempts, boolean delivered, String lastError, Long deliveredAtMs, boolean gaveUp)
    {
    }
}
