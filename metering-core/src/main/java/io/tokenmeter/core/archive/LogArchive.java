package io.tokenmeter.core.archive;

import com.github.luben.zstd.ZstdInputStream;
import com.github.luben.zstd.ZstdOutputStream;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestInputStream;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.IntPredicate;

/**
 * The archives of one partition's log, in {@code LOG_DIR/archive/}: per sealed log file that was archived, the file
 * compressed with zstd ({@code NAME.cq4.zst}) and its {@link ArchiveManifest} ({@code NAME.cq4.manifest}). A manifest
 * is written only once its archive was read back and found whole, so an archive without one is the remains of an
 * interrupted run and is ignored (and replaced by the next run); the original file is removed only after the manifest.
 *
 * <p>Files are written atomically (temporary file, fsync, rename, directory fsync). An instance is a listing made
 * when it was opened; it is not updated by later runs. Any thread.
 */
public final class LogArchive
{
    /** The folder of a log's archives, inside the log's directory (Chronicle reads only the files beside it). */
    public static final String DIRECTORY = "archive";
    /** The zstd level of new archives: about 3 times smaller than the live files at several hundred MB/s. */
    public static final int LEVEL = 3;
    private static final int CHUNK = 1 << 16;
    private static final HexFormat HEX = HexFormat.of();

    private final Path directory;
    private final TreeMap<Integer, ArchiveManifest> byCycle;

    private LogArchive(final Path directory, final TreeMap<Integer, ArchiveManifest> byCycle)
    {
        this.directory = directory;
        this.byCycle = byCycle;
    }

    /**
     * Lists the archives of the log in {@code logDirectory} (none when it has no archive folder).
     *
     * @throws UncheckedIOException when a manifest cannot be read: a damaged manifest is never passed over.
     */
    public static LogArchive of(final Path logDirectory)
    {
        final Path directory = logDirectory.resolve(DIRECTORY);
        final TreeMap<Integer, ArchiveManifest> byCycle = new TreeMap<>();
        if (Files.isDirectory(directory))
        {
            try (DirectoryStream<Path> manifests = Files.newDirectoryStream(directory, "*" + ArchiveManifest.SUFFIX))
            {
                for (final Path path : manifests)
                {
                    final ArchiveManifest manifest = ArchiveManifest.read(path);
                    if (!path.getFileName().toString().equals(manifest.manifestFile()))
                    {
                        throw new IOException("archive manifest " + path + " describes " + manifest.file()
                            + ": it was renamed or altered; restore it from the backup");
                    }
                    byCycle.put(manifest.cycle(), manifest);
                }
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException("cannot read the archives in " + directory + ": " + ex.getMessage(), ex);
            }
        }
        return new LogArchive(directory, byCycle);
    }

    /** @return the archive folder, {@code LOG_DIR/archive} (it may not exist yet). */
    public Path directory()
    {
        return directory;
    }

    /** @return true when no file of the log was ever archived. */
    public boolean isEmpty()
    {
        return byCycle.isEmpty();
    }

    /** @return every manifest (archived and deleted by retention), by cycle. */
    public List<ArchiveManifest> manifests()
    {
        return List.copyOf(byCycle.values());
    }

    /** @return the manifest of a cycle, or null when it was not archived. */
    public ArchiveManifest manifest(final int cycle)
    {
        return byCycle.get(cycle);
    }

    /** @return the path of a manifest's archive file. */
    public Path archivePath(final ArchiveManifest manifest)
    {
        return directory.resolve(manifest.archiveFile());
    }

    /** @return the path of the digest retention keeps of a manifest's file. */
    public Path digestPath(final ArchiveManifest manifest)
    {
        return directory.resolve(manifest.digestFile());
    }

