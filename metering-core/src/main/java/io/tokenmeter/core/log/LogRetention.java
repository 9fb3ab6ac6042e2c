package io.tokenmeter.core.log;

import io.tokenmeter.core.aggregate.BucketKey;
import io.tokenmeter.core.aggregate.HourlyAggregator;
import io.tokenmeter.core.archive.ArchiveManifest;
import io.tokenmeter.core.archive.RetainedDigest;
import io.tokenmeter.core.event.EventRecord;
import io.tokenmeter.core.event.LogDocumentReader;
import org.agrona.DirectBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.LongPredicate;

/**
 * Retention of one partition's log ({@code log-retention}): deletes the archives of its oldest files once every event
 * in them is counted by final invoices old enough (the caller's {@link Policy} says), keeping of each a
 * {@link RetainedDigest}: its names, control records, and the hour buckets at every position a final invoice was
 * computed at, so the log's readers, the audit among them, read the digest in its place and every total stays provable.
 * Only archived files are deleted (run {@link LogArchiver} first), oldest first: the first file that may not be stops
 * the run, so the files retention deleted are always the log's oldest. The log's process must hold the data directory.
 */
public final class LogRetention
{
    /** Whether the events of one hour bucket may lose their documents. */
    @FunctionalInterface
    public interface Policy
    {
        /**
         * @param tenant   the bucket's tenant.
         * @param hour     its UTC hour (hours since the epoch).
         * @param throughIndex the position of the kept document its events end at: each is at or before it.
         * @return why not, in words naming what is needed, or null when they may.
         */
        String refusal(String tenant, long hour, long throughIndex);
    }

    /**
     * What became of one archived file.
     *
     * @param manifest its manifest as retention left it (deleted) when it was deleted, else null.
     * @param digest   the digest kept of it when deleted, else null.
     * @param reason   why it was not deleted, else null.
     */
    public record Outcome(String file, ArchiveManifest manifest, RetainedDigest digest, String reason)
    {
        /** @return true when its archive was deleted (its digest kept). */
        public boolean deleted()
        {
            return manifest != null;
        }
    }

    private static final Logger LOG = LoggerFactory.getLogger(LogRetention.class);

    private final ChronicleEventLog log;
    private final LongPredicate computedAt;
    private final Policy policy;
    private final long nowMs;

    /**
     * @param computedAt true for the positions final invoices of the partition were computed at (each ends a kept
     *                   document's buckets, so the counters there are in the digest).
     */
    public LogRetention(final ChronicleEventLog log, final LongPredicate computedAt, final Policy policy, final long nowMs)
    {
        this.log = log;
        this.computedAt = computedAt;
        this.policy = policy;
        this.nowMs = nowMs;
    }

    /**
     * Deletes what may be, oldest first; a file deleted by an earlier run that was stopped before its archive was removed
     * has it removed now.
     *
     * @return per archived file considered, what became of it.
     */
    public List<Outcome> run() throws IOException
    {
        final List<Outcome> outcomes = new ArrayList<>();
        final Map<Integer, String> tenants = new TreeMap<>();
        for (final ArchiveManifest manifest : log.archive().manifests())
        {
            tenants.putAll(manifest.tenants());
            if (manifest.deleted())
            {
                log.archive().removeRetainedArchive(manifest);
                continue;
            }
            final RetainedDigest digest = digest(log, manifest, computedAt);
            final String reason = refusal(digest, tenants);
            if (reason != null)
            {
                outcomes.add(new Outcome(manifest.file(), null, null, manifest.file() + " kept: " + reason));
                break;
            }
            final ArchiveManifest deleted = log.archive().retain(manifest, digest, nowMs);
            log.refreshArchive();
            LOG.info("retention deleted the archive of {} of {}: {} events, {} kept documents in its digest", manifest.file(),
                log.describe(), manifest.events(), digest.kept().size());
            outcomes.add(new Outcome(manifest.file(), deleted, digest, null));
        }
        return outcomes;
    }

    private String refusal(final RetainedDigest digest, final Map<Integer, String> tenants)
    {
        for (final RetainedDigest.Kept kept : digest.kept())
        {
            for (final long[] bucket : kept.buckets())
            {
                final int tenantId = BucketKey.tenantId(bucket[0]);
                final String tenant = tenants.get(tenantId);
                if (tenant == null)
                {
                    return "its events name tenant id " + tenantId + ", which no file before it defines";
                }
                final String refusal = policy.refusal(tenant, BucketKey.hour(bucket[0]), kept.index());
                if (refusal != null)
                {
                    return refusal;
                }
            }
        }
        return null;
    }

