import java.io.RandomAccessFile;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * How long a writer to a fresh memory-mapped file stalls on first-write page faults, with and without a second
 * thread touching the pages ahead of it (what LogPretouchAgent does for the log).
 *
 * <pre>
 *   java scripts/MmapWriteStall.java DIR [pretouch] [SECONDS]      e.g. java scripts/MmapWriteStall.java /tmp/mmap
 * </pre>
 *
 * Writes 2,500-byte records every 100 us (25 MB/s, about the log's rate at 250,000 events/s) into a new 1 GiB sparse
 * file in DIR, and prints every write that took over 2 ms, then the count and the longest. Deletes the file after.
 */
public final class MmapWriteStall
{
    public static void main(final String[] args) throws Exception
    {
        final Path dir = Path.of(args.length > 0 ? args[0] : "/tmp/mmap-stall");
        final boolean pretouch = args.length > 1 && args[1].equals("pretouch");
        final long seconds = args.length > 2 ? Long.parseLong(args[2]) : 30;
        final long size = 1L << 30;
        Files.createDirectories(dir);
        final Path file = dir.resolve("stall-test.bin");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw"))
        {
            raf.setLength(size);
            final MappedByteBuffer writer = raf.getChannel().map(FileChannel.MapMode.READ_WRITE, 0, size);
            final byte[] record = new byte[2_500];
            Arrays.fill(record, (byte)7);
            final long[] written = {0};
            if (pretouch)
            {
                final MappedByteBuffer toucher = raf.getChannel().map(FileChannel.MapMode.READ_WRITE, 0, size);
                final Thread thread = new Thread(() ->
                {
                    // a plain zero write is enough to time the faults; LogPretouchAgent uses a compare-and-set of zero
                    // to zero instead, which cannot change a byte the journal wrote
                    for (long page = 0; page < size; page += 4096)
                    {
                        while (page > written[0] + (4 << 20))
                        {
                            try
                            {
                                Thread.sleep(1);
                            }
                            catch (final InterruptedException ex)
                            {
                                return;
                            }
                        }
                        toucher.put((int)page, (byte)0);
                    }
                }, "pretouch");
                thread.setDaemon(true);
                thread.start();
            }
            final long start = System.nanoTime();
            long next = start;
            long longest = 0;
            int stalls = 0;
            int position = 0;
            while (position + record.length < size && System.nanoTime() - start < seconds * 1_000_000_000L)
            {
                while (System.nanoTime() < next)
                {
                    Thread.onSpinWait();
                }
                next += 100_000;
                final long before = System.nanoTime();
                writer.put(position, record);
                position += record.length;
                written[0] = position;
                final long tookNs = System.nanoTime() - before;
                if (tookNs > 2_000_000)
                {
                    stalls++;
                    System.out.printf("%.3f s: a write took %.1f ms at %d MB%n", (before - start) / 1e9, tookNs / 1e6, position >> 20);
                }
                longest = Math.max(longest, tookNs);
            }
            System.out.printf("%s: %d writes over 2 ms, the longest %.1f ms, %d MB written%n",
                pretouch ? "with a pre-toucher" : "alone", stalls, longest / 1e6, position >> 20);
        }
        finally
        {
            Files.deleteIfExists(file);
        }
    }
}
