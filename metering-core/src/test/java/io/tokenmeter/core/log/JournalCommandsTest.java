package io.tokenmeter.core.log;

import io.tokenmeter.core.dedup.DedupIndex;
import io.tokenmeter.core.event.EventRecord;
import io.tokenmeter.core.event.LogDocumentReader;
import io.tokenmeter.core.event.LogLayout;
import io.tokenmeter.core.snapshot.SnapshotStore;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The journal's command table: control records decided by their handler, written in log order, replayed in order. */
class JournalCommandsTest
{
    private static final int KIND = 7;

    @TempDir
    Path dir;

    /** A handler that accepts revisions above the last one and remembers what it saw. */
    static final class Counter implements ControlHandler
    {
        final List<String> seen = new ArrayList<>();
        long revision;

        @Override
        public JournalRequest.Refusal check(final ControlRequest request)
        {
            return request.revision() <= revision ? JournalRequest.Refusal.STALE_REVISION : null;
        }

        @Override
        public void onRecorded(final ControlRequest request, final long logIndex, final long appendTimeMs)
        {
            revision = request.revision();
            seen.add("recorded " + request.revision() + " " + new String(request.payload(), StandardCharsets.UTF_8));
        }

        @Override
        public void onReplayed(final long revision, final DirectBuffer payload, final int offset, final int length,
            final long logIndex, final long appendTimeMs)
        {
            this.revision = revision;
            seen.add("replayed " + revision + " " + payload.getStringWithoutLengthUtf8(offset, length));
        }
    }

    /** A handler that keeps every payload it was given, once, and checkpoints them. */
    static final class Keeper implements ControlHandler
    {
        final List<String> kept = new ArrayList<>();
        final List<String> seen = new ArrayList<>();

        @Override
        public JournalRequest.Refusal check(final ControlRequest request)
        {
            return kept.contains(new String(request.payload(), StandardCharsets.UTF_8)) ? JournalRequest.Refusal.ALREADY_RECORDED
                : null;
        }

        @Override
        public void onRecorded(final ControlRequest request, final long logIndex, final long appendTimeMs)
        {
            kept.add(new String(request.payload(), StandardCharsets.UTF_8));
        }

        @Override
        public void onReplayed(final long revision, final DirectBuffer payload, final int offset, final int length,
            final long logIndex, final long appendTimeMs)
        {
            final String text = payload.getStringWithoutLengthUtf8(offset, length);
            seen.add("replayed " + text);
            if (!kept.contains(text))
            {
                kept.add(text);
            }
        }

        @Override
        public byte[] checkpointState()
        {
            return String.join(",", kept).getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public void restoreCheckpointState(final ByteBuffer state)
        {
            final byte[] bytes = new byte[state.remaining()];
            state.get(bytes);
            final String text = new String(bytes, StandardCharsets.UTF_8);
            seen.add("restored " + text);
            kept.addAll(List.of(text.split(",")));
        }
    }

    private JournalAgent journal(final EventLog log)
    {
        return new JournalAgent(log, new DedupIndex(1024, TimeUnit.HOURS.toMillis(24), 20_000),
            new SnapshotStore(dir.resolve("snapshots")), Runnable::run, () -> 1_000_000L, 64, 16, 1000, 1000, Long.MAX_VALUE, ns -> { });
    }

    private static ControlRequest.Recorded record(final JournalAgent journal, final long revision, final String payload)
        throws Exception
    {
        final ControlRequest request = new ControlRequest(KIND, revision, payload.getBytes(StandardCharsets.UTF_8));
        assertTrue(journal.offer(request));
        journal.doWork();
        return request.result().get(1, TimeUnit.SECONDS);
    }

    @Test
    void aControlRecordIsDecidedByItsHandlerAndReplayedInLogOrder() throws Exception
    {
        final Counter live = new Counter();
        try (EventLog log = new ChronicleEventLog(dir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log);
            journal.handle(KIND, live);
            journal.recover();
            final ControlRequest.Recorded first = record(journal, 1, "one");
            record(journal, 2, "two");
            final ExecutionException stale = assertThrows(ExecutionException.class, () -> record(journal, 2, "again"));
            assertTrue(stale.getCause().getMessage().contains("not above"), stale.getCause().getMessage());
            assertEquals(List.of("recorded 1 one", "recorded 2 two"), live.seen);
            assertEquals(journal.lastAppendedIndex(), log.lastIndex(), "nothing written for the refused record");
            assertTrue(first.logIndex() < log.lastIndex());
        }
        final Counter replayed = new Counter();
        try (EventLog log = new ChronicleEventLog(dir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log);
            journal.handle(KIND, replayed);
            journal.recover();
            assertEquals(List.of("replayed 1 one", "replayed 2 two"), replayed.seen);
            assertEquals(2, replayed.revision);
        }
    }

