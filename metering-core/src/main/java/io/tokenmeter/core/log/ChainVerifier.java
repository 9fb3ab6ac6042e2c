package io.tokenmeter.core.log;

import io.tokenmeter.core.archive.RetainedDigest;
import io.tokenmeter.core.event.LogDocumentReader;
import org.agrona.DirectBuffer;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.collections.LongHashSet;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/**
 * Checks a partition's hash chain ({@link io.tokenmeter.core.event.LogLayout}, version 3 documents): every chained
 * document must hold the SHA-256 of the whole document before it, the first document of the log 32 zero bytes (or the
 * hash a kept digest names for the last document of files no longer there). An event edited even with its CRC32C
 * recomputed, a document removed, two swapped, and a chained document followed by one without the chain all break it;
 * each break names the position where it is found. Reads the log's bytes as they are, unparsed. Single-threaded.
 */
public final class ChainVerifier implements EventLog.RawDocumentListener
{
    /** Breaks reported in full; any more are counted. */
    public static final int MAX_BREAKS_REPORTED = 20;

    /**
     * What the check found.
     *
     * @param documents  documents read.
     * @param chained    of them, documents that hold their predecessor's hash (version 3).
     * @param breaks     each break, a sentence naming its position; empty when the chain holds.
     * @param breakCount every break, also those beyond {@link #MAX_BREAKS_REPORTED}.
     * @param sha256At   the hash (hex) of each document at a position asked for that is in the log.
     * @param lastIndex  the position of the last document read, {@link EventLog#NO_INDEX} when none.
     * @param headSha256 the hash (hex) of the last document read: the chain's head.
     * @param retainedFiles files deleted by retention, whose digests stood for their documents (counted in {@code documents}).
     */
    public record Result(long documents, long chained, List<String> breaks, long breakCount, Long2ObjectHashMap<String> sha256At,
        long lastIndex, String headSha256, int retainedFiles)
    {
        public boolean holds()
        {
            return breakCount == 0;
        }
    }

    private final DocumentSha256 hasher = new DocumentSha256();
    private final byte[] previous = new byte[DocumentSha256.LENGTH];
    private final byte[] current = new byte[DocumentSha256.LENGTH];
    private final byte[] recorded = new byte[DocumentSha256.LENGTH];
    private final List<String> breaks = new ArrayList<>();
    private final Long2ObjectHashMap<String> sha256At = new Long2ObjectHashMap<>();
    private final LongHashSet wanted;
    private long documents;
    private long chained;
    private long breakCount;
    private long previousIndex = EventLog.NO_INDEX;
    /** Files retention deleted, whose digests stood for their documents. */
    private int retained;
    private boolean previousChained;

    private ChainVerifier(final byte[] previousOfFirst, final LongHashSet wanted)
    {
        System.arraycopy(previousOfFirst, 0, previous, 0, DocumentSha256.LENGTH);
        this.wanted = wanted;
    }

    /**
     * Reads the whole log from its start.
     *
     * @param previousOfFirst what the log's first document must hold: 32 zero bytes for a log that starts at its
     *                        beginning, or the hash of the last document of the files before it.
     * @param wanted          positions whose documents' hashes to return (final invoices name them).
     */
    public static Result verify(final EventLog log, final byte[] previousOfFirst, final LongHashSet wanted)
    {
        final ChainVerifier verifier = new ChainVerifier(previousOfFirst, wanted);
        try (EventLog.Reader reader = log.newReader())
        {
            reader.startAt(EventLog.NO_INDEX);
            while (reader.readNextRaw(verifier) != EventLog.NO_INDEX)
            {
                // each document is checked by onDocument
            }
        }
        return new Result(verifier.documents, verifier.chained, List.copyOf(verifier.breaks), verifier.breakCount,
            verifier.sha256At, verifier.previousIndex,
            verifier.documents == 0 ? DocumentSha256.hex(previousOfFirst) : DocumentSha256.hex(verifier.previous),
            verifier.retained);
    }

    /** @return the 32 zero bytes a log's first document holds. */
    public static byte[] startOfLog()
    {
        return new byte[DocumentSha256.LENGTH];
    }

    /** One document read: its link checked against the document before it, then hashed. */
    @Override
    public void onDocument(final long index, final DirectBuffer buffer, final int offset, final int length)
    {
        final int at = LogDocumentReader.previousSha256Offset(buffer, offset, length);
        if (at >= 0)
        {
            chained++;
            buffer.getBytes(at, recorded);
            if (!Arrays.equals(recorded, previous))
            {
                broken(previousIndex == EventLog.NO_INDEX
                    ? "log document at index " + Long.toHexString(index) + " is the first of the log but records a predecessor "
                        + "hashing to " + DocumentSha256.hex(recorded) + ", not " + DocumentSha256.hex(previous)
                        + ": documents before it were removed"
                    : "log document at index " + Long.toHexString(index) + " records its predecessor's SHA-256 as "
                        + DocumentSha256.hex(recorded) + " but the document before it (index " + Long.toHexString(previousIndex)
                        + ") hashes to " + DocumentSha256.hex(previous) + ": that document was edited (even if its checksum "
                        + "was recomputed), or documents between them were removed or reordered");
            }
        }
        else if (previousChained)
        {
            broken("log document at index " + Long.toHexString(index) + " holds no chain hash but follows a chained document "
                + "(index " + Long.toHexString(previousIndex) + "): it was written by an older version after a newer one, or "
                + "the chain was stripped from it");
        }
        hasher.hash(buffer, offset, length, current);
        System.arraycopy(current, 0, previous, 0, DocumentSha256.LENGTH);
        if (wanted.contains(index))
        {
            sha256At.put(index, DocumentSha256.hex(current));
        }
        previousChained = at >= 0;
        previousIndex = index;
        documents++;
    }

    /**
     * A file retention deleted: its documents are gone, so its digest stands for them. Its first document's link
     * (kept in the digest) must be the hash before it, and the next document must hold its last document's hash; the
     * hashes of its kept documents (final invoices name them) come from the digest.
     */
    @Override
    public void onRetained(final RetainedDigest digest)
    {
        if (!digest.previousDocumentSha256().isEmpty())
        {
            final byte[] link = HexFormat.of().parseHex(digest.previousDocumentSha256());
            if (!Arrays.equals(link, previous))
            {
                broken("log file " + digest.file() + " (deleted by retention; positions " + Long.toHexString(digest.firstIndex())
                    + " to " + Long.toHexString(digest.lastIndex()) + ") began with a document recording its predecessor's SHA-256 as "
                    + digest.previousDocumentSha256() + " (its digest says), but the document before it hashes to "
                    + DocumentSha256.hex(previous) + ": documents before it were removed or edited, or the digest was");
            }
            chained += digest.documents();
        }
        for (final RetainedDigest.Kept kept : digest.kept())
        {
            if (wanted.contains(kept.index()))
            {
                sha256At.put(kept.index(), kept.sha256());
            }
        }
        System.arraycopy(HexFormat.of().parseHex(digest.lastDocumentSha256()), 0, previous, 0, DocumentSha256.LENGTH);
        previousChained = !digest.previousDocumentSha256().isEmpty();
        previousIndex = digest.lastIndex();
        documents += digest.documents();
        retained++;
    }

    private void broken(final String why)
    {
        breakCount++;
        if (breaks.size() < MAX_BREAKS_REPORTED)
        {
            breaks.add(why);
        }
    }
}
