package io.tokenmeter.server.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tokenmeter.core.aggregate.AggregatorAgent;
import io.tokenmeter.core.archive.ArchiveManifest;
import io.tokenmeter.core.log.ChronicleEventLog;
import io.tokenmeter.core.log.JournalAgent;
import io.tokenmeter.core.partition.Partition;
import io.tokenmeter.core.partition.Partitions;

import io.tokenmeter.server.auth.KeyRing;
import io.tokenmeter.server.auth.Keys;

import io.tokenmeter.core.snapshot.SnapshotStore;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.NavigableSet;
import java.util.function.BooleanSupplier;
import java.util.function.IntPredicate;
import java.util.function.IntToDoubleFunction;
import java.util.function.IntToLongFunction;
import java.util.function.LongSupplier;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import java.util.function.IntSupplier;
import java.util.concurrent.atomic.AtomicReferenceArray;

/** The server's meters. Names get the {@code tokenmeter_} prefix; see docs/metrics.md. */
public final class ServerMetrics implements AutoCloseable
{
    /** The version in {@code tokenmeter_build_info}. */
    public static final String VERSION = "0.1.0";

    /** Most distinct (format, field) series of ignored usage fields. */
    public static final int MAX_IGNORED_FIELD_SERIES = 200;
    private static final Pattern PLAIN_FIELD = Pattern.compile("[A-Za-z0-9_]{1,64}(\\.[A-Za-z0-9_]{1,64}){0,2}");

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final AtomicReferenceArray<Counter> requestsByStatus = new AtomicReferenceArray<>(600);
    private final Counter rejectedEvents;
    private final LatencyHistogram ingestLatency = new LatencyHistogram("tokenmeter_ingest_latency",
        "receipt of an ingest request to its answer");
    private final LatencyHistogram appendLatency = new LatencyHistogram("tokenmeter_log_append_latency",
        "one journal document appended to the log (and flushed, in sync mode)");
    private final JvmGcMetrics gcMetrics = new JvmGcMetrics();
    private final java.util.concurrent.ExecutorService scraper = java.util.concurrent.Executors.newSingleThreadExecutor(r ->
    {
        final Thread t = new Thread(r, "metrics-scrape");
        t.setDaemon(true);
        return t;
    });
    private final Counter connectionsRefused;
    private final Counter authMissing;
    private final Counter authMalformed;
    private final Counter authUnknown;
    private final Counter authForbidden;
    private final Counter slowClientsClosed;
    private final Counter readingPaused;
    private final ConcurrentHashMap<String, Counter> ignoredUsageFields = new ConcurrentHashMap<>();
    private final Counter otlpSpansEvent;
    private final Counter otlpSpansSkipped;
    private final Counter otlpSpansSummary;
    private final Counter otlpSpansRejected;
    private final Counter budgetAlerts;
    private final ConcurrentHashMap<String, Counter> reservations = new ConcurrentHashMap<>();

    public ServerMetrics()
    {
        rejectedEvents = Counter.builder("tokenmeter.ingest.events").tag("result", "rejected")
            .description("events by outcome").register(registry);
        registry.getPrometheusRegistry().register(ingestLatency);
        registry.getPrometheusRegistry().register(appendLatency);
        connectionsRefused = Counter.builder("tokenmeter.http.connections.refused")
            .description("connections closed at once because max-connections, or max-connections-per-address from their address, were open").register(registry);
        authMissing = authDenied("missing");
        authMalformed = authDenied("malformed");
        authUnknown = authDenied("unknown");
        authForbidden = authDenied("forbidden");
        slowClientsClosed = Counter.builder("tokenmeter.http.slow.clients.closed")
            .description("connections answered 408 and closed: headers not in within header-timeout, or a body under "
                + "min-body-rate").register(registry);
        otlpSpansEvent = otlpSpans("event");
        otlpSpansSkipped = otlpSpans("skipped");
        otlpSpansSummary = otlpSpans("summary");
        otlpSpansRejected = otlpSpans("rejected");
        readingPaused = Counter.builder("tokenmeter.http.reading.paused")
            .description("times a connection stopped being read: its answers were not read by the client, or it "
                + "pipelined max-pipelined requests").register(registry);
        for (final String outcome : List.of("granted", "existing", "refused", "conflict", "released", "not_found", "closed",
            "too_many"))
        {
            reservation(outcome);
        }
        budgetAlerts = Counter.builder("tokenmeter.budget.alerts")
            .description("budget thresholds crossed (once per threshold and period; each posts its webhook)").register(registry);
        new JvmMemoryMetrics().bindTo(registry);
        gcMetrics.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
    }