    @Test
    void aHandlersCheckpointStateCarriesRecordsTheReplayNoLongerReaches() throws Exception
    {
        try (EventLog log = new ChronicleEventLog(dir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log);
            final Keeper live = new Keeper();
            journal.handle(KIND, live);
            journal.recover();
            record(journal, 1, "one");
            record(journal, 1, "two");
            final ExecutionException again = assertThrows(ExecutionException.class, () -> record(journal, 1, "one"));
            assertTrue(again.getCause().getMessage().contains("in the log already"), again.getCause().getMessage());
            // an event after the records: the oldest live dedup id, so the next recovery replays from its document on
            final JournalReplayTest.Request events = new JournalReplayTest.Request(List.of(new JournalReplayTest.Event("acme", "m",
                "e1", 1_000_000L, 0, new long[] {1, 0, 0, 0, 0, 0})));
            assertTrue(journal.offer(events));
            journal.doWork();
            assertEquals(1, events.outcome[0]);
            journal.onClose();
        }
        try (EventLog log = new ChronicleEventLog(dir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log);
            final Keeper restored = new Keeper();
            journal.handle(KIND, restored);
            journal.recover();
            assertEquals(List.of("restored one,two"), restored.seen, "the records before the replay point come from the "
                + "checkpoint, not the replay");
            assertEquals(List.of("one", "two"), restored.kept);
            final ExecutionException again = assertThrows(ExecutionException.class, () -> record(journal, 1, "two"));
            assertTrue(again.getCause().getMessage().contains("in the log already"), again.getCause().getMessage());
        }
        // without the checkpoint the whole log is replayed, and the handler gets the same records from it
        try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(dir.resolve("snapshots")))
        {
            for (final Path file : files.toList())
            {
                java.nio.file.Files.delete(file);
            }
        }
        try (EventLog log = new ChronicleEventLog(dir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log);
            final Keeper replayed = new Keeper();
            journal.handle(KIND, replayed);
            journal.recover();
            assertEquals(List.of("replayed one", "replayed two"), replayed.seen);
            assertEquals(List.of("one", "two"), replayed.kept);
        }
    }

    @Test
    void aKindWithoutAHandlerIsRefusedAndALogHoldingOneStopsRecovery() throws Exception
    {
        try (EventLog log = new ChronicleEventLog(dir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log);
            journal.recover();
            final ExecutionException refused = assertThrows(ExecutionException.class, () -> record(journal, 1, "x"));
            assertTrue(refused.getCause().getMessage().contains("no handler"), refused.getCause().getMessage());
            final JournalAgent writer = journal(log);
            writer.handle(KIND, new Counter());
            writer.recover();
            record(writer, 1, "x");
        }
        try (EventLog log = new ChronicleEventLog(dir.resolve("log"), Durability.PROCESS))
        {
            final IllegalStateException stopped = assertThrows(IllegalStateException.class, () -> journal(log).recover());
            assertTrue(stopped.getMessage().contains("control record of kind 7"), stopped.getMessage());
        }
    }

    @Test
    void aPriceBookDocumentOfAnEarlierVersionIsReadAsAControlRecord()
    {
        // kind 2 as versions before CONTROL documents wrote it (version 1: no checksum)
        final byte[] json = "{\"book\":1}".getBytes(StandardCharsets.UTF_8);
        final UnsafeBuffer doc = new UnsafeBuffer(new byte[LogLayout.PRICE_BOOK_JSON_OFFSET + json.length]);
        doc.putByte(LogLayout.DOC_KIND_OFFSET, LogLayout.DOCUMENT_KIND_PRICE_BOOK);
        doc.putByte(LogLayout.DOC_VERSION_OFFSET, LogLayout.DOCUMENT_VERSION_WITHOUT_CHECKSUM);
        doc.putLong(LogLayout.DOC_APPEND_TIME_OFFSET, 123L);
        doc.putLong(LogLayout.PRICE_BOOK_REVISION_OFFSET, 4L);
        doc.putInt(LogLayout.PRICE_BOOK_LENGTH_OFFSET, json.length);
        doc.putBytes(LogLayout.PRICE_BOOK_JSON_OFFSET, json);
        final List<String> seen = new ArrayList<>();
        new LogDocumentReader().read(doc, 0, doc.capacity(), new LogDocumentReader.Handler()
        {
            @Override
            public void onName(final byte recordType, final int id, final DirectBuffer buffer, final int offset, final int len)
            {
            }

            @Override
            public void onEvent(final EventRecord event, final long appendTimeMs)
            {
            }

            @Override
            public void onControl(final int controlKind, final long revision, final DirectBuffer buffer, final int offset,
                final int len, final long appendTimeMs)
            {
                seen.add(controlKind + " " + revision + " " + buffer.getStringWithoutLengthUtf8(offset, len) + " " + appendTimeMs);
            }
        });
        assertEquals(List.of(LogLayout.CONTROL_PRICE_BOOK + " 4 {\"book\":1} 123"), seen);
    }
}
