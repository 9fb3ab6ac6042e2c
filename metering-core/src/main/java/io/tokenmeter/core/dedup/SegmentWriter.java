package io.tokenmeter.core.dedup;

import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;
import java.util.zip.CRC32C;

/**
 * Writes one segment file from records given in key order (the layout is in {@link SegmentFile}), building its
 * filter and directory on the way: to {@code name.tmp}, then {@link FileChannel#force}, rename, and a force of the
 * directory, so that once {@link #seal} returns the segment survives a crash under its final name. Used by the
 * background thread only; one writer per file, reused buffers between files.
 */
final class SegmentWriter
{
    static final int WRITE_CHUNK = 1 << 22;
    /**
     * Segments of at most this many ids (64 MiB of records) are young: there are many of them (up to three of each
     * level below, and the merges' outputs) and every new id probes each one's filter, so their false positives, each a
     * search of mapped records, add up; at full rate these searches were a tenth of the journals' samples. Their
     * filters take {@link #YOUNG_BITS_PER_ID} bits an id (0.09 % false positives instead of 0.43 % at 12), which costs
     * little memory because they hold few ids: at most about 21 M ids of a partition (up to 4 segments of each of the
     * young levels, spill batches of 65,536 ids), so at most 10.5 MB more heap.
     */
    static final long YOUNG_MAX_IDS = 1L << 22;
    static final int YOUNG_BITS_PER_ID = 16;

    private final ByteBuffer out = ByteBuffer.allocateDirect(WRITE_CHUNK).order(ByteOrder.LITTLE_ENDIAN);
    /** {@link #out} as an Agrona view: records are written at {@link #outAt}, without ByteBuffer position checks. */
    private final UnsafeBuffer outView = new UnsafeBuffer(out);
    /** Bytes of records written into {@link #out} since its last flush ({@link #add} only; seal writes relative). */
    private int outAt;
    private final int bitsPerId;
    private final BooleanSupplier cancelled;

    private Path tmp;
    private FileChannel channel;
    private long position;
    private long ids;
    private long maxIds;
    private long lastHi;
    private int lastLo32;
    private long[] filter;
    private int filterBlocks;
    private int[] directory;
    private int directoryBits;
    private int directoryFilled;

    /**
     * @param bitsPerId filter bits per id.
     * @param cancelled polled once per written chunk; when true the write stops with a {@link CancellationException}.
     */
    SegmentWriter(final int bitsPerId, final BooleanSupplier cancelled)
    {
        this.bitsPerId = bitsPerId;
        this.cancelled = cancelled;
    }

    /** Starts a file that will hold at most {@code maxIds} records (the filter and directory are sized for it). */
    void begin(final Path tmpPath, final long maxIds) throws IOException
    {
        if (maxIds > SegmentFile.MAX_IDS)
        {
            throw new IllegalArgumentException("segment of " + maxIds + " ids exceeds " + SegmentFile.MAX_IDS);
        }
        this.tmp = tmpPath;
        this.maxIds = maxIds;
        this.channel = FileChannel.open(tmpPath, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE);
        this.position = SegmentFile.HEADER_LENGTH;
        this.ids = 0;
        this.filterBlocks = SegmentFilter.blocksFor(maxIds, bitsPerIdFor(maxIds, bitsPerId));
        this.filter = SegmentFilter.allocate(filterBlocks);
        this.directoryBits = SegmentFile.directoryBitsFor(maxIds);
        this.directory = new int[(1 << directoryBits) + 1];
        this.directoryFilled = 0;
        out.clear();
        outAt = 0;
    }

    /** @return the filter bits per id of a segment of at most {@code maxIds} ids: see {@link #YOUNG_MAX_IDS}. */
    static int bitsPerIdFor(final long maxIds, final int bitsPerId)
    {
        return maxIds <= YOUNG_MAX_IDS ? Math.max(bitsPerId, YOUNG_BITS_PER_ID) : bitsPerId;
    }

    /**
     * Appends a record; keys must not decrease. A key equal to the previous one is skipped (the caller gives the
     * newest copy of a key first).
     */
    void add(final long idHashHi, final int idLo32, final int contentFold) throws IOException
    {
        if (ids > 0)
        {
            final int order = compare(idHashHi, idLo32, lastHi, lastLo32);
            if (order == 0)
            {
                return;
            }
            if (order < 0)
            {
                throw new IllegalStateException("segment records out of order");
            }
        }
        if (ids == maxIds)
        {
            throw new IllegalStateException("more than " + maxIds + " records in a segment");
        }
        final int bucket = SegmentFile.bucket(idHashHi, directoryBits);
        while (directoryFilled <= bucket)
        {
            directory[directoryFilled++] = (int)ids;
        }
        SegmentFilter.add(filter, filterBlocks, idHashHi, idLo32);
        if (outAt + SegmentFile.RECORD_BYTES > WRITE_CHUNK)
        {
            flush();
        }
        outView.putLong(outAt, idHashHi, ByteOrder.LITTLE_ENDIAN);
        outView.putInt(outAt + 8, idLo32, ByteOrder.LITTLE_ENDIAN);
        outView.putInt(outAt + 12, contentFold, ByteOrder.LITTLE_ENDIAN);
        outAt += SegmentFile.RECORD_BYTES;
        lastHi = idHashHi;
        lastLo32 = idLo32;
        ids++;
    }

