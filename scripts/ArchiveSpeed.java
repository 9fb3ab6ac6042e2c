import io.tokenmeter.billing.audit.Auditor;
import io.tokenmeter.core.archive.ArchiveManifest;
import io.tokenmeter.core.archive.LogArchive;
import io.tokenmeter.core.event.EventRecord;
import io.tokenmeter.core.event.LogDocumentReader;
import io.tokenmeter.core.log.ChronicleEventLog;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.partition.DataLayout;
import org.agrona.DirectBuffer;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;

/**
 * Archive ratio and speeds on a data directory (scripts/archive-speed.sh fills one with the load generator's traffic):
 * the audit of the current month and a read of every log from live files; then every log file of every partition
 * packed as `tokenmeter archive` packs it (zstd level 3, read back and compared), the originals moved aside so that
 * the logs are read through their archives, and the audit and the read again. The data directory is changed: use a copy.
 *   java JVM_FLAGS -cp benchmarks/target/benchmarks.jar scripts/ArchiveSpeed.java DATA_DIR
 */
public final class ArchiveSpeed
{
    public static void main(final String[] args) throws Exception
    {
        final Path data = Path.of(args[0]);
        final DataLayout layout = DataLayout.read(data);
        final YearMonth month = YearMonth.now(ZoneOffset.UTC);
        final long events = readAll(layout);
        System.out.printf("events: %d in %d partition(s)%n", events, layout.partitions());
        final double liveRead = seconds(() -> readAll(layout));
        final double liveAudit = seconds(() -> audit(data, month));
        long original = 0;
        long packed = 0;
        double packSeconds = 0;
        double verifySeconds = 0;
        final Path aside = data.resolveSibling(data.getFileName() + "-originals");
        Files.createDirectories(aside);
        for (int p = 0; p < layout.partitions(); p++)
        {
            final Path logDir = layout.logDir(p);
            final LogArchive archive = LogArchive.of(logDir);
            try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(logDir))
            {
                for (final int cycle : log.days().live())
                {
                    final Path file = logDir.resolve(log.days().fileNameOf(cycle));
                    final ArchiveManifest summary = new ArchiveManifest(p, cycle, file.getFileName().toString(), -1, 0, 0, 0, 0,
                        0, 0, 0, "", 0, "", "", "0".repeat(64), System.currentTimeMillis(), 0, "", Map.of());
                    final long start = System.nanoTime();
                    final ArchiveManifest manifest = archive.pack(file, summary);
                    packSeconds += (System.nanoTime() - start) / 1e9;
                    final long verifyStart = System.nanoTime();
                    if (LogArchive.of(logDir).verify(manifest, true) != null)
                    {
                        throw new IllegalStateException("archive of " + file + " does not read back");
                    }
                    verifySeconds += (System.nanoTime() - verifyStart) / 1e9;
                    original += manifest.originalBytes();
                    packed += manifest.archiveBytes();
                    Files.createDirectories(aside.resolve(DataLayout.folder(p)));
                    Files.move(file, aside.resolve(DataLayout.folder(p)).resolve(file.getFileName()));
                }
            }
        }
        if (readAll(layout) != events)
        {
            throw new IllegalStateException("the logs read through their archives hold another number of events");
        }
        final double archivedRead = seconds(() -> readAll(layout));
        final double archivedAudit = seconds(() -> audit(data, month));
        System.out.printf("log files: %d bytes (as Chronicle sizes them); archives: %d bytes, %.1f bytes per event (1 : %.0f)%n",
            original, packed, (double)packed / events, (double)original / packed);
        System.out.printf("pack (compress, read back, compare): %.0f events/s; verify whole again: %.0f events/s%n",
            events / packSeconds, events / verifySeconds);
        System.out.printf("read every log: live %.0f events/s, through archives %.0f events/s%n", events / liveRead,
            events / archivedRead);
        System.out.printf("audit of %s: live %.0f events/s (%.2f s), through archives %.0f events/s (%.2f s)%n", month,
            events / liveAudit, liveAudit, events / archivedAudit, archivedAudit);
    }

    private interface Work
    {
        void run() throws Exception;
    }

    private static double seconds(final Work work) throws Exception
    {
        final long start = System.nanoTime();
        work.run();
        return (System.nanoTime() - start) / 1e9;
    }

    private static void audit(final Path data, final YearMonth month) throws Exception
    {
        new Auditor(data, month, null, new PrintStream(OutputStream.nullOutputStream())).run(List.of());
    }

    /** @return the events of every partition's log, read from its start. */
    private static long readAll(final DataLayout layout)
    {
        final long[] events = {0};
        final LogDocumentReader.Handler counter = new LogDocumentReader.Handler()
        {
            @Override
            public void onName(final byte recordType, final int id, final DirectBuffer buffer, final int offset, final int length)
            {
            }

            @Override
            public void onEvent(final EventRecord event, final long appendTimeMs)
            {
                events[0]++;
            }
        };
        for (int p = 0; p < layout.partitions(); p++)
        {
            try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(layout.logDir(p)); EventLog.Reader reader = log.newReader())
            {
                reader.startAt(EventLog.NO_INDEX);
                long read = reader.readNext(counter, (i, t) -> { });
                while (read != EventLog.NO_INDEX)
                {
                    read = reader.readNext(counter, (i, t) -> { });
                }
            }
        }
        return events[0];
    }
}
