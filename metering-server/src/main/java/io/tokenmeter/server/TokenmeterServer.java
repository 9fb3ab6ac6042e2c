package io.tokenmeter.server;

import io.netty.handler.ssl.SslContext;
import io.tokenmeter.billing.budget.BudgetLedger;
import io.tokenmeter.billing.credit.CreditGrant;
import io.tokenmeter.billing.credit.CreditLedger;
import io.tokenmeter.billing.credit.CreditRecord;
import io.tokenmeter.billing.invoice.BillingService;
import io.tokenmeter.billing.invoice.Invoice;
import io.tokenmeter.billing.invoice.FinalInvoiceLedger;
import io.tokenmeter.billing.invoice.FinalInvoiceRecord;
import io.tokenmeter.billing.invoice.FinalInvoices;
import io.tokenmeter.billing.invoice.InvoiceStore;
import io.tokenmeter.billing.invoice.TenantScope;
import io.tokenmeter.billing.price.PartitionedBook;
import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.billing.price.PriceBookException;
import io.tokenmeter.billing.price.PriceBookLoader;
import io.tokenmeter.billing.price.PriceBookRevisions;
import io.tokenmeter.core.event.LogLayout;
import io.tokenmeter.core.log.ControlRequest;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.log.Faults;
import io.tokenmeter.core.log.LoggedCommand;
import io.tokenmeter.core.partition.DataLayout;
import io.tokenmeter.core.partition.Partition;
import io.tokenmeter.core.partition.Partitions;
import io.tokenmeter.server.auth.Keys;
import io.tokenmeter.server.auth.KeysFileException;
import io.tokenmeter.server.cluster.ClusterJson;
import io.tokenmeter.server.cluster.KafkaLogs;
import io.tokenmeter.server.cluster.OwnedPartitions;
import io.tokenmeter.kafka.PartitionOwnership;
import com.fasterxml.jackson.core.JsonGenerator;
import io.tokenmeter.server.config.Settings;
import io.tokenmeter.server.config.SettingsException;
import io.tokenmeter.server.alert.Alert;
import io.tokenmeter.server.alert.AlertSender;
import io.tokenmeter.server.http.ApiContext;
import io.tokenmeter.server.http.Budgets;
import io.tokenmeter.server.http.HttpServer;
import io.tokenmeter.server.metrics.ServerMetrics;
import org.agrona.concurrent.SystemEpochClock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.IntFunction;

/**
 * The running service. It is put together in three steps that read top to bottom:
 *
 * <ol>
 *   <li><b>context</b> (the constructor): settings checked, TLS and keys loaded, the data directory locked, its
 *       layout opened (P partitions, each a log, snapshots, a journal and an aggregator), metrics bound, the port
 *       bound (live, not ready);</li>
 *   <li><b>recovery</b> ({@link #recover}): every journal rebuilt from its checkpoint and log, in parallel (its credit
 *       ledger with it); the price book in force found and made the same in every partition;</li>
 *   <li><b>agents</b> ({@link #run}): the journal, aggregator and pre-toucher threads started, billing made; the
 *       API then has everything it needs and nothing in {@link ApiContext} is null.</li>
 * </ol>
 *
 * {@link #close} stops in order: stop accepting, answer in-flight requests, final checkpoints and snapshots, close
 * the logs.
 */
public final class TokenmeterServer implements ApiContext, AutoCloseable
{
    private static final Logger LOG = LoggerFactory.getLogger(TokenmeterServer.class);
    private static final int MAX_DRAIN_REQUESTS = 256;
    private static final int MAX_DRAIN_EVENTS = 16_384;
    private static final int QUERY_QUEUE = 1024;
    /** A closed reservation's id is kept this long (at most the dedup window) for the retries of its request. */
    private static final long CLOSED_HOLDS_KEPT_MS = 3_600_000L;

