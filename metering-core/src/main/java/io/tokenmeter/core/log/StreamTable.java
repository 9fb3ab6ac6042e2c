package io.tokenmeter.core.log;

import io.tokenmeter.core.event.EventLink;
import io.tokenmeter.core.event.TokenClass;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The streams a journal has seen checkpoints of (SPEC section 12), owned by the journal thread. A checkpoint carries
 * the stream's cumulative counts; the journal logs its increase over the highest counts seen so far, so every reader of
 * the log (aggregator, audit, invoices) counts a stream exactly once without knowing streams exist.
 *
 * <p>The rules, per stream, with {@code highest} the counts of its highest sequence number so far:
 * <ul>
 *   <li>a higher seq with counts at or above {@code highest} in every class counts the difference;</li>
 *   <li>a seq at or below the highest with counts at or below {@code highest} counts nothing: a checkpoint that arrives
 *       late, or a resend of one under a new event id, is counted once per (stream, seq); the highest seq sent again
 *       as final ends the stream;</li>
 *   <li>a higher seq with a count below {@code highest}, a lower seq with a count above it, the same seq with other
 *       counts, a checkpoint after the final one, or after the stream timed out: a conflict, not counted.</li>
 * </ul>
 * A stream with no final checkpoint {@code timeoutMs} after its first is closed: it stays billed at its last checkpoint
 * (an aborted stream is never billed at zero), and its later checkpoints are conflicts. Closed and ended streams are
 * forgotten a dedup window after their last checkpoint, when their event ids are too.
 *
 * <p>Changes made while a drain is journaled are kept in an undo list until the drain's document is appended, so that a
 * refused request or a failed append takes them back, as it takes back dedup ids and names.
 */
final class StreamTable
{
    /** What {@link #decide} says of a checkpoint. */
    static final int COUNTED = 0;
    static final int CONFLICT = 1;
    /** Counted, and the stream had a checkpoint before: not another request. */
    static final int CONTINUED = 2;

    private static final int CLASSES = TokenClass.COUNT;
    private static final int STATE_BYTES = 2 * Long.BYTES + Long.BYTES + CLASSES * Long.BYTES + 3 * Long.BYTES + 1;

    /** One stream: its tenant-scoped hash, highest seq and counts, and whether it ended or timed out. */
    static final class Stream
    {
        final long hashHi;
        final long hashLo;
        long highestSeq;
        final long[] highest = new long[CLASSES];
        long firstMs;
        long lastMs;
        /** Log index of the last document with a checkpoint of it, as the next journal checkpoint records it. */
        long lastIndex = EventLog.NO_INDEX;
        /**
         * The {@link #lastIndex} the journal checkpoint being recovered from held: the replay skips documents at or
         * before it (their checkpoints are in the state already), and applies every checkpoint of a later document, two
         * of one stream in one document included.
         */
        long restoredIndex = EventLog.NO_INDEX;
        boolean ended;
        boolean closed;

        Stream(final long hashHi, final long hashLo)
        {
            this.hashHi = hashHi;
            this.hashLo = hashLo;
        }
    }

    private record Key(long hi, long lo)
    {
    }

    /** The state of a stream before a change of the current drain; {@code created} when the drain made it. */
    private record Undo(Stream stream, boolean created, long highestSeq, long[] highest, long lastMs, boolean ended)
    {
    }

    private final Map<Key, Stream> streams = new HashMap<>();
    private final List<Undo> undo = new ArrayList<>();
    private final long timeoutMs;
    private long conflicts;
    private long closedByTimeout;

    StreamTable(final long timeoutMs)
    {
        if (timeoutMs <= 0)
        {
            throw new IllegalArgumentException("stream-timeout must be above 0, not " + timeoutMs + " ms");
        }
        this.timeoutMs = timeoutMs;
    }