    /**
     * Retention: writes the digest of an archived file, then its manifest marked deleted (naming the digest's SHA-256),
     * and only then deletes the archive. A run killed before the manifest leaves the archive as it was (the digest is
     * written again by the next run); one killed after it leaves an archive no reader uses, which the next run removes.
     *
     * @return the manifest as it is now.
     */
    public ArchiveManifest retain(final ArchiveManifest manifest, final RetainedDigest digest, final long nowMs) throws IOException
    {
        if (digest.firstIndex() != manifest.firstIndex() || digest.lastIndex() != manifest.lastIndex()
            || !digest.lastDocumentSha256().equals(manifest.lastDocumentSha256()))
        {
            throw new IOException("the digest of " + manifest.file() + " does not describe its archive (positions "
                + Long.toHexString(digest.firstIndex()) + "-" + Long.toHexString(digest.lastIndex()) + ", manifest "
                + Long.toHexString(manifest.firstIndex()) + "-" + Long.toHexString(manifest.lastIndex()) + "): not deleted");
        }
        final String digestSha256 = digest.write(digestPath(manifest));
        final ArchiveManifest deleted = manifest.retained(nowMs, digestSha256);
        write(deleted);
        removeRetainedArchive(deleted);
        return deleted;
    }

    /** Deletes the archive of a manifest retention marked deleted (a run killed before the deletion leaves it). */
    public void removeRetainedArchive(final ArchiveManifest manifest) throws IOException
    {
        if (manifest.deleted() && Files.deleteIfExists(archivePath(manifest)))
        {
            forceDirectory(directory);
        }
    }

    /**
     * Reads the digest of a file retention deleted and checks it against its manifest (SHA-256, positions, chain ends).
     *
     * @throws IOException when it is missing, damaged or not the one the manifest names, naming it.
     */
    public RetainedDigest digest(final ArchiveManifest manifest) throws IOException
    {
        final Path path = digestPath(manifest);
        if (!Files.exists(path))
        {
            throw new IOException("the digest " + path + " of " + manifest.file() + ", deleted by retention, is missing: restore "
                + "it from the backup (the file's totals cannot be proven without it)");
        }
        final String sha256 = sha256Of(path);
        if (!sha256.equals(manifest.digestSha256()))
        {
            throw new IOException("the digest " + path + " has SHA-256 " + sha256 + ", its manifest says " + manifest.digestSha256()
                + ": altered or damaged; restore it from the backup");
        }
        final RetainedDigest digest = RetainedDigest.read(path);
        if (!digest.file().equals(manifest.file()) || digest.firstIndex() != manifest.firstIndex()
            || digest.lastIndex() != manifest.lastIndex() || !digest.lastDocumentSha256().equals(manifest.lastDocumentSha256())
            || !digest.previousDocumentSha256().equals(manifest.previousDocumentSha256()))
        {
            throw new IOException("the digest " + path + " describes " + digest.file() + " positions "
                + Long.toHexString(digest.firstIndex()) + "-" + Long.toHexString(digest.lastIndex()) + ", not what its manifest "
                + "says: restore it from the backup");
        }
        return digest;
    }

    /** @return the tenant names defined by the archived files before {@code cycle}, by their id in the log. */
    public Map<Integer, String> tenantsBefore(final int cycle)
    {
        final Map<Integer, String> tenants = new TreeMap<>();
        byCycle.headMap(cycle, false).values().forEach(m -> tenants.putAll(m.tenants()));
        return tenants;
    }

