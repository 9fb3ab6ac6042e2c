package io.tokenmeter.core.partition;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * Where a data directory keeps each partition's state, and how many partitions it has (fixed when it is created):
 *
 * <pre>
 *  DATA_DIR/layout.properties        partitions=N and log=WHERE (written once, atomically, when the directory is created)
 *  DATA_DIR/log/p-000/ ... p-NNN/    each partition's log
 *  DATA_DIR/snapshots/p-000/ ...     each partition's snapshots and journal checkpoints
 *  DATA_DIR/invoices/                final invoices (all partitions)
 * </pre>
 *
 * A directory of the one-log layout (log files directly in {@code DATA_DIR/log}, no {@code layout.properties}) opens
 * as one partition whose log is {@code DATA_DIR/log} and snapshots {@code DATA_DIR/snapshots}, without being
 * rewritten.
 *
 * <p>{@code log} says where the partitions' logs are, so that the snapshots, checkpoints and dedup files of the
 * directory are never read against another log: {@link #LOCAL_LOG} (the Chronicle queues under {@code DATA_DIR/log};
 * also a file without the key, and the one-log layout) or a Kafka topic of one Kafka cluster in cluster mode
 * ({@code kafka cluster ID topic PREFIX.log}). A server started on a directory of another log is refused. Immutable.
 */
public final class DataLayout
{
    /** The file that records the number of partitions. */
    public static final String LAYOUT_FILE = "layout.properties";
    /** Most partitions a directory may have (three digits in the folder names). */
    public static final int MAX_PARTITIONS = 1000;
    /** The {@code log} of a single node's directory: each partition's log a Chronicle queue in {@code DATA_DIR/log}. */
    public static final String LOCAL_LOG = "local";

    private final Path dataDir;
    private final int partitions;
    private final boolean oneLog;
    private final String log;

    private DataLayout(final Path dataDir, final int partitions, final boolean oneLog, final String log)
    {
        this.dataDir = dataDir;
        this.partitions = partitions;
        this.oneLog = oneLog;
        this.log = log;
    }

    /**
     * Opens the layout of a directory a server is about to run on, creating it when the directory holds none.
     *
     * @param requested  the partitions asked for ({@code --partitions}), or 0 when not given.
     * @param newDefault the partitions of a new directory when none is asked for.
     * @throws LayoutException when the directory has another number of partitions than {@code requested}.
     */
    public static DataLayout openOrCreate(final Path dataDir, final int requested, final int newDefault)
    {
        return openOrCreate(dataDir, requested, newDefault, LOCAL_LOG);
    }

    /**
     * As {@link #openOrCreate(Path, int, int)}, for a server whose logs are at {@code log} ({@link #LOCAL_LOG}, or
     * the Kafka topic of cluster mode): a new directory records it, an existing one must have recorded the same.
     *
     * @throws LayoutException when the directory's logs are elsewhere, or its number of partitions is not {@code requested}.
     */
    public static DataLayout openOrCreate(final Path dataDir, final int requested, final int newDefault, final String log)
    {
        final DataLayout existing = find(dataDir);
        if (existing == null)
        {
            return create(dataDir, requested > 0 ? requested : newDefault, log);
        }
        if (!existing.log.equals(log))
        {
            throw new LayoutException("data directory " + dataDir + " holds the snapshots, checkpoints and dedup state of "
                + describeLog(existing.log) + ", but this start's log is " + describeLog(log) + "; they must never be "
                + "mixed. Start it as it was created (" + (LOCAL_LOG.equals(existing.log) ? "without --cluster"
                    : "--cluster kafka with the same Kafka cluster and --kafka-topic-prefix") + "), or give this node a new "
                + "--data-dir");
        }
        if (requested > 0 && requested != existing.partitions)
        {
            throw new LayoutException("data directory " + dataDir + " has " + existing.partitions + " partition"
                + (existing.partitions == 1 ? "" : "s") + (existing.oneLog ? " (the one-log layout)" : "") + ", but "
                + requested + " were asked for (the partitions setting: --partitions, TOKENMETER_PARTITIONS or the config "
                + "file); the number of partitions is fixed when a directory is created. Start without it to use "
                + existing.partitions + ", or copy the data "
                + "to a new directory with: tokenmeter repartition --from " + dataDir + " --to NEW_DIR --partitions "
                + requested);
        }
        return existing;
    }

    /**
     * Reads the layout of an existing directory (the audit, the source of a repartition).
     *
     * @throws LayoutException when the directory holds no log.
     */
    public static DataLayout read(final Path dataDir)
    {
        final DataLayout existing = find(dataDir);
        if (existing == null)
        {
            throw new LayoutException("no tokenmeter data in " + dataDir + " (neither " + LAYOUT_FILE + " nor a log)");
        }
        if (!LOCAL_LOG.equals(existing.log))
        {
            throw new LayoutException("data directory " + dataDir + " is a cluster node's: its log is " + describeLog(existing.log)
                + ", not in the directory; this command reads local logs only");
        }
        return existing;
    }

    /** @return the layout of {@code dataDir}, or null when it holds none yet (a new directory). */
    public static DataLayout existing(final Path dataDir)
    {
        return find(dataDir);
    }

    /** Creates the layout of a new directory with {@code partitions} partitions and local logs. */
    public static DataLayout create(final Path dataDir, final int partitions)
    {
        return create(dataDir, partitions, LOCAL_LOG);
    }

