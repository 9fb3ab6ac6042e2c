package io.tokenmeter.core.log;

import io.tokenmeter.core.archive.ArchiveManifest;
import io.tokenmeter.core.archive.LogArchive;
import io.tokenmeter.core.archive.RetainedDigest;
import io.tokenmeter.core.event.DamagedDocumentException;
import io.tokenmeter.core.event.LogDocumentReader;
import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.bytes.SyncMode;
import net.openhft.chronicle.core.time.TimeProvider;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.List;

/**
 * One partition's log on this machine: a Chronicle Queue of raw documents (layout in
 * {@link io.tokenmeter.core.event.LogLayout}) under {@code DATA_DIR/log/p-NNN}, one file per UTC day. A position is
 * Chronicle's index (cycle and sequence), which only grows.
 * The appender belongs to the one thread that calls {@link #append}; each reader makes its own {@link Reader}.
 * Log files are never deleted by the server: they are the record finance audits from. {@code tokenmeter archive}
 * replaces sealed ones by archives ({@link LogArchive}, in {@code archive/} of the log's directory), which readers read
 * through, transparently and at the same positions, before the live files.
 */
public final class ChronicleEventLog implements EventLog
{
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ChronicleEventLog.class);

    private final SingleChronicleQueue queue;
    private final Durability durability;
    private volatile LogArchive archive;
    private final ArchivedCycles archived;
    private final DayFiles days;
    private ExcerptAppender appender;
    private int appendCycle = Integer.MIN_VALUE;
    private volatile Faults faults;
    private volatile File appendFile;
    private volatile long appendPosition;
    /** The chain head: the SHA-256 of the last document, known once {@link #chainHeadKnown}. */
    private final byte[] lastDocumentSha256 = new byte[DocumentSha256.LENGTH];
    private boolean chainHeadKnown;
    private DocumentSha256 hasher;
    /** {@link Durability#SYNC}: the file {@link #syncChannel} flushes, the one the last append went to. Journal thread. */
    private File syncFile;
    private FileChannel syncChannel;
    /** Whether {@link #syncFile}'s metadata, directory entry and Chronicle's table store have been flushed. */
    private boolean syncNamesDurable;
    private volatile long syncFailures;

    @Override
    public void useFaults(final Faults faults)
    {
        this.faults = faults;
    }

    public ChronicleEventLog(final Path directory, final Durability durability)
    {
        this(directory, durability, false);
    }

    private ChronicleEventLog(final Path directory, final Durability durability, final boolean readOnly)
    {
        this.durability = durability;
        // the listing first: a damaged manifest stops the opening before there is a queue to close
        this.archive = LogArchive.of(directory);
        this.archived = new ArchivedCycles(archive);
        this.queue = SingleChronicleQueueBuilder.binary(directory)
            .rollCycle(RollCycles.FAST_DAILY)
            .syncMode(durability == Durability.SYNC ? SyncMode.SYNC : SyncMode.NONE)
            .readOnly(readOnly)
            .timeProvider(new ShiftableClock())
            .build();
        this.days = new DayFiles(directory, queue.rollCycle());
    }

    /**
     * The clock that decides which day's file an append goes to: the system's, moved on by {@link Faults#shiftLogClock}
     * when a test has set one (to write several days' files without waiting for days).
     */
    private final class ShiftableClock implements TimeProvider
    {
        @Override
        public long currentTimeMillis()
        {
            final Faults injected = faults;
            return System.currentTimeMillis() + (injected == null ? 0 : injected.logClockShiftMs());
        }
    }

    /** Opens an existing log for reading only (the audit tool), alongside a server that may be appending to it. */
    public static ChronicleEventLog openReadOnly(final Path directory)
    {
        if (!Files.isDirectory(directory))
        {
            throw new IllegalArgumentException("no log at " + directory);
        }
        return new ChronicleEventLog(directory, Durability.PROCESS, true);
    }

    /** Appends one document, and flushes it to disk first in {@link Durability#SYNC} mode. Journal thread only. */
    @Override
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
        // the document is in the queue from here on (a failed sync below does not take it back), so it is the head
        chainHasher().hash(document, 0, length, lastDocumentSha256);
        chainHeadKnown = true;
        if (durability == Durability.SYNC)
        {
            syncForPowerCut();
        }
        return index;
    }

    /**
     * Makes the document, and everything a reader needs to find it after a power cut, durable before its ack
     * (docs/log-format.md, "Power cuts"): an fdatasync of the whole cycle file, so its header (write position and
     * sequence) and index pages are on disk with the document; Chronicle's {@code appender.sync()} msyncs only the
     * pages from its previous sync to the write position. The first append to a file (a new day, or the first since
     * the log was opened) also fsyncs the file's metadata, Chronicle's {@code metadata.cq4t} (its directory listing),
     * the log's directory and its parent (so the new file's name survives), and at a roll the previous file once more
     * (its end-of-file marker). A failed flush is logged at ERROR and the document stays acknowledged: it is in the
     * log and will be counted, so refusing it would count a retry twice (decision 231).
     */
    private void syncForPowerCut()
    {
        final File file = appendFile;
        try
        {
            if (!file.equals(syncFile))
            {
                // at a roll, the end-of-file marker Chronicle wrote into the previous day's file sends readers on
                closeSyncChannel(true);
                syncChannel = FileChannel.open(file.toPath(), StandardOpenOption.READ);
                syncFile = file;
                syncNamesDurable = false;
            }
            if (syncNamesDurable)
            {
                syncChannel.force(false);
            }
            else
            {
                // the document and the file's length and metadata first, then what names the file
                syncChannel.force(true);
                final Path directory = file.toPath().getParent();
                fsync(directory.resolve(SingleChronicleQueue.QUEUE_METADATA_FILE));
                fsync(directory);
                if (directory.getParent() != null)
                {
                    fsync(directory.getParent());
                }
                syncNamesDurable = true;
            }
        }
        catch (final IOException | UncheckedIOException ex)
        {
            syncFailures++;
            LOG.error("could not flush {} to disk (durability sync): the documents appended since its last flush may "
                + "not survive a power cut; check the disk: {}", file, ex.toString());
        }
    }

    /** @return flushes of {@link Durability#SYNC} that failed since the log was opened. Any thread (the metrics). */
    public long syncFailures()
    {
        return syncFailures;
    }

    private static void fsync(final Path path) throws IOException
    {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ))
        {
            channel.force(true);
        }
    }

    private void closeSyncChannel(final boolean flushFirst)
    {
        if (syncChannel != null)
        {
            try
            {
                if (flushFirst)
                {
                    syncChannel.force(false);
                }
            }
            catch (final IOException ex)
            {
                syncFailures++;
                LOG.error("could not flush {} to disk (durability sync) before moving to the next file: {}", syncFile,
                    ex.toString());
            }
            try
            {
                syncChannel.close();
            }
            catch (final IOException ex)
            {
                LOG.warn("could not close {}: {}", syncFile, ex.toString());
            }
            syncChannel = null;
            syncFile = null;
        }
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

    @Override
    public byte[] lastDocumentSha256()
    {
        if (!chainHeadKnown)
        {
            final long last = lastIndex();
            if (last != NO_INDEX)
            {
                try (Reader reader = newReader())
                {
                    reader.startAt(last);
                    if (reader.readNextRaw((i, buffer, offset, length) -> chainHasher().hash(buffer, offset, length,
                        lastDocumentSha256)) != last)
                    {
                        throw new IllegalStateException("the last document of " + describe() + " (index "
                            + Long.toHexString(last) + ") could not be read to continue the log's hash chain");
                    }
                }
            }
            chainHeadKnown = true;
        }
        return lastDocumentSha256;
    }

    private DocumentSha256 chainHasher()
    {
        if (hasher == null)
        {
            hasher = new DocumentSha256();
        }
        return hasher;
    }

    @Override
    public long lastIndex()
    {
        final long index = queue.lastIndex();
        return index < 0 ? NO_INDEX : index;
    }

    @Override
    public Durability durability()
    {
        return durability;
    }

    public Path directory()
    {
        return queue.file().toPath();
    }

    @Override
    public String describe()
    {
        return directory().toString();
    }

    @Override
    public Reader newReader()
    {
        return new TailerReader(queue.createTailer());
    }

    @Override
    public void close()
    {
        closeSyncChannel(false);
        if (appender != null)
        {
            appender.close();
        }
        archived.close();
        queue.close();
    }

    /** @return the log's archives, as listed when it was opened or last {@link #refreshArchive refreshed}. */
    public LogArchive archive()
    {
        return archive;
    }

    /** Lists the archives again, for the readers made from now on and for those moving to another file. Any thread. */
    public void refreshArchive()
    {
        final LogArchive newer = LogArchive.of(directory());
        archived.update(newer);
        archive = newer;
    }

    /** @return the log's day files: positions to days, file names, the live files. */
    public DayFiles days()
    {
        return days;
    }

    /**
     * A tailer that hands each document to a {@link LogDocumentReader}; owned by one thread. It reads the archived
     * files first, each through a queue of its own, and then the live files. A damaged document is skipped whole and
     * logged at ERROR with its index; a missing or damaged archive stops it with an exception naming the archive.
     */
    private final class TailerReader implements Reader
    {
        private final ExcerptTailer live;
        private final UnsafeBuffer view = new UnsafeBuffer(0, 0);
        private final LogDocumentReader documentReader = new LogDocumentReader();
        private long lastReadIndex = NO_INDEX;
        private long lastAppendTimeMs;
        /** The archived file being read, or null while reading the live files. */
        private ArchivedCycles.Unpacked unpacked;
        private ExcerptTailer unpackedTailer;
        /** The digest of a file retention deleted being read in its place, or null. */
        private RetainedDigest retained;
        private int retainedCycle;
        /** The next of its kept documents to hand out. */
        private int retainedAt;
        private final UnsafeBuffer keptBytes = new UnsafeBuffer(0, 0);

        private TailerReader(final ExcerptTailer live)
        {
            this.live = live;
        }

        private ExcerptTailer tailer()
        {
            return unpacked == null ? live : unpackedTailer;
        }

        @Override
        public void startAfter(final long index)
        {
            if (index == NO_INDEX)
            {
                startAt(NO_INDEX);
                return;
            }
            startAt(index);
            if (retained != null)
            {
                retainedAt++;
                lastReadIndex = index;
                return;
            }
            try (DocumentContext dc = tailer().readingDocument())
            {
                if (!dc.isPresent())
                {
                    throw new IllegalStateException("log index " + Long.toHexString(index) + " is not in the log");
                }
            }
            lastReadIndex = index;
        }

        @Override
        public void startAt(final long index)
        {
            retained = null;
            if (index == NO_INDEX)
            {
                final Integer oldest = archived.retainedAfter(Integer.MIN_VALUE);
                if (oldest != null)
                {
                    openRetained(oldest, 0);
                    return;
                }
                final Integer first = archived.after(Integer.MIN_VALUE);
                if (first == null)
                {
                    toStartOfLive(Integer.MIN_VALUE);
                }
                else
                {
                    openArchived(first).toStart();
                }
                return;
            }
            final int cycle = days.cycleOf(index);
            if (archived.isRetained(cycle))
            {
                final List<RetainedDigest.Kept> kept = archived.digest(cycle).kept();
                for (int k = 0; k < kept.size(); k++)
                {
                    if (kept.get(k).index() == index)
                    {
                        openRetained(cycle, k);
                        return;
                    }
                }
            }
            final ExcerptTailer tailer;
            if (archived.contains(cycle))
            {
                tailer = openArchived(cycle);
            }
            else
            {
                closeArchived();
                tailer = live;
            }
            if (!tailer.moveToIndex(index))
            {
                final ArchiveManifest manifest = archive.manifest(cycle);
                throw new IllegalStateException("log index " + Long.toHexString(index) + " is not in the log"
                    + (manifest != null && manifest.deleted() ? ": its file " + manifest.file() + " was deleted by retention at "
                        + Instant.ofEpochMilli(manifest.deletedAtMs()) : ""));
            }
        }

        /**
         * Points the live tailer at the first document of the live files after {@code afterCycle} (Chronicle's own start
         * can name a file archived since, and a file both archived and live is read from its archive).
         */
        private void toStartOfLive(final int afterCycle)
        {
            closeArchived();
            if (afterCycle == Integer.MIN_VALUE && archived.isEmpty())
            {
                live.toStart();
                return;
            }
            for (final int cycle : days.live().tailSet(afterCycle, false))
            {
                if (!archived.contains(cycle) && live.moveToIndex(days.firstIndexOf(cycle)))
                {
                    return;
                }
            }
            // nothing live after the archives yet: the tailer waits at the end of the live files, or at the start when
            // there is none (every file archived), where Chronicle's end is not reachable
            if (days.live().isEmpty())
            {
                live.toStart();
            }
            else
            {
                live.toEnd();
            }
        }

        /** Reads the digest of a file retention deleted, from its kept document {@code at}. */
        private void openRetained(final int cycle, final int at)
        {
            closeArchived();
            retained = archived.digest(cycle);
            retainedCycle = cycle;
            retainedAt = at;
        }

        /** @return the next kept document of the digest being read, moving on past digests read whole; null when none. */
        private RetainedDigest.Kept nextRetained()
        {
            while (retained != null)
            {
                if (retainedAt < retained.kept().size())
                {
                    return retained.kept().get(retainedAt);
                }
                retained = null;
                final Integer next = archived.retainedAfter(retainedCycle);
                final Integer archivedNext = archived.after(retainedCycle);
                if (next != null)
                {
                    openRetained(next, 0);
                }
                else if (archivedNext != null)
                {
                    openArchived(archivedNext).toStart();
                }
                else
                {
                    toStartOfLive(retainedCycle);
                }
            }
            return null;
        }

        /** Hands a kept document to a handler: the digest's names first, then its control records and its buckets. */
        private void handOut(final RetainedDigest.Kept kept, final LogDocumentReader.Handler handler)
        {
            if (retainedAt == 0)
            {
                for (final RetainedDigest.Name name : retained.names())
                {
                    keptBytes.wrap(name.utf8());
                    handler.onName(name.recordType(), name.id(), keptBytes, 0, name.utf8().length);
                }
            }
            for (final RetainedDigest.Control control : kept.controls())
            {
                keptBytes.wrap(control.payload());
                handler.onControl(control.kind(), control.revision(), keptBytes, 0, control.payload().length, kept.appendTimeMs());
            }
            for (final long[] bucket : kept.buckets())
            {
                handler.onRetainedBucket(bucket);
            }
            handler.onRetainedEvents(kept.events());
        }

        private ExcerptTailer openArchived(final int cycle)
        {
            if (unpacked != null && unpacked.cycle == cycle)
            {
                return unpackedTailer;
            }
            closeArchived();
            unpacked = archived.acquire(cycle);
            unpackedTailer = unpacked.queue.createTailer();
            return unpackedTailer;
        }

        private void closeArchived()
        {
            if (unpacked != null)
            {
                unpackedTailer.close();
                archived.release(unpacked);
                unpacked = null;
                unpackedTailer = null;
            }
        }

        /**
         * @return the next document's context (present), moving from an archived file to the next and then to the live
         * files; null when there is none yet.
         */
        private DocumentContext nextDocument()
        {
            while (true)
            {
                final DocumentContext dc = tailer().readingDocument();
                if (dc.isPresent())
                {
                    return dc;
                }
                dc.close();
                if (unpacked == null)
                {
                    return null;
                }
                final ArchiveManifest manifest = archived.manifest(unpacked.cycle);
                if (manifest != null && lastReadIndex < manifest.lastIndex())
                {
                    throw new IllegalStateException("the archived log file " + manifest.file() + " ends before its last "
                        + "document (log index " + Long.toHexString(manifest.lastIndex()) + ", its manifest says; the last read "
                        + "is " + Long.toHexString(lastReadIndex) + "): restore its archive from the backup");
                }
                final Integer next = archived.after(unpacked.cycle);
                if (next == null)
                {
                    toStartOfLive(unpacked.cycle);
                }
                else
                {
                    openArchived(next).toStart();
                }
            }
        }

        @Override
        public long readNext(final LogDocumentReader.Handler handler, final DocumentListener listener)
        {
            final RetainedDigest.Kept kept = nextRetained();
            if (kept != null)
            {
                handOut(kept, handler);
                retainedAt++;
                lastReadIndex = kept.index();
                lastAppendTimeMs = kept.appendTimeMs();
                listener.onDocumentEnd(kept.index(), kept.appendTimeMs());
                return kept.index();
            }
            final DocumentContext next = nextDocument();
            if (next == null)
            {
                return NO_INDEX;
            }
            try (DocumentContext dc = next)
            {
                final int length = wrap(dc);
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

        @Override
        public long readNextRaw(final RawDocumentListener listener)
        {
            if (nextRetained() != null)
            {
                final RetainedDigest digest = retained;
                listener.onRetained(digest);
                retainedAt = digest.kept().size();
                lastReadIndex = digest.lastIndex();
                return digest.lastIndex();
            }
            final DocumentContext next = nextDocument();
            if (next == null)
            {
                return NO_INDEX;
            }
            try (DocumentContext dc = next)
            {
                final int length = wrap(dc);
                final long index = dc.index();
                lastReadIndex = index;
                listener.onDocument(index, view, 0, length);
                return index;
            }
        }

        /** Points {@link #view} at the document's bytes in the queue's memory. @return its length. */
        private int wrap(final DocumentContext dc)
        {
            final Bytes<?> bytes = dc.wire().bytes();
            final long position = bytes.readPosition();
            final int length = (int)bytes.readRemaining();
            view.wrap(bytes.addressForRead(position, length), length);
            return length;
        }

        @Override
        public long lastReadIndex()
        {
            return lastReadIndex;
        }

        @Override
        public void close()
        {
            closeArchived();
            live.close();
        }
    }
}
