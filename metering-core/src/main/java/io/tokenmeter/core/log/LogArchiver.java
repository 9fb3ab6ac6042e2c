package io.tokenmeter.core.log;

import io.tokenmeter.core.archive.ArchiveManifest;
import io.tokenmeter.core.archive.LogArchive;
import io.tokenmeter.core.event.DamagedDocumentException;
import io.tokenmeter.core.event.EventRecord;
import io.tokenmeter.core.event.LogDocumentReader;
import io.tokenmeter.core.event.LogLayout;
import org.agrona.DirectBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;
import java.util.TreeMap;

/**
 * Archives the sealed files of one partition's log ({@link LogArchive}), oldest first: a file is archived when every
 * event in it is settled (counted by a final invoice, as the caller's {@link Settlement} says) and its last document
 * is older than the dedup window, so neither an invoice nor a retry needs it live again. The first file that is not
 * stops the run, so archives are always the log's oldest files. Per file: compress, read back and compare, write the
 * manifest, and only then remove the original; a run killed at any point leaves the original or a verified archive
 * (or both, and the next run finishes the removal). The log's process must hold the data directory (no server on it).
 */
public final class LogArchiver
{
    /** Whether an event is counted by a final invoice (it cannot change any invoice not yet final). */
    @FunctionalInterface
    public interface Settlement
    {
        /**
         * @param tenant      the event's tenant.
         * @param eventTimeMs the event's own time (its period), ms since the epoch.
         * @param index       the position of the event's document in the log.
         * @return true when a final invoice counts the event.
         */
        boolean settled(String tenant, long eventTimeMs, long index);
    }

    /**
     * What became of one file.
     *
     * @param manifest the archive's manifest when it was archived, else null.
     * @param reason   why it was not archived, else null.
     */
    public record Outcome(String file, ArchiveManifest manifest, String reason)
    {
        /** @return true when the file was archived (its original removed). */
        public boolean archived()
        {
            return manifest != null;
        }
    }

    private static final Logger LOG = LoggerFactory.getLogger(LogArchiver.class);

    private final ChronicleEventLog log;
    private final int partition;
    private final Settlement settlement;
    private final long dedupHorizonMs;
    private final long nowMs;
    private long chainVerified;
    private int chainBreaks;

    /**
     * @param dedupHorizonMs a file whose last document was appended at or after this time is not archived (its ids are
     *                       in the dedup window).
     */
    public LogArchiver(final ChronicleEventLog log, final int partition, final Settlement settlement, final long dedupHorizonMs,
        final long nowMs)
    {
        this.log = log;
        this.partition = partition;
        this.settlement = settlement;
        this.dedupHorizonMs = dedupHorizonMs;
        this.nowMs = nowMs;
    }

