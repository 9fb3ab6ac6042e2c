package io.tokenmeter.core.dedup;

import org.agrona.BitUtil;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;

/**
 * The layout of a segment file, its name, and reading one back. All fields little-endian.
 *
 * <pre>
 *   file:   [header 64 B][records: ids x 16 B][directory: (2^bits + 1) x 4 B, padded to 8][filter: blocks x 64 B]
 *
 *   header:  0 magic "TMDS" i32 | 4 version u16 | 6 level u16 | 8 firstBatch i64 | 16 lastBatch i64 | 24 ids i64
 *           32 oldestAcceptedAtMs i64 | 40 newestAcceptedAtMs i64 | 48 filterBlocks i32 | 52 directoryBits i32
 *           56 bodyCrc i32 (CRC32C of directory and filter) | 60 headerCrc i32 (CRC32C of bytes 0..59)
 *
 *   record:  0 idHashHi i64 | 8 idLo32 u32 (the high half of idHashLo) | 12 contentFold u32
 *            sorted by (idHashHi, idLo32) as unsigned numbers, no key twice
 *
 *   directory[j] = index of the first record whose top {@code bits} bits of idHashHi are >= j (so records of
 *   bucket j are [directory[j], directory[j + 1])); bits = floor(log2(ids / 32)), about 32 to 64 records a bucket
 * </pre>
 *
 * Name: {@code seg-L<level>-<firstBatch 12 digits>-<lastBatch 12 digits>.dedup}, written first as the same name plus
 * {@code .tmp}, forced and renamed. The records are not covered by a checksum: a file only gets its name after
 * {@link FileChannel#force} and its length is checked against the header, so a torn write never carries a segment
 * name; the parts read into memory (header, directory, filter) are checked on every open.
 */
final class SegmentFile
{
    static final int HEADER_LENGTH = 64;
    static final int RECORD_BYTES = 16;
    static final int MAGIC = 0x53444D54;
    static final int VERSION = 1;
    /** Most ids in one segment: directory indexes are ints, and merges stop well before. */
    static final long MAX_IDS = 1L << 30;
    static final String SUFFIX = ".dedup";
    static final String TMP_SUFFIX = ".tmp";

    static final int MAGIC_OFFSET = 0;
    static final int VERSION_OFFSET = 4;
    static final int LEVEL_OFFSET = 6;
    static final int FIRST_BATCH_OFFSET = 8;
    static final int LAST_BATCH_OFFSET = 16;
    static final int IDS_OFFSET = 24;
    static final int OLDEST_OFFSET = 32;
    static final int NEWEST_OFFSET = 40;
    static final int FILTER_BLOCKS_OFFSET = 48;
    static final int DIRECTORY_BITS_OFFSET = 52;
    static final int BODY_CRC_OFFSET = 56;
    static final int HEADER_CRC_OFFSET = 60;

    private static final Pattern NAME = Pattern.compile("seg-L(\\d{1,3})-(\\d{12})-(\\d{12})\\.dedup");
    private static final int READ_CHUNK = 1 << 20;

    private SegmentFile()
    {
    }

    static String fileName(final int level, final long firstBatch, final long lastBatch)
    {
        return String.format("seg-L%d-%012d-%012d%s", level, firstBatch, lastBatch, SUFFIX);
    }

    static boolean isSegmentName(final String name)
    {
        return NAME.matcher(name).matches();
    }

    static int directoryBitsFor(final long ids)
    {
        final long perBucket = 32;
        return ids < 2 * perBucket ? 0 : 63 - Long.numberOfLeadingZeros(ids / perBucket);
    }

    static long directoryOffset(final long ids)
    {
        return HEADER_LENGTH + ids * RECORD_BYTES;
    }

    static long directoryBytes(final int directoryBits)
    {
        return BitUtil.align(((1L << directoryBits) + 1) * Integer.BYTES, Long.BYTES);
    }

    static long filterOffset(final long ids, final int directoryBits)
    {
        return directoryOffset(ids) + directoryBytes(directoryBits);
    }

    static long fileLength(final long ids, final int directoryBits, final int filterBlocks)
    {
        return filterOffset(ids, directoryBits) + (long)filterBlocks * SegmentFilter.BLOCK_BYTES;
    }

    /** The directory bucket of an id: its top {@code bits} bits (0 when bits is 0). */
    static int bucket(final long idHashHi, final int directoryBits)
    {
        return (int)((idHashHi >>> 1) >>> (63 - directoryBits));
    }

    static int headerCrc(final UnsafeBuffer header)
    {
        final CRC32C crc = new CRC32C();
        crc.update(header.byteBuffer().duplicate().position(0).limit(HEADER_CRC_OFFSET));
        return (int)crc.getValue();
    }

