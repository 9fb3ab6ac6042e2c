package io.tokenmeter.core.log;

import io.tokenmeter.core.dedup.DedupDiskTier;
import io.tokenmeter.core.dedup.DedupIndex;
import io.tokenmeter.core.event.ServiceTier;
import io.tokenmeter.core.snapshot.SnapshotStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The journal with its dedup disk tier, on a real Chronicle queue driven on the test thread: ids far beyond the
 * memory's capacity are still duplicates (so the window holds at any rate), after a clean restart, after a crash
 * (the tier's unsealed buffer and the journal's last checkpoint lost), and until the window ends; and the effective
 * window says when ids were forgotten early.
 */
class DedupWindowJournalTest
{
    private static final long START_MS = 1_763_856_000_000L; // 2025-11-23T00:00:00Z
    private static final long WINDOW_MS = TimeUnit.HOURS.toMillis(1);
    private static final int CAPACITY = 1_000;
    private static final int SPILL_BATCH = 256;
    private static final int PER_REQUEST = 500;
    /** Ids of the small requests before the crash: several of them fill less than a spill batch. */
    private static final int SMALL = 50;

    @TempDir
    Path dataDir;

    private long nowMs = START_MS;
    private int smallRequests;

    private JournalAgent journal(final EventLog log, final long diskBudget) throws IOException
    {
        final JournalAgent journal = new JournalAgent(log, new DedupIndex(CAPACITY, WINDOW_MS, 20_000),
            new SnapshotStore(dataDir.resolve("snapshots")), Runnable::run, () -> nowMs, 1024, 64, 10_000, 1000, 1, ns -> { });
        journal.diskTier(DedupDiskTier.open(dataDir.resolve("dedup"), WINDOW_MS, diskBudget, SPILL_BATCH, Thread::new));
        journal.recover();
        return journal;
    }

    private static List<JournalReplayTest.Event> request(final int r, final long tokens)
    {
        return request(r, tokens, PER_REQUEST);
    }

    private static List<JournalReplayTest.Event> request(final int r, final long tokens, final int count)
    {
        final List<JournalReplayTest.Event> events = new ArrayList<>();
        for (int e = 0; e < count; e++)
        {
            events.add(new JournalReplayTest.Event("acme", "m", "r" + r + "-" + e, START_MS, ServiceTier.STANDARD.code(),
                new long[] {tokens, 0, 0, 0, 1, 0}));
        }
        return events;
    }

    private int[] send(final JournalAgent journal, final int r, final long tokens)
    {
        final JournalReplayTest.Request request = new JournalReplayTest.Request(request(r, tokens));
        assertTrue(journal.offer(request));
        journal.doWork();
        assertNull(request.refusal, "request " + r);
        nowMs += 1000;
        return request.outcome;
    }

    private void sendNew(final JournalAgent journal, final int first, final int last)
    {
        for (int r = first; r < last; r++)
        {
            assertArrayEquals(new int[] {PER_REQUEST, 0, 0}, send(journal, r, 1), "request " + r + " is new");
        }
    }

    private void assertRemembered(final JournalAgent journal, final int[] requests, final String when)
    {
        for (final int r : requests)
        {
            assertArrayEquals(new int[] {0, PER_REQUEST, 0}, send(journal, r, 1), when + ": a retry of request " + r);
        }
    }