    /**
     * Reads an archived file whole and makes its digest: a kept document at every document holding a control record,
     * at every position {@code computedAt} names, and at its last document.
     *
     * @throws IOException when the file does not read back as its manifest says (its documents, its chain's ends).
     */
    public static RetainedDigest digest(final ChronicleEventLog log, final ArchiveManifest manifest, final LongPredicate computedAt)
        throws IOException
    {
        final Collector collector = new Collector();
        final DocumentSha256 hasher = new DocumentSha256();
        final LogDocumentReader documents = new LogDocumentReader();
        final byte[] hash = new byte[DocumentSha256.LENGTH];
        final String[] firstLink = {null};
        final EventLog.RawDocumentListener listener = (index, buffer, offset, length) ->
        {
            if (index > manifest.lastIndex())
            {
                return;
            }
            if (firstLink[0] == null)
            {
                final int link = LogDocumentReader.previousSha256Offset(buffer, offset, length);
                firstLink[0] = link < 0 ? "" : DocumentSha256.hex(buffer, link);
            }
            collector.controls.clear();
            final long appendTimeMs = documents.read(buffer, offset, length, collector);
            hasher.hash(buffer, offset, length, hash);
            collector.documents++;
            if (!collector.controls.isEmpty() || computedAt.test(index) || index == manifest.lastIndex())
            {
                collector.keep(index, appendTimeMs, DocumentSha256.hex(hash));
            }
        };
        try (EventLog.Reader reader = log.newReader())
        {
            reader.startAt(manifest.firstIndex());
            for (long read = reader.readNextRaw(listener); read != EventLog.NO_INDEX && read < manifest.lastIndex();
                read = reader.readNextRaw(listener))
            {
                // each document is collected by the listener
            }
        }
        if (collector.documents != manifest.documents() || collector.kept.isEmpty()
            || collector.kept.get(collector.kept.size() - 1).index() != manifest.lastIndex()
            || !collector.kept.get(collector.kept.size() - 1).sha256().equals(manifest.lastDocumentSha256())
            || !manifest.previousDocumentSha256().equals(firstLink[0]))
        {
            throw new IOException("the archive of " + manifest.file() + " read back " + collector.documents + " documents, its "
                + "manifest says " + manifest.documents() + " ending at log index " + Long.toHexString(manifest.lastIndex())
                + " with SHA-256 " + manifest.lastDocumentSha256() + ": not deleted; run tokenmeter audit");
        }
        return new RetainedDigest(manifest.file(), manifest.firstIndex(), manifest.lastIndex(), manifest.documents(),
            manifest.previousDocumentSha256(), manifest.lastDocumentSha256(), collector.names, collector.kept);
    }

    /** Collects a file's names, control records and, per kept document, the buckets of the events since the last. */
    private static final class Collector implements LogDocumentReader.Handler
    {
        final List<RetainedDigest.Name> names = new ArrayList<>();
        final List<RetainedDigest.Control> controls = new ArrayList<>();
        final List<RetainedDigest.Kept> kept = new ArrayList<>();
        HourlyAggregator since = new HourlyAggregator();
        long documents;

        @Override
        public void onName(final byte recordType, final int id, final DirectBuffer buffer, final int offset, final int length)
        {
            final byte[] utf8 = new byte[length];
            buffer.getBytes(offset, utf8);
            names.add(new RetainedDigest.Name(recordType, id, utf8));
        }

        @Override
        public void onEvent(final EventRecord event, final long appendTimeMs)
        {
            since.onEvent(event, appendTimeMs);
        }

        @Override
        public void onEventLink(final int bits, final long reservationHi, final long reservationLo, final long streamHi,
            final long streamLo, final long seq)
        {
            since.onEventLink(bits, reservationHi, reservationLo, streamHi, streamLo, seq);
        }

        @Override
        public void onControl(final int controlKind, final long revision, final DirectBuffer buffer, final int offset,
            final int length, final long appendTimeMs)
        {
            final byte[] payload = new byte[length];
            buffer.getBytes(offset, payload);
            controls.add(new RetainedDigest.Control(controlKind, revision, payload));
        }

        void keep(final long index, final long appendTimeMs, final String sha256)
        {
            kept.add(new RetainedDigest.Kept(index, appendTimeMs, sha256, List.copyOf(controls), since.eventCount(),
                since.exportBuckets()));
            since = new HourlyAggregator();
        }
    }
}