    /**
     * Reads and checks a sealed segment: header, name, length, directory and filter.
     *
     * @throws IOException when the file cannot be read or fails a check (the message says which).
     */
    static Segment load(final Path path) throws IOException
    {
        final Matcher name = NAME.matcher(path.getFileName().toString());
        if (!name.matches())
        {
            throw new IOException("not a segment name");
        }
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ))
        {
            final UnsafeBuffer header = new UnsafeBuffer(ByteBuffer.allocateDirect(HEADER_LENGTH));
            readFully(channel, header.byteBuffer().clear(), 0);
            if (header.getInt(MAGIC_OFFSET, ByteOrder.LITTLE_ENDIAN) != MAGIC)
            {
                throw new IOException("bad magic");
            }
            if (header.getInt(HEADER_CRC_OFFSET, ByteOrder.LITTLE_ENDIAN) != headerCrc(header))
            {
                throw new IOException("header checksum mismatch");
            }
            if (header.getShort(VERSION_OFFSET, ByteOrder.LITTLE_ENDIAN) != VERSION)
            {
                throw new IOException("unknown version " + header.getShort(VERSION_OFFSET, ByteOrder.LITTLE_ENDIAN));
            }
            final int level = header.getShort(LEVEL_OFFSET, ByteOrder.LITTLE_ENDIAN);
            final long firstBatch = header.getLong(FIRST_BATCH_OFFSET, ByteOrder.LITTLE_ENDIAN);
            final long lastBatch = header.getLong(LAST_BATCH_OFFSET, ByteOrder.LITTLE_ENDIAN);
            final long ids = header.getLong(IDS_OFFSET, ByteOrder.LITTLE_ENDIAN);
            final int filterBlocks = header.getInt(FILTER_BLOCKS_OFFSET, ByteOrder.LITTLE_ENDIAN);
            final int directoryBits = header.getInt(DIRECTORY_BITS_OFFSET, ByteOrder.LITTLE_ENDIAN);
            if (level != Integer.parseInt(name.group(1)) || firstBatch != Long.parseLong(name.group(2))
                || lastBatch != Long.parseLong(name.group(3)))
            {
                throw new IOException("header does not match the file name");
            }
            if (ids < 0 || ids > MAX_IDS || filterBlocks < 1 || directoryBits < 0 || directoryBits > 30)
            {
                throw new IOException("header fields out of range");
            }
            final long length = fileLength(ids, directoryBits, filterBlocks);
            if (channel.size() != length)
            {
                throw new IOException("length " + channel.size() + " is not the " + length + " its header implies");
            }
            final CRC32C crc = new CRC32C();
            final int[] directory = new int[(1 << directoryBits) + 1];
            final long[] filter = SegmentFilter.allocate(filterBlocks);
            final ByteBuffer chunk = ByteBuffer.allocateDirect(READ_CHUNK).order(ByteOrder.LITTLE_ENDIAN);
            long position = directoryOffset(ids);
            int done = 0;
            final long directoryEnd = position + directoryBytes(directoryBits);
            while (position < directoryEnd)
            {
                final int n = (int)Math.min(READ_CHUNK, directoryEnd - position);
                readFully(channel, chunk.clear().limit(n), position);
                crc.update(chunk.flip().duplicate());
                final int count = Math.min(n / Integer.BYTES, directory.length - done);
                chunk.asIntBuffer().get(directory, done, count);
                done += count;
                position += n;
            }
            done = SegmentFilter.PAD;
            while (position < length)
            {
                final int n = (int)Math.min(READ_CHUNK, length - position);
                readFully(channel, chunk.clear().limit(n), position);
                crc.update(chunk.flip().duplicate());
                chunk.asLongBuffer().get(filter, done, n / Long.BYTES);
                done += n / Long.BYTES;
                position += n;
            }
            if ((int)crc.getValue() != header.getInt(BODY_CRC_OFFSET, ByteOrder.LITTLE_ENDIAN))
            {
                throw new IOException("directory or filter checksum mismatch");
            }
            if (directory[0] != 0 || directory[directory.length - 1] != ids)
            {
                throw new IOException("directory does not span the records");
            }
            return new Segment(path, level, firstBatch, lastBatch, ids, header.getLong(OLDEST_OFFSET, ByteOrder.LITTLE_ENDIAN),
                header.getLong(NEWEST_OFFSET, ByteOrder.LITTLE_ENDIAN), length, filter, directory, directoryBits);
        }
    }

    static void readFully(final FileChannel channel, final ByteBuffer into, final long position) throws IOException
    {
        long at = position;
        while (into.hasRemaining())
        {
            final int n = channel.read(into, at);
            if (n < 0)
            {
                throw new IOException("unexpected end of file at " + at);
            }
            at += n;
        }
    }
}
