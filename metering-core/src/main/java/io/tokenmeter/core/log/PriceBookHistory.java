package io.tokenmeter.core.log;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * Every price book recorded in one partition's log, in log order: each one's revision, log index, journal time and the
 * SHA-256 of its bytes as recorded, 56 bytes a book. Not the books themselves: a book may be megabytes, and it is
 * read from the log at its index when someone asks for it. Immutable: the journal thread makes the next history when
 * it records or replays a book and publishes it through a volatile field, so any thread may read the one it holds.
 *
 * <p>The journal's checkpoint holds it (layout 3), so a restart lists the same books even when it replays only the
 * log after the checkpoint's replay point.
 *
 * <pre>
 * in a checkpoint (little-endian)
 *   books i32 | (revision i64 | logIndex i64 | appendTimeMs i64 | sha256 32 bytes) * books
 * </pre>
 */
public final class PriceBookHistory
{
    /** Bytes of one book in a checkpoint. */
    public static final int ENCODED_BOOK_BYTES = 3 * Long.BYTES + 32;
    /** A partition's log before its first book. */
    public static final PriceBookHistory EMPTY = new PriceBookHistory(new long[0], new long[0], new long[0], new byte[0]);

    private static final HexFormat HEX = HexFormat.of();

    private final long[] revisions;
    private final long[] logIndexes;
    private final long[] appendTimesMs;
    /** 32 bytes a book, in the same order. */
    private final byte[] sha256s;

    private PriceBookHistory(final long[] revisions, final long[] logIndexes, final long[] appendTimesMs, final byte[] sha256s)
    {
        this.revisions = revisions;
        this.logIndexes = logIndexes;
        this.appendTimesMs = appendTimesMs;
        this.sha256s = sha256s;
    }

    /** @return the number of books recorded. */
    public int size()
    {
        return revisions.length;
    }

    /** @return the revision of the {@code i}-th book, oldest first. */
    public long revision(final int i)
    {
        return revisions[i];
    }

    /** @return where the {@code i}-th book is in this partition's log. */
    public long logIndex(final int i)
    {
        return logIndexes[i];
    }

    /** @return the journal time at which the {@code i}-th book was recorded, epoch ms. */
    public long appendTimeMs(final int i)
    {
        return appendTimesMs[i];
    }

    /** @return the hex SHA-256 of the {@code i}-th book's bytes as recorded (its {@code sha256} in the API). */
    public String sha256(final int i)
    {
        return HEX.formatHex(sha256s, i * 32, i * 32 + 32);
    }

    /** @return the position of {@code revision} in this history, or -1 when this partition never recorded it. */
    public int find(final long revision)
    {
        for (int i = revisions.length - 1; i >= 0; i--)
        {
            if (revisions[i] == revision)
            {
                return i;
            }
        }
        return -1;
    }

    /** @return the log index of the newest book, {@link EventLog#NO_INDEX} when there is none. */
    public long lastLogIndex()
    {
        return logIndexes.length == 0 ? EventLog.NO_INDEX : logIndexes[logIndexes.length - 1];
    }

    /**
     * @param sha256 the SHA-256 of the book's bytes as recorded (32 bytes).
     * @return this history with a book recorded after every book in it; this history itself when the book at
     *     {@code logIndex} or a later one is in it already (a replay reads again what the checkpoint holds).
     */
    public PriceBookHistory with(final long revision, final long logIndex, final long appendTimeMs, final byte[] sha256)
    {
        if (sha256.length != 32)
        {
            throw new IllegalArgumentException("a SHA-256 is 32 bytes, not " + sha256.length);
        }
        if (logIndex <= lastLogIndex())
        {
            return this;
        }
        final int n = revisions.length;
        final long[] nextRevisions = Arrays.copyOf(revisions, n + 1);
        final long[] nextIndexes = Arrays.copyOf(logIndexes, n + 1);
        final long[] nextTimes = Arrays.copyOf(appendTimesMs, n + 1);
        final byte[] nextShas = Arrays.copyOf(sha256s, (n + 1) * 32);
        nextRevisions[n] = revision;
        nextIndexes[n] = logIndex;
        nextTimes[n] = appendTimeMs;
        System.arraycopy(sha256, 0, nextShas, n * 32, 32);
        return new PriceBookHistory(nextRevisions, nextIndexes, nextTimes, nextShas);
    }

    /** @return the bytes {@link #writeTo} writes. */
    public int encodedLength()
    {
        return Integer.BYTES + revisions.length * ENCODED_BOOK_BYTES;
    }

    /** Writes this history at the buffer's position (little-endian as the buffer is ordered). */
    public void writeTo(final ByteBuffer out)
    {
        out.putInt(revisions.length);
        for (int i = 0; i < revisions.length; i++)
        {
            out.putLong(revisions[i]).putLong(logIndexes[i]).putLong(appendTimesMs[i]).put(sha256s, i * 32, 32);
        }
    }

    /** @return the history {@link #writeTo} wrote at the buffer's position, which moves past it. */
    public static PriceBookHistory readFrom(final ByteBuffer in)
    {
        final int n = in.getInt();
        if (n < 0 || (long)n * ENCODED_BOOK_BYTES > in.remaining())
        {
            throw new IllegalStateException("a price book history of " + n + " books does not fit the " + in.remaining()
                + " bytes left in the checkpoint");
        }
        final long[] revisions = new long[n];
        final long[] indexes = new long[n];
        final long[] times = new long[n];
        final byte[] shas = new byte[n * 32];
        for (int i = 0; i < n; i++)
        {
            revisions[i] = in.getLong();
            indexes[i] = in.getLong();
            times[i] = in.getLong();
            in.get(shas, i * 32, 32);
        }
        return new PriceBookHistory(revisions, indexes, times, shas);
    }

    /** @return the SHA-256 of {@code bytes} (of a book as recorded). */
    public static byte[] sha256Of(final byte[] bytes, final int offset, final int length)
    {
        try
        {
            final MessageDigest digest = MessageDigest.getInstance("SHA-256");
            digest.update(bytes, offset, length);
            return digest.digest();
        }
        catch (final NoSuchAlgorithmException ex)
        {
            throw new IllegalStateException("every Java runtime has SHA-256", ex);
        }
    }
}
