package io.tokenmeter.core.log;

import io.tokenmeter.core.aggregate.BucketKey;
import io.tokenmeter.core.dedup.DedupIndex;
import io.tokenmeter.core.event.ServiceTier;
import io.tokenmeter.core.snapshot.SnapshotStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The journal's bound on distinct models per tenant ({@code maxModelsPerTenant}), on a real Chronicle queue driven on
 * the test thread: one tenant at its bound is refused whole, others are not affected, and the bound holds exactly
 * after a clean restart, a crash (no final checkpoint) and a checkpoint written before the bound existed.
 */
class ModelsPerTenantTest
{
    private static final long START_MS = 1_763_856_000_000L; // 2025-11-23T00:00:00Z
    private static final int LIMIT = 10;
    private static final long WINDOW_MS = TimeUnit.HOURS.toMillis(1);

    @TempDir
    Path dataDir;

    private long nowMs = START_MS;
    private int nextId;

    /** A short dedup window, so that a checkpoint's replay starts after the first documents and its pairs must count. */
    private JournalAgent journal(final EventLog log)
    {
        return new JournalAgent(log, new DedupIndex(1 << 16, WINDOW_MS, 20_000), new SnapshotStore(dataDir.resolve("snapshots")),
            Runnable::run, () -> nowMs, 1024, 64, 10_000, LIMIT, 1, ns -> { });
    }

    private JournalReplayTest.Event event(final String tenant, final String model)
    {
        return new JournalReplayTest.Event(tenant, model, "id-" + nextId++, START_MS, ServiceTier.STANDARD.code(), new long[6]);
    }

    /** @return events of the tenant with models {@code prefix + first} to {@code prefix + (last - 1)}, each a new id. */
    private List<JournalReplayTest.Event> models(final String tenant, final String prefix, final int first, final int last)
    {
        final List<JournalReplayTest.Event> events = new ArrayList<>();
        for (int m = first; m < last; m++)
        {
            events.add(event(tenant, prefix + m));
        }
        return events;
    }

    private static JournalReplayTest.Request send(final JournalAgent journal, final List<JournalReplayTest.Event> events)
    {
        final JournalReplayTest.Request request = new JournalReplayTest.Request(events);
        assertTrue(journal.offer(request));
        journal.doWork();
        return request;
    }

    private static void assertAccepted(final JournalReplayTest.Request request, final int accepted, final String what)
    {
        assertNull(request.refusal, what);
        assertArrayEquals(new int[] {accepted, 0, 0}, request.outcome, what);
    }

    private static void assertTooManyModels(final JournalReplayTest.Request request, final int refusedEvent, final String what)
    {
        assertEquals(JournalRequest.Refusal.TOO_MANY_MODELS, request.refusal, what);
        assertEquals(refusedEvent, request.refusedEvent, what + ": the refusal names the event with the new model");
    }

    /** After the first life: acme and initech at the limit, globex one below it, and each known model still taken. */
    private void assertLimitsOfTheFirstLife(final JournalAgent journal, final String life)
    {
        assertTooManyModels(send(journal, List.of(event("acme", "a-new"))), 0, life + ": acme has " + LIMIT + " models");
        assertTooManyModels(send(journal, List.of(event("initech", "i-new"))), 0, life + ": initech has " + LIMIT);
        assertAccepted(send(journal, List.of(event("acme", "a-3"), event("initech", "i-9"))), 2,
            life + ": known models of tenants at their limit are still taken");
    }

    @Test
    void aTenantAtItsModelLimitIsRefusedWholeAndOtherTenantsStillAddModels()
    {
        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log);
            journal.recover();
            assertAccepted(send(journal, models("acme", "a-", 0, LIMIT)), LIMIT, "acme fills its limit");

            final JournalReplayTest.Event known = event("acme", "a-3");
            final JournalReplayTest.Request over = send(journal, List.of(known, event("acme", "a-" + LIMIT), event("acme", "a-" + (LIMIT + 1))));
            assertTooManyModels(over, 1, "a new model beyond the limit");
            assertAccepted(send(journal, List.of(known)), 1, "the refused request left no trace: its known-model event "
                + "is new, not a duplicate");

            // a model name acme was refused is new to the shared table: another tenant defines it, with models of its own
            final List<JournalReplayTest.Event> globex = models("globex", "g-", 0, LIMIT - 2);
            globex.add(event("globex", "a-" + LIMIT));
            assertAccepted(send(journal, globex), LIMIT - 1, "another tenant's new models are accepted");
            assertAccepted(send(journal, List.of(event("globex", "a-0"))), 1, "and a model acme uses, which is new to globex");
            assertTooManyModels(send(journal, List.of(event("globex", "g-x"))), 0, "globex has reached its own limit");