    /** Registers the meters of the budget alert webhooks. */
    public void bindAlerts(final io.tokenmeter.server.alert.AlertSender sender)
    {
        FunctionCounter.builder("tokenmeter.alerts.delivered", sender, io.tokenmeter.server.alert.AlertSender::delivered)
            .description("budget alerts delivered to their webhooks (a 2xx answer)").register(registry);
        FunctionCounter.builder("tokenmeter.alert.attempts.failed", sender, io.tokenmeter.server.alert.AlertSender::failedAttempts)
            .description("webhook posts of budget alerts that failed (retried with backoff)").register(registry);
        FunctionCounter.builder("tokenmeter.alerts.dropped", sender, io.tokenmeter.server.alert.AlertSender::dropped)
            .description("budget alerts dropped because the sender's queue was full").register(registry);
        Gauge.builder("tokenmeter.alerts.queued", sender, io.tokenmeter.server.alert.AlertSender::queued)
            .description("budget alerts waiting for delivery or a retry").register(registry);
    }

    /**
     * Registers the meters that read the journals' and aggregators' published state, summed over the partitions
     * (series per partition would multiply with P; the lag and queue depth take the worst partition).
     */
    public void bind(final Partitions partitions)
    {
        FunctionCounter.builder("tokenmeter.ingest.events", partitions, all -> all.sum(p -> p.journal().acceptedEvents()))
            .tag("result", "accepted").register(registry);
        FunctionCounter.builder("tokenmeter.ingest.events", partitions, all -> all.sum(p -> p.journal().duplicateEvents()))
            .tag("result", "duplicate").register(registry);
        FunctionCounter.builder("tokenmeter.ingest.events", partitions, all -> all.sum(p -> p.journal().conflictEvents()))
            .tag("result", "conflict").register(registry);
        FunctionCounter.builder("tokenmeter.stream.conflicts", partitions, all -> all.sum(p -> p.journal().streamConflicts()))
            .description("stream checkpoints refused as conflicts (a count below the stream's highest, after its end)")
            .register(registry);
        Gauge.builder("tokenmeter.streams.held", partitions, all -> all.sum(p -> p.journal().streamsHeld()))
            .description("streams the journals hold (open, or ended within the dedup window)").register(registry);
        FunctionCounter.builder("tokenmeter.log.append.failures", partitions, all -> all.sum(p -> p.journal().appendFailures()))
            .description("log appends that failed; their requests were answered 503").register(registry);
        Gauge.builder("tokenmeter.journal.queue.depth", partitions, all -> max(all, p -> p.journal().inboxSize()))
            .description("ingest requests waiting for the journal (the fullest partition's)").register(registry);
        Gauge.builder("tokenmeter.dedup.size", partitions, all -> all.sum(p -> p.journal().dedup().size()))
            .description("event ids remembered for dedup").register(registry);
        Gauge.builder("tokenmeter.dedup.capacity", partitions, all -> all.sum(p -> p.journal().dedup().capacity()))
            .description("most event ids remembered").register(registry);
        FunctionCounter.builder("tokenmeter.dedup.evictions", partitions, all -> all.sum(p -> p.journal().dedup().evictedByWindow()))
            .tag("reason", "window").register(registry);
        FunctionCounter.builder("tokenmeter.dedup.evictions", partitions, all -> all.sum(p -> p.journal().forgottenEarly()))
            .tag("reason", "capacity").description("ids forgotten before the window ended (memory and disk tier full): "
                + "raise dedup-disk-budget").register(registry);
        Gauge.builder("tokenmeter.dedup.disk.ids", partitions, all -> all.sum(p -> p.journal().diskTier() == null ? 0
                : p.journal().diskTier().ids()))
            .description("ids of the window held by the disk tier (beyond dedup-capacity)").register(registry);
        Gauge.builder("tokenmeter.dedup.disk.bytes", partitions, all -> all.sum(p -> p.journal().diskTier() == null ? 0
                : p.journal().diskTier().diskBytes()))
            .description("bytes of the disk tier's segments (bounded by dedup-disk-budget)").register(registry);
        Gauge.builder("tokenmeter.dedup.disk.segments", partitions, all -> all.sum(p -> p.journal().diskTier() == null ? 0
                : p.journal().diskTier().segments()))
            .description("segments of the disk tier: a new id probes one filter block of each").register(registry);
        FunctionCounter.builder("tokenmeter.dedup.disk.merges", partitions, all -> all.sum(p -> p.journal().diskTier() == null
                ? 0 : p.journal().diskTier().merges()))
            .description("merges of disk tier segments (each rewrites its inputs' ids)").register(registry);
        Gauge.builder("tokenmeter.dedup.window.seconds", partitions, all -> all.get(0).journal().dedup().windowMs() / 1000.0)
            .description("the configured dedup window").register(registry);
        Gauge.builder("tokenmeter.dedup.effective.window.seconds", partitions, all -> minEffectiveWindowSeconds(all))
            .description("the dedup window held now (the worst partition's): the configured window, or the age of the "
                + "oldest id still remembered once ids were forgotten early").register(registry);
        Gauge.builder("tokenmeter.aggregation.lag.seconds", partitions, all -> max(all, ServerMetrics::lagSeconds))
            .description("age of the oldest acknowledged event not yet counted").register(registry);
        Gauge.builder("tokenmeter.aggregation.lag.events", partitions, all -> all.sum(
                p -> Math.max(0, p.journal().acceptedEvents() - p.aggregator().eventsCountedSinceStart())))
            .description("events acknowledged and not yet counted").register(registry);
        Gauge.builder("tokenmeter.partitions", partitions, Partitions::count)
            .description("partitions of this node (each its own journal, log and aggregator)").register(registry);
    }