    /**
     * Archives what can be, oldest first, and removes each original once its archive is verified.
     *
     * @return per file considered, what became of it; the last live file (still being written) is never considered.
     */
    public List<Outcome> run() throws IOException
    {
        removeLeftovers(log.archive().directory());
        final List<Outcome> outcomes = new ArrayList<>();
        final NavigableSet<Integer> live = log.days().live();
        if (live.isEmpty())
        {
            return outcomes;
        }
        final int current = live.last();
        final Map<Integer, String> tenants = new TreeMap<>(log.archive().tenantsBefore(live.first()));
        int previous = previousCycle(live.first());
        byte[] chainHead = previous < 0 ? new byte[DocumentSha256.LENGTH]
            : HexFormat.of().parseHex(log.archive().manifest(previous).lastDocumentSha256());
        for (final int cycle : live.headSet(current, false))
        {
            final String file = log.days().fileNameOf(cycle);
            final Scan scan = scan(cycle, tenants, chainHead);
            chainVerified += scan.chainVerified;
            if (scan.chainBroken)
            {
                chainBreaks++;
            }
            if (scan.reason != null)
            {
                outcomes.add(new Outcome(file, null, scan.reason));
                break;
            }
            final Path original = log.directory().resolve(file);
            final ArchiveManifest summary = new ArchiveManifest(partition, cycle, file, previous, scan.firstIndex,
                scan.lastIndex, scan.documents, scan.events, scan.firstAppendMs, scan.lastAppendMs, 0, "", 0, "",
                scan.previousDocumentSha256, DocumentSha256.hex(scan.lastSha256), nowMs, 0, "", scan.defined);
            final ArchiveManifest existing = log.archive().manifest(cycle);
            final ArchiveManifest manifest;
            if (existing == null || !Files.exists(original))
            {
                manifest = log.archive().pack(original, summary);
            }
            else
            {
                // a run stopped between the manifest and the removal: finish it only if both are still the same file
                final String problem = log.archive().verify(existing, true);
                if (problem != null || !existing.originalSha256().equals(LogArchive.sha256Of(original)))
                {
                    outcomes.add(new Outcome(file, null, file + " not archived: it has an archive already, "
                        + (problem != null ? "which is not whole (" + problem + ")" : "of other content than the file")
                        + "; both are kept: compare them, keep the right one and remove the other"));
                    break;
                }
                manifest = existing;
            }
            // readers take the day from the archive from now on; one reading the original keeps its mapping of it
            log.refreshArchive();
            Files.delete(original);
            LogArchive.forceDirectory(log.directory());
            LOG.info("archived {} of {}: {} documents, {} events, {} -> {} bytes", file, log.describe(), manifest.documents(),
                manifest.events(), manifest.originalBytes(), manifest.archiveBytes());
            outcomes.add(new Outcome(file, manifest, null));
            previous = cycle;
            chainHead = scan.lastSha256;
        }
        return outcomes;
    }

    /** @return the documents of the last {@link #run} whose chain link was checked against the document before them. */
    public long chainVerified()
    {
        return chainVerified;
    }

    /** @return the files of the last {@link #run} kept live because their hash chain breaks. */
    public int chainBreaks()
    {
        return chainBreaks;
    }

    /** @return the cycle of the newest archive before {@code cycle}, or -1. */
    private int previousCycle(final int cycle)
    {
        int previous = -1;
        for (final ArchiveManifest manifest : log.archive().manifests())
        {
            if (manifest.cycle() < cycle)
            {
                previous = manifest.cycle();
            }
        }
        return previous;
    }

    /** What one file holds, and why it may not be archived (null when it may). */
    private static final class Scan
    {
        long documents;
        long events;
        long firstIndex = EventLog.NO_INDEX;
        long lastIndex = EventLog.NO_INDEX;
        long firstAppendMs;
        long lastAppendMs;
        String previousDocumentSha256 = "";
        final byte[] lastSha256 = new byte[DocumentSha256.LENGTH];
        final Map<Integer, String> defined = new TreeMap<>();
        long chainVerified;
        boolean chainBroken;
        String reason;
    }

