package io.tokenmeter.core.log;

import io.tokenmeter.core.event.DamagedDocumentException;
import io.tokenmeter.core.event.LogDocumentReader;
import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.bytes.SyncMode;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.File;
import java.nio.file.Path;

/**
 * The append-only event log: a Chronicle Queue of raw documents (layout in
 * {@link io.tokenmeter.core.event.LogLayout}) under {@code DATA_DIR/log}, one file per UTC day.
 * The appender belongs to the one thread that calls {@link #append}; each reader makes its own {@link Reader}.
 * Log files are never deleted by the server: they are the record finance audits from.
 */
public final class EventLog implements AutoCloseable
{
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(EventLog.class);

    /** Index of "nothing yet": below every real Chronicle index. */
    public static final long NO_INDEX = -1L;

    private final SingleChronicleQueue queue;
    private final Durability durability;
    private ExcerptAppender appender;
    private int appendCycle = Integer.MIN_VALUE;
    private volatile Faults faults;
    private volatile File appendFile;
    private volatile long appendPosition;

    /** Lets a test inject append faults (see {@link Faults}); null for none. */
    public void useFaults(final Faults faults)
    {
        this.faults = faults;
    }

    public EventLog(final Path directory, final Durability durability)
    {
        this(directory, durability, false);
    }

    private EventLog(final Path directory, final Durability durability, final boolean readOnly)
    {
        this.durability = durability;
        this.queue = SingleChronicleQueueBuilder.binary(directory)
            .rollCycle(RollCycles.FAST_DAILY)
            .syncMode(durability == Durability.SYNC ? SyncMode.SYNC : SyncMode.NONE)
            .readOnly(readOnly)
            .build();
    }

    /** Opens an existing log for reading only (the audit tool), alongside a server that may be appending to it. */
    public static EventLog openReadOnly(final Path directory)
    {
        if (!java.nio.file.Files.isDirectory(directory))
        {
            throw new IllegalArgumentException("no log at " + directory);
        }
        return new EventLog(directory, Durability.PROCESS, true);
    }

    /**
     * Appends one document, and flushes it to disk first in {@link Durability#SYNC} mode. Journal thread only.
     *
     * @return the document's log index.
     */
    public long append(final DirectBuffer document, final int length)
    {
        final Faults injected = faults;
        if (injected != null)
        {
            injected.beforeAppend();
        }
        if (appender == null)
        {
            appender = queue.createAppender();
        }
        final long index;
        try (DocumentContext dc = appender.writingDocument())
        {
            final Bytes<?> bytes = dc.wire().bytes();
            final byte[] array = document.byteArray();
            if (array == null)
            {
                bytes.unsafeWrite(document.addressOffset(), length);
            }
            else
            {
                bytes.write(array, document.wrapAdjustment(), length);
            }
            index = dc.index();
            publishAppendPosition(bytes.writePosition());
        }
        if (durability == Durability.SYNC)
        {
            appender.sync();
        }
        return index;
    }

    private void publishAppendPosition(final long position)
    {
        final int cycle = appender.cycle();
        if (cycle != appendCycle)
        {
            appendCycle = cycle;
            appendFile = appender.currentFile();
        }
        appendPosition = position;
    }

    /** @return the file the last append went to, null before the first append. Any thread (for {@link LogPretouchAgent}). */
    public File appendFile()
    {
        return appendFile;
    }

    /** @return the byte position in {@link #appendFile()} just after the last append. Any thread. */
    public long appendPosition()
    {
        return appendPosition;
    }

    /** @return the index of the last document in the log, or {@link #NO_INDEX} when empty. */
    public long lastIndex()
    {
        final long index = queue.lastIndex();
        return index < 0 ? NO_INDEX : index;
    }

    public Durability durability()
    {
        return durability;
    }

    public Path directory()
    {
        return queue.file().toPath();
    }

    public Reader newReader()
    {
        return new Reader(queue.createTailer());
    }

    @Override
    public void close()
    {
        if (appender != null)
        {
            appender.close();
        }
        queue.close();
    }

    /**
     * A tailer that hands each document to a {@link LogDocumentReader}; owned by one thread. A damaged document is
     * skipped whole and logged at ERROR with its index.
     */
    public static final class Reader implements AutoCloseable
    {
        private final ExcerptTailer tailer;
        private final UnsafeBuffer view = new UnsafeBuffer(0, 0);
        private final LogDocumentReader documentReader = new LogDocumentReader();
        private long lastReadIndex = NO_INDEX;
        private long lastAppendTimeMs;

        private Reader(final ExcerptTailer tailer)
        {
            this.tailer = tailer;
        }

        /** Positions the reader just after the document at {@code index}; {@link #NO_INDEX} means the start. */
        public void startAfter(final long index)
        {
            if (index == NO_INDEX)
            {
                tailer.toStart();
                return;
            }
            if (!tailer.moveToIndex(index))
            {
                throw new IllegalStateException("log index " + Long.toHexString(index) + " is not in the log");
            }
            try (DocumentContext dc = tailer.readingDocument())
            {
                if (!dc.isPresent())
                {
                    throw new IllegalStateException("log index " + Long.toHexString(index) + " is not in the log");
                }
            }
            lastReadIndex = index;
        }

        /** Positions the reader at the document at {@code index} (it is read next). */
        public void startAt(final long index)
        {
            if (index == NO_INDEX)
            {
                tailer.toStart();
            }
            else if (!tailer.moveToIndex(index))
            {
                throw new IllegalStateException("log index " + Long.toHexString(index) + " is not in the log");
            }
        }

        /**
         * Reads the next document, if any.
         *
         * @return the document's index, or {@link #NO_INDEX} when there is none yet.
         */
        public long readNext(final LogDocumentReader.Handler handler, final DocumentListener listener)
        {
            try (DocumentContext dc = tailer.readingDocument())
            {
                if (!dc.isPresent())
                {
                    return NO_INDEX;
                }
                final Bytes<?> bytes = dc.wire().bytes();
                final long position = bytes.readPosition();
                final int length = (int)bytes.readRemaining();
                view.wrap(bytes.addressForRead(position, length), length);
                final long index = dc.index();
                long appendTimeMs;
                try
                {
                    appendTimeMs = documentReader.read(view, 0, length, handler);
                    lastAppendTimeMs = appendTimeMs;
                }
                catch (final DamagedDocumentException ex)
                {
                    // nothing of it was applied; its events were never counted, so skipping it counts nothing twice
                    LOG.error("log document at index {} ({} bytes) is damaged ({}): skipped whole, none of its records is "
                        + "counted; events in it were acknowledged unless it was the last document of a crash, so compare "
                        + "with the gateways' records", Long.toHexString(index), length, ex.getMessage());
                    appendTimeMs = lastAppendTimeMs;
                }
                lastReadIndex = index;
                listener.onDocumentEnd(index, appendTimeMs);
                return index;
            }
        }

        /**
         * Reads the one document at {@code index}.
         *
         * @return true when it was there.
         */
        public boolean readAt(final long index, final LogDocumentReader.Handler handler)
        {
            startAt(index);
            return readNext(handler, (i, t) -> { }) == index;
        }

        public long lastReadIndex()
        {
            return lastReadIndex;
        }

        @Override
        public void close()
        {
            tailer.close();
        }
    }

    /** Called after all records of a document were handed out. */
    @FunctionalInterface
    public interface DocumentListener
    {
        void onDocumentEnd(long index, long appendTimeMs);
    }
}