    private static double minEffectiveWindowSeconds(final Partitions partitions)
    {
        long min = Long.MAX_VALUE;
        for (final Partition partition : partitions.all())
        {
            min = Math.min(min, partition.journal().effectiveWindowMs());
        }
        return min / 1000.0;
    }

    private static double max(final Partitions partitions, final java.util.function.ToDoubleFunction<Partition> value)
    {
        double max = 0;
        for (final Partition partition : partitions.all())
        {
            max = Math.max(max, value.applyAsDouble(partition));
        }
        return max;
    }

    private Counter otlpSpans(final String result)
    {
        return Counter.builder("tokenmeter.otlp.spans").tag("result", result)
            .description("spans of decoded POST /v1/traces requests: event (GenAI usage, handed on as an event), skipped "
                + "(no GenAI usage), summary (a local agent's usage, which its model-call spans carry), rejected (GenAI "
                + "usage breaking a rule)").register(registry);
    }

    /**
     * Counts the spans of one decoded {@code /v1/traces} request.
     *
     * @param events    spans with GenAI usage that became events (their outcome is counted as for any event).
     * @param skipped   spans without GenAI usage.
     * @param summaries spans of local agents and workflows, whose usage repeats their model calls' spans (not billed).
     * @param rejected  spans with GenAI usage refused for a problem of their own.
     */
    public void onOtlpSpans(final int events, final int skipped, final int summaries, final int rejected)
    {
        otlpSpansEvent.increment(events);
        otlpSpansSkipped.increment(skipped);
        otlpSpansSummary.increment(summaries);
        otlpSpansRejected.increment(rejected);
    }

    private Counter authDenied(final String reason)
    {
        return Counter.builder("tokenmeter.auth.denied").tag("reason", reason)
            .description("requests refused by access control: missing, malformed or unknown key (401), forbidden (403)")
            .register(registry);
    }

    /** Registers the meters of the keys in force and the open connections. */
    public void bindAccess(final Keys keys, final IntSupplier openConnections)
    {
        FunctionCounter.builder("tokenmeter.keys.reloads", keys, Keys::reloads).tag("result", "ok")
            .description("keys file reloads").register(registry);
        FunctionCounter.builder("tokenmeter.keys.reloads", keys, Keys::reloadFailures).tag("result", "failed")
            .register(registry);
        Gauge.builder("tokenmeter.keys", keys, k -> k.isOpen() ? 0 : k.current().keys().size())
            .description("keys in force (0 with no keys file: the server runs open on loopback)").strongReference(true).register(registry);
        Gauge.builder("tokenmeter.http.connections", openConnections, IntSupplier::getAsInt)
            .description("open HTTP connections").strongReference(true).register(registry);
    }

