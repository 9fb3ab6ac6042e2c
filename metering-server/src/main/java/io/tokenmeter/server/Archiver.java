package io.tokenmeter.server;

import io.tokenmeter.billing.invoice.Invoice;
import io.tokenmeter.billing.invoice.InvoiceStore;
import io.tokenmeter.billing.invoice.Periods;
import io.tokenmeter.core.event.Hours;
import io.tokenmeter.core.log.ChronicleEventLog;
import io.tokenmeter.core.log.Durability;
import io.tokenmeter.core.log.LogArchiver;
import io.tokenmeter.core.partition.DataLayout;
import io.tokenmeter.core.partition.Partitioner;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
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
 * final) among its adjustment lines for P (docs/billing.md).
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

    Result run(final Path dataDir, final Duration dedupWindow, final long nowMs) throws IOException
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
                final Result result = archive(logs, InvoiceStore.readAll(layout.invoicesDir()), dedupWindow, nowMs, out::println);
                if (result.failedPartitions() > 0)
                {
                    throw new IOException(result.failedPartitions() + " partition(s) could not be archived (the lines above say why)");
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