    private final Settings settings;
    private final Path dataDir;
    private final DataDirLock lock;
    private final ServerMetrics metrics = new ServerMetrics();
    private final AgentErrors agentErrors = new AgentErrors();
    private final ExecutorService snapshotWriter;
    private final Partitions partitions;
    private final PriceBookRecorder books;
    private final PriceBookRevisions revisions;
    /** Reads the log for the line-events route: two streams at a time, 16 waiting (decision 224). */
    private final ThreadPoolExecutor lineEventReaders;
    /**
     * Each partition's credit grants, kept by its journal (the handler of credit grant records), by partition index;
     * replaced with the partition when this node acquires it (cluster mode).
     */
    private final AtomicReferenceArray<CreditLedger> ledgers;
    /** Each partition's budgets and reservations, kept by its aggregator (the follower of its log), by partition index. */
    private final AtomicReferenceArray<BudgetLedger> budgetLedgers;
    /** Each partition's final invoices as records of its log (used in cluster mode with an owners group). */
    private final AtomicReferenceArray<FinalInvoiceLedger> finalLedgers;
    /** Cluster mode with an owners group: the partitions this node serves follow it; null otherwise. */
    private final OwnedPartitions owned;
    private final KafkaLogs kafka;
    /** Posts budget alerts to their webhooks, off the aggregator threads. */
    private final AlertSender alertSender;
    private final AtomicInteger inFlight = new AtomicInteger();
    /** Completed with the reason when the node must stop on its own (cluster mode: its node id was taken over). */
    private final java.util.concurrent.CompletableFuture<String> mustStop = new java.util.concurrent.CompletableFuture<>();
    /** Forwards per-tenant requests of partitions owned elsewhere (cluster mode with an owners group), else null. */
    private final io.tokenmeter.server.http.Forwarder forwarder;
    private final HttpServer http;
    private final PriceBook configuredBook;
    private final Keys keys;
    private final ScheduledExecutorService diskWatch;
    /** Archives sealed log files every {@code archive-interval}; null when it is 0. */
    private final ScheduledExecutorService archiver;
    /** What the archiver's last run found: documents whose chain link it checked, files kept live for a broken chain. */
    private final AtomicLong archiveChainVerified = new AtomicLong();
    private final AtomicLong archiveChainBreaks = new AtomicLong();
    private volatile BillingService billing;
    /** Cluster mode with an owners group: the book put in force in each partition this node acquires. */
    private volatile PriceBook clusterBook;
    private final Readiness readiness;

    private TokenmeterServer(final Settings settings) throws IOException, InterruptedException
    {
        this.settings = settings;
        final SslContext tls = tlsContext(settings);
        configuredBook = loadConfiguredBook(settings.prices);
        keys = loadKeys(settings);
        dataDir = settings.dataDir.toAbsolutePath();
        try
        {
            lock = DataDirLock.acquire(dataDir);
        }
        catch (final IOException | RuntimeException ex)
        {
            keys.close();
            throw ex;
        }
        final DataLayout layout;
        try
        {
            kafka = settings.clusterKafka ? KafkaLogs.open(settings, dataDir, Settings.NEW_DIRECTORY_PARTITIONS) : null;
            layout = kafka != null ? kafka.layout()
                : DataLayout.openOrCreate(dataDir, settings.partitions, Settings.NEW_DIRECTORY_PARTITIONS);
        }
        catch (final DataLayout.LayoutException | SettingsException ex)
        {
            keys.close();
            lock.close();
            throw ex instanceof SettingsException settingsEx ? settingsEx : new SettingsException(ex.getMessage());
        }
        snapshotWriter = Executors.newSingleThreadExecutor(r ->
        {
            final Thread t = new Thread(r, "snapshot-writer");
            t.setDaemon(true);
            return t;
        });
        final int dedupPerPartition = (settings.dedupCapacity + layout.partitions() - 1) / layout.partitions();
        final Partition.Config config = new Partition.Config(settings.journalQueue, MAX_DRAIN_REQUESTS, MAX_DRAIN_EVENTS,
            settings.maxEventsPerRequest, settings.maxModelsPerTenant, dedupPerPartition, settings.dedupWindowMs(),
            settings.dedupDiskBudgetBytes / layout.partitions(), spillBatch(dedupPerPartition, settings.maxEventsPerRequest),
            settings.snapshotInterval.toMillis(), QUERY_QUEUE);
        try
        {
            partitions = kafka != null && settings.kafkaOwnershipGroup
                ? Partitions.openVacant(layout, config, snapshotWriter, SystemEpochClock.INSTANCE, metrics::onAppend)
                : Partitions.open(layout, kafka != null ? kafka.logFactory() : Partitions.chronicle(layout, settings.durability),
                    config, snapshotWriter, SystemEpochClock.INSTANCE, metrics::onAppend);
        }
        catch (final RuntimeException ex)
        {
            snapshotWriter.shutdownNow();
            keys.close();
            lock.close();
            throw ex;
        }
        LOG.info("{} partition{} in {}{}; dedup window {}: the newest {} ids per partition in memory ({} MiB of heap in all), "
            + "{}", partitions.count(), partitions.count() == 1 ? "" : "s", dataDir,
            layout.isOneLog() ? " (the one-log layout, opened as one partition)" : "", settings.dedupWindow, dedupPerPartition,
            partitions.sum(p -> p.journal().dedup().memoryBytes()) >> 20, settings.dedupDiskBudgetBytes == 0
                ? "no disk tier (dedup-disk-budget 0): beyond dedup-capacity ids are forgotten early"
                : "older ones on disk in " + dataDir.resolve("dedup") + " up to " + (settings.dedupDiskBudgetBytes >> 20)
                    + " MiB (dedup-disk-budget, about 17.6 bytes an id)");
        books = new PriceBookRecorder(partitions);
        revisions = new PriceBookRevisions(partitions);
        lineEventReaders = new ThreadPoolExecutor(2, 2, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(16), r ->
        {
            final Thread t = new Thread(r, "line-events");
            t.setDaemon(true);
            return t;
        });
        alertSender = new AlertSender(settings.alertWebhookSecret,
            AlertSender.Settings.defaults().withMaxRetryInterval(settings.alertRetryMaxInterval));
        ledgers = new AtomicReferenceArray<>(partitions.count());
        budgetLedgers = new AtomicReferenceArray<>(partitions.count());
        finalLedgers = new AtomicReferenceArray<>(partitions.count());
        partitions.all().forEach(this::wire);
        metrics.bind(partitions);
        metrics.bindAlerts(alertSender);
        readiness = new Readiness(partitions, dataDir, settings.minFreeDiskBytes,
            kafka == null ? List.of() : kafka.warnings());
        metrics.bindServer(partitions, dataDir.resolve("log"), readiness::diskFreeBytes, readiness::isReady);
        metrics.bindArchiver(archiveChainVerified, archiveChainBreaks);
        diskWatch = Executors.newSingleThreadScheduledExecutor(r ->
        {
            final Thread t = new Thread(r, "disk-watch");
            t.setDaemon(true);
            return t;
        });
        readiness.checkDisk();
        diskWatch.scheduleWithFixedDelay(readiness::checkDisk, 1, 1, TimeUnit.SECONDS);
        diskWatch.scheduleWithFixedDelay(agentErrors::report, 1, 1, TimeUnit.SECONDS);
        if (settings.logRetention != null && settings.archiveInterval.isZero())
        {
            LOG.warn("log-retention is {} but archive-interval is 0s: the server deletes nothing; tokenmeter archive applies "
                + "it offline, or set archive-interval", Archiver.describe(settings.logRetention));
        }
        archiver = settings.archiveInterval.isZero() ? null : Executors.newSingleThreadScheduledExecutor(r ->
        {
            final Thread t = new Thread(r, "log-archiver");
            t.setDaemon(true);
            return t;
        });
        http = new HttpServer(this, tls, settings.bind, settings.port, settings.ioThreads);
        if (kafka != null && settings.kafkaOwnershipGroup)
        {
            owned = new OwnedPartitions(partitions, kafka.logSettings(), new OwnedPartitions.Hooks()
            {
                @Override
                public void wire(final Partition partition)
                {
                    TokenmeterServer.this.wire(partition);
                }

                @Override
                public void started(final Partition partition)
                {
                    billing.adopt(partition.index(), books.putInForce(partition, clusterBook));
                }

                @Override
                public org.agrona.ErrorHandler errorHandler(final String agent)
                {
                    return agentErrors.handlerFor(agent);
                }

                @Override
                public void stopped(final String why)
                {
                    mustStop.complete(why);
                }
            }, settings.nodeId, nodeUrl(settings, tls != null, http.port()), settings.kafkaDeadNodeAfter);
            readiness.cluster(owned::notReadyReasons, owned::warnings);
            forwarder = new io.tokenmeter.server.http.Forwarder(settings.nodeId, settings.queryTimeout.plusSeconds(10));
            metrics.bindCluster(partitions.count(), owned::serves, owned::takeoverMs, owned::lag);
        }
        else
        {
            owned = null;
            forwarder = null;
            // a single node (or a static cluster node) serves every partition and never took one over
            metrics.bindCluster(partitions.count(), p -> true, p -> -1, p -> ClusterJson.lag(partitions.get(p)));
        }
        metrics.bindAccess(keys, http::openConnections);
        LOG.info("listening on {}://{}:{} (not ready until recovery completes); data in {}; the web console at {}://{}:{}/console/",
            tls == null ? "http" : "https", settings.bind, http.port(), dataDir, tls == null ? "http" : "https", settings.bind,
            http.port());
    }