    /**
     * Compresses a sealed log file into {@code NAME.cq4.zst}, reads the archive back and checks it decompresses to the
     * original byte for byte, and only then writes the manifest. The original is left in place (the caller removes it
     * once this returns).
     *
     * @param original the sealed log file.
     * @param summary  the manifest's fields that describe the file's documents; its sizes and hashes are filled in here.
     * @return the manifest written.
     * @throws IOException when it cannot be written or does not read back whole: nothing is left that a reader takes
     *                     for an archive.
     */
    public ArchiveManifest pack(final Path original, final ArchiveManifest summary) throws IOException
    {
        Files.createDirectories(directory);
        final String name = original.getFileName().toString();
        final Path archive = directory.resolve(name + ArchiveManifest.ARCHIVE_SUFFIX);
        final Path temp = directory.resolve(name + ArchiveManifest.ARCHIVE_SUFFIX + ".tmp");
        final MessageDigest originalDigest = sha256();
        final MessageDigest archiveDigest = sha256();
        long originalBytes = 0;
        try (InputStream in = new DigestInputStream(Files.newInputStream(original), originalDigest);
            OutputStream file = Files.newOutputStream(temp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE);
            ZstdOutputStream out = new ZstdOutputStream(new DigestOutputStream(file, archiveDigest), LEVEL))
        {
            final byte[] chunk = new byte[CHUNK];
            int read;
            while ((read = in.read(chunk)) > 0)
            {
                out.write(chunk, 0, read);
                originalBytes += read;
            }
        }
        force(temp);
        Files.move(temp, archive, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        forceDirectory(directory);
        final String originalSha256 = HEX.formatHex(originalDigest.digest());
        final String archiveSha256 = HEX.formatHex(archiveDigest.digest());
        final ArchiveManifest manifest = new ArchiveManifest(summary.partition(), summary.cycle(), name,
            summary.previousCycle(), summary.firstIndex(), summary.lastIndex(), summary.documents(), summary.events(),
            summary.firstAppendMs(), summary.lastAppendMs(), originalBytes, originalSha256, Files.size(archive),
            archiveSha256, summary.previousDocumentSha256(), summary.lastDocumentSha256(), summary.archivedAtMs(), 0, "",
            summary.tenants());
        final String problem = verify(manifest, true);
        if (problem != null)
        {
            Files.deleteIfExists(archive);
            throw new IOException("the archive of " + original + " did not read back whole (" + problem + "); the "
                + "original is kept");
        }
        write(manifest);
        return manifest;
    }

    /** Writes (replacing) a manifest atomically. */
    public void write(final ArchiveManifest manifest) throws IOException
    {
        Files.createDirectories(directory);
        final Path temp = directory.resolve(manifest.manifestFile() + ".tmp");
        Files.writeString(temp, manifest.toText(), StandardCharsets.UTF_8);
        force(temp);
        Files.move(temp, directory.resolve(manifest.manifestFile()), StandardCopyOption.ATOMIC_MOVE,
            StandardCopyOption.REPLACE_EXISTING);
        forceDirectory(directory);
    }

    /**
     * Checks an archive against its manifest: it is there, of its length and, when {@code whole}, of its SHA-256 and
     * decompressing to the original's length and SHA-256.
     *
     * @return null when it is whole, else what is wrong, in a sentence that names the file.
     */
    public String verify(final ArchiveManifest manifest, final boolean whole)
    {
        final Path archive = archivePath(manifest);
        try
        {
            final long size = Files.size(archive);
            if (size != manifest.archiveBytes())
            {
                return "archive " + archive + " is " + size + " bytes, its manifest says " + manifest.archiveBytes()
                    + " (truncated or replaced)";
            }
            if (!whole)
            {
                return null;
            }
            final String archiveSha256 = sha256Of(archive);
            if (!archiveSha256.equals(manifest.archiveSha256()))
            {
                return "archive " + archive + " has SHA-256 " + archiveSha256 + ", its manifest says "
                    + manifest.archiveSha256() + " (altered or damaged)";
            }
            final MessageDigest originalDigest = sha256();
            long originalBytes = 0;
            try (InputStream in = new ZstdInputStream(Files.newInputStream(archive)))
            {
                final byte[] chunk = new byte[CHUNK];
                int read;
                while ((read = in.read(chunk)) > 0)
                {
                    originalDigest.update(chunk, 0, read);
                    originalBytes += read;
                }
            }
            final String originalSha256 = HEX.formatHex(originalDigest.digest());
            if (originalBytes != manifest.originalBytes() || !originalSha256.equals(manifest.originalSha256()))
            {
                return "archive " + archive + " decompresses to " + originalBytes + " bytes of SHA-256 " + originalSha256
                    + ", not the original's " + manifest.originalBytes() + " bytes of " + manifest.originalSha256();
            }
            return null;
        }
        catch (final NoSuchFileException ex)
        {
            return "archive " + archive + " of log file " + manifest.file() + " (positions "
                + Long.toHexString(manifest.firstIndex()) + " to " + Long.toHexString(manifest.lastIndex()) + ", "
                + manifest.events() + " events) is missing; restore it from the backup";
        }
        catch (final IOException ex)
        {
            return "archive " + archive + " cannot be read whole (" + ex.getMessage() + "): damaged or truncated";
        }
    }

    /**
     * Decompresses an archive into {@code into/NAME.cq4}, checking its SHA-256 and the original's as it goes; runs of
     * zero bytes (the unwritten end of a Chronicle file) are left as holes.
     *
     * @throws IOException when the archive is missing or not whole, naming it: a reader never passes over one.
     */
    public Path unpack(final ArchiveManifest manifest, final Path into) throws IOException
    {
        final Path archive = archivePath(manifest);
        final Path target = into.resolve(manifest.file());
        final MessageDigest archiveDigest = sha256();
        final MessageDigest originalDigest = sha256();
        long written = 0;
        try (InputStream in = new ZstdInputStream(new DigestInputStream(Files.newInputStream(archive), archiveDigest));
            FileChannel out = FileChannel.open(target, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))
        {
            final byte[] chunk = new byte[CHUNK];
            int read;
            while ((read = in.readNBytes(chunk, 0, CHUNK)) > 0)
            {
                originalDigest.update(chunk, 0, read);
                if (!allZero(chunk, read))
                {
                    out.write(ByteBuffer.wrap(chunk, 0, read), written);
                }
                written += read;
            }
            out.truncate(written);
            if (out.size() < written)
            {
                out.write(ByteBuffer.wrap(new byte[1]), written - 1);
            }
        }
        catch (final NoSuchFileException ex)
        {
            throw new IOException(verify(manifest, false), ex);
        }
        catch (final IOException ex)
        {
            throw new IOException("archive " + archive + " cannot be read whole (" + ex.getMessage() + "): damaged or "
                + "truncated; restore it from the backup", ex);
        }
        final String archiveSha256 = HEX.formatHex(archiveDigest.digest());
        final String originalSha256 = HEX.formatHex(originalDigest.digest());
        if (!archiveSha256.equals(manifest.archiveSha256()) || written != manifest.originalBytes()
            || !originalSha256.equals(manifest.originalSha256()))
        {
            throw new IOException("archive " + archive + " is not the one its manifest describes (archive SHA-256 "
                + archiveSha256 + ", manifest " + manifest.archiveSha256() + "; original " + written + " bytes of "
                + originalSha256 + ", manifest " + manifest.originalBytes() + " of " + manifest.originalSha256()
                + "): altered or damaged; restore it from the backup");
        }
        return target;
    }

    /**
     * @return every problem with the archives as a listing: each archive checked as {@link #verify} does (whole when
     * {@code whole}), and each manifest's previous file present as a live file, an archive or a manifest of retention.
     */
    public List<String> problems(final boolean whole, final IntPredicate liveCycle)
    {
        final List<String> problems = new ArrayList<>();
        for (final ArchiveManifest manifest : byCycle.values())
        {
            if (!manifest.deleted())
            {
                final String problem = verify(manifest, whole);
                if (problem != null)
                {
                    problems.add(problem);
                }
            }
            else
            {
                try
                {
                    digest(manifest);
                }
                catch (final IOException ex)
                {
                    problems.add(ex.getMessage());
                }
            }
            final int previous = manifest.previousCycle();
            if (previous >= 0 && !byCycle.containsKey(previous) && !liveCycle.test(previous))
            {
                problems.add("the log file before " + manifest.file() + " (cycle " + previous + ") is neither in the log nor "
                    + "in " + directory + ": its archive and manifest are missing; restore them from the backup");
            }
        }
        return problems;
    }

    /** @return the SHA-256 of a file, hex. */
    public static String sha256Of(final Path file) throws IOException
    {
        final MessageDigest digest = sha256();
        try (InputStream in = Files.newInputStream(file))
        {
            final byte[] chunk = new byte[CHUNK];
            int read;
            while ((read = in.read(chunk)) > 0)
            {
                digest.update(chunk, 0, read);
            }
        }
        return HEX.formatHex(digest.digest());
    }

    private static boolean allZero(final byte[] chunk, final int length)
    {
        for (int i = 0; i < length; i++)
        {
            if (chunk[i] != 0)
            {
                return false;
            }
        }
        return true;
    }

    private static MessageDigest sha256()
    {
        try
        {
            return MessageDigest.getInstance("SHA-256");
        }
        catch (final NoSuchAlgorithmException ex)
        {
            throw new IllegalStateException("this JVM has no SHA-256", ex);
        }
    }

    static void force(final Path file) throws IOException
    {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE))
        {
            channel.force(true);
        }
    }

    /** Makes a rename or removal in {@code directory} durable. */
    public static void forceDirectory(final Path directory) throws IOException
    {
        try (FileChannel channel = FileChannel.open(directory, StandardOpenOption.READ))
        {
            channel.force(true);
        }
    }
}
