package io.tokenmeter.core.log;

import org.agrona.IoUtil;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.UnsafeBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;

/**
 * Takes the page faults of the log ahead of the journal: on this machine class a memory-mapped file written at
 * 25 MB/s stalls its writer 10 to 15 ms about every 8 MB (the file system allocating blocks on first write), which
 * was the log append's p99.9; with a thread touching the pages a few MB ahead the writer's worst write fell to
 * 0.7 ms (BENCHMARKS.md). Chronicle's own pre-toucher is in its enterprise edition.
 *
 * <p>A page is touched by an atomic compare-and-set of its first eight bytes from zero to zero through a mapping of
 * its own: it changes no byte the journal wrote or will write (a word already written is not zero and is left alone;
 * a zero word stays zero), yet it is a write, so the file system allocates the block and the page is in memory, dirty,
 * before the journal reaches it. Only pages inside the file's current length are touched: the file is never grown
 * here. Nor is it ever shrunk under the mapping: Chronicle Queue 2026.4 has no file shrinking (its
 * {@code writeEOFAndShrink} at a roll only writes the end-of-file marker); a version that truncated a finished day's
 * file would need this agent to stop before the roll, since touching past the end of a file raises SIGBUS.
 * A failure only costs speed, so it is logged once per file and touching stops for that file.
 *
 * <p>Owns its file channel; reads the journal's published {@link ChronicleEventLog#appendFile()} and
 * {@link ChronicleEventLog#appendPosition()}. Runs on its own thread, sleeping between duty cycles.
 */
public final class LogPretouchAgent implements Agent
{
    /** How far ahead of the last append pages are touched. */
    public static final long AHEAD_BYTES = 32L << 20;
    static final int PAGE_BYTES = 4096;
    private static final long MAX_BYTES_PER_CYCLE = 4L << 20;
    /** Touching waits until this much is due, so that a quiet log costs a duty cycle now and then, not a map call. */
    private static final long MIN_STEP_BYTES = 1L << 20;
    private static final long WINDOW_BYTES = 64L << 20;
    private static final Logger LOG = LoggerFactory.getLogger(LogPretouchAgent.class);

    private final ChronicleEventLog log;
    private File file;
    private FileChannel channel;
    private MappedByteBuffer window;
    private final UnsafeBuffer windowPages = new UnsafeBuffer(0, 0);
    private long windowStart;
    private long windowEnd;
    private boolean failed;
    private long touchedTo;
    private long pagesTouched;

    public LogPretouchAgent(final ChronicleEventLog log)
    {
        this.log = log;
    }

    @Override
    public int doWork()
    {
        final File current = log.appendFile();
        if (current == null)
        {
            return 0;
        }
        if (!current.equals(file))
        {
            follow(current);
        }
        if (failed)
        {
            return 0;
        }
        try
        {
            return touchAhead(log.appendPosition());
        }
        catch (final IOException | RuntimeException ex)
        {
            failed = true;
            LOG.warn("log pages of {} are no longer touched ahead of the journal (appends may stall on page faults): {}",
                file, ex.toString());
            return 0;
        }
    }

    private int touchAhead(final long position) throws IOException
    {
        final long firstPage = Math.max(touchedTo, (position / PAGE_BYTES + 1) * PAGE_BYTES);
        final long target = position + AHEAD_BYTES;
        if (target - firstPage < MIN_STEP_BYTES)
        {
            return 0;
        }
        final long end = Math.min(target, firstPage + MAX_BYTES_PER_CYCLE) / PAGE_BYTES * PAGE_BYTES;
        long page = firstPage;
        for (; page < end; page += PAGE_BYTES)
        {
            if ((page < windowStart || page >= windowEnd) && !mapWindowAt(page))
            {
                break;
            }
            windowPages.compareAndSetLong((int)(page - windowStart), 0L, 0L);
        }
        final int pages = (int)((page - firstPage) / PAGE_BYTES);
        pagesTouched += pages;
        touchedTo = page;
        return pages;
    }

    /**
     * Maps the window holding {@code page}, inside the file's current length: mapping once per window, not once per
     * duty cycle, spares a map and an unmap (and the unmap's TLB shootdown on the other core) every few milliseconds.
     *
     * @return false when {@code page} is beyond the end of the file (the journal has not grown it that far yet).
     */
    private boolean mapWindowAt(final long page) throws IOException
    {
        unmapWindow();
        final long start = page / WINDOW_BYTES * WINDOW_BYTES;
        final long end = Math.min(start + WINDOW_BYTES, channel.size() / PAGE_BYTES * PAGE_BYTES);
        if (page >= end)
        {
            return false;
        }
        window = channel.map(FileChannel.MapMode.READ_WRITE, start, end - start);
        windowPages.wrap(window);
        windowStart = start;
        windowEnd = end;
        return true;
    }

    private void unmapWindow()
    {
        if (window != null)
        {
            windowPages.wrap(0, 0);
            IoUtil.unmap(window);
            window = null;
            windowStart = 0;
            windowEnd = 0;
        }
    }

    private void follow(final File next)
    {
        unmapWindow();
        closeChannel();
        file = next;
        touchedTo = 0;
        failed = false;
        try
        {
            channel = FileChannel.open(next.toPath(), StandardOpenOption.READ, StandardOpenOption.WRITE);
        }
        catch (final IOException ex)
        {
            failed = true;
            LOG.warn("log pages of {} will not be touched ahead of the journal: {}", next, ex.toString());
        }
    }

    /** @return the end of the touched range in the current file. Owner thread, or any thread after it stopped. */
    public long touchedTo()
    {
        return touchedTo;
    }

    /** @return pages touched since start. Owner thread, or any thread after it stopped. */
    public long pagesTouched()
    {
        return pagesTouched;
    }

    @Override
    public void onClose()
    {
        unmapWindow();
        closeChannel();
    }

    private void closeChannel()
    {
        if (channel != null)
        {
            try
            {
                channel.close();
            }
            catch (final IOException ex)
            {
                LOG.debug("closing {}: {}", file, ex.toString());
            }
            channel = null;
        }
    }

    @Override
    public String roleName()
    {
        return "log-pretouch";
    }
}