    /**
     * Registers a partition's record handlers and ledgers on its journal and aggregator: its credit grants, budgets,
     * reservations, final invoices (records in cluster mode with an owners group) and stream timeout. Before its agents run (at start, or when this node acquires it).
     */
    private void wire(final Partition partition)
    {
        final CreditLedger credits = new CreditLedger();
        partition.journal().handle(LogLayout.CONTROL_CREDIT_GRANT, credits);
        partition.journal().handle(LogLayout.CONTROL_BUDGET, new LoggedCommand());
        partition.journal().handle(LogLayout.CONTROL_RESERVATION, new LoggedCommand());
        final FinalInvoiceLedger finals = new FinalInvoiceLedger(partition.index());
        partition.journal().handle(LogLayout.CONTROL_FINAL_INVOICE, finals);
        finalLedgers.set(partition.index(), finals);
        partition.journal().streamTimeoutMs(settings.streamTimeout.toMillis());
        final BudgetLedger budgetLedger = new BudgetLedger(partition.aggregator().aggregator(), this::onAlert,
            Math.min(settings.dedupWindowMs(), CLOSED_HOLDS_KEPT_MS));
        partition.aggregator().follow(budgetLedger);
        ledgers.set(partition.index(), credits);
        budgetLedgers.set(partition.index(), budgetLedger);
    }

    /** @return this node's URL for the other nodes: {@code advertise}, else its own scheme, bind address and port. */
    private static String nodeUrl(final Settings settings, final boolean tls, final int port)
    {
        return settings.advertise != null ? settings.advertise
            : (tls ? "https" : "http") + "://" + (settings.bind.contains(":") ? "[" + settings.bind + "]" : settings.bind) + ":"
                + port;
    }