    /**
     * Counts events whose usage object had a field the mapping does not use. Field names come from clients, so the
     * series are bounded: names that are not plain identifiers count as {@code _invalid}, and beyond
     * {@link #MAX_IGNORED_FIELD_SERIES} distinct fields as {@code _other}.
     */
    public void onUsageFieldIgnored(final String format, final String field, final int events)
    {
        final String name = PLAIN_FIELD.matcher(field).matches() ? field : "_invalid";
        Counter counter = ignoredUsageFields.get(format + ' ' + name);
        if (counter == null)
        {
            final String labelled = ignoredUsageFields.size() < MAX_IGNORED_FIELD_SERIES ? name : "_other";
            counter = ignoredUsageFields.computeIfAbsent(format + ' ' + labelled, k -> Counter.builder("tokenmeter.usage.fields.ignored")
                .tag("format", format).tag("field", labelled)
                .description("events whose provider usage object had this field, which the mapping does not use")
                .register(registry));
        }
        counter.increment(events);
    }

    public void onConnectionRefused()
    {
        connectionsRefused.increment();
    }

    public void onAuthDenied(final KeyRing.Refusal refusal)
    {
        (switch (refusal)
        {
            case MISSING -> authMissing;
            case MALFORMED -> authMalformed;
            case UNKNOWN -> authUnknown;
        }).increment();
    }

    public void onBudgetAlert()
    {
        budgetAlerts.increment();
    }

    /** A reservation request answered: {@code outcome} granted, existing, refused, conflict, released, not_found, closed. */
    public void onReservation(final String outcome)
    {
        reservation(outcome).increment();
    }

    private Counter reservation(final String outcome)
    {
        return reservations.computeIfAbsent(outcome, o -> Counter.builder("tokenmeter.reservations").tag("outcome", o)
            .description("reservation requests by what they decided").register(registry));
    }

    public void onAuthForbidden()
    {
        authForbidden.increment();
    }

    public void onSlowClientClosed()
    {
        slowClientsClosed.increment();
    }

    /** @param paused true when a connection stops being read, false when reading resumes (not counted). */
    public void onReadingPaused(final boolean paused)
    {
        if (paused)
        {
            readingPaused.increment();
        }
    }