    long ids()
    {
        return ids;
    }

    /**
     * Writes directory, filter and header, forces the file, renames it to {@code finalPath} and forces the folder.
     *
     * @return the sealed segment.
     */
    Segment seal(final Path finalPath, final int level, final long firstBatch, final long lastBatch,
        final long oldestAcceptedAtMs, final long newestAcceptedAtMs) throws IOException
    {
        flush();
        while (directoryFilled < directory.length)
        {
            directory[directoryFilled++] = (int)ids;
        }
        final CRC32C crc = new CRC32C();
        for (final int entry : directory)
        {
            if (out.remaining() < Integer.BYTES)
            {
                flush(crc);
            }
            out.putInt(entry);
        }
        while ((out.position() & 7) != 0)
        {
            out.put((byte)0);
        }
        for (int i = SegmentFilter.PAD; i < filter.length; i++)
        {
            if (out.remaining() < Long.BYTES)
            {
                flush(crc);
            }
            out.putLong(filter[i]);
        }
        flush(crc);
        final long length = SegmentFile.fileLength(ids, directoryBits, filterBlocks);
        if (position != length)
        {
            throw new IllegalStateException("segment length " + position + " != " + length);
        }
        final UnsafeBuffer header = new UnsafeBuffer(ByteBuffer.allocateDirect(SegmentFile.HEADER_LENGTH));
        header.putInt(SegmentFile.MAGIC_OFFSET, SegmentFile.MAGIC, ByteOrder.LITTLE_ENDIAN);
        header.putShort(SegmentFile.VERSION_OFFSET, (short)SegmentFile.VERSION, ByteOrder.LITTLE_ENDIAN);
        header.putShort(SegmentFile.LEVEL_OFFSET, (short)level, ByteOrder.LITTLE_ENDIAN);
        header.putLong(SegmentFile.FIRST_BATCH_OFFSET, firstBatch, ByteOrder.LITTLE_ENDIAN);
        header.putLong(SegmentFile.LAST_BATCH_OFFSET, lastBatch, ByteOrder.LITTLE_ENDIAN);
        header.putLong(SegmentFile.IDS_OFFSET, ids, ByteOrder.LITTLE_ENDIAN);
        header.putLong(SegmentFile.OLDEST_OFFSET, oldestAcceptedAtMs, ByteOrder.LITTLE_ENDIAN);
        header.putLong(SegmentFile.NEWEST_OFFSET, newestAcceptedAtMs, ByteOrder.LITTLE_ENDIAN);
        header.putInt(SegmentFile.FILTER_BLOCKS_OFFSET, filterBlocks, ByteOrder.LITTLE_ENDIAN);
        header.putInt(SegmentFile.DIRECTORY_BITS_OFFSET, directoryBits, ByteOrder.LITTLE_ENDIAN);
        header.putInt(SegmentFile.BODY_CRC_OFFSET, (int)crc.getValue(), ByteOrder.LITTLE_ENDIAN);
        header.putInt(SegmentFile.HEADER_CRC_OFFSET, SegmentFile.headerCrc(header), ByteOrder.LITTLE_ENDIAN);
        final ByteBuffer headerBytes = header.byteBuffer().clear();
        long at = 0;
        while (headerBytes.hasRemaining())
        {
            at += channel.write(headerBytes, at);
        }
        channel.force(true);
        channel.close();
        channel = null;
        Files.move(tmp, finalPath, StandardCopyOption.ATOMIC_MOVE);
        forceDirectory(finalPath.getParent());
        final Segment segment = new Segment(finalPath, level, firstBatch, lastBatch, ids, oldestAcceptedAtMs,
            newestAcceptedAtMs, length, filter, directory, directoryBits);
        filter = null;
        directory = null;
        return segment;
    }

    /** Closes and deletes the file being written, if any. */
    void abort()
    {
        if (channel != null)
        {
            try
            {
                channel.close();
                Files.deleteIfExists(tmp);
            }
            catch (final IOException ignored)
            {
                // the next open deletes a leftover .tmp
            }
            channel = null;
        }
        filter = null;
        directory = null;
    }

    /** Closes the file being written and leaves it where it is, as a crash would. */
    void abandon()
    {
        if (channel != null)
        {
            try
            {
                channel.close();
            }
            catch (final IOException ignored)
            {
                // as a crash would
            }
            channel = null;
        }
    }

    static void forceDirectory(final Path directory) throws IOException
    {
        try (FileChannel dir = FileChannel.open(directory, StandardOpenOption.READ))
        {
            dir.force(true);
        }
    }

    static int compare(final long hiA, final int loA, final long hiB, final int loB)
    {
        final int byHi = Long.compareUnsigned(hiA, hiB);
        return byHi != 0 ? byHi : Integer.compareUnsigned(loA, loB);
    }

    private void flush() throws IOException
    {
        flush(null);
    }

    private void flush(final CRC32C crc) throws IOException
    {
        if (cancelled.getAsBoolean())
        {
            throw new CancellationException();
        }
        if (outAt > 0)
        {
            out.position(outAt);
            outAt = 0;
        }
        out.flip();
        if (crc != null)
        {
            crc.update(out.duplicate());
        }
        while (out.hasRemaining())
        {
            position += channel.write(out, position);
        }
        out.clear();
    }
}
