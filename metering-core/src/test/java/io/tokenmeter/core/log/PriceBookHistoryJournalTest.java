package io.tokenmeter.core.log;

import io.tokenmeter.core.dedup.DedupIndex;
import io.tokenmeter.core.event.NameDictionary;
import io.tokenmeter.core.event.ServiceTier;
import io.tokenmeter.core.snapshot.SnapshotStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The journal's history of price books, on a real Chronicle queue driven on the test thread with a clock the test
 * moves: every book recorded is listed with its revision, position, time and SHA-256, and the same list comes back
 * after a restart whose replay starts after the books (the dedup window passed), from a checkpoint of the layout before
 * the history (read from the log once), and with no checkpoint at all.
 */
class PriceBookHistoryJournalTest
{
    private static final long START_MS = 1_763_856_000_000L; // 2025-11-23T00:00:00Z
    private static final long WINDOW_MS = TimeUnit.HOURS.toMillis(1);

    @TempDir
    Path dataDir;

    private long nowMs = START_MS;
    private int requests;

    private JournalAgent journal(final EventLog log)
    {
        final JournalAgent journal = new JournalAgent(log, new DedupIndex(10_000, WINDOW_MS, 20_000),
            new SnapshotStore(dataDir.resolve("snapshots")), Runnable::run, () -> nowMs, 1024, 64, 10_000, 1000, Long.MAX_VALUE,
            ns -> { });
        return journal;
    }

    private static byte[] book(final int n)
    {
        return ("{\"currency\":\"USD\",\"book\":" + n + "}").getBytes(StandardCharsets.UTF_8);
    }

    private void record(final JournalAgent journal, final long revision) throws Exception
    {
        final PriceBookInstall install = new PriceBookInstall(book((int)revision), RateRules.NONE, revision);
        assertTrue(journal.offer(install));
        journal.doWork();
        install.result().get(1, TimeUnit.SECONDS);
        nowMs += 1000;
    }

    /** Posts a request of ten new events, one second of journal time after the last document. */
    private void post(final JournalAgent journal)
    {
        final List<JournalReplayTest.Event> events = new ArrayList<>();
        for (int e = 0; e < 10; e++)
        {
            events.add(new JournalReplayTest.Event("acme", "m", "r" + requests + "-" + e, START_MS, ServiceTier.STANDARD.code(),
                new long[] {1, 0, 0, 0, 1, 0}));
        }
        requests++;
        final JournalReplayTest.Request request = new JournalReplayTest.Request(events);
        assertTrue(journal.offer(request));
        journal.doWork();
        assertNull(request.refusal);
        assertArrayEquals(new int[] {10, 0, 0}, request.outcome);
        nowMs += 1000;
    }

    /** @return the history as text, one line a book, to compare whole. */
    private static List<String> lines(final PriceBookHistory history)
    {
        final List<String> lines = new ArrayList<>();
        for (int i = 0; i < history.size(); i++)
        {
            lines.add(history.revision(i) + " " + Long.toHexString(history.logIndex(i)) + " " + history.appendTimeMs(i) + " "
                + history.sha256(i));
        }
        return lines;
    }

    private static String sha256(final byte[] bytes)
    {
        return HexFormat.of().formatHex(PriceBookHistory.sha256Of(bytes, 0, bytes.length));
    }

