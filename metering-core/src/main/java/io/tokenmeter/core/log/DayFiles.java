package io.tokenmeter.core.log;

import net.openhft.chronicle.queue.RollCycle;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.NavigableSet;
import java.util.TreeSet;

/**
 * The day files of one partition's Chronicle log: which cycle (UTC day) a position is in, a cycle's file name and first
 * position, and which files are in the log's directory now (the live ones; archived days are in {@code archive/}).
 * Immutable; any thread.
 */
public final class DayFiles
{
    private static final Logger LOG = LoggerFactory.getLogger(DayFiles.class);

    private final Path directory;
    private final RollCycle rollCycle;
    private final DateTimeFormatter format;

    DayFiles(final Path directory, final RollCycle rollCycle)
    {
        this.directory = directory;
        this.rollCycle = rollCycle;
        this.format = DateTimeFormatter.ofPattern(rollCycle.format()).withZone(ZoneOffset.UTC);
    }

    /** @return the cycle (UTC day) of a position. */
    public int cycleOf(final long index)
    {
        return rollCycle.toCycle(index);
    }

    /** @return the name of the file of a cycle, e.g. {@code 20261001F.cq4}. */
    public String fileNameOf(final int cycle)
    {
        return format.format(Instant.ofEpochMilli(startMsOf(cycle))) + SingleChronicleQueue.SUFFIX;
    }

    /** @return when the day of a cycle's file starts, in ms since the epoch. */
    public long startMsOf(final int cycle)
    {
        return (long)cycle * rollCycle.lengthInMillis();
    }

    /** @return the position of the first document of {@code cycle}'s file. */
    public long firstIndexOf(final int cycle)
    {
        return rollCycle.toIndex(cycle, 0);
    }

    /** @return the cycles of the live files in the log's directory, in order (listed now). */
    public NavigableSet<Integer> live()
    {
        final NavigableSet<Integer> cycles = new TreeSet<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, "*" + SingleChronicleQueue.SUFFIX))
        {
            for (final Path file : files)
            {
                final String name = file.getFileName().toString();
                final String stem = name.substring(0, name.length() - SingleChronicleQueue.SUFFIX.length());
                try
                {
                    final long ms = LocalDate.parse(stem, format).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
                    cycles.add((int)(ms / rollCycle.lengthInMillis()));
                }
                catch (final DateTimeParseException ex)
                {
                    LOG.debug("{} in log {} is not a log file of this log's daily files; it is not read", name, directory);
                }
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot list the log files in " + directory + ": " + ex.getMessage(), ex);
        }
        return cycles;
    }
}