    /**
     * Decides a checkpoint of a new event id, live, and fills {@code increments} with what it counts.
     *
     * @param counts the checkpoint's cumulative counts, by token class.
     * @return {@link #COUNTED} for a stream's first checkpoint, {@link #CONTINUED} for a later one (increments set,
     *     possibly all 0), or {@link #CONFLICT} (nothing changed).
     */
    int decide(final long hashHi, final long hashLo, final long seq, final boolean isFinal,
        final long[] counts, final long nowMs, final long[] increments)
    {
        final Key key = new Key(hashHi, hashLo);
        Stream stream = streams.get(key);
        if (stream == null)
        {
            stream = new Stream(hashHi, hashLo);
            stream.highestSeq = seq;
            System.arraycopy(counts, 0, stream.highest, 0, CLASSES);
            System.arraycopy(counts, 0, increments, 0, CLASSES);
            stream.firstMs = nowMs;
            stream.lastMs = nowMs;
            stream.ended = isFinal;
            streams.put(key, stream);
            undo.add(new Undo(stream, true, 0, null, 0, false));
            return COUNTED;
        }
        closeIfTimedOut(stream, nowMs);
        final int outcome;
        if (seq > stream.highestSeq)
        {
            outcome = stream.ended || stream.closed || anyBelow(counts, stream.highest) ? CONFLICT : COUNTED;
        }
        else if (seq == stream.highestSeq)
        {
            outcome = sameCounts(counts, stream.highest) && !(isFinal && stream.closed) ? COUNTED : CONFLICT;
        }
        else
        {
            outcome = isFinal || anyBelow(stream.highest, counts) ? CONFLICT : COUNTED;
        }
        if (outcome == CONFLICT)
        {
            conflicts++;
            return CONFLICT;
        }
        undo.add(new Undo(stream, false, stream.highestSeq, stream.highest.clone(), stream.lastMs, stream.ended));
        if (seq > stream.highestSeq)
        {
            for (int c = 0; c < CLASSES; c++)
            {
                increments[c] = counts[c] - stream.highest[c];
                stream.highest[c] = counts[c];
            }
            stream.highestSeq = seq;
            stream.ended = isFinal;
        }
        else
        {
            java.util.Arrays.fill(increments, 0, CLASSES, 0L);
            // the highest checkpoint sent again, now marked final: the stream ends there
            stream.ended |= isFinal && seq == stream.highestSeq;
        }
        stream.lastMs = nowMs;
        return CONTINUED;
    }

    /** @return the size of the undo list, to {@link #rollbackTo} when a request is refused. */
    int mark()
    {
        return undo.size();
    }

    /** Takes back the changes made since {@code mark}, newest first. */
    void rollbackTo(final int mark)
    {
        while (undo.size() > mark)
        {
            final Undo u = undo.remove(undo.size() - 1);
            if (u.created())
            {
                streams.remove(new Key(u.stream().hashHi, u.stream().hashLo));
            }
            else
            {
                u.stream().highestSeq = u.highestSeq();
                System.arraycopy(u.highest(), 0, u.stream().highest, 0, CLASSES);
                u.stream().lastMs = u.lastMs();
                u.stream().ended = u.ended();
            }
        }
    }

    /** The drain's document was appended at {@code index}: its changes stay. */
    void commit(final long index)
    {
        for (int i = 0, n = undo.size(); i < n; i++)
        {
            undo.get(i).stream().lastIndex = index;
        }
        undo.clear();
    }

    /**
     * Replay: a checkpoint read back from the document at {@code index}, whose event's counts are the increments the
     * journal decided. A document at or before the last one the loaded checkpoint held for the stream is skipped.
     */
    void replayed(final long hashHi, final long hashLo, final long seq, final boolean isFinal,
        final long[] increments, final long index, final long appendTimeMs)
    {
        final Key key = new Key(hashHi, hashLo);
        Stream stream = streams.get(key);
        if (stream == null)
        {
            stream = new Stream(hashHi, hashLo);
            stream.highestSeq = seq;
            stream.firstMs = appendTimeMs;
            streams.put(key, stream);
        }
        else if (stream.restoredIndex != EventLog.NO_INDEX && index <= stream.restoredIndex)
        {
            return;
        }
        closeIfTimedOut(stream, appendTimeMs);
        for (int c = 0; c < CLASSES; c++)
        {
            stream.highest[c] += increments[c];
        }
        stream.highestSeq = Math.max(stream.highestSeq, seq);
        stream.ended |= isFinal;
        stream.lastMs = appendTimeMs;
        stream.lastIndex = index;
    }