    /**
     * @param chainHead the SHA-256 of the document before the file's first (of the previous file's last, or 32 zero
     *                  bytes at the log's start): each chained document's link is checked, so a file whose chain breaks
     *                  is not archived.
     */
    private Scan scan(final int cycle, final Map<Integer, String> tenants, final byte[] chainHead)
    {
        final byte[] expected = chainHead.clone();
        final Scan scan = new Scan();
        final DocumentSha256 hasher = new DocumentSha256();
        final LogDocumentReader documents = new LogDocumentReader();
        final String file = log.days().fileNameOf(cycle);
        final long[] index = {EventLog.NO_INDEX};
        final LogDocumentReader.Handler check = new LogDocumentReader.Handler()
        {
            @Override
            public void onName(final byte recordType, final int id, final DirectBuffer buffer, final int offset, final int length)
            {
                if (recordType == LogLayout.RECORD_TENANT_NAME)
                {
                    final String name = buffer.getStringWithoutLengthUtf8(offset, length);
                    tenants.put(id, name);
                    scan.defined.put(id, name);
                }
            }

            @Override
            public void onEvent(final EventRecord event, final long appendTimeMs)
            {
                scan.events++;
                if (scan.reason == null)
                {
                    final String tenant = tenants.get(event.tenantId());
                    if (tenant == null)
                    {
                        scan.reason = "event '" + event.id() + "' at log index " + Long.toHexString(index[0]) + " names tenant "
                            + "id " + event.tenantId() + ", which no document before it defines";
                    }
                    else if (!settlement.settled(tenant, event.timestampMs(), index[0]))
                    {
                        scan.reason = "event '" + event.id() + "' of tenant " + tenant + " at log index "
                            + Long.toHexString(index[0]) + " is not yet in a final invoice (finalize its period first)";
                    }
                }
            }
        };
        final EventLog.RawDocumentListener listener = (i, buffer, offset, length) ->
        {
            index[0] = i;
            if (log.days().cycleOf(i) != cycle)
            {
                return;
            }
            final int link = LogDocumentReader.previousSha256Offset(buffer, offset, length);
            if (scan.documents++ == 0)
            {
                scan.firstIndex = i;
                scan.previousDocumentSha256 = link < 0 ? "" : DocumentSha256.hex(buffer, link);
            }
            scan.lastIndex = i;
            if (link >= 0)
            {
                scan.chainVerified++;
                if (!scan.chainBroken && !sameHash(buffer, link, expected))
                {
                    scan.chainBroken = true;
                    scan.reason = "the hash chain breaks at its document at log index " + Long.toHexString(i) + " (it records "
                        + DocumentSha256.hex(buffer, link) + " as its predecessor's SHA-256, which is "
                        + DocumentSha256.hex(expected) + "): a file whose chain breaks is kept live; tokenmeter audit names the break";
                }
            }
            hasher.hash(buffer, offset, length, scan.lastSha256);
            System.arraycopy(scan.lastSha256, 0, expected, 0, expected.length);
            try
            {
                final long appendTimeMs = documents.read(buffer, offset, length, check);
                scan.firstAppendMs = scan.documents == 1 ? appendTimeMs : scan.firstAppendMs;
                scan.lastAppendMs = appendTimeMs;
            }
            catch (final DamagedDocumentException ex)
            {
                scan.reason = "its document at log index " + Long.toHexString(i) + " is damaged (" + ex.getMessage()
                    + "); a damaged file is kept live for inspection";
            }
        };
        try (EventLog.Reader reader = log.newReader())
        {
            try
            {
                reader.startAt(log.days().firstIndexOf(cycle));
            }
            catch (final IllegalStateException ex)
            {
                scan.reason = file + " not archived: it holds no document Chronicle can position at (" + ex.getMessage() + ")";
                return scan;
            }
            long read = reader.readNextRaw(listener);
            while (read != EventLog.NO_INDEX && log.days().cycleOf(read) == cycle)
            {
                read = reader.readNextRaw(listener);
            }
        }
        if (scan.reason == null && scan.documents == 0)
        {
            scan.reason = "it holds no document";
        }
        if (scan.reason == null && scan.lastAppendMs >= dedupHorizonMs)
        {
            scan.reason = "its last document was appended at " + Instant.ofEpochMilli(scan.lastAppendMs)
                + ", inside the dedup window (retries of its ids must still be found live)";
        }
        if (scan.reason != null)
        {
            scan.reason = file + " not archived: " + scan.reason;
        }
        return scan;
    }

    private static boolean sameHash(final DirectBuffer buffer, final int offset, final byte[] hash)
    {
        for (int k = 0; k < hash.length; k++)
        {
            if (buffer.getByte(offset + k) != hash[k])
            {
                return false;
            }
        }
        return true;
    }

    /**
     * Removes the temporary files of an interrupted run, and the unpacking folders of readers whose process no longer
     * runs (a killed audit, a server that crashed); never one of a running process, this one included.
     */
    private static void removeLeftovers(final Path directory) throws IOException
    {
        if (!Files.isDirectory(directory))
        {
            return;
        }
        try (DirectoryStream<Path> leftovers = Files.newDirectoryStream(directory, p -> p.getFileName().toString().endsWith(".tmp")
            || ArchivedCycles.abandoned(p)))
        {
            for (final Path leftover : leftovers)
            {
                ArchivedCycles.delete(leftover);
            }
        }
    }
}
