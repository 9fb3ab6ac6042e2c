package io.tokenmeter.core.archive;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * What is kept of a log file whose archive retention deleted ({@code NAME.cq4.digest}, beside its manifest): the
 * names it defined, and its <em>kept documents</em>: every document that held a control record (a price book put in
 * force, a credit grant: later invoices name them), every document a final invoice was computed at, and its last
 * document. Each kept document carries its position, append time and SHA-256 (a final invoice's chain hash is checked
 * against it), its control records whole, and the hour buckets (keys and counters as the aggregator holds them) of the
 * events of the documents since the kept document before it. So replaying the digest in place of the file gives the
 * same counters at each position an invoice was computed at, and totals stay provable after the events are gone.
 * Immutable; its file's SHA-256 is in the manifest.
 *
 * @param file                  the original log file's name.
 * @param firstIndex            the position of the file's first document.
 * @param lastIndex             the position of its last document (the last kept one).
 * @param documents             its documents.
 * @param previousDocumentSha256 the chain link its first document held (hex), or "" when it was not chained.
 * @param lastDocumentSha256    the SHA-256 of its last document, hex.
 * @param names                 the name records it held, in log order.
 * @param kept                  its kept documents, in log order; never empty.
 */
public record RetainedDigest(String file, long firstIndex, long lastIndex, long documents, String previousDocumentSha256,
    String lastDocumentSha256, List<Name> names, List<Kept> kept)
{
    /** The suffix of a digest's file name, after the original file's name. */
    public static final String SUFFIX = ".digest";
    private static final int MAGIC = 0x544D5244;
    private static final int FORMAT = 1;

    /** A name record: its type (tenant or model, as in the log), id and name. */
    public record Name(byte recordType, int id, byte[] utf8)
    {
    }

    /** A control record of a kept document, whole. */
    public record Control(int kind, long revision, byte[] payload)
    {
    }

    /**
     * A kept document.
     *
     * @param buckets the hour buckets of the events since the kept document before, each {@code [key, counters...,
     *                variant]} as {@code HourlyAggregator.exportBuckets} gives them.
     * @param events  the events among those documents.
     */
    public record Kept(long index, long appendTimeMs, String sha256, List<Control> controls, long events, long[][] buckets)
    {
    }

    /** Keeps unmodifiable copies of the lists. */
    public RetainedDigest
    {
        names = List.copyOf(names);
        kept = List.copyOf(kept);
        if (kept.isEmpty())
        {
            throw new IllegalArgumentException("a digest keeps at least the file's last document");
        }
    }

    /** @return the name of a digest's file for a log file's name. */
    public static String fileName(final String logFile)
    {
        return logFile + SUFFIX;
    }

    /** @return the SHA-256 (hex) of the kept document at {@code index}, or null when it is not a kept one. */
    public String sha256At(final long index)
    {
        for (final Kept document : kept)
        {
            if (document.index() == index)
            {
                return document.sha256();
            }
        }
        return null;
    }

    /** @return the events of the file, counted in its buckets. */
    public long events()
    {
        return kept.stream().mapToLong(Kept::events).sum();
    }

    /**
     * Writes the digest atomically to {@code path} (temporary file, fsync, rename, directory fsync).
     *
     * @return the SHA-256 of the file written, hex.
     */
    public String write(final Path path) throws IOException
    {
        final Path temp = path.resolveSibling(path.getFileName() + ".tmp");
        try (OutputStream stream = Files.newOutputStream(temp);
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(stream)))
        {
            out.writeInt(MAGIC);
            out.writeInt(FORMAT);
            out.writeUTF(file);
            out.writeLong(firstIndex);
            out.writeLong(lastIndex);
            out.writeLong(documents);
            out.writeUTF(previousDocumentSha256);
            out.writeUTF(lastDocumentSha256);
            out.writeInt(names.size());
            for (final Name name : names)
            {
                out.writeByte(name.recordType());
                out.writeInt(name.id());
                writeBytes(out, name.utf8());
            }
            out.writeInt(kept.size());
            for (final Kept document : kept)
            {
                out.writeLong(document.index());
                out.writeLong(document.appendTimeMs());
                out.writeUTF(document.sha256());
                out.writeInt(document.controls().size());
                for (final Control control : document.controls())
                {
                    out.writeInt(control.kind());
                    out.writeLong(control.revision());
                    writeBytes(out, control.payload());
                }
                out.writeLong(document.events());
                out.writeInt(document.buckets().length);
                for (final long[] bucket : document.buckets())
                {
                    out.writeInt(bucket.length);
                    for (final long value : bucket)
                    {
                        out.writeLong(value);
                    }
                }
            }
        }
        LogArchive.force(temp);
        Files.move(temp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        LogArchive.forceDirectory(path.getParent());
        return LogArchive.sha256Of(path);
    }

    /**
     * Reads a digest file.
     *
     * @throws IOException when it is missing or not a whole digest, naming the file.
     */
    public static RetainedDigest read(final Path path) throws IOException
    {
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(path))))
        {
            if (in.readInt() != MAGIC)
            {
                throw new IOException("not a tokenmeter digest");
            }
            final int format = in.readInt();
            if (format != FORMAT)
            {
                throw new IOException("of format " + format + "; this version reads format " + FORMAT);
            }
            final String file = in.readUTF();
            final long firstIndex = in.readLong();
            final long lastIndex = in.readLong();
            final long documents = in.readLong();
            final String previous = in.readUTF();
            final String last = in.readUTF();
            final List<Name> names = new ArrayList<>();
            for (int i = 0, n = count(in); i < n; i++)
            {
                names.add(new Name(in.readByte(), in.readInt(), readBytes(in)));
            }
            final List<Kept> kept = new ArrayList<>();
            for (int i = 0, n = count(in); i < n; i++)
            {
                final long index = in.readLong();
                final long appendTimeMs = in.readLong();
                final String sha256 = in.readUTF();
                final List<Control> controls = new ArrayList<>();
                for (int c = 0, m = count(in); c < m; c++)
                {
                    controls.add(new Control(in.readInt(), in.readLong(), readBytes(in)));
                }
                final long events = in.readLong();
                final long[][] buckets = new long[count(in)][];
                for (int b = 0; b < buckets.length; b++)
                {
                    buckets[b] = new long[count(in)];
                    for (int v = 0; v < buckets[b].length; v++)
                    {
                        buckets[b][v] = in.readLong();
                    }
                }
                kept.add(new Kept(index, appendTimeMs, sha256, controls, events, buckets));
            }
            if (in.read() != -1)
            {
                throw new IOException("it has bytes after its last kept document");
            }
            return new RetainedDigest(file, firstIndex, lastIndex, documents, previous, last, names, kept);
        }
        catch (final EOFException ex)
        {
            throw new IOException("digest " + path + " is truncated: restore it from the backup", ex);
        }
        catch (final IOException | IllegalArgumentException ex)
        {
            throw new IOException("digest " + path + " cannot be read (" + ex.getMessage() + "): restore it from the backup", ex);
        }
    }

    private static int count(final DataInputStream in) throws IOException
    {
        final int count = in.readInt();
        if (count < 0 || count > 1 << 28)
        {
            throw new IOException("a count of " + count + " is out of range: the file is damaged");
        }
        return count;
    }

    private static void writeBytes(final DataOutputStream out, final byte[] bytes) throws IOException
    {
        out.writeInt(bytes.length);
        out.write(bytes);
    }

    private static byte[] readBytes(final DataInputStream in) throws IOException
    {
        final int length = count(in);
        final byte[] bytes = in.readNBytes(length);
        if (bytes.length != length)
        {
            throw new EOFException();
        }
        return bytes;
    }
}