    /** Opens the data directory, binds the port, recovers, and starts the journal and aggregator threads. */
    public static TokenmeterServer start(final Settings settings) throws IOException, InterruptedException
    {
        return start(settings, null);
    }

    /** As {@link #start(Settings)}, with faults a test can switch on in every partition's log (null for none). */
    public static TokenmeterServer start(final Settings settings, final Faults faults) throws IOException, InterruptedException
    {
        return startWithPartitionFaults(settings, p -> faults);
    }

    /** As {@link #start(Settings)}, with faults a test can switch on in each partition's log (null for none). */
    public static TokenmeterServer startWithPartitionFaults(final Settings settings,
        final IntFunction<Faults> faultsOfPartition)
        throws IOException, InterruptedException
    {
        final TokenmeterServer server = new TokenmeterServer(settings);
        server.partitions.all().forEach(p -> p.log().useFaults(faultsOfPartition.apply(p.index())));
        try
        {
            server.run(server.recover());
        }
        catch (final RuntimeException | IOException ex)
        {
            server.close();
            throw ex;
        }
        return server;
    }

    private static PriceBook loadConfiguredBook(final Path prices)
    {
        if (prices == null)
        {
            return null;
        }
        try
        {
            return PriceBookLoader.load(prices);
        }
        catch (final PriceBookException ex)
        {
            throw new SettingsException("price book " + prices + ": " + ex.getMessage());
        }
    }

    /** Step 2: rebuilds every journal; @return the newest price book recorded in any partition, or null. */
    private PartitionedBook recover()
    {
        partitions.recoverJournals();
        return books.recovered();
    }

    /** Step 3: starts the agents, makes the price book in force the same everywhere, then billing. */
    private void run(final PartitionedBook recovered) throws IOException
    {
        partitions.start(agentErrors::handlerFor);
        if (owned != null)
        {
            runOwned();
            return;
        }
        PartitionedBook prices = recovered == null ? null : books.complete(recovered);
        final PriceBook wanted = configuredBook != null ? configuredBook : prices == null ? PriceBookLoader.shipped() : null;
        if (wanted != null && (prices == null || !prices.book().sha256().equals(wanted.sha256())))
        {
            prices = books.recordNow(wanted, prices);
            LOG.info("price book {} (revision {}, sha256 {}) put in force", configuredBook != null ? settings.prices : "shipped",
                prices.revision(), prices.book().sha256());
        }
        else
        {
            LOG.info("price book revision {} (sha256 {}) in force, as recorded in the log", prices.revision(), prices.book().sha256());
        }
        billing = new BillingService(new InvoiceStore(dataDir.resolve("invoices")), new AggregatorUsage(), new JournalCredits(),
            (tenant, logIndex) -> io.tokenmeter.core.log.DocumentSha256.sha256At(partitions.of(tenant).log(), logIndex),
            books::record, prices, settings.invoiceGrace, System::currentTimeMillis, settings.queryTimeout);
        readiness.onJournalsRecovered();
        LOG.info("journals recovered; counting the logs of {} partition{}", partitions.count(), partitions.count() == 1 ? "" : "s");
        if (archiver != null)
        {
            final long intervalMs = settings.archiveInterval.toMillis();
            archiver.scheduleWithFixedDelay(this::archiveSealedFiles, intervalMs, intervalMs, TimeUnit.MILLISECONDS);
        }
    }

    /**
     * Step 3 in cluster mode with an owners group: no partition is served yet. The node's book (configured, else the
     * shipped one) is what each partition it acquires gets in force; billing starts with it lacking everywhere, and
     * the node joins the group.
     */
    private void runOwned() throws IOException
    {
        final List<Invoice> onDisk = InvoiceStore.readAll(dataDir.resolve("invoices"));
        if (!onDisk.isEmpty())
        {
            // made with kafka-ownership static: the partitions' next owners would not see them and could bill again
            throw new SettingsException(onDisk.size() + " final invoice(s) (" + onDisk.get(0).invoiceNumber() + " first) are "
                + "files of " + dataDir.resolve("invoices") + ", made with kafka-ownership static: with an owners group final "
                + "invoices are records of their partitions' logs, and these would not be seen by the partitions' next "
                + "owners. Keep serving this data directory with --kafka-ownership static, or start the group on a new one");
        }
        clusterBook = configuredBook != null ? configuredBook : PriceBookLoader.shipped();
        final io.tokenmeter.billing.price.BookInForce[] lacking = new io.tokenmeter.billing.price.BookInForce[partitions.count()];
        java.util.Arrays.fill(lacking, new io.tokenmeter.billing.price.BookInForce(clusterBook, 0, EventLog.NO_INDEX, 0));
        billing = new BillingService(new LoggedFinalInvoices(), new AggregatorUsage(), new JournalCredits(),
            (tenant, logIndex) -> io.tokenmeter.core.log.DocumentSha256.sha256At(partitions.of(tenant).log(), logIndex),
            (book, current) -> CompletableFuture.failedFuture(new IllegalStateException("prices cannot be changed through "
                + "the API in cluster mode with an owners group yet (the price book's control topic is to come): start "
                + "every node with the same --prices, and restart them to change it")),
            new PartitionedBook(lacking), settings.invoiceGrace, System::currentTimeMillis, settings.queryTimeout);
        readiness.onJournalsRecovered();
        LOG.info("price book {} (sha256 {}) is put in force in each partition this node acquires",
            configuredBook != null ? settings.prices : "shipped", clusterBook.sha256());
        final PartitionOwnership.Settings group;
        try
        {
            group = new PartitionOwnership.Settings(settings.kafkaBootstrap, settings.kafkaTopicPrefix, settings.nodeId,
                nodeUrl(settings, settings.tlsCert != null, http.port()), settings.kafkaSessionTimeout,
                settings.kafkaHeartbeatInterval, settings.kafkaMaxPollInterval);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new SettingsException(ex.getMessage() + " (kafka-session-timeout " + settings.kafkaSessionTimeout.toMillis()
                + " ms, kafka-heartbeat-interval " + settings.kafkaHeartbeatInterval.toMillis() + " ms, kafka-max-poll-interval "
                + settings.kafkaMaxPollInterval.toMillis() + " ms)");
        }
        owned.start(group);
    }

