package io.tokenmeter.core.log;

import io.tokenmeter.core.archive.ArchiveManifest;
import io.tokenmeter.core.archive.LogArchive;
import io.tokenmeter.core.archive.RetainedDigest;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.NavigableSet;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * The archived files of one log that a reader reads through before the live files (a day both archived and still
 * live, when a run was stopped before it removed the original, is read from its verified archive): each is unpacked on first use into
 * a temporary folder of the archive directory and read as a Chronicle queue of its own (positions are the same, since
 * a file holds its cycle). The last {@link #IDLE_KEPT} unpacked files no reader holds are kept for the next reader
 * (the audit reads a log several times); the rest are removed. Shared by the log's readers: the listing is an
 * immutable set swapped whole (asking it never waits), and unpacking is synchronized (a reader that needs a day another
 * is unpacking waits for it).
 */
final class ArchivedCycles implements AutoCloseable
{
    /**
     * The name prefix of unpacking folders, followed by the process id and a dash: an archive run removes those of a
     * process that no longer runs, never one of a live process.
     */
    static final String UNPACKED_PREFIX = ".unpacked-";
    private static final int IDLE_KEPT = 2;

    private volatile LogArchive archive;
    private volatile NavigableSet<Integer> cycles;
    /** The cycles retention deleted, whose digests are read in their place; always the log's oldest. */
    private volatile NavigableSet<Integer> retainedCycles;
    /** The digest read last, kept for the next reader (readers go through the deleted files in order; a digest of a
     * busy day can take hundreds of MB, so not all are kept). */
    private int digestCycle = Integer.MIN_VALUE;
    private RetainedDigest digest;
    private final Map<Integer, Unpacked> unpacked = new HashMap<>();
    private final ArrayDeque<Unpacked> idle = new ArrayDeque<>();

    ArchivedCycles(final LogArchive archive)
    {
        update(archive);
    }

    /** Takes a new listing of the archives (a run has archived more files); files being read stay open. */
    void update(final LogArchive newer)
    {
        final NavigableSet<Integer> readable = new TreeSet<>();
        final NavigableSet<Integer> retained = new TreeSet<>();
        newer.manifests().forEach(m -> (m.deleted() ? retained : readable).add(m.cycle()));
        archive = newer;
        cycles = Collections.unmodifiableNavigableSet(readable);
        retainedCycles = Collections.unmodifiableNavigableSet(retained);
    }

    /** @return true when retention deleted the file of {@code cycle} (its digest is read instead). */
    boolean isRetained(final int cycle)
    {
        return retainedCycles.contains(cycle);
    }

    /** @return the first cycle retention deleted after {@code cycle} (any, for {@code Integer.MIN_VALUE}), or null. */
    Integer retainedAfter(final int cycle)
    {
        return retainedCycles.higher(cycle);
    }

    /**
     * @return the digest of a cycle retention deleted, read and checked (the last one read is kept for the next reader).
     * @throws IllegalStateException when it is missing or damaged, naming it: never passed over.
     */
    synchronized RetainedDigest digest(final int cycle)
    {
        if (digestCycle != cycle || digest == null)
        {
            try
            {
                digest = archive.digest(archive.manifest(cycle));
            }
            catch (final IOException ex)
            {
                throw new IllegalStateException(ex.getMessage(), ex);
            }
            digestCycle = cycle;
        }
        return digest;
    }

    /** @return true when no archive is readable (files retention deleted are not counted). */
    boolean isEmpty()
    {
        return cycles.isEmpty();
    }

    boolean contains(final int cycle)
    {
        return cycles.contains(cycle);
    }

    /** @return the first archived cycle after {@code cycle} (any, for {@code Integer.MIN_VALUE}), or null. */
    Integer after(final int cycle)
    {
        return cycles.higher(cycle);
    }

    /** @return the manifest of an archived cycle in the current listing. */
    ArchiveManifest manifest(final int cycle)
    {
        return archive.manifest(cycle);
    }

    /** An unpacked archive open as a queue, held by the readers that {@link #acquire} it. */
    static final class Unpacked
    {
        final int cycle;
        final Path folder;
        final SingleChronicleQueue queue;
        private int holders;

        private Unpacked(final int cycle, final Path folder, final SingleChronicleQueue queue)
        {
            this.cycle = cycle;
            this.folder = folder;
            this.queue = queue;
        }
    }

    /**
     * @return the archived file of {@code cycle}, unpacked and open, held until {@link #release}.
     * @throws IllegalStateException when its archive is missing or damaged, naming it: never passed over.
     */
    synchronized Unpacked acquire(final int cycle)
    {
        Unpacked open = unpacked.get(cycle);
        if (open == null)
        {
            final ArchiveManifest manifest = archive.manifest(cycle);
            Path folder = null;
            try
            {
                folder = temporaryFolder();
                archive.unpack(manifest, folder);
                final SingleChronicleQueue queue = SingleChronicleQueueBuilder.binary(folder).rollCycle(RollCycles.FAST_DAILY)
                    .build();
                open = new Unpacked(cycle, folder, queue);
                unpacked.put(cycle, open);
            }
            catch (final IOException | RuntimeException ex)
            {
                delete(folder);
                throw new IllegalStateException("the archived log file " + manifest.file() + " of " + archive.directory()
                    + " cannot be read: " + ex.getMessage(), ex);
            }
        }
        idle.remove(open);
        open.holders++;
        return open;
    }

    synchronized void release(final Unpacked open)
    {
        if (--open.holders == 0)
        {
            idle.addLast(open);
            while (idle.size() > IDLE_KEPT)
            {
                final Unpacked oldest = idle.removeFirst();
                unpacked.remove(oldest.cycle);
                oldest.queue.close();
                delete(oldest.folder);
            }
        }
    }

    @Override
    public synchronized void close()
    {
        for (final Unpacked open : unpacked.values())
        {
            open.queue.close();
            delete(open.folder);
        }
        unpacked.clear();
        idle.clear();
    }

    /** A folder in the archive directory (the disk that held the original), else in the system's temporary folder. */
    private Path temporaryFolder() throws IOException
    {
        try
        {
            return Files.createTempDirectory(archive.directory(), UNPACKED_PREFIX + ProcessHandle.current().pid() + "-");
        }
        catch (final IOException ex)
        {
            return Files.createTempDirectory("tokenmeter" + UNPACKED_PREFIX + ProcessHandle.current().pid() + "-");
        }
    }

    /** @return true for an unpacking folder whose process no longer runs (or of a name this version did not write). */
    static boolean abandoned(final Path folder)
    {
        final String name = folder.getFileName().toString();
        if (!name.startsWith(UNPACKED_PREFIX))
        {
            return false;
        }
        final String rest = name.substring(UNPACKED_PREFIX.length());
        final int dash = rest.indexOf('-');
        try
        {
            return dash <= 0 || ProcessHandle.of(Long.parseLong(rest.substring(0, dash))).map(p -> !p.isAlive()).orElse(true);
        }
        catch (final NumberFormatException ex)
        {
            return true;
        }
    }

    static void delete(final Path folder)
    {
        if (folder == null || !Files.exists(folder))
        {
            return;
        }
        try (Stream<Path> files = Files.walk(folder))
        {
            final Iterator<Path> deepestFirst = files.sorted(Comparator.reverseOrder()).iterator();
            while (deepestFirst.hasNext())
            {
                Files.deleteIfExists(deepestFirst.next());
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot remove the unpacked archive " + folder + ": " + ex.getMessage(), ex);
        }
    }
}