    @Test
    void everyBookIsListedAndTheListSurvivesARestartThatReplaysOnlyWhatCameAfterThem() throws Exception
    {
        final List<String> recorded;
        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log);
            journal.recover();
            assertEquals(0, journal.priceBooks().size());
            post(journal);
            record(journal, 1);
            post(journal);
            record(journal, 2);
            record(journal, 3);
            final PriceBookHistory history = journal.priceBooks();
            assertEquals(3, history.size());
            for (int i = 0; i < 3; i++)
            {
                assertEquals(i + 1, history.revision(i));
                assertEquals(sha256(book(i + 1)), history.sha256(i), "the SHA-256 of the bytes recorded");
            }
            assertEquals(1, history.find(2));
            assertEquals(journal.priceBookIndex(), history.lastLogIndex());
            assertEquals(-1, history.find(4));
            assertTrue(history.logIndex(0) < history.logIndex(1) && history.logIndex(1) < history.logIndex(2));
            assertEquals(START_MS + 1000, history.appendTimeMs(0), "the journal's time of the record");
            // the dedup window passes: the ids of the first requests expire, so the replay point moves past the books
            nowMs += WINDOW_MS + TimeUnit.MINUTES.toMillis(10);
            for (int i = 0; i < 5; i++)
            {
                post(journal);
            }
            recorded = lines(journal.priceBooks());
            journal.onClose();
        }
        final long documents;
        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log);
            final long replayed = journal.recover();
            assertTrue(replayed <= 5, "the replay starts after the books (" + replayed + " documents replayed)");
            assertEquals(recorded, lines(journal.priceBooks()), "the checkpoint's history");
            record(journal, 4);
            assertEquals(4, journal.priceBooks().size());
            assertEquals(sha256(book(4)), journal.priceBooks().sha256(3));
            journal.onClose();
            documents = countDocuments(log);
        }
        final List<String> withFourth;
        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log);
            journal.recover();
            withFourth = lines(journal.priceBooks());
            assertEquals(recorded, withFourth.subList(0, 3));
            assertEquals(4, withFourth.size());
        }

        // a checkpoint of layout 2, written before the history was: the books before its replay point are read once
        final SnapshotStore snapshots = new SnapshotStore(dataDir.resolve("snapshots"));
        final SnapshotStore.Snapshot checkpoint = snapshots.loadNewest(JournalAgent.CHECKPOINT_KIND, i -> true).orElseThrow();
        snapshots.write(JournalAgent.CHECKPOINT_KIND, checkpoint.logIndex(), asLayoutTwo(checkpoint.payload()));
        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log);
            final long replayed = journal.recover();
            assertTrue(replayed < documents, "still replayed from the checkpoint's replay point: " + replayed + " of " + documents);
            assertEquals(withFourth, lines(journal.priceBooks()), "found in the log before the replay point");
        }

        // no checkpoint: the whole log is replayed, and finds the same books
        for (final Path file : snapshots.list(JournalAgent.CHECKPOINT_KIND))
        {
            Files.delete(file);
        }
        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log);
            assertEquals(documents, journal.recover());
            assertEquals(withFourth, lines(journal.priceBooks()));
        }
    }

    @Test
    void aHistoryIsWrittenAndReadBackWholeAndABookAlreadyInItIsNotAddedTwice()
    {
        final byte[] sha = PriceBookHistory.sha256Of(book(1), 0, book(1).length);
        final PriceBookHistory history = PriceBookHistory.EMPTY.with(1, 10, 1000, sha).with(2, 20, 2000, sha);
        assertEquals(history, history.with(1, 10, 1000, sha), "a replay of a book the checkpoint holds");
        assertEquals(history, history.with(2, 20, 2000, sha));
        final ByteBuffer buffer = ByteBuffer.allocate(history.encodedLength() + 3).order(ByteOrder.LITTLE_ENDIAN);
        history.writeTo(buffer);
        assertEquals(history.encodedLength(), buffer.position());
        buffer.flip();
        assertEquals(lines(history), lines(PriceBookHistory.readFrom(buffer)));
        final ByteBuffer cut = ByteBuffer.allocate(Integer.BYTES + 10).order(ByteOrder.LITTLE_ENDIAN).putInt(2);
        cut.flip();
        final IllegalStateException tooShort = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
            () -> PriceBookHistory.readFrom(cut));
        assertTrue(tooShort.getMessage().contains("2 books"), tooShort.getMessage());
    }

    private static long countDocuments(final EventLog log)
    {
        long count = 0;
        try (EventLog.Reader reader = log.newReader())
        {
            reader.startAt(EventLog.NO_INDEX);
            while (reader.readNext(new io.tokenmeter.core.event.LogDocumentReader.Handler()
            {
                @Override
                public void onName(final byte recordType, final int id, final org.agrona.DirectBuffer buffer, final int offset,
                    final int length)
                {
                }

                @Override
                public void onEvent(final io.tokenmeter.core.event.EventRecord event, final long appendTimeMs)
                {
                }
            }, (index, appendTimeMs) -> { }) != EventLog.NO_INDEX && count < 1_000_000)
            {
                count++;
            }
        }
        return count;
    }

    /**
     * @return a checkpoint payload of the layout written now (5) cut back to layout 2: without the price book history and
     *     the handlers' states after the pairs.
     */
    private static ByteBuffer asLayoutTwo(final ByteBuffer payload)
    {
        final ByteBuffer in = payload.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        in.getLong();
        in.getLong();
        new NameDictionary(1 << 24).readFrom(in);
        new NameDictionary(1 << 16).readFrom(in);
        in.getLong();
        in.getLong();
        final int layoutAt = in.position();
        assertEquals(5, in.getInt(), "the layout written now");
        final int pairs = in.getInt();
        in.position(in.position() + pairs * Long.BYTES);
        final ByteBuffer out = ByteBuffer.allocate(in.position()).order(ByteOrder.LITTLE_ENDIAN);
        final ByteBuffer head = payload.duplicate();
        head.limit(in.position());
        out.put(head);
        out.putInt(layoutAt, 2);
        return out.flip();
    }
}
