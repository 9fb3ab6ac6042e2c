package io.tokenmeter.server;

import io.tokenmeter.billing.invoice.BillingService;
import io.tokenmeter.billing.invoice.InvoiceStore;
import io.tokenmeter.billing.price.BookInForce;
import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.billing.price.PriceBookException;
import io.tokenmeter.billing.price.PriceBookLoader;
import io.tokenmeter.core.aggregate.AggregatorAgent;
import io.tokenmeter.core.event.EventRecord;
import io.tokenmeter.core.event.LogDocumentReader;
import io.tokenmeter.core.log.PriceBookInstall;
import org.agrona.DirectBuffer;
import io.tokenmeter.core.dedup.DedupIndex;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.log.Faults;
import io.tokenmeter.core.log.JournalAgent;
import io.tokenmeter.core.log.LogPretouchAgent;
import io.tokenmeter.core.snapshot.SnapshotStore;
import io.netty.handler.ssl.SslContext;
import io.tokenmeter.server.auth.Keys;
import io.tokenmeter.server.auth.KeysFileException;
import io.tokenmeter.server.config.Settings;
import io.tokenmeter.server.config.SettingsException;
import io.tokenmeter.server.http.ApiContext;
import io.tokenmeter.server.http.HttpServer;
import io.tokenmeter.server.metrics.ServerMetrics;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.agrona.concurrent.SystemEpochClock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The running service: log, journal and aggregator threads, the HTTP server, metrics. {@link #start} recovers from
 * the data directory; {@link #close} stops in order: stop accepting, answer in-flight requests, final checkpoint and
 * snapshot, close the log.
 */
public final class TokenmeterServer implements ApiContext, AutoCloseable
{
    private static final Logger LOG = LoggerFactory.getLogger(TokenmeterServer.class);
    private static final int MAX_DRAIN_REQUESTS = 256;
    private static final int MAX_DRAIN_EVENTS = 16_384;

    private final Settings settings;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final EventLog log;
    private final ServerMetrics metrics = new ServerMetrics();
    private final ExecutorService snapshotWriter;
    private final JournalAgent journal;
    private final AggregatorAgent aggregator;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final HttpServer http;
    private final Path dataDir;
    private final PriceBook configuredBook;
    private final Keys keys;
    private volatile BillingService billing;
    private AgentRunner journalRunner;
    private AgentRunner aggregatorRunner;
    private AgentRunner pretouchRunner;
    private final ScheduledExecutorService diskWatch;
    private volatile long diskFreeBytes = Long.MAX_VALUE;
    private volatile boolean journalRecovered;
    private volatile boolean stopping;

    private TokenmeterServer(final Settings settings) throws IOException, InterruptedException
    {
        this.settings = settings;
        final SslContext tls = tlsContext(settings);
        configuredBook = loadConfiguredBook(settings.prices);
        keys = loadKeys(settings);
        dataDir = settings.dataDir.toAbsolutePath();
        Files.createDirectories(dataDir);
        lockChannel = FileChannel.open(dataDir.resolve("tokenmeter.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock acquired;
        try
        {
            acquired = lockChannel.tryLock();
        }
        catch (final java.nio.channels.OverlappingFileLockException ex)
        {
            acquired = null;
        }
        lock = acquired;
        if (lock == null)
        {
            keys.close();
            lockChannel.close();
            throw new SettingsException("data directory " + dataDir + " is in use by another tokenmeter process");
        }
        log = new EventLog(dataDir.resolve("log"), settings.durability);
        final SnapshotStore snapshots = new SnapshotStore(dataDir.resolve("snapshots"));
        snapshotWriter = Executors.newSingleThreadExecutor(r ->
        {
            final Thread t = new Thread(r, "snapshot-writer");
            t.setDaemon(true);
            return t;
        });
        final DedupIndex dedup = new DedupIndex(settings.dedupCapacity, settings.dedupWindowMs(),
            MAX_DRAIN_EVENTS + settings.maxEventsPerRequest);
        LOG.info("dedup: up to {} ids for {}, {} MiB of heap", settings.dedupCapacity, settings.dedupWindow,
            dedup.memoryBytes() >> 20);
        journal = new JournalAgent(log, dedup, snapshots, snapshotWriter, SystemEpochClock.INSTANCE,
            settings.journalQueue, MAX_DRAIN_REQUESTS, MAX_DRAIN_EVENTS, settings.snapshotInterval.toMillis(), metrics::onAppend);
        aggregator = new AggregatorAgent(log, snapshots, snapshotWriter, SystemEpochClock.INSTANCE, 1024,
            settings.snapshotInterval.toMillis());
        metrics.bind(journal, aggregator);
        metrics.bindServer(snapshots, dataDir.resolve("log"), () -> diskFreeBytes, this::isReady);
        diskWatch = Executors.newSingleThreadScheduledExecutor(r ->
        {
            final Thread t = new Thread(r, "disk-watch");
            t.setDaemon(true);
            return t;
        });
        checkDisk();
        diskWatch.scheduleWithFixedDelay(this::checkDisk, 1, 1, TimeUnit.SECONDS);
        http = new HttpServer(this, tls, settings.bind, settings.port, settings.ioThreads);
        metrics.bindAccess(keys, http::openConnections);
        LOG.info("listening on {}://{}:{} (not ready until recovery completes); data in {}", tls == null ? "http" : "https",
            settings.bind, http.port(), dataDir);
    }

    /** Opens the data directory, binds the port, recovers, and starts the journal and aggregator threads. */
    public static TokenmeterServer start(final Settings settings) throws IOException, InterruptedException
    {
        return start(settings, null);
    }

    /** As {@link #start(Settings)}, with faults a test can switch on in the log (null for none). */
    public static TokenmeterServer start(final Settings settings, final Faults faults) throws IOException, InterruptedException
    {
        final TokenmeterServer server = new TokenmeterServer(settings);
        server.log.useFaults(faults);
        try
        {
            server.recoverAndRun();
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

    private void recoverAndRun() throws IOException
    {
        journal.recover();
        BookInForce prices = bookInForceFromLog();
        if (prices != null)
        {
            journal.useContextRules(prices.book());
        }
        journalRunner = new AgentRunner(journal.idleStrategy(), errorHandler("journal"), null, journal);
        AgentRunner.startOnThread(journalRunner);
        pretouchRunner = new AgentRunner(new SleepingMillisIdleStrategy(10), errorHandler("log-pretouch"), null,
            new LogPretouchAgent(log));
        AgentRunner.startOnThread(pretouchRunner);
        final PriceBook wanted = configuredBook != null ? configuredBook : prices == null ? PriceBookLoader.shipped() : null;
        if (wanted != null && (prices == null || !prices.book().sha256().equals(wanted.sha256())))
        {
            prices = recordBook(wanted);
            LOG.info("price book {} (revision {}, sha256 {}) put in force", configuredBook != null ? settings.prices : "shipped",
                prices.revision(), prices.book().sha256());
        }
        else
        {
            LOG.info("price book revision {} (sha256 {}) in force, as recorded in the log", prices.revision(), prices.book().sha256());
        }
        billing = new BillingService(new InvoiceStore(dataDir.resolve("invoices")), new AggregatorUsage(),
            this::submitBook, prices, settings.invoiceGrace, System::currentTimeMillis, settings.queryTimeout);
        aggregator.countEventsAfter(log.lastIndex());
        journalRecovered = true;
        aggregatorRunner = new AgentRunner(aggregator.idleStrategy(), errorHandler("aggregator"), null, aggregator);
        AgentRunner.startOnThread(aggregatorRunner);
        LOG.info("journal recovered; counting the log up to index {}", Long.toHexString(log.lastIndex()));
    }

    /** @return the book the log says is in force, or null when the log has none. */
    private BookInForce bookInForceFromLog()
    {
        final long index = journal.priceBookIndex();
        if (index == EventLog.NO_INDEX)
        {
            return null;
        }
        final byte[][] json = new byte[1][];
        final long[] appendTime = new long[1];
        try (EventLog.Reader reader = log.newReader())
        {
            reader.readAt(index, new LogDocumentReader.Handler()
            {
                @Override
                public void onName(final byte recordType, final int id, final DirectBuffer buffer, final int offset, final int length)
                {
                }

                @Override
                public void onEvent(final EventRecord event, final long appendTimeMs)
                {
                }

                @Override
                public void onPriceBook(final long revision, final DirectBuffer buffer, final int offset, final int length,
                    final long appendTimeMs)
                {
                    json[0] = new byte[length];
                    buffer.getBytes(offset, json[0]);
                    appendTime[0] = appendTimeMs;
                }
            });
        }
        if (json[0] == null)
        {
            throw new IllegalStateException("the journal names log index " + Long.toHexString(index)
                + " as the price book in force, but no price book is there");
        }
        try
        {
            return new BookInForce(PriceBookLoader.parse(json[0], PriceBookLoader.Format.JSON), journal.priceBookRevision(),
                index, appendTime[0]);
        }
        catch (final PriceBookException ex)
        {
            throw new IllegalStateException("the price book recorded at log index " + Long.toHexString(index)
                + " no longer validates: " + ex.getMessage(), ex);
        }
    }

    private java.util.concurrent.CompletableFuture<PriceBookInstall.Installed> submitBook(final PriceBook book)
    {
        final PriceBookInstall install = new PriceBookInstall(book.recordedJson(), book);
        return journal.offer(install) ? install.result() : java.util.concurrent.CompletableFuture.failedFuture(
            new IllegalStateException("the journal queue is full; the book in force is unchanged, retry shortly"));
    }

    private BookInForce recordBook(final PriceBook book)
    {
        try
        {
            final PriceBookInstall.Installed installed = submitBook(book).get(30, TimeUnit.SECONDS);
            return new BookInForce(book, installed.revision(), installed.logIndex(), installed.appendTimeMs());
        }
        catch (final Exception ex)
        {
            throw new IllegalStateException("the price book could not be recorded in the log: " + ex.getMessage(), ex);
        }
    }

    /** Counters for billing, always as of every event acknowledged before the question. */
    private final class AggregatorUsage implements BillingService.UsageSource
    {
        @Override
        public java.util.concurrent.CompletableFuture<BillingService.UsageView> buckets(final String tenant, final long fromHour,
            final long toHour)
        {
            return aggregator.submit(journal.lastAppendedIndex(),
                (counters, appliedIndex) -> new BillingService.UsageView(counters.buckets(tenant, fromHour, toHour), appliedIndex));
        }

        @Override
        public java.util.concurrent.CompletableFuture<List<String>> tenantsWithUsage(final long fromHour, final long toHour)
        {
            return aggregator.submit(journal.lastAppendedIndex(), (counters, appliedIndex) -> counters.tenantsWithUsage(fromHour, toHour));
        }
    }

    private static ErrorHandler errorHandler(final String agent)
    {
        final AtomicLong errors = new AtomicLong();
        return ex ->
        {
            final long n = errors.incrementAndGet();
            if (n == 1 || n % 1000 == 0)
            {
                LOG.error("{} thread failed ({} failures so far)", agent, n, ex);
            }
        };
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
    public JournalAgent journal()
    {
        return journal;
    }

    @Override
    public AggregatorAgent aggregator()
    {
        return aggregator;
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
    public boolean ingestReady()
    {
        return journalRecovered && !stopping && !diskLow();
    }

    private boolean diskLow()
    {
        return diskFreeBytes < settings.minFreeDiskBytes;
    }

    /** Measures the free space of the data directory's file system (disk-watch thread, every second). */
    private void checkDisk()
    {
        final boolean wasLow = diskLow();
        try
        {
            diskFreeBytes = Files.getFileStore(dataDir).getUsableSpace();
        }
        catch (final IOException | RuntimeException ex)
        {
            LOG.warn("cannot measure free space in {}: {}", dataDir, ex.toString());
            return;
        }
        if (diskLow() != wasLow)
        {
            if (wasLow)
            {
                LOG.info("disk space back: {} MiB free in {}; ingest resumes", diskFreeBytes >> 20, dataDir);
            }
            else
            {
                LOG.error("disk almost full: {} MiB free in {}, below min-free-disk {} MiB; ingest answers 503 until space "
                    + "returns", diskFreeBytes >> 20, dataDir, settings.minFreeDiskBytes >> 20);
            }
        }
    }

    @Override
    public List<String> notReadyReasons()
    {
        final List<String> reasons = new ArrayList<>(2);
        if (stopping)
        {
            reasons.add("stopping");
        }
        if (!journalRecovered)
        {
            reasons.add("recovering: rebuilding dedup state from the log");
        }
        else if (!aggregator.isRecovered())
        {
            reasons.add("recovering: counting the log (applied up to index " + Long.toHexString(aggregator.appliedIndex()) + ")");
        }
        final String failure = journal.failure();
        if (failure != null)
        {
            reasons.add("journal failing: " + failure);
        }
        if (diskLow())
        {
            reasons.add("disk full: " + (diskFreeBytes >> 20) + " MiB free in " + dataDir + ", below min-free-disk "
                + (settings.minFreeDiskBytes >> 20) + " MiB: free space there; ingest resumes by itself");
        }
        return reasons;
    }

    @Override
    public void inFlight(final int delta)
    {
        inFlight.addAndGet(delta);
    }

    /** @return true once recovery is complete and the server is not stopping. */
    public boolean isReady()
    {
        return notReadyReasons().isEmpty();
    }

    /** Graceful stop: no new connections, in-flight requests answered, final checkpoint and snapshot. */
    @Override
    public void close()
    {
        stopping = true;
        http.stopAccepting();
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (inFlight.get() > 0 && System.nanoTime() < deadline)
        {
            Thread.onSpinWait();
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
        }
        if (billing != null)
        {
            billing.close();
        }
        if (journalRunner != null)
        {
            journalRunner.close();
        }
        if (aggregatorRunner != null)
        {
            aggregatorRunner.close();
        }
        if (pretouchRunner != null)
        {
            pretouchRunner.close();
        }
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
        log.close();
        metrics.close();
        keys.close();
        diskWatch.shutdownNow();
        try
        {
            lock.release();
            lockChannel.close();
        }
        catch (final IOException ex)
        {
            LOG.warn("releasing the data directory lock: {}", ex.toString());
        }
        LOG.info("stopped; {} events accepted in this run", journal.acceptedEvents());
    }
}
