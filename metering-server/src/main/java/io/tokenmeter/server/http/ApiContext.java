package io.tokenmeter.server.http;

import io.tokenmeter.billing.invoice.BillingService;
import io.tokenmeter.billing.price.PriceBookRevisions;
import io.tokenmeter.core.partition.Partitions;
import io.tokenmeter.server.auth.Keys;
import io.tokenmeter.server.config.Settings;
import io.tokenmeter.server.metrics.ServerMetrics;

import java.util.List;
import java.util.concurrent.Executor;

/** What the HTTP routes need of the running server. */
public interface ApiContext
{
    Settings settings();

    /** The partitions: each tenant's journal and aggregator. */
    Partitions partitions();

    ServerMetrics metrics();

    /** The keys in force; open when the server runs without a keys file. */
    Keys keys();

    /** Invoices and prices; available once the server has recovered. */
    BillingService billing();

    /** Budgets and reservations: each tenant's journal and budget ledger. */
    Budgets budgets();

    /** Every recorded revision of the price book, and their books read from the log. */
    PriceBookRevisions priceRevisions();

    /**
     * The threads that read the log for {@code GET /v1/invoices/{tenant}/{period}/lines/{n}/events} (never an event
     * loop), behind a bounded queue: a full one refuses the task ({@code RejectedExecutionException}).
     */
    Executor lineEventReaders();

    /** @return true once the journal has recovered and may take events. */
    boolean ingestReady();

    /** @return why the server is not ready; empty when ready. */
    List<String> notReadyReasons();

    /** @return what is degraded while the server serves (a shortened dedup window); empty when nothing is. */
    default List<String> readinessWarnings()
    {
        return List.of();
    }

    /** Counts requests handed to a journal or aggregator and not yet answered (graceful stop waits for zero). */
    void inFlight(int delta);
}
