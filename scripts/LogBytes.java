import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Bytes per logged event in a data directory: the documents' bytes (headers, NAME records, EVENT records, checksums)
 * over the events they hold, for every partition's log (Chronicle's own per-document header is not counted).
 *   java -cp benchmarks/target/benchmarks.jar JVM_FLAGS scripts/LogBytes.java DATA_DIR
 * (JVM_FLAGS: the --add-exports/--add-opens of pom.xml's tokenmeter.jvmFlags; scripts/log-bytes.sh passes them.)
 */
public final class LogBytes
{
    public static void main(final String[] args) throws Exception
    {
        final Path data = Path.of(args[0]);
        final List<Path> logs = new ArrayList<>();
        try (Stream<Path> dirs = Files.list(data.resolve("log")))
        {
            dirs.filter(Files::isDirectory).sorted().forEach(logs::add);
        }
        if (logs.isEmpty())
        {
            logs.add(data.resolve("log"));
        }
        long documents = 0;
        long bytes = 0;
        long events = 0;
        for (final Path log : logs)
        {
            try (SingleChronicleQueue queue = SingleChronicleQueueBuilder.binary(log).rollCycle(RollCycles.FAST_DAILY)
                .readOnly(true).build(); ExcerptTailer tailer = queue.createTailer())
            {
                while (true)
                {
                    try (DocumentContext dc = tailer.readingDocument())
                    {
                        if (!dc.isPresent())
                        {
                            break;
                        }
                        final net.openhft.chronicle.bytes.Bytes<?> b = dc.wire().bytes();
                        final long start = b.readPosition();
                        documents++;
                        bytes += b.readRemaining();
                        if (b.readByte(start) == 1)
                        {
                            events += countEvents(b, start, b.readRemaining());
                        }
                    }
                }
            }
        }
        System.out.printf("%d documents, %d events, %d bytes: %.1f bytes per event%n", documents, events, bytes,
            events == 0 ? 0.0 : (double)bytes / events);
    }

    /** Counts EVENT records (type 1 or 4) by walking the document's records (layout in docs/log-format.md). */
    private static long countEvents(final net.openhft.chronicle.bytes.Bytes<?> b, final long start, final long length)
    {
        final int records = b.readInt(start + 4);
        long at = start + 16;
        long events = 0;
        for (int i = 0; i < records; i++)
        {
            final byte type = b.readByte(at);
            if (type == 2 || type == 3)
            {
                at += 8 + (b.readByte(at + 1) & 0xFF);
                continue;
            }
            events++;
            final int idLength = b.readByte(at + 3) & 0xFF;
            if (type == 1)
            {
                at += 96 + idLength;
                continue;
            }
            at += 28;
            for (int v = 0; v < 9; v++)
            {
                while (b.readByte(at++) < 0)
                {
                    // varint continuation
                }
            }
            at += idLength;
        }
        return events;
    }
}