    @Test
    void idsFarBeyondTheMemoryCapacityAreRememberedThroughRestartsAndCrashes() throws IOException
    {
        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log, 64L << 20);
            sendNew(journal, 0, 40);
            assertTrue(journal.diskTier().ids() >= 40 * PER_REQUEST - CAPACITY - SPILL_BATCH * 2,
                "20,000 ids, 1,000 in memory: the rest spilled (" + journal.diskTier().ids() + ")");
            assertRemembered(journal, new int[] {0, 1, 17, 39}, "in the first life");
            assertArrayEquals(new int[] {0, 0, PER_REQUEST}, send(journal, 2, 7), "other content under old ids: conflicts");
            assertEquals(WINDOW_MS, journal.effectiveWindowMs(), "nothing was forgotten early");
            journal.onClose();
        }
        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log, 64L << 20);
            assertRemembered(journal, new int[] {0, 3, 38}, "after a clean restart");
            sendNew(journal, 40, 60);
            // documents of 100 ids: at the crash the tier's buffer holds ids of documents older than the memory's
            // oldest, unsealed, which only the checkpoint's replay point (at or before them) can bring back
            smallRequests = 0;
            while (smallRequests < 30 || !journal.diskTier().awaitIdle(10_000)
                || journal.dedup().head() - journal.diskTier().durableSeq() < 3 * SMALL)
            {
                assertTrue(smallRequests < 200, "a buffer left unsealed");
                final JournalReplayTest.Request small = new JournalReplayTest.Request(request(1000 + smallRequests++, 1, SMALL));
                assertTrue(journal.offer(small));
                journal.doWork();
                assertArrayEquals(new int[] {SMALL, 0, 0}, small.outcome);
                nowMs += 1000;
            }
            // a crash: no final checkpoint, and the tier's unsealed buffer is lost
            journal.diskTier().abandonForTest();
        }
        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log, 64L << 20);
            // every request, so that the ids the crash caught in the tier's unsealed buffer are among them
            assertRemembered(journal, java.util.stream.IntStream.range(0, 60).toArray(), "after a crash");
            for (int r = 1000; r < 1000 + smallRequests; r++)
            {
                final JournalReplayTest.Request retry = new JournalReplayTest.Request(request(r, 1, SMALL));
                assertTrue(journal.offer(retry));
                journal.doWork();
                assertArrayEquals(new int[] {0, SMALL, 0}, retry.outcome, "after a crash: a retry of small request " + r);
            }
            sendNew(journal, 60, 61);
            // the window passes: the old ids are forgotten, as they should be
            nowMs += WINDOW_MS + TimeUnit.MINUTES.toMillis(30);
            sendNew(journal, 61, 64);
            assertArrayEquals(new int[] {PER_REQUEST, 0, 0}, send(journal, 0, 1), "a retry after the window is new");
            assertEquals(WINDOW_MS, journal.effectiveWindowMs());
            journal.onClose();
        }
    }

    @Test
    void withNoTrafficTheDiskTierStillExpiresTheWindowsOldIds() throws IOException
    {
        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log, 64L << 20);
            sendNew(journal, 0, 20);
            assertTrue(journal.diskTier().awaitIdle(10_000));
            assertTrue(journal.diskTier().ids() > 0);
            // the window passes with nothing posted: the idle journal moves the tier's clock on
            nowMs += WINDOW_MS + TimeUnit.HOURS.toMillis(1);
            final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (journal.diskTier().ids() > 0 && System.nanoTime() < until)
            {
                journal.doWork();
                nowMs += 200;
                java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
            }
            assertEquals(0, journal.diskTier().ids(), "every segment expired without traffic");
            assertEquals(0, journal.diskTier().diskBytes());
            journal.onClose();
        }
    }

    @Test
    void aFullDiskBudgetForgetsTheOldestIdsEarlyAndSaysSo() throws IOException
    {
        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            // room for about two level-0 segments of 256 ids
            final JournalAgent journal = journal(log, 2 * (SPILL_BATCH * 18L + 4096));
            for (int r = 0; r < 40; r++)
            {
                send(journal, r, 1);
                journal.diskTier().awaitIdle(10_000);
            }
            assertTrue(journal.forgottenEarly() > 0, "ids were dropped by the budget");
            assertTrue(journal.effectiveWindowMs() < WINDOW_MS, "the effective window says so: " + journal.effectiveWindowMs());
            assertArrayEquals(new int[] {PER_REQUEST, 0, 0}, send(journal, 0, 1), "the oldest ids were forgotten early");
            assertArrayEquals(new int[] {0, PER_REQUEST, 0}, send(journal, 39, 1), "the newest are remembered");
            journal.onClose();
        }
    }
}