            // a refused request takes back exactly its own pairs: initech at 8, three new is refused, two new is taken
            assertAccepted(send(journal, models("initech", "i-", 0, LIMIT - 2)), LIMIT - 2, "initech below its limit");
            assertTooManyModels(send(journal, models("initech", "i-", LIMIT - 2, LIMIT + 1)), 2, "three new models");
            // two requests in one drain: the first reaches the limit, the second goes beyond it
            final JournalReplayTest.Request fills = new JournalReplayTest.Request(models("initech", "i-", LIMIT - 2, LIMIT));
            final JournalReplayTest.Request beyond = new JournalReplayTest.Request(models("initech", "i-", LIMIT, LIMIT + 1));
            assertTrue(journal.offer(fills) && journal.offer(beyond));
            journal.doWork();
            assertAccepted(fills, 2, "the request that reaches the limit, in the same drain");
            assertTooManyModels(beyond, 0, "the request after it in the same drain");
            assertEquals(LIMIT, journal.maxModelsPerTenant());
        }
    }

    /**
     * The pairs of a refused request are forgotten wholly, the journal's quick per-tenant check of used models
     * included: models another tenant had already named (so their names stay defined when the request is taken back),
     * new to this tenant in a refused request, are new to it afterwards, and beyond its limit once it has reached it.
     */
    @Test
    void theModelsOfARefusedRequestAreNewAgainAfterIt()
    {
        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log);
            journal.recover();
            assertAccepted(send(journal, models("stark", "s-", 0, 3)), 3, "another tenant names three models");
            assertAccepted(send(journal, models("umbrella", "u-", 0, LIMIT - 2)), LIMIT - 2, "umbrella below its limit");
            assertTooManyModels(send(journal, models("umbrella", "s-", 0, 3)), 2,
                "two of stark's models reach umbrella's limit, the third goes beyond it: the whole request is refused");
            assertAccepted(send(journal, models("umbrella", "u-", LIMIT - 2, LIMIT)), 2, "two other models reach it");
            assertTooManyModels(send(journal, List.of(event("umbrella", "s-0"))), 0,
                "a model of the refused request is new to umbrella, and beyond its limit");
            assertAccepted(send(journal, List.of(event("umbrella", "u-0"), event("umbrella", "u-" + (LIMIT - 1)))), 2,
                "the models it has are known");
            assertAccepted(send(journal, List.of(event("stark", "s-0"))), 1, "and stark's are still its own");
        }
    }

    @Test
    void theLimitHoldsExactlyAfterARestartAndAfterACrash()
    {
        final long[] documents = new long[1];
        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log);
            journal.recover();
            assertAccepted(send(journal, models("acme", "a-", 0, LIMIT)), LIMIT, "acme fills its limit");
            assertAccepted(send(journal, models("initech", "i-", 0, LIMIT - 1)), LIMIT - 1, "initech one below");
            // later than the dedup window: the checkpoint's replay starts after acme's documents, whose pairs only it holds
            nowMs += 2 * WINDOW_MS;
            assertAccepted(send(journal, models("initech", "i-", LIMIT - 1, LIMIT)), 1, "initech reaches its limit");
            nowMs += 1000;
            assertAccepted(send(journal, models("globex", "g-", 0, LIMIT - 1)), LIMIT - 1, "globex one below");
            nowMs += 1000;
            assertAccepted(send(journal, List.of(event("umbrella", "u-0"))), 1, "one more document");
            documents[0] = 5;
            journal.onClose(); // final checkpoint
        }
        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log);
            assertTrue(journal.recover() < documents[0], "the checkpoint, not a full replay, holds acme's models");
            assertLimitsOfTheFirstLife(journal, "after a restart");
            // one checkpoint in this life (time moves once), then traffic after it and no final checkpoint: a crash
            nowMs += 1000;
            assertAccepted(send(journal, List.of(event("umbrella", "u-1"))), 1, "a checkpoint is written after this");
            assertAccepted(send(journal, List.of(event("globex", "g-9"))), 1, "globex reaches its limit after the checkpoint");
            assertAccepted(send(journal, models("hooli", "h-", 0, LIMIT)), LIMIT, "hooli fills its limit after it too");
        }
        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log);
            journal.recover();
            assertLimitsOfTheFirstLife(journal, "after a crash");
            assertTooManyModels(send(journal, List.of(event("globex", "g-new"))), 0, "globex's tenth model came by replay");
            assertTooManyModels(send(journal, List.of(event("hooli", "h-new"))), 0, "hooli's models came by replay");
            assertAccepted(send(journal, List.of(event("umbrella", "u-2"))), 1, "umbrella has two models, not ten");
            assertAccepted(send(journal, models("newco", "n-", 0, LIMIT)), LIMIT, "a new tenant has all of its limit");
        }
    }

    @Test
    void aCheckpointWithoutTenantsModelsIsReadAndTheLogReplayedFromItsStart()
    {
        final int pairs = 2 * LIMIT;
        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log);
            journal.recover();
            assertAccepted(send(journal, models("acme", "a-", 0, LIMIT)), LIMIT, "acme fills its limit");
            nowMs += 2 * WINDOW_MS;
            assertAccepted(send(journal, models("globex", "g-", 0, LIMIT - 1)), LIMIT - 1, "globex one below");
            nowMs += 1000;
            assertAccepted(send(journal, List.of(event("globex", "g-9"))), 1, "globex at its limit");
            journal.onClose();
        }
        // the checkpoint as the version before the bound wrote it: everything up to the price book, no layout field
        final SnapshotStore store = new SnapshotStore(dataDir.resolve("snapshots"));
        final SnapshotStore.Snapshot newest = store.loadNewest(JournalAgent.CHECKPOINT_KIND, index -> true).orElseThrow();
        final ByteBuffer payload = newest.payload().order(ByteOrder.LITTLE_ENDIAN);
        // layout 5: the pairs, the price book history (of no book in this log: its count alone), the handlers' states
        // (none), the streams (none)
        final int layoutAt = payload.limit() - 3 * Integer.BYTES - pairs * Long.BYTES - 2 * Integer.BYTES;
        assertEquals(5, payload.getInt(layoutAt), "layout 5 is followed by the pairs, the price book history, the states "
            + "and the streams");
        assertEquals(0, payload.getInt(payload.limit() - 3 * Integer.BYTES), "no price book in this log");
        assertEquals(0, payload.getInt(payload.limit() - 2 * Integer.BYTES), "no handler state in this log");
        assertEquals(0, payload.getInt(payload.limit() - Integer.BYTES), "no stream in this log");
        assertEquals(pairs, payload.getInt(layoutAt + Integer.BYTES));
        final ByteBuffer older = ByteBuffer.allocate(layoutAt).order(ByteOrder.LITTLE_ENDIAN);
        older.put(payload.duplicate().position(0).limit(layoutAt)).flip();
        assertTrue(store.writeOrWarn(JournalAgent.CHECKPOINT_KIND, newest.logIndex(), older));

        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log);
            assertEquals(3, journal.recover(), "every document is replayed, acme's too");
            assertTooManyModels(send(journal, List.of(event("acme", "a-new"))), 0, "acme's models counted from the log");
            assertTooManyModels(send(journal, List.of(event("globex", "g-new"))), 0, "globex's too");
            assertAccepted(send(journal, List.of(event("acme", "a-1"), event("globex", "g-1"))), 2, "known models taken");
            journal.onClose(); // a checkpoint of the new layout again
        }
        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final JournalAgent journal = journal(log);
            assertTrue(journal.recover() < 4, "the new checkpoint holds the pairs: no full replay");
            assertTooManyModels(send(journal, List.of(event("acme", "a-new"))), 0, "acme still at its limit");
        }
    }

    @Test
    void aFailedAppendTakesBackTheModelsItsEventsWouldHaveAdded()
    {
        try (ChronicleEventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final Faults faults = new Faults();
            log.useFaults(faults);
            final JournalAgent journal = journal(log);
            journal.recover();
            assertAccepted(send(journal, models("acme", "a-", 0, LIMIT - 1)), LIMIT - 1, "acme one below its limit");
            faults.failAppends("No space left on device");
            assertEquals(JournalRequest.Refusal.LOG_UNWRITABLE, send(journal, models("acme", "x-", 0, 1)).refusal);
            faults.failAppends(null);
            assertAccepted(send(journal, models("acme", "y-", 0, 1)), 1, "the failed append's model was not counted");
            assertTooManyModels(send(journal, models("acme", "z-", 0, 1)), 0, "and now acme is at its limit");
        }
    }

    @Test
    void theLimitIsCheckedAtConstruction()
    {
        try (EventLog log = new ChronicleEventLog(dataDir.resolve("log"), Durability.PROCESS))
        {
            final IllegalArgumentException ex = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new JournalAgent(log, new DedupIndex(16, WINDOW_MS, 16), new SnapshotStore(dataDir.resolve("s")),
                    Runnable::run, () -> nowMs, 16, 4, 100, BucketKey.MAX_MODELS + 1, 1, ns -> { }));
            assertTrue(ex.getMessage().contains(String.valueOf(BucketKey.MAX_MODELS)), ex.getMessage());
        }
    }
}