    /** Creates the layout of a new directory with {@code partitions} partitions whose logs are at {@code log}. */
    public static DataLayout create(final Path dataDir, final int partitions, final String log)
    {
        if (log == null || log.isBlank() || log.indexOf('\n') >= 0)
        {
            throw new IllegalArgumentException("a layout's log must be one line of text, not " + log);
        }
        if (partitions < 1 || partitions > MAX_PARTITIONS)
        {
            throw new LayoutException("partitions must be between 1 and " + MAX_PARTITIONS + ", not " + partitions);
        }
        if (find(dataDir) != null)
        {
            throw new LayoutException("data directory " + dataDir + " already holds tokenmeter data");
        }
        try
        {
            Files.createDirectories(dataDir);
            final Path temp = dataDir.resolve(LAYOUT_FILE + ".tmp");
            final Properties properties = new Properties();
            properties.setProperty("partitions", Integer.toString(partitions));
            properties.setProperty("log", log);
            try (Writer out = Files.newBufferedWriter(temp, StandardCharsets.UTF_8))
            {
                properties.store(out, "tokenmeter data directory: its number of partitions and where its logs are, both fixed "
                    + "(tokenmeter repartition copies a local directory to one with another number)");
            }
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE))
            {
                channel.force(true);
            }
            Files.move(temp, dataDir.resolve(LAYOUT_FILE), StandardCopyOption.ATOMIC_MOVE);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot create the layout of " + dataDir + ": " + ex.getMessage(), ex);
        }
        return new DataLayout(dataDir, partitions, false, log);
    }

    private static String describeLog(final String log)
    {
        return LOCAL_LOG.equals(log) ? "the local logs of a single node (log/p-NNN)" : log;
    }

    /** @return the directory's layout, or null when it holds neither a layout file nor a one-log layout log. */
    private static DataLayout find(final Path dataDir)
    {
        final Path file = dataDir.resolve(LAYOUT_FILE);
        if (Files.isRegularFile(file))
        {
            final Properties properties = new Properties();
            try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8))
            {
                properties.load(in);
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException("cannot read " + file + ": " + ex.getMessage(), ex);
            }
            final String value = properties.getProperty("partitions", "");
            final int partitions;
            try
            {
                partitions = Integer.parseInt(value.trim());
            }
            catch (final NumberFormatException ex)
            {
                throw new LayoutException(file + " is damaged: partitions = '" + value + "' is not a number");
            }
            if (partitions < 1 || partitions > MAX_PARTITIONS)
            {
                throw new LayoutException(file + " is damaged: partitions = " + partitions);
            }
            final String log = properties.getProperty("log", LOCAL_LOG).trim();
            return new DataLayout(dataDir, partitions, false, log.isEmpty() ? LOCAL_LOG : log);
        }
        if (holdsOneLog(dataDir.resolve("log")))
        {
            return new DataLayout(dataDir, 1, true, LOCAL_LOG);
        }
        final List<String> folders = partitionFolders(dataDir.resolve("log"));
        if (!folders.isEmpty())
        {
            // never guess: a wrong number would send tenants to logs that do not hold their ids and usage
            throw new LayoutException("data directory " + dataDir + " holds partition logs " + folders + " but no "
                + LAYOUT_FILE + ": restore it from the backup (one line, partitions=N, N the number of p-NNN folders "
                + "the directory was created with)");
        }
        return null;
    }

    private static List<String> partitionFolders(final Path logDir)
    {
        final List<String> folders = new ArrayList<>();
        if (Files.isDirectory(logDir))
        {
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(logDir, "p-[0-9][0-9][0-9]"))
            {
                entries.forEach(entry -> folders.add(entry.getFileName().toString()));
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException("cannot list " + logDir + ": " + ex.getMessage(), ex);
            }
        }
        folders.sort(null);
        return folders;
    }

    /** @return true when Chronicle files lie directly in {@code logDir} (the layout before partitions). */
    private static boolean holdsOneLog(final Path logDir)
    {
        if (!Files.isDirectory(logDir))
        {
            return false;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(logDir, "*.{cq4,cq4t}"))
        {
            return files.iterator().hasNext();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot list " + logDir + ": " + ex.getMessage(), ex);
        }
    }

    public Path dataDir()
    {
        return dataDir;
    }

    public int partitions()
    {
        return partitions;
    }

    /** @return where the partitions' logs are: {@link #LOCAL_LOG}, or the Kafka topic of a cluster node. */
    public String log()
    {
        return log;
    }

    /** @return true for a directory of the one-log layout (opened as one partition, never rewritten). */
    public boolean isOneLog()
    {
        return oneLog;
    }

    /** @return the directory of partition {@code p}'s log. */
    public Path logDir(final int p)
    {
        checkPartition(p);
        return oneLog ? dataDir.resolve("log") : dataDir.resolve("log").resolve(folder(p));
    }

    /** @return the directory of partition {@code p}'s snapshots and journal checkpoints. */
    public Path snapshotDir(final int p)
    {
        checkPartition(p);
        return oneLog ? dataDir.resolve("snapshots") : dataDir.resolve("snapshots").resolve(folder(p));
    }

    /** @return the directory of partition {@code p}'s dedup disk tier (the window's ids beyond the memory's capacity). */
    public Path dedupDir(final int p)
    {
        checkPartition(p);
        return oneLog ? dataDir.resolve("dedup") : dataDir.resolve("dedup").resolve(folder(p));
    }

    public Path invoicesDir()
    {
        return dataDir.resolve("invoices");
    }

    /** @return {@code p-007} for partition 7. */
    public static String folder(final int p)
    {
        return String.format("p-%03d", p);
    }

    private void checkPartition(final int p)
    {
        if (p < 0 || p >= partitions)
        {
            throw new IllegalArgumentException("partition " + p + " is not in 0.." + (partitions - 1));
        }
    }

    /** The directory's layout cannot be used as asked; the message says what to do. */
    public static final class LayoutException extends RuntimeException
    {
        private static final long serialVersionUID = 1L;

        public LayoutException(final String message)
        {
            super(message);
        }
    }
}