    /** A line of a retention run: a partition it could not be applied to is a warning, the rest is for debugging. */
    private static void reportRetention(final String line)
    {
        if (line.contains("retention not applied"))
        {
            LOG.warn("log-retention: {} (tried again at the next archive-interval)", line);
        }
        else
        {
            LOG.debug("retention: {}", line);
        }
    }

    /** One run of the archiver thread: what {@code tokenmeter archive} does, on the open logs. */
    private void archiveSealedFiles()
    {
        try
        {
            final List<Invoice> finals = InvoiceStore.readAll(dataDir.resolve("invoices"));
            final Archiver.Result result = Archiver.archive(partitions.localLogs(), finals, settings.dedupWindow,
                System.currentTimeMillis(), line -> LOG.debug("archive: {}", line));
            archiveChainVerified.set(result.chainVerified());
            archiveChainBreaks.set(result.chainBreaks());
            if (result.chainBreaks() > 0)
            {
                LOG.error("the hash chain breaks in {} sealed log file(s), kept live: run tokenmeter audit to see where",
                    result.chainBreaks());
            }
            if (result.archivedFiles() > 0)
            {
                LOG.info("archived {} sealed log file(s), {} events: {} -> {} bytes", result.archivedFiles(), result.events(),
                    result.originalBytes(), result.archiveBytes());
            }
            if (settings.logRetention != null)
            {
                final Archiver.Retained retained = Archiver.retain(partitions.localLogs(), finals, settings.logRetention,
                    System.currentTimeMillis(), TokenmeterServer::reportRetention);
                if (retained.deletedFiles() > 0)
                {
                    LOG.info("log-retention {} deleted the archives of {} file(s), {} events, {} bytes; their digests are kept",
                        Archiver.describe(settings.logRetention), retained.deletedFiles(), retained.events(), retained.archiveBytes());
                }
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            LOG.warn("archiving sealed log files failed (tried again in {}): {}", settings.archiveInterval, ex.toString());
        }
    }

    /** Counters for billing, always as of every event acknowledged before the question. */
    private final class AggregatorUsage implements BillingService.UsageSource
    {
        @Override
        public CompletableFuture<BillingService.UsageView> buckets(final String tenant, final long fromHour, final long toHour)
        {
            final Partition partition = partitions.of(tenant);
            return partition.aggregator().submit(partition.journal().lastAppendedIndex(),
                (counters, appliedIndex) -> new BillingService.UsageView(counters.buckets(tenant, fromHour, toHour),
                    partition.index(), appliedIndex));
        }

        @Override
        public CompletableFuture<List<String>> tenantsWithUsage(final long fromHour, final long toHour,
            final TenantScope scope)
        {
            final List<CompletableFuture<List<String>>> answers = new ArrayList<>();
            for (final Partition partition : partitions.all())
            {
                if (!scope.coversPartition(partition.index()))
                {
                    continue;
                }
                final CompletableFuture<List<String>> answer = partition.aggregator().submit(
                    partition.journal().lastAppendedIndex(), (counters, appliedIndex) -> counters.tenantsWithUsage(fromHour, toHour));
                if (answer == null)
                {
                    return null;
                }
                answers.add(answer);
            }
            return CompletableFuture.allOf(answers.toArray(CompletableFuture[]::new)).thenApply(done ->
            {
                final List<String> tenants = new ArrayList<>();
                answers.forEach(answer -> tenants.addAll(answer.join()));
                tenants.sort(null);
                return tenants;
            });
        }
    }

    /** A budget threshold crossed (an aggregator thread): counted, and posted to the tenant's webhook. */
    private void onAlert(final BudgetLedger.Crossing crossing)
    {
        metrics.onBudgetAlert();
        alertSender.send(Alert.of(crossing.tenant(), crossing.percent(), crossing.spent().toPlainString(),
            crossing.limit().toPlainString(), crossing.currency(), crossing.period().jsonName(),
            java.time.Instant.ofEpochMilli(crossing.periodStartMs()).toString(),
            java.time.Instant.ofEpochMilli(crossing.periodEndMs()).toString(), crossing.webhook(), crossing.crossedAtMs()));
    }

    /** Budgets and reservations for the routes: recorded through the tenant's journal, asked of its aggregator's ledger. */
    private final class PartitionBudgets implements Budgets
    {
        @Override
        public CompletableFuture<Long> record(final String tenant, final int controlKind, final byte[] payload)
        {
            final Partition partition = partitions.of(tenant);
            final ControlRequest request = new ControlRequest(controlKind, 1, payload);
            if (!partition.journal().offer(request))
            {
                return CompletableFuture.failedFuture(new IllegalStateException("the journal queue of partition "
                    + partition.index() + " is full; nothing was recorded, retry shortly"));
            }
            return request.result().thenApply(ControlRequest.Recorded::logIndex);
        }

        @Override
        public <T> CompletableFuture<T> ask(final String tenant, final long minLogIndex,
            final java.util.function.Function<BudgetLedger, T> question)
        {
            final Partition partition = partitions.of(tenant);
            final long at = minLogIndex == EventLog.NO_INDEX ? partition.journal().lastAppendedIndex() : minLogIndex;
            final BudgetLedger ledger = budgetLedgers.get(partition.index());
            return partition.aggregator().submit(at, (counters, appliedIndex) -> question.apply(ledger));
        }

        @Override
        public AlertDelivery delivery(final String tenant, final String alertId)
        {
            final List<AlertSender.Delivery> deliveries = alertSender.deliveries(tenant);
            for (int i = deliveries.size() - 1; i >= 0; i--)
            {
                final AlertSender.Delivery d = deliveries.get(i);
                if (d.alert().id().equals(alertId))
                {
                    return new AlertDelivery(d.attempts(), d.delivered(), d.lastError(), d.deliveredAtMs(), d.gaveUp());
                }
            }
            return null;
        }
    }

    private final Budgets budgets = new PartitionBudgets();

    @Override
    public Budgets budgets()
    {
        return budgets;
    }

    /**
     * Final invoices in cluster mode with an owners group: records of the tenant's partition log, kept and numbered by
     * the partition's {@link FinalInvoiceLedger} (decision 348), so they move and replicate with the partition. Billing
     * asks only for tenants of partitions this node serves (the others' calls are forwarded to their owners).
     */
    private final class LoggedFinalInvoices implements FinalInvoices
    {
        /** How long a finalize waits for the journal to record the invoice in the partition's log. */
        private static final long RECORD_TIMEOUT_S = 15;

        private FinalInvoiceLedger ledgerOf(final String tenant)
        {
            final int partition = partitions.of(tenant).index();
            final FinalInvoiceLedger ledger = finalLedgers.get(partition);
            if (ledger == null || owned == null || !owned.serves(partition))
            {
                throw new BillingService.BillingUnavailableException("partition " + partition + " of tenant " + tenant
                    + " is not served by this node now; retry, and the request goes to its owner");
            }
            return ledger;
        }

        @Override
        public Invoice find(final String tenant, final YearMonth period)
        {
            return ledgerOf(tenant).find(tenant, period);
        }

        @Override
        public List<Invoice> finals(final String tenant)
        {
            return ledgerOf(tenant).finals(tenant);
        }

        @Override
        public List<String> tenantsWithFinalsThrough(final YearMonth period)
        {
            final List<String> tenants = new ArrayList<>();
            for (int p = 0; p < finalLedgers.length(); p++)
            {
                final FinalInvoiceLedger ledger = finalLedgers.get(p);
                if (ledger != null && owned != null && owned.serves(p))
                {
                    tenants.addAll(ledger.tenantsWithFinalsThrough(period));
                }
            }
            return tenants;
        }

        @Override
        public String nextNumber(final String tenant)
        {
            return ledgerOf(tenant).nextNumber();
        }

        @Override
        public void store(final Invoice invoice) throws IOException
        {
            ledgerOf(invoice.tenant());
            final Partition partition = partitions.of(invoice.tenant());
            final FinalInvoiceRecord record = new FinalInvoiceRecord(invoice);
            if (!partition.journal().offer(record))
            {
                throw new BillingService.BillingUnavailableException("the journal queue of partition " + partition.index()
                    + " is full; the invoice was not made final, retry shortly");
            }
            final Invoice recorded;
            try
            {
                recorded = record.outcome().get(RECORD_TIMEOUT_S, TimeUnit.SECONDS);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new BillingService.BillingUnavailableException("interrupted while the final invoice was recorded");
            }
            catch (final java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException ex)
            {
                final Throwable cause = ex.getCause() != null ? ex.getCause() : ex;
                throw new BillingService.BillingUnavailableException("the final invoice of tenant " + invoice.tenant()
                    + " period " + invoice.period() + " was not recorded in partition " + partition.index() + "'s log ("
                    + cause.getMessage() + "); retry: a finalize that went in is found, never made twice");
            }
            if (recorded != invoice)
            {
                throw new java.nio.file.FileAlreadyExistsException("tenant " + invoice.tenant() + " period "
                    + invoice.period() + " is final already as " + recorded.invoiceNumber());
            }
        }
    }

    /** Credit grants for billing: read from the ledgers the journals keep, recorded through the tenant's journal. */
    private final class JournalCredits implements BillingService.CreditSource
    {
        /** How long a read waits for its journal to hand the ledger every record up to an index the counters reached. */
        private static final long CATCH_UP_NS = TimeUnit.SECONDS.toNanos(1);

        @Override
        public List<CreditGrant> grants(final String tenant)
        {
            return ledgers.get(partitions.of(tenant).index()).grants(tenant);
        }

        @Override
        public List<CreditGrant> grantsAt(final String tenant, final long logIndex)
        {
            final Partition partition = partitions.of(tenant);
            // the aggregator may count a document a moment before the journal publishes it (and hands its record to the
            // ledger first): wait for that moment, so that the grants are exactly those up to the counters' index
            final long until = System.nanoTime() + CATCH_UP_NS;
            while (partition.journal().lastAppendedIndex() < logIndex && System.nanoTime() < until)
            {
                java.util.concurrent.locks.LockSupport.parkNanos(50_000);
            }
            final List<CreditGrant> grants = new ArrayList<>();
            for (final CreditGrant grant : ledgers.get(partition.index()).grants(tenant))
            {
                if (grant.logIndex() <= logIndex)
                {
                    grants.add(grant);
                }
            }
            return grants;
        }

        @Override
        public CompletableFuture<CreditRecord.Outcome> record(final CreditGrant grant)
        {
            final Partition partition = partitions.of(grant.tenant());
            final CreditRecord record = new CreditRecord(grant);
            if (!partition.journal().offer(record))
            {
                return CompletableFuture.failedFuture(new IllegalStateException("the journal queue of partition "
                    + partition.index() + " is full; nothing was recorded, retry shortly"));
            }
            return record.outcome();
        }
    }

    private static SslContext tlsContext(final Settings settings)
    {
        if (settings.tlsCert == null)
        {
            return null;
        }
        try
        {
            final SslContext tls = HttpServer.tlsContext(settings.tlsCert, settings.tlsKey);
            LOG.info("TLS: HTTPS only (TLS 1.3 and 1.2) with certificate {}", settings.tlsCert);
            return tls;
        }
        catch (final IllegalArgumentException ex)
        {
            throw new SettingsException("tls-cert " + settings.tlsCert + " and tls-key " + settings.tlsKey + " cannot be used: "
                + ex.getMessage() + ". The certificate chain must be PEM; the key PEM PKCS#8 without a password "
                + "(convert with: openssl pkcs8 -topk8 -nocrypt -in key.pem -out key.pk8.pem)");
        }
    }

    private static Keys loadKeys(final Settings settings)
    {
        if (settings.keys == null)
        {
            refusePublicBindWithoutKeys(settings.bind);
            return Keys.open();
        }
        try
        {
            return Keys.load(settings.keys, settings.keysPoll);
        }
        catch (final KeysFileException ex)
        {
            throw new SettingsException(ex.getMessage());
        }
    }

    /** Reads the keys file again (SIGHUP); a bad file leaves the keys in force. */
    public boolean reloadKeys()
    {
        return keys.reload();
    }

    private static void refusePublicBindWithoutKeys(final String bind)
    {
        final InetAddress address;
        try
        {
            address = InetAddress.getByName(bind);
        }
        catch (final UnknownHostException ex)
        {
            throw new SettingsException("setting bind = '" + bind + "' is not an address this machine knows");
        }
        if (!address.isLoopbackAddress())
        {
            throw new SettingsException("refusing to bind " + bind + ": no API keys are configured (--keys FILE), so the API "
                + "would be open to the network; bind 127.0.0.1 (the default) or configure keys (docs/access.md)");
        }
        LOG.warn("no API keys configured: the API is open to anyone on this machine (bound to loopback {} only)", bind);
    }

    /**
     * @return ids per level-0 segment of a partition's dedup disk tier: a quarter of its memory capacity, at most
     *     65,536 so that the spill buffers' bucket heads, written for every spilled id, stay in cache (docs/dedup.md); and at
     *     least what one document can evict, so that a buffer always has room for the next document's spills.
     */
    static int spillBatch(final int dedupPerPartition, final int maxEventsPerRequest)
    {
        return Math.max(MAX_DRAIN_EVENTS + maxEventsPerRequest, Math.min(1 << 16, dedupPerPartition / 4));
    }

    /** @return HTTP connections open now, refused ones included until they close. */
    public int openConnections()
    {
        return http.openConnections();
    }

    /** @return the port the HTTP server listens on. */
    public int port()
    {
        return http.port();
    }

    @Override
    public Settings settings()
    {
        return settings;
    }

    @Override
    public Partitions partitions()
    {
        return partitions;
    }

    @Override
    public Keys keys()
    {
        return keys;
    }

    @Override
    public ServerMetrics metrics()
    {
        return metrics;
    }

    @Override
    public BillingService billing()
    {
        return billing;
    }

    @Override
    public PriceBookRevisions priceRevisions()
    {
        return revisions;
    }

    @Override
    public Executor lineEventReaders()
    {
        return lineEventReaders;
    }

    @Override
    public boolean ingestReady()
    {
        return readiness.ingestReady();
    }

    @Override
    public List<String> notReadyReasons()
    {
        return readiness.reasons();
    }

    @Override
    public List<String> healthReasons()
    {
        return readiness.healthReasons();
    }

    @Override
    public String unavailable(final Partition partition)
    {
        if (partition.served())
        {
            return null;
        }
        return owned != null ? owned.unavailable(partition) : "partition " + partition.index() + " is not served by this node";
    }

    @Override
    public String forwardUrl(final Partition partition)
    {
        return owned == null || partition.served() ? null : owned.forwardUrl(partition.index());
    }

    @Override
    public io.tokenmeter.server.http.Forwarder forwarder()
    {
        return forwarder;
    }

    @Override
    public void writeCluster(final JsonGenerator json) throws IOException
    {
        if (owned != null)
        {
            owned.writeCluster(json, readiness.isReady());
            return;
        }
        // a single node, or a cluster node with static ownership: this node writes every partition
        final String url = nodeUrl(settings, settings.tlsCert != null, http.port());
        json.writeStartObject();
        json.writeStringField("cluster", kafka == null ? "none" : "kafka");
        if (kafka == null)
        {
            json.writeNullField("ownership");
        }
        else
        {
            json.writeStringField("ownership", "static");
        }
        json.writeObjectFieldStart("node");
        ClusterJson.writeNullable(json, "id", kafka == null ? null : settings.nodeId);
        json.writeStringField("url", url);
        json.writeEndObject();
        json.writeArrayFieldStart("nodes");
        json.writeEndArray();
        json.writeNullField("owners_as_of");
        json.writeArrayFieldStart("partitions");
        for (final Partition partition : partitions.all())
        {
            ClusterJson.writePartition(json, partition.index(), kafka == null ? null : settings.nodeId, url,
                partition.log().lostReason() == null ? "owned" : "lost", partition.journal().lastAppendedIndex(),
                ClusterJson.lag(partition));
        }
        json.writeEndArray();
        json.writeEndObject();
    }

    @Override
    public List<String> readinessWarnings()
    {
        return readiness.warnings();
    }

    @Override
    public void inFlight(final int delta)
    {
        inFlight.addAndGet(delta);
    }

    /** Stops the line-event streams before the logs they read close: a stream still running is cut off. */
    private void stopLineEventReaders()
    {
        lineEventReaders.shutdownNow();
        try
        {
            if (!lineEventReaders.awaitTermination(10, TimeUnit.SECONDS))
            {
                LOG.warn("line-event readers did not stop within 10 s");
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    /** @return true once recovery is complete and the server is not stopping. */
    public boolean isReady()
    {
        return readiness.isReady();
    }

    /** Lets a run of the archiver finish its file (a file is archived whole or not at all) and stops it. */
    private void stopArchiver()
    {
        if (archiver == null)
        {
            return;
        }
        archiver.shutdown();
        try
        {
            if (!archiver.awaitTermination(60, TimeUnit.SECONDS))
            {
                LOG.warn("the log archiver did not finish its file within 60 s; the next start finishes it");
                archiver.shutdownNow();
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * @return completed with the reason when the server must stop on its own: in cluster mode, another process joined
     *     the owners group with this node's id, so this one serves nothing and would only hold its ports. Never
     *     completed on a single node. The caller closes the server and exits non-zero.
     */
    public java.util.concurrent.CompletableFuture<String> mustStop()
    {
        return mustStop;
    }

    /** Graceful stop: no new connections, in-flight requests answered, final checkpoint and snapshot. */
    @Override
    public void close()
    {
        readiness.onStopping();
        http.stopAccepting();
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (inFlight.get() > 0 && System.nanoTime() < deadline)
        {
            Thread.onSpinWait();
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
        }
        if (owned != null)
        {
            // every owned partition drained, checkpointed and closed, then the group told: the others take them at once
            owned.close();
        }
        if (billing != null)
        {
            billing.close();
        }
        revisions.close();
        stopLineEventReaders();
        stopArchiver();
        partitions.stopAgents();
        alertSender.close();
        http.close();
        snapshotWriter.shutdown();
        try
        {
            if (!snapshotWriter.awaitTermination(30, TimeUnit.SECONDS))
            {
                LOG.warn("snapshot writer did not finish within 30 s");
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        partitions.close();
        metrics.close();
        keys.close();
        diskWatch.shutdownNow();
        agentErrors.report();
        lock.close();
        LOG.info("stopped; {} events accepted in this run", partitions.sum(p -> p.journal().acceptedEvents()));
    }
}
