package io.tokenmeter.server.http;

import io.tokenmeter.billing.invoice.BillingService;
import io.tokenmeter.billing.price.PriceBookRevisions;
import com.fasterxml.jackson.core.JsonGenerator;
import io.tokenmeter.core.partition.Partition;
import io.tokenmeter.core.partition.Partitions;
import io.tokenmeter.server.auth.Keys;
import io.tokenmeter.server.config.Settings;
import io.tokenmeter.server.metrics.ServerMetrics;

import java.io.IOException;
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

    /**
     * @return why {@code GET /health/ready} is not 200: {@link #notReadyReasons} and, in cluster mode, the partitions
     *     this node owns that are still recovering (their own requests answer 503 partition_unavailable meanwhile,
     *     the other partitions' are served).
     */
    default List<String> healthReasons()
    {
        return notReadyReasons();
    }

    /**
     * @return why this node does not serve {@code partition}'s requests now (cluster mode: owned by another node,
     *     which the message names with its URL when the owners group says; no owner; recovering here), or null when it
     *     does. The caller answers 503 partition_unavailable with it. Any thread.
     */
    default String unavailable(final Partition partition)
    {
        return partition.served() ? null : "partition " + partition.index() + " is not served by this node";
    }

    /**
     * @return the base URL of the node to forward {@code partition}'s per-tenant requests to (cluster mode: the owner
     *     the owners group names, another node), or null when there is none to forward to. Any thread.
     */
    default String forwardUrl(final Partition partition)
    {
        return null;
    }

    /** @return what forwards per-tenant requests to their partition's owner (cluster mode with an owners group), or null. */
    default Forwarder forwarder()
    {
        return null;
    }

    /**
     * Writes the body of {@code GET /v1/cluster}: this node, and each partition's owner and state here. The default
     * (a context without a cluster) says only that.
     */
    default void writeCluster(final JsonGenerator json) throws IOException
    {
        json.writeStartObject();
        json.writeStringField("cluster", "none");
        json.writeEndObject();
    }

    /** Counts requests handed to a journal or aggregator and not yet answered (graceful stop waits for zero). */
    void inFlight(int delta);
}
