package io.tokenmeter.core.snapshot;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.zip.CRC32C;

/**
 * Writes and reads snapshot files {@code KIND-INDEX.snap} in one directory. File layout, little-endian:
 *
 * <pre>
 *  0        8          12              16              24
 *  +--------+----------+---------------+---------------+-------------+-------------+
 *  | magic  | version  | payloadLength | logIndex i64  | payload ... | crc32c i32  |
 *  +--------+----------+---------------+---------------+-------------+-------------+
 * </pre>
 *
 * {@code logIndex} is the log position the payload reflects; the CRC covers every byte before it.
 * A file is written to a temp name, forced to disk, renamed into place and the directory forced, so a crash leaves
 * either the old set of files or the new one. The newest two files of each kind are kept.
 */
public final class SnapshotStore
{
    private static final Logger LOG = LoggerFactory.getLogger(SnapshotStore.class);
    private static final long MAGIC = 0x31304e534d4b5454L; // "TTKMSN01" little-endian
    private static final int VERSION = 1;
    private static final int HEADER_LENGTH = 24;
    private static final int KEEP = 2;

    private final Path directory;

    public SnapshotStore(final Path directory)
    {
        this.directory = directory;
    }

    /** A snapshot read back: the log index it reflects and its payload. */
    public record Snapshot(Path file, long logIndex, ByteBuffer payload)
    {
    }

    /** When the newest snapshot of a kind was written and how long writing it took (0 when written by an earlier run). */
    public record WriteStats(long writtenAtMs, long durationNs)
    {
    }

    private final java.util.concurrent.ConcurrentHashMap<String, WriteStats> lastWrites = new java.util.concurrent.ConcurrentHashMap<>();

    /** @return the newest snapshot of the kind: written in this run, else the newest file's time; null when none. Any thread. */
    public WriteStats lastWrite(final String kind)
    {
        final WriteStats written = lastWrites.get(kind);
        if (written != null)
        {
            return written;
        }
        for (final Path file : list(kind))
        {
            try
            {
                return new WriteStats(Files.getLastModifiedTime(file).toMillis(), 0);
            }
            catch (final IOException ex)
            {
                // pruned meanwhile: try the next
            }
        }
        return null;
    }

    /** Writes a snapshot atomically and prunes older ones of the same kind. */
    /**
     * Writes a snapshot and logs, rather than throws, a failure: a snapshot that is not written only makes the next
     * start replay more of the log. The one place the agents' periodic and final snapshots are written.
     *
     * @return true when it was written.
     */
    public boolean writeOrWarn(final String kind, final long logIndex, final ByteBuffer payload)
    {
        try
        {
            write(kind, logIndex, payload);
            return true;
        }
        catch (final Exception ex)
        {
            LOG.warn("{} snapshot at log index {} not written in {}: {}", kind, Long.toHexString(logIndex), directory,
                ex.toString());
            return false;
        }
    }

    public synchronized Path write(final String kind, final long logIndex, final ByteBuffer payload) throws IOException
    {
        final long startNs = System.nanoTime();
        final Path written = writeFile(kind, logIndex, payload);
        lastWrites.put(kind, new WriteStats(System.currentTimeMillis(), System.nanoTime() - startNs));
        return written;
    }

