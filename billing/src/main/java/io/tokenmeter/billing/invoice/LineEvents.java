package io.tokenmeter.billing.invoice;

import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.billing.rating.InvoiceLine;
import io.tokenmeter.billing.rating.UnitTrace;
import io.tokenmeter.core.aggregate.BucketKey;
import io.tokenmeter.core.archive.RetainedDigest;
import io.tokenmeter.core.event.DamagedDocumentException;
import io.tokenmeter.core.event.EventRecord;
import io.tokenmeter.core.event.Hours;
import io.tokenmeter.core.event.LogDocumentReader;
import io.tokenmeter.core.event.LogLayout;
import io.tokenmeter.core.event.RateVariant;
import io.tokenmeter.core.event.ServiceTier;
import io.tokenmeter.core.event.TokenClass;
import io.tokenmeter.core.log.DocumentSha256;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.log.RetainedFileException;
import org.agrona.DirectBuffer;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.concurrent.UnsafeBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * The events of the log behind one usage line of an invoice, with the positions that prove them. A line sums units of
 * hour buckets ({@link InvoiceCalculator#sources}: the rater's own decision, made again); a bucket sums the events of
 * its tenant, model, tier, rate variant and hour, in log order. So the events of a line are those of its buckets, and
 * where graduated bands split a bucket, an event's units are placed by its position in the bucket's log order: it may
 * give some units to one band's line and the rest to the next ({@link Event#lineQuantity()}).
 *
 * <p>Which events: an invoice's own usage is every event of its period up to its {@code log_index}; the late usage of a
 * final period F on it is every event of F after the last final invoice that billed F (the {@code log_index} of F's
 * own final invoice, or of the latest final invoice that carried adjustments for F) up to its {@code log_index}.
 *
 * <p>Cold path, plain Java; {@link #scan} reads the log on the calling thread, which must not be an event loop.
 */
public final class LineEvents
{
    private static final Logger LOG = LoggerFactory.getLogger(LineEvents.class);

    /**
     * What the events of a line are: the tenant's events of this model, tier and token class whose bucket (hour,
     * variant) the line takes units of, logged after {@code afterIndex} and up to {@code throughIndex}.
     *
     * @param afterIndex   events at or before this log index were billed elsewhere ({@link EventLog#NO_INDEX}: none).
     * @param throughIndex the invoice's log index: events after it came later than the invoice.
     * @param quantity     the line's quantity: what the events' {@link Event#lineQuantity()} sum to.
     */
    public record Source(String tenant, String model, int tierCode, int tokenClass, List<UnitTrace.Piece> pieces,
        long afterIndex, long throughIndex, BigInteger quantity)
    {
    }

    /**
     * One event behind a line, as the log holds it.
     *
     * @param logIndex       the position of the log document that holds the event.
     * @param documentSha256 the SHA-256 (hex) of that whole document: the link of the partition's hash chain.
     * @param tokens         the six token counts by {@link TokenClass} index, as the log counted them.
     * @param variant        the pricing decisions made when it was metered ({@link RateVariant}).
     * @param lineQuantity   how many of its tokens of the line's class the line bills (all of them, but where a graduated
     *                       band's boundary falls inside the event).
     */
    public record Event(long logIndex, String documentSha256, String id, String tenant, String model, long timestampMs,
        int tierCode, int variant, long[] tokens, long lineQuantity)
    {
    }

    /** Takes the events of a line in log order; answers false to stop the scan (the client went away). */
    @FunctionalInterface
    public interface Sink
    {
        boolean onEvent(Event event);
    }

    /**
     * What a scan did.
     *
     * @param units    the sum of the events' line quantities: the line's quantity when the log holds every event.
     * @param damaged  documents skipped because they do not read back whole (logged).
     * @param stopped  the sink stopped the scan.
     */
    public record Outcome(long events, long units, long documents, long damaged, boolean stopped)
    {
    }

    private LineEvents()
    {
    }

    /**
     * @param lineIndex the line's 0-based position in {@code invoice.lines()}; a usage line.
     * @param book      the book that priced the invoice.
     * @param finals    the tenant's final invoices the invoice was computed with: all for a draft, those numbered before
     *                  it for a final invoice.
     * @return what the line's events are, or null when rating the invoice's basis again does not make the line.
     */
    public static Source source(final Invoice invoice, final int lineIndex, final PriceBook book, final Collection<Invoice> finals)
    {
        final InvoiceLine line = invoice.lines().get(lineIndex);
        final List<UnitTrace.Piece> pieces = InvoiceCalculator.sources(invoice, book, finals, line);
        if (pieces == null)
        {
            return null;
        }
        long after = EventLog.NO_INDEX;
        if (line.adjustmentFor() != null)
        {
            for (final Invoice f : finals)
            {
                if (f.basis().containsKey(line.adjustmentFor()) && f.logIndex() > after)
                {
                    after = f.logIndex();
                }
            }
        }
        return new Source(invoice.tenant(), line.model(), tierCode(line.serviceTier()), classIndex(line.tokenClass()), pieces,
            after, invoice.logIndex(), line.quantity());
    }

    /** Reads {@code log} from its start to the source's {@code throughIndex} and hands each event of the line to the sink. */
    public static Outcome scan(final EventLog log, final Source source, final Sink sink)
    {
        final Matcher matcher = new Matcher(source);
        final LogDocumentReader documents = new LogDocumentReader();
        final DocumentSha256 sha256 = new DocumentSha256();
        final byte[] hash = new byte[DocumentSha256.LENGTH];
        final long wanted = source.quantity().min(BigInteger.valueOf(Long.MAX_VALUE)).longValue();
        long events = 0;
        long units = 0;
        long read = 0;
        long damaged = 0;
        final List<Event> found = new ArrayList<>();
        try (EventLog.Reader reader = log.newReader())
        {
            reader.startAt(EventLog.NO_INDEX);
            final long[] damagedAt = {EventLog.NO_INDEX};
            while (units < wanted && source.throughIndex() != EventLog.NO_INDEX)
            {
                found.clear();
                damagedAt[0] = EventLog.NO_INDEX;
                final long index = reader.readNextRaw(new EventLog.RawDocumentListener()
                {
                    @Override
                    public void onDocument(final long at, final DirectBuffer buffer, final int offset, final int length)
                    {
                        if (at > source.throughIndex())
                        {
                            return;
                        }
                        matcher.startDocument(at, found);
                        try
                        {
                            documents.read(buffer, offset, length, matcher);
                        }
                        catch (final DamagedDocumentException ex)
                        {
                            damagedAt[0] = at;
                            found.clear();
                            LOG.error("log {} index {}: a damaged document is skipped while listing a line's events: {}",
                                log.describe(), Long.toHexString(at), ex.getMessage());
                            return;
                        }
                        if (!found.isEmpty())
                        {
                            sha256.hash(buffer, offset, length, hash);
                            final String hex = DocumentSha256.hex(hash);
                            for (int i = 0; i < found.size(); i++)
                            {
                                found.set(i, withSha256(found.get(i), hex));
                            }
                        }
                    }

                    @Override
                    public void onRetained(final RetainedDigest digest)
                    {
                        if (matcher.holdsLine(digest))
                        {
                            throw new RetainedFileException(digest);
                        }
                    }
                });
                if (index == EventLog.NO_INDEX || index > source.throughIndex())
                {
                    break;
                }
                read++;
                if (damagedAt[0] != EventLog.NO_INDEX)
                {
                    damaged++;
                }
                for (final Event event : found)
                {
                    events++;
                    units += event.lineQuantity();
                    if (!sink.onEvent(event))
                    {
                        return new Outcome(events, units, read, damaged, true);
                    }
                }
            }
        }
        return new Outcome(events, units, read, damaged, false);
    }

    /**
     * @return the digest of a log file retention deleted that held events of the line (its events can no longer be
     * listed; the audit still proves the line's total from the digest), or null when none did.
     */
    public static RetainedDigest deletedSource(final EventLog log, final Source source)
    {
        final Matcher matcher = new Matcher(source);
        final RetainedDigest[] holding = {null};
        final boolean[] past = {false};
        try (EventLog.Reader reader = log.newReader())
        {
            reader.startAt(EventLog.NO_INDEX);
            // the files retention deleted are the log's oldest: their digests come first, then the first document ends it
            for (int files = 0; files < 1_000_000 && holding[0] == null && !past[0]; files++)
            {
                final long read = reader.readNextRaw(new EventLog.RawDocumentListener()
                {
                    @Override
                    public void onDocument(final long at, final DirectBuffer buffer, final int offset, final int length)
                    {
                        past[0] = true;
                    }

                    @Override
                    public void onRetained(final RetainedDigest digest)
                    {
                        holding[0] = matcher.holdsLine(digest) ? digest : null;
                    }
                });
                if (read == EventLog.NO_INDEX || read > source.throughIndex())
                {
                    break;
                }
            }
        }
        return holding[0];
    }

    private static Event withSha256(final Event e, final String sha256)
    {
        return new Event(e.logIndex(), sha256, e.id(), e.tenant(), e.model(), e.timestampMs(), e.tierCode(), e.variant(),
            e.tokens(), e.lineQuantity());
    }

    /**
     * Picks a document's events of the line: it learns the ids the partition gave the tenant's and the model's names,
     * and counts each bucket's units in log order to place each event against the line's pieces.
     */
    private static final class Matcher implements LogDocumentReader.Handler
    {
        private final Source source;
        private final byte[] tenantName;
        private final byte[] modelName;
        /** The line's piece of each bucket, by {@code hour << 7 | variant}. */
        private final Long2ObjectHashMap<UnitTrace.Piece> pieces = new Long2ObjectHashMap<>();
        /** Units of the line's class each bucket has counted so far (within the source's index range). */
        private final Long2ObjectHashMap<long[]> counted = new Long2ObjectHashMap<>();
        private int tenantId = -1;
        private int modelId = -1;
        private long index;
        private List<Event> found;

        Matcher(final Source source)
        {
            this.source = source;
            this.tenantName = source.tenant().getBytes(StandardCharsets.UTF_8);
            this.modelName = source.model().getBytes(StandardCharsets.UTF_8);
            for (final UnitTrace.Piece piece : source.pieces())
            {
                pieces.put(bucketKey(piece.hour(), piece.variant()), piece);
            }
        }

        /**
         * Learns the names a deleted file's digest defines, and tells whether its buckets hold units of the line (in the
         * source's index range).
         */
        boolean holdsLine(final RetainedDigest digest)
        {
            for (final RetainedDigest.Name name : digest.names())
            {
                onName(name.recordType(), name.id(), new UnsafeBuffer(name.utf8()), 0, name.utf8().length);
            }
            for (final RetainedDigest.Kept kept : digest.kept())
            {
                if (kept.index() <= source.afterIndex() || kept.index() > source.throughIndex())
                {
                    continue;
                }
                for (final long[] bucket : kept.buckets())
                {
                    final long key = bucket[0];
                    if (BucketKey.tenantId(key) == tenantId && BucketKey.modelId(key) == modelId
                        && BucketKey.tierCode(key) == source.tierCode() && bucket[2 + source.tokenClass()] > 0
                        && pieces.get(bucketKey(BucketKey.hour(key), (int)bucket[bucket.length - 1])) != null)
                    {
                        return true;
                    }
                }
            }
            return false;
        }

        void startDocument(final long index, final List<Event> found)
        {
            this.index = index;
            this.found = found;
        }

        @Override
        public void onName(final byte recordType, final int id, final DirectBuffer buffer, final int offset, final int length)
        {
            if (recordType == LogLayout.RECORD_TENANT_NAME && tenantId < 0 && equal(buffer, offset, length, tenantName))
            {
                tenantId = id;
            }
            else if (recordType == LogLayout.RECORD_MODEL_NAME && modelId < 0 && equal(buffer, offset, length, modelName))
            {
                modelId = id;
            }
        }

        @Override
        public void onEvent(final EventRecord event, final long appendTimeMs)
        {
            if (event.tenantId() != tenantId || event.modelId() != modelId || event.tierCode() != source.tierCode()
                || index <= source.afterIndex())
            {
                return;
            }
            final long quantity = event.tokens(source.tokenClass());
            if (quantity == 0)
            {
                return;
            }
            final int variant = RateVariant.ofFlags(event.flags());
            final long key = bucketKey(Math.floorDiv(event.timestampMs(), Hours.MS_PER_HOUR), variant);
            final UnitTrace.Piece piece = pieces.get(key);
            if (piece == null)
            {
                return;
            }
            long[] position = counted.get(key);
            if (position == null)
            {
                position = new long[1];
                counted.put(key, position);
            }
            final long from = position[0];
            position[0] = from + quantity;
            final long overlap = Math.min(from + quantity, piece.firstUnit() + piece.quantity()) - Math.max(from, piece.firstUnit());
            if (overlap <= 0)
            {
                return;
            }
            final long[] tokens = new long[TokenClass.COUNT];
            for (int c = 0; c < TokenClass.COUNT; c++)
            {
                tokens[c] = event.tokens(c);
            }
            found.add(new Event(index, null, event.id(), source.tenant(), source.model(), event.timestampMs(), event.tierCode(),
                variant, tokens, overlap));
        }

        private static long bucketKey(final long hour, final int variant)
        {
            return hour << 7 | variant;
        }

        private static boolean equal(final DirectBuffer buffer, final int offset, final int length, final byte[] name)
        {
            if (length != name.length)
            {
                return false;
            }
            for (int i = 0; i < length; i++)
            {
                if (buffer.getByte(offset + i) != name[i])
                {
                    return false;
                }
            }
            return true;
        }
    }

    private static int tierCode(final String tier)
    {
        for (final ServiceTier t : ServiceTier.values())
        {
            if (t.jsonName().equals(tier))
            {
                return t.code();
            }
        }
        throw new IllegalArgumentException("no service tier '" + tier + "'");
    }

    private static int classIndex(final String tokenClass)
    {
        for (int i = 0; i < TokenClass.COUNT; i++)
        {
            if (TokenClass.of(i).className().equals(tokenClass))
            {
                return i;
            }
        }
        throw new IllegalArgumentException("no token class '" + tokenClass + "'");
    }
}