    /**
     * Closes the streams past their timeout and forgets ended and closed ones whose last checkpoint is older than
     * {@code forgetBeforeMs}. Journal thread, between drains.
     */
    void sweep(final long nowMs, final long forgetBeforeMs)
    {
        final Iterator<Stream> it = streams.values().iterator();
        while (it.hasNext())
        {
            final Stream stream = it.next();
            closeIfTimedOut(stream, nowMs);
            if ((stream.ended || stream.closed) && stream.lastMs < forgetBeforeMs)
            {
                it.remove();
            }
        }
    }

    private void closeIfTimedOut(final Stream stream, final long nowMs)
    {
        if (!stream.ended && !stream.closed && nowMs - stream.firstMs > timeoutMs)
        {
            stream.closed = true;
            closedByTimeout++;
        }
    }

    /** @return streams neither ended nor closed. */
    int open()
    {
        int open = 0;
        for (final Stream stream : streams.values())
        {
            if (!stream.ended && !stream.closed)
            {
                open++;
            }
        }
        return open;
    }

    int size()
    {
        return streams.size();
    }

    long conflicts()
    {
        return conflicts;
    }

    long closedByTimeout()
    {
        return closedByTimeout;
    }

    /** @return the stream of a hash, or null; for tests. */
    Stream find(final long hashHi, final long hashLo)
    {
        return streams.get(new Key(hashHi, hashLo));
    }

    int encodedLength()
    {
        return Integer.BYTES + streams.size() * STATE_BYTES;
    }

    /** Writes every stream (the journal checkpoint's stream section). */
    void writeTo(final ByteBuffer out)
    {
        out.putInt(streams.size());
        for (final Stream s : streams.values())
        {
            out.putLong(s.hashHi).putLong(s.hashLo).putLong(s.highestSeq);
            for (int c = 0; c < CLASSES; c++)
            {
                out.putLong(s.highest[c]);
            }
            out.putLong(s.firstMs).putLong(s.lastMs).putLong(s.lastIndex);
            out.put((byte)((s.ended ? EventLink.FINAL : 0) | (s.closed ? 1 : 0)));
        }
    }

    /** Reads what {@link #writeTo} wrote, replacing what the table held. */
    void readFrom(final ByteBuffer in)
    {
        streams.clear();
        undo.clear();
        for (int i = 0, n = in.getInt(); i < n; i++)
        {
            final Stream s = new Stream(in.getLong(), in.getLong());
            s.highestSeq = in.getLong();
            for (int c = 0; c < CLASSES; c++)
            {
                s.highest[c] = in.getLong();
            }
            s.firstMs = in.getLong();
            s.lastMs = in.getLong();
            s.lastIndex = in.getLong();
            s.restoredIndex = s.lastIndex;
            final byte flags = in.get();
            s.ended = (flags & EventLink.FINAL) != 0;
            s.closed = (flags & 1) != 0;
            streams.put(new Key(s.hashHi, s.hashLo), s);
        }
    }

    private static boolean anyBelow(final long[] a, final long[] b)
    {
        for (int c = 0; c < CLASSES; c++)
        {
            if (a[c] < b[c])
            {
                return true;
            }
        }
        return false;
    }

    private static boolean sameCounts(final long[] a, final long[] b)
    {
        for (int c = 0; c < CLASSES; c++)
        {
            if (a[c] != b[c])
            {
                return false;
            }
        }
        return true;
    }
}