    private Path writeFile(final String kind, final long logIndex, final ByteBuffer payload) throws IOException
    {
        Files.createDirectories(directory);
        final int payloadLength = payload.remaining();
        final ByteBuffer header = ByteBuffer.allocate(HEADER_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        header.putLong(MAGIC).putInt(VERSION).putInt(payloadLength).putLong(logIndex).flip();
        final CRC32C crc = new CRC32C();
        crc.update(header.duplicate());
        crc.update(payload.duplicate());
        final ByteBuffer trailer = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        trailer.putInt((int)crc.getValue()).flip();

        final Path target = directory.resolve(fileName(kind, logIndex));
        final Path temp = directory.resolve(fileName(kind, logIndex) + ".tmp");
        try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING))
        {
            final ByteBuffer body = payload.duplicate();
            while (header.hasRemaining() || body.hasRemaining() || trailer.hasRemaining())
            {
                channel.write(new ByteBuffer[] {header, body, trailer});
            }
            channel.force(true);
        }
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        forceDirectory();
        prune(kind);
        return target;
    }

    /**
     * @return the newest snapshot of the kind whose checksum holds, skipping (and logging) damaged ones; the
     * {@code acceptable} test lets a caller skip snapshots it cannot use (for example, beyond the log's end).
     */
    public Optional<Snapshot> loadNewest(final String kind, final java.util.function.LongPredicate acceptable)
    {
        for (final Path file : list(kind))
        {
            try
            {
                final Snapshot snapshot = read(file);
                if (acceptable.test(snapshot.logIndex()))
                {
                    return Optional.of(snapshot);
                }
                LOG.warn("snapshot {} reflects log index {} which the log does not hold; skipped",
                    file.getFileName(), Long.toHexString(snapshot.logIndex()));
            }
            catch (final IOException | RuntimeException ex)
            {
                LOG.warn("snapshot {} is damaged ({}); trying an older one", file.getFileName(), ex.getMessage());
            }
        }
        return Optional.empty();
    }

    /** @return the snapshot files of a kind, newest first. */
    public List<Path> list(final String kind)
    {
        final List<Path> files = new ArrayList<>();
        if (!Files.isDirectory(directory))
        {
            return files;
        }
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(directory, kind + "-*.snap"))
        {
            stream.forEach(files::add);
        }
        catch (final IOException ex)
        {
            LOG.warn("cannot list snapshots in {}: {}", directory, ex.getMessage());
        }
        files.sort(Comparator.comparing((Path p) -> p.getFileName().toString()).reversed());
        return files;
    }

    public Path directory()
    {
        return directory;
    }

    private static Snapshot read(final Path file) throws IOException
    {
        final byte[] bytes = Files.readAllBytes(file);
        if (bytes.length < HEADER_LENGTH + 4)
        {
            throw new IOException("truncated: " + bytes.length + " bytes");
        }
        final ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (buffer.getLong(0) != MAGIC || buffer.getInt(8) != VERSION)
        {
            throw new IOException("not a tokenmeter snapshot of version " + VERSION);
        }
        final int payloadLength = buffer.getInt(12);
        if (payloadLength < 0 || HEADER_LENGTH + payloadLength + 4 != bytes.length)
        {
            throw new IOException("length " + bytes.length + " does not match payload length " + payloadLength);
        }
        final CRC32C crc = new CRC32C();
        crc.update(bytes, 0, HEADER_LENGTH + payloadLength);
        if ((int)crc.getValue() != buffer.getInt(HEADER_LENGTH + payloadLength))
        {
            throw new IOException("checksum mismatch");
        }
        final ByteBuffer payload = ByteBuffer.wrap(bytes, HEADER_LENGTH, payloadLength).slice().order(ByteOrder.LITTLE_ENDIAN);
        return new Snapshot(file, buffer.getLong(16), payload);
    }

    private void prune(final String kind)
    {
        final List<Path> files = list(kind);
        for (int i = KEEP; i < files.size(); i++)
        {
            try
            {
                Files.deleteIfExists(files.get(i));
            }
            catch (final IOException ex)
            {
                LOG.warn("cannot delete old snapshot {}: {}", files.get(i), ex.getMessage());
            }
        }
    }

    private void forceDirectory()
    {
        try (FileChannel dir = FileChannel.open(directory, StandardOpenOption.READ))
        {
            dir.force(true);
        }
        catch (final IOException ex)
        {
            LOG.debug("directory fsync not supported here: {}", ex.getMessage());
        }
    }

    private static String fileName(final String kind, final long logIndex)
    {
        return String.format("%s-%016x.snap", kind, logIndex);
    }
}
