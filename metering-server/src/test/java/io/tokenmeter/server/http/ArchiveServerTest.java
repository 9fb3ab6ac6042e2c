package io.tokenmeter.server.http;

import io.tokenmeter.core.aggregate.BucketKey;
import io.tokenmeter.core.archive.ArchiveManifest;
import io.tokenmeter.core.archive.RetainedDigest;
import io.tokenmeter.core.event.Hours;
import io.tokenmeter.core.log.ChronicleEventLog;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.log.Faults;
import io.tokenmeter.core.partition.DataLayout;
import io.tokenmeter.server.TestPartitions;
import io.tokenmeter.server.TokenmeterServer;
import io.tokenmeter.server.config.Settings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code tokenmeter archive} on a data directory a real server wrote over four days (its log's day files written ahead
 * of the clock by {@link Faults#shiftLogClock}): October's and November's files, whose events are all in final
 * invoices, are archived and December's are not; usage, invoices and the audit are the same before and after, after a
 * restart, and in a repartitioned copy; and an archive run killed with kill -9 at random moments never loses a
 * document.
 */
class ArchiveServerTest
{
    private static final long DAY_MS = 86_400_000L;
    private static final String[] TENANTS = {"acme", "beta", "gamma", "delta"};
    private static final String[] PERIODS = {"2026-10", "2026-11", "2026-12"};

    @TempDir
    Path dir;

    private final Faults faults = new Faults();
    private TokenmeterServer server;
    private Client client;
    private int sent;

    @AfterEach
    void stop()
    {
        if (server != null)
        {
            server.close();
        }
    }

    private Path dataDir()
    {
        return dir.resolve("data");
    }

    /** Starts the server with its log's clock {@code shiftDays} ahead (never behind an earlier start's). */
    private void start(final Path dataDir, final int shiftDays) throws Exception
    {
        start(dataDir, shiftDays, Map.of());
    }

    /** @param extra settings of this start (a copy's partitions). */
    private void start(final Path dataDir, final int shiftDays, final Map<String, String> extra) throws Exception
    {
        faults.shiftLogClock(shiftDays * DAY_MS);
        final Map<String, String> settings = new HashMap<>(extra);
        settings.putAll(Map.of("port", "0", "data-dir", dataDir.toString(), "dedup-window", "1s"));
        server = TokenmeterServer.startWithPartitionFaults(Settings.of(TestPartitions.apply(settings)), p -> faults);
        for (int i = 0; i < 1000 && !server.isReady(); i++)
        {
            LockSupport.parkNanos(10_000_000);
        }
        assertTrue(server.isReady(), "ready within 10 s");
        client = new Client(server.port());
    }

    private void restart(final Path dataDir, final int shiftDays) throws Exception
    {
        server.close();
        server = null;
        start(dataDir, shiftDays);
    }

    /** Posts {@code count} events of random tenants and tokens in {@code month} (YYYY-MM; December's on its first day, past). */
    private void post(final Random random, final int count, final String month)
    {
        final StringBuilder body = new StringBuilder("[");
        for (int i = 0; i < count; i++)
        {
            body.append(i == 0 ? "" : ",").append("{\"id\":\"arch-").append(sent++).append("\",\"tenant\":\"")
                .append(TENANTS[random.nextInt(TENANTS.length)]).append("\",\"model\":\"gpt-4o\",\"service_tier\":\"")
                .append(random.nextBoolean() ? "standard" : "batch").append("\",\"timestamp\":\"").append(month).append('-')
                .append(String.format("%02d", month.endsWith("-12") ? 1 : 1 + random.nextInt(28))).append('T').append(String.format("%02d", random.nextInt(24)))
                .append(":00:00Z\",\"input_tokens\":").append(1 + random.nextInt(100_000)).append(",\"output_tokens\":")
                .append(random.nextInt(5_000)).append('}');
        }
        final Client.Answer answer = client.post("/v1/events", "application/json", body.append(']').toString());
        assertEquals(202, answer.status(), answer.body());
    }

    private void finalizeAll(final String period)
    {
        for (final String tenant : TENANTS)
        {
            final Client.Answer answer = client.post("/v1/invoices/" + tenant + "/" + period + "/finalize", null, "");
            assertEquals(201, answer.status(), answer.body());
        }
    }

    /**
     * Four days of a server: October's events and invoices on the first, November's (and late October events) on the
     * second, December's on the third and fourth; the server is left running on the fourth.
     */
    private void writeFourDays(final Path dataDir) throws Exception
    {
        writeFourDays(dataDir, Map.of());
    }

    /** @param lastStart settings of the fourth day's start. */
    private void writeFourDays(final Path dataDir, final Map<String, String> lastStart) throws Exception
    {
        final Random random = new Random(2026_12_02L);
        start(dataDir, -3);
        post(random, 60, "2026-10");
        finalizeAll("2026-10");
        restart(dataDir, -2);
        post(random, 50, "2026-11");
        post(random, 6, "2026-10");
        finalizeAll("2026-11");
        restart(dataDir, -1);
        post(random, 30, "2026-12");
        server.close();
        server = null;
        start(dataDir, 0, lastStart);
        post(random, 10, "2026-12");
    }

    /** @return what finance and users see: each tenant's usage and invoice of each period, and each period's listing. */
    private Map<String, String> views()
    {
        final Map<String, String> views = new LinkedHashMap<>();
        for (final String period : PERIODS)
        {
            views.put("listing " + period, client.get("/v1/invoices?period=" + period).body());
            for (final String tenant : TENANTS)
            {
                views.put("usage " + tenant, client.get("/v1/usage?tenant=" + tenant
                    + "&from=2026-10-01T00:00:00Z&to=2027-01-01T00:00:00Z&granularity=month&group_by=model,service_tier"
                    + "&consistent=true").body());
                final Client.Answer invoice = client.get("/v1/invoices/" + tenant + "/" + period);
                assertEquals(200, invoice.status(), invoice.body());
                views.put("invoice " + tenant + " " + period, invoice.json().path("status").asText() + " "
                    + invoice.json().path("lines") + " " + invoice.json().path("total").asText() + " "
                    + invoice.json().path("invoice_number").asText());
            }
        }
        return views;
    }

    /** Compares two {@link #views()}, naming the views that differ (the whole maps are too long to read). */
    private static void assertSameViews(final Map<String, String> expected, final Map<String, String> actual, final String why)
    {
        final List<String> differing = new ArrayList<>();
        expected.forEach((view, text) ->
        {
            if (!text.equals(actual.get(view)))
            {
                differing.add(view + ": expected " + text + "\n  but was " + actual.get(view));
            }
        });
        assertEquals(List.of(), differing, why);
        assertEquals(expected.keySet(), actual.keySet(), why);
    }

    /** @return every document of every partition as (position, bytes), in log order. */
    private static List<List<Object[]>> documents(final Path dataDir)
    {
        final DataLayout layout = DataLayout.read(dataDir);
        final List<List<Object[]>> all = new ArrayList<>();
        for (int p = 0; p < layout.partitions(); p++)
        {
            final List<Object[]> docs = new ArrayList<>();
            try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(layout.logDir(p)); EventLog.Reader reader = log.newReader())
            {
                reader.startAt(EventLog.NO_INDEX);
                for (int i = 0; i < 100_000 && reader.readNextRaw((index, buffer, offset, length) ->
                {
                    final byte[] bytes = new byte[length];
                    buffer.getBytes(offset, bytes);
                    docs.add(new Object[] {index, bytes});
                }) != EventLog.NO_INDEX; i++)
                {
                    assertTrue(i < 99_999, "more documents than the test wrote");
                }
            }
            all.add(docs);
        }
        return all;
    }

    private static void assertSameDocuments(final List<List<Object[]>> expected, final List<List<Object[]>> actual)
    {
        assertEquals(expected.size(), actual.size(), "partitions");
        for (int p = 0; p < expected.size(); p++)
        {
            assertEquals(expected.get(p).size(), actual.get(p).size(), "documents of partition " + p);
            for (int d = 0; d < expected.get(p).size(); d++)
            {
                assertEquals(expected.get(p).get(d)[0], actual.get(p).get(d)[0], "position of document " + d + " of partition " + p);
                assertTrue(Arrays.equals((byte[])expected.get(p).get(d)[1], (byte[])actual.get(p).get(d)[1]),
                    "bytes of document " + d + " of partition " + p);
            }
        }
    }

    private static void auditClean(final Path dataDir, final String why)
    {
        for (final String period : new String[] {"2026-10", "2026-11"})
        {
            final String audit = Commands.run("audit", "--data-dir", dataDir.toString(), "--period", period);
            assertTrue(audit.startsWith("0 ") && audit.contains("audit clean: 4 invoice(s)"), why + ": " + audit);
        }
    }

    /** @return a {@code log-retention} in days that October (ended 2026-11-01) is past and November is not. */
    private static long octoberOnlyRetentionDays()
    {
        return Duration.between(Instant.parse("2026-11-01T00:00:00Z"), Instant.now()).toDays();
    }

    /** Waits until the last events are older than the test's 1 s dedup window. */
    private static void outlastTheDedupWindow()
    {
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1_500));
    }

    @Test
    void archivingKeepsUsageInvoicesAndAuditAcrossARestartAndARepartition() throws Exception
    {
        writeFourDays(dataDir());
        final Map<String, String> before = views();
        server.close();
        server = null;
        final List<List<Object[]>> documents = documents(dataDir());
        auditClean(dataDir(), "before archiving");
        outlastTheDedupWindow();

        final String archived = Commands.run("archive", "--data-dir", dataDir().toString(), "--dedup-window", "1s");
        assertTrue(archived.startsWith("0 "), archived);
        final DataLayout layout = DataLayout.read(dataDir());
        int files = 0;
        for (int p = 0; p < layout.partitions(); p++)
        {
            try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(layout.logDir(p)))
            {
                for (final ArchiveManifest manifest : log.archive().manifests())
                {
                    files++;
                    assertTrue(manifest.cycle() < log.days().live().first(), "archives are a partition's oldest files");
                }
                assertTrue(log.archive().manifests().size() <= 2, "December's files stay live: " + archived);
            }
        }
        assertTrue(files >= 2, "October's and November's files with events were archived: " + archived);
        assertTrue(archived.contains("not archived: event ") && archived.contains("is not yet in a final invoice"),
            "December's file is named with the reason it stays: " + archived);
        assertSameDocuments(documents, documents(dataDir()));
        auditClean(dataDir(), "after archiving");
        assertTrue(Commands.run("audit", "--data-dir", dataDir().toString(), "--period", "2026-10").contains("file(s) read back whole"));

        start(dataDir(), 0);
        assertEquals(before, views(), "usage and invoices after archiving and a restart");
        final String metrics = client.get("/metrics").body();
        assertTrue(metrics.contains("tokenmeter_archive_files " + files + ".0"), metrics);
        assertTrue(Pattern.compile("tokenmeter_archive_size_bytes [1-9]").matcher(metrics).find(), metrics);
        server.close();
        server = null;

        final Path copy = dir.resolve("copy");
        final String repartitioned = Commands.run("repartition", "--from", dataDir().toString(), "--to", copy.toString(), "--partitions",
            "3");
        assertTrue(repartitioned.startsWith("0 ") && repartitioned.contains("the copy audits clean"), repartitioned);
        start(copy, 0, Map.of("partitions", "3"));
        assertEquals(before, views(), "usage and invoices of the repartitioned copy of the archived directory");
    }

    @Test
    void withAnArchiveIntervalTheRunningServerArchivesItsSettledFilesAppliesRetentionAndServesThemThroughTheArchives() throws Exception
    {
        writeFourDays(dataDir(), Map.of("archive-interval", "1s", "log-retention", octoberOnlyRetentionDays() + "d"));
        final Map<String, String> before = views();
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        String metrics = client.get("/metrics").body();
        final Pattern checked = Pattern.compile(
            "tokenmeter_archive_chain_verified_documents [1-9]");
        final Pattern retained = Pattern.compile("tokenmeter_retention_deleted_files [1-9]");
        // a run's figures are published when it ends, after its files were archived
        while ((!checked.matcher(metrics).find() || !retained.matcher(metrics).find()) && System.nanoTime() < deadline)
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
            metrics = client.get("/metrics").body();
        }
        assertTrue(Pattern.compile("tokenmeter_archive_files [1-9]").matcher(metrics).find(),
            "the server archived within 60 s: " + metrics);
        assertTrue(checked.matcher(metrics).find(), "the archiver checked the chain of what it archived: " + metrics);
        assertTrue(metrics.contains("tokenmeter_archive_chain_broken_files 0.0"), metrics);
        post(new Random(99), 20, "2026-12");
        final Map<String, String> withMore = views();
        assertEquals(before.get("invoice acme 2026-10"), withMore.get("invoice acme 2026-10"), "final invoices never change");
        assertTrue(retained.matcher(metrics).find(), "the server applied log-retention to October's files: " + metrics);
        final Client.Answer lineEvents = client.get("/v1/invoices/acme/2026-11/lines/0/events");
        assertEquals(200, lineEvents.status(), lineEvents.body());
        assertTrue(lineEvents.body().lines().count() > 0, "the line's events are read through the archives");
        assertEquals(200, client.get("/v1/prices/revisions/1").status(),
            "the first price book, in a day whose archive retention deleted: kept in its digest");
        server.close();
        server = null;
        auditClean(dataDir(), "after the server archived by itself");
        start(dataDir(), 0);
        assertEquals(withMore, views(), "usage and invoices after a restart on the archived logs");
    }

    @Test
    void anArchiveRunKilledAtRandomMomentsNeverLosesADocumentAndTheNextRunFinishes() throws Exception
    {
        writeFourDays(dataDir());
        server.close();
        server = null;
        final List<List<Object[]>> documents = documents(dataDir());
        outlastTheDedupWindow();
        final Random random = new Random(7);
        int killed = 0;
        for (int kill = 0; kill < 4; kill++)
        {
            final List<String> command = ServerProcess.javaCommand();
            command.addAll(List.of("io.tokenmeter.server.Main", "archive", "--data-dir", dataDir().toString(), "--dedup-window",
                "1s"));
            final Process archiving = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("archive-" + kill + ".log").toFile()).start();
            final boolean finished = archiving.waitFor(200 + random.nextInt(1_500), TimeUnit.MILLISECONDS);
            if (!finished)
            {
                killed++;
                archiving.destroyForcibly();
                assertTrue(archiving.waitFor(30, TimeUnit.SECONDS), "the killed run is gone");
            }
            assertSameDocuments(documents, documents(dataDir()));
        }
        assertTrue(killed > 0, "at least one run was killed before it finished");
        final String archived = Commands.run("archive", "--data-dir", dataDir().toString(), "--dedup-window", "1s");
        assertTrue(archived.startsWith("0 "), archived);
        assertSameDocuments(documents, documents(dataDir()));
        auditClean(dataDir(), "after the killed runs and a whole one");
    }

    @Test
    void aDamagedTruncatedOrMissingArchiveIsNamedByTheAuditWhichExitsOne() throws Exception
    {
        writeFourDays(dataDir());
        server.close();
        server = null;
        outlastTheDedupWindow();
        assertTrue(Commands.run("archive", "--data-dir", dataDir().toString(), "--dedup-window", "1s").startsWith("0 "));
        final DataLayout layout = DataLayout.read(dataDir());
        Path damaged = null;
        for (int p = 0; p < layout.partitions() && damaged == null; p++)
        {
            try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(layout.logDir(p)))
            {
                if (!log.archive().isEmpty())
                {
                    damaged = log.archive().archivePath(log.archive().manifests().get(0));
                }
            }
        }
        assertTrue(damaged != null, "something was archived");
        final byte[] bytes = Files.readAllBytes(damaged);
        bytes[bytes.length / 2] ^= 0x10;
        Files.write(damaged, bytes);
        final String flipped = Commands.run("audit", "--data-dir", dataDir().toString(), "--period", "2026-10");
        assertTrue(flipped.startsWith("1 ") && flipped.contains(damaged.toString()) && flipped.contains("altered or damaged"),
            flipped);
        Files.write(damaged, Arrays.copyOf(bytes, bytes.length / 2));
        final String truncated = Commands.run("audit", "--data-dir", dataDir().toString(), "--period", "2026-10");
        assertTrue(truncated.startsWith("1 ") && truncated.contains(damaged.toString()) && truncated.contains("its manifest says"),
            truncated);
        Files.delete(damaged);
        final String missing = Commands.run("audit", "--data-dir", dataDir().toString(), "--period", "2026-10");
        assertTrue(missing.startsWith("1 ") && missing.contains(damaged.toString()) && missing.contains("is missing"), missing);
    }

    /**
     * {@code log-retention} counted so that October has ended longer ago and November has not: only files whose events
     * are all counted by October's final invoices lose their archives (their digests kept); the rest stays, named with
     * the reason; usage, invoices and the audit are the same, also after a restart that replays the digests with no
     * snapshot; a line of October can no longer list its events (410) while November's can; a repartition is refused;
     * and a damaged digest is named by the audit, which exits 1.
     */
    @Test
    void retentionDeletesOnlyArchivesOfOldFinalPeriodsAndTheirTotalsStillVerifyAgainstTheDigests() throws Exception
    {
        writeFourDays(dataDir());
        final Map<String, String> before = views();
        server.close();
        server = null;
        outlastTheDedupWindow();
        final long days = octoberOnlyRetentionDays();
        final String retained = Commands.run("archive", "--data-dir", dataDir().toString(), "--dedup-window", "1s",
            "--log-retention", days + "d");
        assertTrue(retained.startsWith("0 ") && retained.contains("deleted by retention"), retained);
        assertTrue(retained.contains("kept: events of tenant") && retained.contains("within log-retention " + days + "d"),
            "a file with November's events is kept, and says why: " + retained);

        final DataLayout layout = DataLayout.read(dataDir());
        final long novemberHour = Instant.parse("2026-11-01T00:00:00Z").toEpochMilli() / Hours.MS_PER_HOUR;
        int deleted = 0;
        for (int p = 0; p < layout.partitions(); p++)
        {
            try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(layout.logDir(p)))
            {
                boolean older = true;
                for (final ArchiveManifest manifest : log.archive().manifests())
                {
                    assertTrue(older || !manifest.deleted(), "retention deletes a partition's oldest files only");
                    older = manifest.deleted();
                    if (manifest.deleted())
                    {
                        deleted++;
                        assertTrue(Files.notExists(log.archive().archivePath(manifest)), "its archive is gone");
                        for (final RetainedDigest.Kept kept : log.archive().digest(manifest).kept())
                        {
                            for (final long[] bucket : kept.buckets())
                            {
                                assertTrue(BucketKey.hour(bucket[0]) < novemberHour,
                                    "nothing of a period still within the retention is deleted: " + manifest.file());
                            }
                        }
                    }
                }
            }
        }
        assertTrue(deleted >= 1, "October's files lost their archives: " + retained);
        auditClean(dataDir(), "after retention");
        final String audit = Commands.run("audit", "--data-dir", dataDir().toString(), "--period", "2026-10");
        assertTrue(audit.contains("deleted by retention, replayed from their digests"), audit);

        for (int p = 0; p < layout.partitions(); p++)
        {
            try (Stream<Path> snapshots = Files.walk(layout.snapshotDir(p)))
            {
                for (final Path file : snapshots.sorted(Comparator.reverseOrder()).toList())
                {
                    Files.delete(file);
                }
            }
        }
        start(dataDir(), 0);
        assertSameViews(before, views(), "usage and invoices after retention and a restart that replays the digests");
        final Client.Answer october = client.get("/v1/invoices/acme/2026-10/lines/0/events");
        assertEquals(410, october.status(), october.body());
        assertTrue(october.body().contains("events_deleted") && october.body().contains("log-retention"), october.body());
        final Client.Answer november = client.get("/v1/invoices/acme/2026-11/lines/0/events");
        assertEquals(200, november.status(), november.body());
        assertTrue(november.body().lines().count() > 0, november.body());
        assertTrue(client.get("/metrics").body().contains("tokenmeter_retention_deleted_files " + deleted + ".0"));
        server.close();
        server = null;

        final String repartition = Commands.run("repartition", "--from", dataDir().toString(), "--to",
            dir.resolve("copy").toString(), "--partitions", "2");
        assertTrue(repartition.startsWith("2 ") && repartition.contains("deleted by retention"), repartition);

        Path digest = null;
        for (int p = 0; p < layout.partitions() && digest == null; p++)
        {
            try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(layout.logDir(p)))
            {
                digest = log.archive().manifests().stream().filter(ArchiveManifest::deleted).findFirst()
                    .map(log.archive()::digestPath).orElse(null);
            }
        }
        final byte[] bytes = Files.readAllBytes(digest);
        bytes[bytes.length / 2] ^= 0x10;
        Files.write(digest, bytes);
        final String damaged = Commands.run("audit", "--data-dir", dataDir().toString(), "--period", "2026-10");
        assertTrue(damaged.startsWith("1 ") && damaged.contains(digest.getFileName().toString()) && damaged.contains("altered"),
            damaged);
    }
}
