package io.tokenmeter.server;

import io.tokenmeter.server.config.SettingsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** {@code DATA_DIR/tokenmeter.lock}, held while a server (or a repartition) uses the directory, so two never share it. */
final class DataDirLock implements AutoCloseable
{
    private static final Logger LOG = LoggerFactory.getLogger(DataDirLock.class);

    private final FileChannel channel;
    private final FileLock lock;

    private DataDirLock(final FileChannel channel, final FileLock lock)
    {
        this.channel = channel;
        this.lock = lock;
    }

    /** @throws SettingsException when another process holds the directory. */
    static DataDirLock acquire(final Path dataDir) throws IOException
    {
        Files.createDirectories(dataDir);
        final FileChannel channel = FileChannel.open(dataDir.resolve("tokenmeter.lock"), StandardOpenOption.CREATE,
            StandardOpenOption.WRITE);
        FileLock lock;
        try
        {
            lock = channel.tryLock();
        }
        catch (final OverlappingFileLockException ex)
        {
            lock = null;
        }
        if (lock == null)
        {
            channel.close();
            throw new SettingsException("data directory " + dataDir + " is in use by another tokenmeter process");
        }
        return new DataDirLock(channel, lock);
    }

    @Override
    public void close()
    {
        try
        {
            lock.release();
            channel.close();
        }
        catch (final IOException ex)
        {
            LOG.warn("releasing the data directory lock: {}", ex.toString());
        }
    }
}
