package io.tokenmeter.core.archive;

import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * What an archive of one sealed log file holds, written next to it as {@code CYCLE_FILE.manifest} (a properties file)
 * after the archive was verified, so a manifest is the proof that its archive is whole: the partition, the file's
 * first and last position, its documents and events, the SHA-256 of the original and of the archive, and the hash
 * chain's two ends (the link its first document holds and the hash of its last document), with which the chain is
 * checked across archives, and across files deleted by retention. Immutable.
 *
 * @param partition             the partition of the log.
 * @param cycle                 the file's Chronicle cycle (its UTC day).
 * @param file                  the original file's name, e.g. {@code 20261001F.cq4}.
 * @param previousCycle         the cycle of the log's file before this one when it was archived, or -1 when it was the first.
 * @param firstIndex            the position of its first document.
 * @param lastIndex             the position of its last document.
 * @param documents             its documents.
 * @param events                its events.
 * @param firstAppendMs         the append time of its first document.
 * @param lastAppendMs          the append time of its last document.
 * @param originalBytes         the original file's length.
 * @param originalSha256        the original file's SHA-256, hex.
 * @param archiveBytes          the archive's length.
 * @param archiveSha256         the archive's SHA-256, hex.
 * @param previousDocumentSha256 the chain link its first document holds (hex; 64 zeros for a log's first document), or
 *                              "" when that document is not chained (written before version 3).
 * @param lastDocumentSha256    the SHA-256 of its last document, hex: the link the next file's first document holds.
 * @param archivedAtMs          when it was archived.
 * @param deletedAtMs           when retention deleted the archive (the manifest is kept), or 0 while it is there.
 * @param digestSha256          the SHA-256 of the {@link RetainedDigest} retention kept of the file (hex), or "" while the
 *                              archive is there.
 * @param tenants               the tenant names the file defines, by their id in the log (a reader of a later file needs them).
 */
public record ArchiveManifest(
    int partition,
    int cycle,
    String file,
    int previousCycle,
    long firstIndex,
    long lastIndex,
    long documents,
    long events,
    long firstAppendMs,
    long lastAppendMs,
    long originalBytes,
    String originalSha256,
    long archiveBytes,
    String archiveSha256,
    String previousDocumentSha256,
    String lastDocumentSha256,
    long archivedAtMs,
    long deletedAtMs,
    String digestSha256,
    Map<Integer, String> tenants)
{
    /** The suffix of a manifest's file name, after the original file's name. */
    public static final String SUFFIX = ".manifest";
    /** The suffix of an archive's file name, after the original file's name. */
    public static final String ARCHIVE_SUFFIX = ".zst";
    private static final int FORMAT = 1;
    private static final String TENANT = "tenant.";

    /** Keeps an unmodifiable copy of the tenant names. */
    public ArchiveManifest
    {
        tenants = Map.copyOf(tenants);
    }

    /** @return the name of the archive file, e.g. {@code 20261001F.cq4.zst}. */
    public String archiveFile()
    {
        return file + ARCHIVE_SUFFIX;
    }

    /** @return the name of the digest file retention keeps of the log file, e.g. {@code 20261001F.cq4.digest}. */
    public String digestFile()
    {
        return RetainedDigest.fileName(file);
    }

    /** @return this manifest as retention leaves it: the archive deleted at {@code nowMs}, its digest of that SHA-256 kept. */
    public ArchiveManifest retained(final long nowMs, final String digestSha256)
    {
        return new ArchiveManifest(partition, cycle, file, previousCycle, firstIndex, lastIndex, documents, events,
            firstAppendMs, lastAppendMs, originalBytes, originalSha256, archiveBytes, archiveSha256, previousDocumentSha256,
            lastDocumentSha256, archivedAtMs, nowMs, digestSha256, tenants);
    }

    /** @return the name of this manifest's file, e.g. {@code 20261001F.cq4.manifest}. */
    public String manifestFile()
    {
        return file + SUFFIX;
    }

    /** @return true when retention has deleted the archive (its events are no longer readable). */
    public boolean deleted()
    {
        return deletedAtMs != 0;
    }

    /** @return the manifest as the text of its file. */
    public String toText()
    {
        final Properties properties = new Properties();
        properties.setProperty("format", Integer.toString(FORMAT));
        properties.setProperty("partition", Integer.toString(partition));
        properties.setProperty("cycle", Integer.toString(cycle));
        properties.setProperty("file", file);
        properties.setProperty("previous_cycle", Integer.toString(previousCycle));
        properties.setProperty("first_index", Long.toHexString(firstIndex));
        properties.setProperty("last_index", Long.toHexString(lastIndex));
        properties.setProperty("documents", Long.toString(documents));
        properties.setProperty("events", Long.toString(events));
        properties.setProperty("first_append_ms", Long.toString(firstAppendMs));
        properties.setProperty("last_append_ms", Long.toString(lastAppendMs));
        properties.setProperty("original_bytes", Long.toString(originalBytes));
        properties.setProperty("original_sha256", originalSha256);
        properties.setProperty("archive_file", archiveFile());
        properties.setProperty("archive_bytes", Long.toString(archiveBytes));
        properties.setProperty("archive_sha256", archiveSha256);
        properties.setProperty("previous_document_sha256", previousDocumentSha256);
        properties.setProperty("last_document_sha256", lastDocumentSha256);
        properties.setProperty("archived_at_ms", Long.toString(archivedAtMs));
        properties.setProperty("deleted_at_ms", Long.toString(deletedAtMs));
        properties.setProperty("digest_sha256", digestSha256);
        new TreeMap<>(tenants).forEach((id, name) -> properties.setProperty(TENANT + id, name));
        final StringWriter out = new StringWriter();
        try
        {
            properties.store(out, "tokenmeter archive of one sealed log file: written after the archive was verified");
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException(ex);
        }
        return out.toString();
    }

    /**
     * Reads a manifest file.
     *
     * @throws IOException when it cannot be read, or is not a complete manifest (the message names the file and field).
     */
    public static ArchiveManifest read(final Path path) throws IOException
    {
        final Properties properties = new Properties();
        try (Reader in = Files.newBufferedReader(path, StandardCharsets.UTF_8))
        {
            properties.load(in);
        }
        final Fields fields = new Fields(path, properties);
        if (fields.integer("format") != FORMAT)
        {
            throw new IOException("archive manifest " + path + " is of format " + properties.getProperty("format")
                + "; this version reads format " + FORMAT);
        }
        final Map<Integer, String> tenants = new TreeMap<>();
        for (final String key : properties.stringPropertyNames())
        {
            if (key.startsWith(TENANT))
            {
                try
                {
                    tenants.put(Integer.parseInt(key.substring(TENANT.length())), properties.getProperty(key));
                }
                catch (final NumberFormatException ex)
                {
                    throw new IOException("archive manifest " + path + ": " + key + " does not name a tenant id", ex);
                }
            }
        }
        return new ArchiveManifest(fields.integer("partition"), fields.integer("cycle"), fields.text("file"),
            fields.integer("previous_cycle"), fields.hex("first_index"), fields.hex("last_index"), fields.number("documents"),
            fields.number("events"), fields.number("first_append_ms"), fields.number("last_append_ms"),
            fields.number("original_bytes"), fields.text("original_sha256"), fields.number("archive_bytes"),
            fields.text("archive_sha256"), properties.getProperty("previous_document_sha256", ""),
            fields.text("last_document_sha256"), fields.number("archived_at_ms"), fields.number("deleted_at_ms"),
            properties.getProperty("digest_sha256", "").trim(), tenants);
    }

    /** The fields of a manifest being read; a missing or malformed one is an error naming the file. */
    private record Fields(Path path, Properties properties)
    {
        String text(final String key) throws IOException
        {
            final String value = properties.getProperty(key);
            if (value == null || value.isBlank())
            {
                throw new IOException("archive manifest " + path + " has no " + key + ": it is damaged; restore it from "
                    + "the backup");
            }
            return value.trim();
        }

        long number(final String key) throws IOException
        {
            try
            {
                return Long.parseLong(text(key));
            }
            catch (final NumberFormatException ex)
            {
                throw new IOException("archive manifest " + path + ": " + key + " is not a number", ex);
            }
        }

        int integer(final String key) throws IOException
        {
            final long value = number(key);
            if (value < Integer.MIN_VALUE || value > Integer.MAX_VALUE)
            {
                throw new IOException("archive manifest " + path + ": " + key + " = " + value + " is out of range");
            }
            return (int)value;
        }

        long hex(final String key) throws IOException
        {
            try
            {
                return Long.parseUnsignedLong(text(key), 16);
            }
            catch (final NumberFormatException ex)
            {
                throw new IOException("archive manifest " + path + ": " + key + " is not a hexadecimal position", ex);
            }
        }
    }
}