    /** Registers the meters of the snapshots, the log's size, the disk and readiness. */
    public void bindServer(final Partitions partitions, final Path logDir, final LongSupplier diskFreeBytes,
        final BooleanSupplier ready)
    {
        for (final String kind : new String[] {AggregatorAgent.SNAPSHOT_KIND, JournalAgent.CHECKPOINT_KIND})
        {
            Gauge.builder("tokenmeter.snapshot.age.seconds", partitions,
                    all -> worst(all, p -> snapshotAgeSeconds(p.snapshots().lastWrite(kind)))).tag("kind", kind)
                .description("time since the newest snapshot was written, in the partition whose newest is oldest (NaN when "
                    + "a partition has none)").strongReference(true).register(registry);
            Gauge.builder("tokenmeter.snapshot.duration.seconds", partitions,
                    all -> worst(all, p -> snapshotDurationSeconds(p.snapshots().lastWrite(kind))))
                .tag("kind", kind).description("how long writing the newest snapshot took, the slowest partition's (0 when "
                    + "written before this run)").strongReference(true).register(registry);
        }
        Gauge.builder("tokenmeter.log.size.bytes", logDir, ServerMetrics::directoryBytes)
            .description("bytes of the log's live files (allocated ahead by Chronicle, so it grows in steps)").strongReference(true).register(registry);
        final List<ChronicleEventLog> logs = partitions.localLogs();
        FunctionCounter.builder("tokenmeter.log.sync.failures", partitions, all -> all.localLogs().stream()
                .mapToLong(ChronicleEventLog::syncFailures).sum())
            .description("flushes to disk of durability sync that failed (those documents may not survive a power cut)")
            .register(registry);
        Gauge.builder("tokenmeter.partitions.lost", partitions, all -> all.sum(p -> p.log().lostReason() == null ? 0 : 1))
            .description("partitions whose log this node lost to another writer (cluster mode: fenced); their events are "
                + "answered 503 partition_unavailable").strongReference(true).register(registry);
        Gauge.builder("tokenmeter.log.files", logs, all -> all.stream().mapToInt(log -> log.days().live().size()).sum())
            .description("live log files (one per partition and UTC day), all partitions").strongReference(true).register(registry);
        Gauge.builder("tokenmeter.log.oldest.file.age.seconds", logs, ServerMetrics::oldestLiveFileAgeSeconds)
            .description("time since the start of the day of the oldest live log file (what tokenmeter archive has left)")
            .strongReference(true).register(registry);
        Gauge.builder("tokenmeter.archive.files", logs, all -> all.stream().mapToLong(log -> log.archive().manifests().stream()
                .filter(m -> !m.deleted()).count()).sum())
            .description("archived log files (zstd, verified), all partitions").strongReference(true).register(registry);
        Gauge.builder("tokenmeter.archive.size.bytes", logs, all -> all.stream().mapToLong(log -> log.archive().manifests()
                .stream().filter(m -> !m.deleted()).mapToLong(ArchiveManifest::archiveBytes).sum()).sum())
            .description("bytes of the archives").strongReference(true).register(registry);
        Gauge.builder("tokenmeter.archive.original.bytes", logs, all -> all.stream().mapToLong(log -> log.archive().manifests()
                .stream().filter(m -> !m.deleted()).mapToLong(ArchiveManifest::originalBytes).sum()).sum())
            .description("bytes the archived log files took before archiving").strongReference(true).register(registry);
        Gauge.builder("tokenmeter.retention.deleted.files", logs, all -> all.stream().mapToLong(log -> log.archive().manifests()
                .stream().filter(ArchiveManifest::deleted).count()).sum())
            .description("log files whose archives log-retention deleted, keeping their digests, all partitions")
            .strongReference(true).register(registry);
        Gauge.builder("tokenmeter.retention.deleted.events", logs, all -> all.stream().mapToLong(log -> log.archive().manifests()
                .stream().filter(ArchiveManifest::deleted).mapToLong(ArchiveManifest::events).sum()).sum())
            .description("events of the log files log-retention deleted (their totals are in the digests)")
            .strongReference(true).register(registry);
        Gauge.builder("tokenmeter.disk.free.bytes", diskFreeBytes, LongSupplier::getAsLong)
            .description("usable bytes on the data directory's file system").strongReference(true).register(registry);
        Gauge.builder("tokenmeter.ready", ready, r -> r.getAsBoolean() ? 1 : 0)
            .description("1 when /health/ready answers 200").strongReference(true).register(registry);
        Gauge.builder("tokenmeter.build.info", () -> 1).tag("version", VERSION).description("the running version")
            .strongReference(true).register(registry);
    }

    private static double snapshotAgeSeconds(final SnapshotStore.WriteStats stats)
    {
        return stats == null ? Double.NaN : Math.max(0, System.currentTimeMillis() - stats.writtenAtMs()) / 1000.0;
    }

    private static double snapshotDurationSeconds(final SnapshotStore.WriteStats stats)
    {
        return stats == null ? Double.NaN : stats.durationNs() / 1e9;
    }

    /** @return the largest value over the partitions, NaN when any partition's is NaN. */
    private static double worst(final Partitions partitions, final java.util.function.ToDoubleFunction<Partition> value)
    {
        double worst = 0;
        for (final Partition partition : partitions.all())
        {
            final double v = value.applyAsDouble(partition);
            if (Double.isNaN(v))
            {
                return Double.NaN;
            }
            worst = Math.max(worst, v);
        }
        return worst;
    }

