package io.tokenmeter.server;

import io.tokenmeter.billing.invoice.Invoice;
import io.tokenmeter.billing.invoice.InvoiceStore;
import io.tokenmeter.billing.invoice.Periods;
import io.tokenmeter.core.event.Hours;
import io.tokenmeter.core.log.ChronicleEventLog;
import io.tokenmeter.core.log.Durability;
import io.tokenmeter.core.log.LogArchiver;
import io.tokenmeter.core.log.LogRetention;
import io.tokenmeter.core.partition.DataLayout;
import io.tokenmeter.core.partition.Partitioner;
import org.agrona.collections.LongHashSet;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * {@code tokenmeter archive}: replaces each partition's oldest sealed log files by verified zstd archives
 * ({@link LogArchiver}), offline (the data directory's lock is taken, so no server may run on it). A file is archived
 * when every event in it is settled and its last document is older than the dedup window; the first file of a
 * partition that is not stops that partition, so archives are always a partition's oldest files. An event of period
 * P is settled when its tenant has a final invoice of P and a final invoice of P or a later period computed at or
 * after the event's position: the first counts it among P's lines, a later one (for an event that came after P was
 * final) among its adjustment lines for P (docs/billing.md). With a {@code log-retention}, then deletes the archives
 * whose events are all counted by final invoices of periods that ended longer ago, keeping a digest of each
 * ({@link LogRetention}).
 */
final class Archiver
{
    /** What one run did. */
    record Result(int archivedFiles, long originalBytes, long archiveBytes, long events, long chainVerified, int chainBreaks,
        int failedPartitions)
    {
    }

    private final PrintStream out;

    Archiver(final PrintStream out)
    {
        this.out = out;
    }

    /** @param retention {@code log-retention}, or null to delete nothing. */
    Result run(final Path dataDir, final Duration dedupWindow, final Duration retention, final long nowMs) throws IOException
    {
        try (DataDirLock lock = DataDirLock.acquire(dataDir))
        {
            final DataLayout layout = DataLayout.read(dataDir);
            final List<ChronicleEventLog> logs = new ArrayList<>();
            try
            {
                for (int p = 0; p < layout.partitions(); p++)
                {
                    logs.add(new ChronicleEventLog(layout.logDir(p), Durability.PROCESS));
                }
                final List<Invoice> finals = InvoiceStore.readAll(layout.invoicesDir());
                final Result result = archive(logs, finals, dedupWindow, nowMs, out::println);
                if (result.failedPartitions() > 0)
                {
                    throw new IOException(result.failedPartitions() + " partition(s) could not be archived (the lines above say why)");
                }
                if (retention != null)
                {
                    final Retained retained = retain(logs, finals, retention, nowMs, out::println);
                    if (retained.failedPartitions() > 0)
                    {
                        throw new IOException(retained.failedPartitions() + " partition(s) could not apply log-retention (the "
                            + "lines above say why)");
                    }
                    out.println(retained.deletedFiles() == 0 ? "retention (" + describe(retention) + "): nothing deleted"
                        : "retention (" + describe(retention) + "): deleted the archives of " + retained.deletedFiles()
                            + " file(s), " + retained.events() + " events, " + retained.archiveBytes() + " bytes; their "
                            + "digests are kept");
                }
                out.println((result.archivedFiles() == 0 ? "nothing archived" : "archived " + result.archivedFiles() + " file(s), "
                    + result.events() + " events: " + result.originalBytes() + " -> " + result.archiveBytes() + " bytes")
                    + "; hash chain checked over " + result.chainVerified() + " document(s)"
                    + (result.chainBreaks() == 0 ? "" : ", BROKEN in " + result.chainBreaks() + " file(s) kept live: run tokenmeter audit")
                    + (result.failedPartitions() == 0 ? "" : "; " + result.failedPartitions() + " partition(s) FAILED (above)"));
                return result;
            }
            finally
            {
                logs.forEach(ChronicleEventLog::close);
            }
        }
    }

    /**
     * Archives what can be in each partition's log (by partition); the server runs it on its own open logs every
     * {@code archive-interval}.
     *
     * @param report gets a line per file considered: archived, or why not.
     */
    static Result archive(final List<ChronicleEventLog> logs, final List<Invoice> finals, final Duration dedupWindow,
        final long nowMs, final Consumer<String> report) throws IOException
    {
        final Partitioner partitioner = new Partitioner(logs.size());
        final Map<String, Map<YearMonth, Long>> finalAt = new HashMap<>();
        finals.forEach(f -> finalAt.computeIfAbsent(f.tenant(), t -> new HashMap<>()).put(YearMonth.parse(f.period()), f.logIndex()));
        int files = 0;
        long originalBytes = 0;
        long archiveBytes = 0;
        long events = 0;
        long chainVerified = 0;
        int chainBreaks = 0;
        int failures = 0;
        for (int p = 0; p < logs.size(); p++)
        {
            final int partition = p;
            final String label = logs.size() == 1 ? "" : DataLayout.folder(p) + " ";
            final LogArchiver.Settlement settlement = (tenant, eventTimeMs, index) ->
                partitioner.partitionOf(tenant) == partition && settled(finalAt.get(tenant), eventTimeMs, index);
            final LogArchiver archiver = new LogArchiver(logs.get(p), p, settlement, nowMs - dedupWindow.toMillis(), nowMs);
            final List<LogArchiver.Outcome> outcomes;
            try
            {
                outcomes = archiver.run();
            }
            catch (final IOException | RuntimeException ex)
            {
                // one partition's failure (a disk error, a damaged file) does not keep the others from being archived
                failures++;
                report.accept(label + "not archived: " + ex);
                continue;
            }
            for (final LogArchiver.Outcome outcome : outcomes)
            {
                if (outcome.archived())
                {
                    files++;
                    originalBytes += outcome.manifest().originalBytes();
                    archiveBytes += outcome.manifest().archiveBytes();
                    events += outcome.manifest().events();
                    report.accept(label + outcome.file() + " archived: " + outcome.manifest().events() + " events, "
                        + outcome.manifest().originalBytes() + " -> " + outcome.manifest().archiveBytes() + " bytes");
                }
                else
                {
                    report.accept(label + outcome.reason());
                }
            }
            chainVerified += archiver.chainVerified();
            chainBreaks += archiver.chainBreaks();
        }
        return new Result(files, originalBytes, archiveBytes, events, chainVerified, chainBreaks, failures);
    }

    /** What one retention run did. */
    record Retained(int deletedFiles, long archiveBytes, long events, int failedPartitions)
    {
    }

    /**
     * Retention ({@code log-retention}): in each partition, deletes the archives of the oldest files whose every event
     * is counted by final invoices of periods that ended at least {@code retention} ago, keeping a digest of each
     * ({@link LogRetention}). The first archived file that may not be deleted stops its partition.
     *
     * @param report gets a line per file considered: deleted, or why it is kept.
     */
    static Retained retain(final List<ChronicleEventLog> logs, final List<Invoice> finals, final Duration retention,
        final long nowMs, final Consumer<String> report)
    {
        final Partitioner partitioner = new Partitioner(logs.size());
        final Map<String, List<Invoice>> byTenant = new HashMap<>();
        finals.forEach(f -> byTenant.computeIfAbsent(f.tenant(), t -> new ArrayList<>()).add(f));
        int files = 0;
        long archiveBytes = 0;
        long events = 0;
        int failures = 0;
        for (int p = 0; p < logs.size(); p++)
        {
            final int partition = p;
            final String label = logs.size() == 1 ? "" : DataLayout.folder(p) + " ";
            final LongHashSet computedAt = new LongHashSet();
            finals.stream().filter(f -> partitioner.partitionOf(f.tenant()) == partition).forEach(f -> computedAt.add(f.logIndex()));
            final LogRetention.Policy policy = (tenant, hour, throughIndex) ->
                retentionRefusal(byTenant.getOrDefault(tenant, List.of()), tenant, hour, throughIndex, retention, nowMs);
            final List<LogRetention.Outcome> outcomes;
            try
            {
                outcomes = new LogRetention(logs.get(p), computedAt::contains, policy, nowMs).run();
            }
            catch (final IOException | RuntimeException ex)
            {
                failures++;
                report.accept(label + "retention not applied: " + ex.getMessage());
                continue;
            }
            for (final LogRetention.Outcome outcome : outcomes)
            {
                if (outcome.deleted())
                {
                    files++;
                    archiveBytes += outcome.manifest().archiveBytes();
                    events += outcome.manifest().events();
                    report.accept(label + outcome.file() + " deleted by retention: its archive of " + outcome.manifest().archiveBytes()
                        + " bytes, " + outcome.manifest().events() + " events (positions " + Long.toHexString(outcome.manifest().firstIndex())
                        + " to " + Long.toHexString(outcome.manifest().lastIndex()) + "); kept: its digest "
                        + outcome.manifest().digestFile() + " (" + outcome.digest().kept().size() + " kept documents) and manifest");
                }
                else
                {
                    report.accept(label + outcome.reason());
                }
            }
        }
        return new Retained(files, archiveBytes, events, failures);
    }

    /**
     * @return why the events of a tenant's hour bucket, at or before {@code throughIndex}, may not lose their documents,
     * or null when they may: the final invoice that counts them (of their period when it was computed after them, else
     * the first final of a later period computed after them, whose adjustment lines count them) exists, and both
     * periods ended at least {@code retention} ago.
     */
    static String retentionRefusal(final List<Invoice> finals, final String tenant, final long hour, final long throughIndex,
        final Duration retention, final long nowMs)
    {
        final YearMonth period = Periods.ofHour(hour);
        final String tooRecent = tooRecent(period, retention, nowMs);
        if (tooRecent != null)
        {
            return "events of tenant " + tenant + " in " + period + " " + tooRecent;
        }
        Invoice ofPeriod = null;
        Invoice later = null;
        for (final Invoice invoice : finals)
        {
            final YearMonth of = YearMonth.parse(invoice.period());
            if (invoice.logIndex() < throughIndex)
            {
                continue;
            }
            if (of.equals(period))
            {
                ofPeriod = invoice;
            }
            else if (of.isAfter(period) && (later == null || invoice.logIndex() < later.logIndex()))
            {
                later = invoice;
            }
        }
        final Invoice counting = ofPeriod != null ? ofPeriod : later;
        if (counting == null || finals.stream().noneMatch(f -> f.period().equals(period.toString())))
        {
            return "events of tenant " + tenant + " in " + period + " (through log index " + Long.toHexString(throughIndex)
                + ") are not yet in a final invoice";
        }
        final String countingTooRecent = tooRecent(YearMonth.parse(counting.period()), retention, nowMs);
        return countingTooRecent == null ? null : "events of tenant " + tenant + " in " + period + " (through log index "
            + Long.toHexString(throughIndex) + ") are counted by its final invoice " + counting.invoiceNumber() + " of "
            + counting.period() + ", which " + countingTooRecent;
    }

    /** @return a retention as the setting is written, e.g. {@code 400d}. */
    static String describe(final Duration retention)
    {
        return retention.toHours() % 24 == 0 && retention.toMillis() % 3_600_000 == 0 ? retention.toDays() + "d" : retention.toString();
    }

    /** @return null when the period ended at least {@code retention} before {@code nowMs}, else the words saying until when it is kept. */
    private static String tooRecent(final YearMonth period, final Duration retention, final long nowMs)
    {
        final long keptUntilMs = Periods.endHour(period) * Hours.MS_PER_HOUR + retention.toMillis();
        return keptUntilMs <= nowMs ? null : "is within log-retention " + describe(retention) + " (kept until "
            + Instant.ofEpochMilli(keptUntilMs) + ")";
    }

    /** @param finalAt the log position of each final invoice of the event's tenant, by period; null for none. */
    static boolean settled(final Map<YearMonth, Long> finalAt, final long eventTimeMs, final long index)
    {
        final YearMonth period = Periods.ofHour(Math.floorDiv(eventTimeMs, Hours.MS_PER_HOUR));
        if (finalAt == null || !finalAt.containsKey(period))
        {
            return false;
        }
        for (final Map.Entry<YearMonth, Long> invoice : finalAt.entrySet())
        {
            if (!invoice.getKey().isBefore(period) && invoice.getValue() >= index)
            {
                return true;
            }
        }
        return false;
    }
}
