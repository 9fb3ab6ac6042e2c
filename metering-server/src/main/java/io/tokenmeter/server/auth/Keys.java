package io.tokenmeter.server.auth;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The keys in force. Without a keys file the server is open ({@link #open()}: every request acts as
 * {@link ApiKey#OPEN}). With one, {@link #reload()} (on SIGHUP, and from a thread that polls the file) reads it again
 * and swaps in the new ring at once; a file that fails to parse leaves the previous keys in force and is logged.
 * Reads of {@link #current()} are a volatile load, so the event loops never wait for a reload.
 */
public final class Keys implements AutoCloseable
{
    private static final Logger LOG = LoggerFactory.getLogger(Keys.class);

    private final Path file;
    private final ScheduledExecutorService poller;
    private final AtomicLong reloads = new AtomicLong();
    private final AtomicLong reloadFailures = new AtomicLong();
    private volatile KeyRing current;
    /** The file's bytes last looked at, valid or not, so a bad file is reported once, not at every poll. */
    private byte[] lastSeen;

    private Keys(final Path file, final KeyRing ring, final byte[] content, final Duration pollInterval)
    {
        this.file = file;
        this.current = ring;
        this.lastSeen = content;
        if (file != null && !pollInterval.isZero())
        {
            poller = Executors.newSingleThreadScheduledExecutor(r ->
            {
                final Thread t = new Thread(r, "keys-reload");
                t.setDaemon(true);
                return t;
            });
            final long periodMs = pollInterval.toMillis();
            poller.scheduleWithFixedDelay(this::reloadIfChanged, periodMs, periodMs, TimeUnit.MILLISECONDS);
        }
        else
        {
            poller = null;
        }
    }

    /** No keys file: the server is open to whoever can reach it. */
    public static Keys open()
    {
        return new Keys(null, null, null, Duration.ZERO);
    }

    /**
     * Reads the keys file; it must be valid to start.
     *
     * @param pollInterval how often the file is checked for changes; zero for only on {@link #reload()}.
     */
    public static Keys load(final Path file, final Duration pollInterval) throws KeysFileException
    {
        final byte[] content = read(file);
        final KeyRing ring = KeysFile.parse(content, file.toString());
        describe("keys file " + file + " read", ring);
        return new Keys(file, ring, content, pollInterval);
    }

    /** @return true when there is no keys file and every request is let in. */
    public boolean isOpen()
    {
        return file == null;
    }

    /** @return the keys in force; null when {@link #isOpen()}. */
    public KeyRing current()
    {
        return current;
    }

    public long reloads()
    {
        return reloads.get();
    }

    public long reloadFailures()
    {
        return reloadFailures.get();
    }

    /**
     * Reads the keys file again and puts it in force if it is valid.
     *
     * @return true if the keys now in force are the file's.
     */
    public synchronized boolean reload()
    {
        if (file == null)
        {
            LOG.info("no keys file is configured; nothing to reload");
            return false;
        }
        try
        {
            final byte[] content = read(file);
            lastSeen = content;
            final KeyRing ring = KeysFile.parse(content, file.toString());
            current = ring;
            reloads.incrementAndGet();
            describe("keys file " + file + " reloaded", ring);
            return true;
        }
        catch (final KeysFileException ex)
        {
            reloadFailures.incrementAndGet();
            LOG.error("{}; the previous keys stay in force", ex.getMessage());
            return false;
        }
    }

    private synchronized void reloadIfChanged()
    {
        try
        {
            if (!Arrays.equals(Files.readAllBytes(file), lastSeen))
            {
                reload();
            }
        }
        catch (final IOException ex)
        {
            // a vanished or unreadable file keeps the keys in force; reported once until the file changes again
            if (lastSeen != null)
            {
                reloadFailures.incrementAndGet();
                LOG.error("keys file {} cannot be read ({}); the previous keys stay in force", file, ex.toString());
                lastSeen = null;
            }
        }
        catch (final RuntimeException ex)
        {
            LOG.error("checking keys file {} failed", file, ex);
        }
    }

    private static byte[] read(final Path file) throws KeysFileException
    {
        try
        {
            return Files.readAllBytes(file);
        }
        catch (final IOException ex)
        {
            throw new KeysFileException(file.toString(), java.util.List.of("cannot be read: " + ex));
        }
    }

    private static void describe(final String what, final KeyRing ring)
    {
        final StringBuilder sb = new StringBuilder();
        for (final ApiKey key : ring.keys())
        {
            sb.append(sb.length() == 0 ? "" : ", ").append(key.name()).append(" (").append(key.role().code()).append(' ')
                .append(String.join(",", key.tenants())).append(')');
        }
        if (ring.keys().isEmpty())
        {
            LOG.warn("{}: it holds no keys, so every request except health is refused", what);
        }
        else
        {
            LOG.info("{}: {} keys: {}", what, ring.keys().size(), sb);
        }
    }

    @Override
    public void close()
    {
        if (poller != null)
        {
            poller.shutdownNow();
        }
    }
}