    /**
     * Registers, per partition, whether this cluster node serves it and how long its last takeover here took (from
     * the group's assignment to serving: log opened, earlier writer fenced, journal and counters recovered), and its
     * lag here (events acknowledged and not yet counted; NaN while this node does not serve it, decision 361).
     */
    public void bindCluster(final int partitions, final IntPredicate serves, final IntToLongFunction takeoverMs,
        final IntToDoubleFunction lag)
    {
        for (int p = 0; p < partitions; p++)
        {
            final int partition = p;
            Gauge.builder("tokenmeter.partition.served", () -> serves.test(partition) ? 1 : 0)
                .tag("partition", Integer.toString(p))
                .description("1 while this node serves the partition (the owners group gave it and it recovered), else 0")
                .strongReference(true).register(registry);
            Gauge.builder("tokenmeter.partition.takeover.seconds", () ->
                {
                    final long ms = takeoverMs.applyAsLong(partition);
                    return ms < 0 ? Double.NaN : ms / 1000.0;
                })
                .tag("partition", Integer.toString(p))
                .description("how long the partition's last takeover by this node took, from its assignment to serving it "
                    + "(NaN before the first)").strongReference(true).register(registry);
            Gauge.builder("tokenmeter.partition.lag", () -> lag.applyAsDouble(partition))
                .tag("partition", Integer.toString(p))
                .description("events of the partition its journal acknowledged and its aggregator has not counted yet "
                    + "(NaN while this node does not serve it)").strongReference(true).register(registry);
        }
    }

    /** Registers what the server's log archiver's last run found ({@code archive-interval}; 0 while it is off). */
    public void bindArchiver(final AtomicLong chainVerified, final AtomicLong chainBreaks)
    {
        Gauge.builder("tokenmeter.archive.chain.verified.documents", chainVerified, AtomicLong::get)
            .description("documents whose hash-chain link the archiver's last run checked in the files it scanned")
            .register(registry);
        Gauge.builder("tokenmeter.archive.chain.broken.files", chainBreaks, AtomicLong::get)
            .description("sealed log files the archiver's last run kept live because their hash chain breaks (run tokenmeter audit)")
            .register(registry);
    }

    private static double oldestLiveFileAgeSeconds(final List<ChronicleEventLog> logs)
    {
        long oldestMs = Long.MAX_VALUE;
        for (final ChronicleEventLog log : logs)
        {
            final NavigableSet<Integer> live = log.days().live();
            if (!live.isEmpty())
            {
                oldestMs = Math.min(oldestMs, log.days().startMsOf(live.first()));
            }
        }
        return oldestMs == Long.MAX_VALUE ? Double.NaN : Math.max(0, System.currentTimeMillis() - oldestMs) / 1000.0;
    }

    /** @return the bytes of the Chronicle files (not the archives) under the log directory. */
    private static double directoryBytes(final Path dir)
    {
        try (java.util.stream.Stream<Path> files = Files.walk(dir, 2))
        {
            return files.mapToLong(file ->
            {
                try
                {
                    final String name = file.getFileName().toString();
                    return Files.isRegularFile(file) && (name.endsWith(".cq4") || name.endsWith(".cq4t")) ? Files.size(file) : 0;
                }
                catch (final java.io.IOException ex)
                {
                    return 0;
                }
            }).sum();
        }
        catch (final java.io.IOException | RuntimeException ex)
        {
            return Double.NaN;
        }
    }

    private static double lagSeconds(final Partition partition)
    {
        final AggregatorAgent aggregator = partition.aggregator();
        if (aggregator.appliedIndex() >= partition.journal().lastAppendedIndex())
        {
            return 0.0;
        }
        return Math.max(0, System.currentTimeMillis() - aggregator.appliedAppendTimeMs()) / 1000.0;
    }

    public void onIngestAnswered(final int status, final long receiptNanos)
    {
        Counter requests = requestsByStatus.get(status);
        if (requests == null)
        {
            // Micrometer returns the already registered counter when two threads race here
            requests = Counter.builder("tokenmeter.ingest.requests").tag("status", Integer.toString(status))
                .description("ingest requests by HTTP status").register(registry);
            requestsByStatus.set(status, requests);
        }
        requests.increment();
        ingestLatency.record(System.nanoTime() - receiptNanos);
    }

    public void onEventsRejected(final int count)
    {
        rejectedEvents.increment(count);
    }

    public void onAppend(final long latencyNs)
    {
        appendLatency.record(latencyNs);
    }

    /** @return the Prometheus text exposition. */
    public String scrape()
    {
        return registry.scrape();
    }

    /** @return the exposition, made on the metrics thread so that no event loop spends its time on it. */
    public java.util.concurrent.CompletableFuture<String> scrapeAsync()
    {
        return java.util.concurrent.CompletableFuture.supplyAsync(registry::scrape, scraper);
    }

    public PrometheusMeterRegistry registry()
    {
        return registry;
    }

    @Override
    public void close()
    {
        scraper.shutdownNow();
        gcMetrics.close();
        registry.close();
    }
}
