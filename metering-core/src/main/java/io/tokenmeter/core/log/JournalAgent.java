package io.tokenmeter.core.log;

import io.tokenmeter.core.aggregate.BucketKey;
import io.tokenmeter.core.dedup.DedupDiskTier;
import io.tokenmeter.core.dedup.DedupIndex;
import io.tokenmeter.core.event.EventLink;
import io.tokenmeter.core.event.EventRecord;
import io.tokenmeter.core.event.LogDocumentReader;
import io.tokenmeter.core.event.LogDocumentWriter;
import io.tokenmeter.core.event.LogLayout;
import io.tokenmeter.core.event.NameDictionary;
import io.tokenmeter.core.event.RateVariant;
import io.tokenmeter.core.event.StagedEvent;
import io.tokenmeter.core.snapshot.SnapshotStore;
import org.agrona.DirectBuffer;
import org.agrona.ErrorHandler;
import org.agrona.collections.IntHashSet;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.collections.LongArrayList;
import org.agrona.collections.LongHashSet;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.EpochClock;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * The journal: the only thread that appends to the log. HTTP event loops {@link #offer} requests through a bounded
 * queue; each duty cycle drains several, decides every event (new, duplicate, conflict) against the
 * {@link DedupIndex} in log order, interns tenant and model names (writing NAME records before first use), appends
 * all accepted events of the drain as one document (group commit), then answers each request.
 *
 * <p>Owns, and alone touches: the appender, the dedup index, both name dictionaries, the set of models each tenant
 * has used, the document writer, the checkpoint marks and the long-context rules of the price book in force. Publishes
 * {@link #lastAppendedIndex()}, the {@link #priceBooks()} recorded (immutable, swapped whole) and counters for other
 * threads.
 *
 * <p>Names are bounded twice: the dictionaries by the widths of the ids in the log ({@link BucketKey#MAX_TENANTS},
 * {@link BucketKey#MAX_MODELS}, shared by every tenant of the partition), and each tenant by its own number of
 * distinct models ({@code maxModelsPerTenant}), so that one tenant sending per-request data as model names is refused
 * ({@link JournalRequest.Refusal#TOO_MANY_MODELS}) long before it could fill the table the other tenants need.
 *
 * <p>Control records: a {@link ControlRequest} is decided by the handler of its kind in the journal's command table
 * ({@link #handle}) and written as its own CONTROL document between event documents; replay hands each back to its
 * handler in log order. Price books are the built-in kind: from a {@link PriceBookInstall} on, each accepted event
 * is marked in the log with its context tier (by its prompt size) and time window (by its timestamp) under the
 * book's {@link RateRules} for its tenant, model and hour ({@link io.tokenmeter.core.event.RateVariant}). The
 * decisions are made once, here, and replay reads them back.
 *
 * <p>Recovery: the dedup index is not snapshotted; it is rebuilt by replaying the log from a checkpointed index
 * at or before the document holding its oldest key (see {@link DedupIndex} for why that is exact). The checkpoint
 * holds that index, the journal clock, the name dictionaries, the log position of the price book in force, every
 * (tenant, model) pair used up to its log index, the {@link PriceBookHistory} of every book recorded up to it and the
 * state each control handler keeps (the credit grants); replay adds the pairs and books after it and hands the handlers
 * the control records after the replay point.
 *
 * <pre>
 * checkpoint payload (little-endian)
 *   replayFrom i64 | clockMs i64 | tenants dictionary | models dictionary | priceBookIndex i64 | priceBookRevision i64
 *   | layout i32 = 4 | pairs i32 | pair i64 (tenantId &lt;&lt; 16 | modelId) * pairs | price book history
 *   | states i32 | (controlKind i32 | length i32 | bytes) * states      (the handlers' {@link ControlHandler#checkpointState})
 *   | streams (the {@link StreamTable}: count i32, then per stream its hash, highest seq and counts, times, flags)
 * layout 4 ends after the states; layout 3 after the price book history; layout 2 after the pairs: the books before its replay point are found by
 * reading the log up to it, once; layout 1 (before the per-tenant bound) ends after priceBookRevision, or before it in
 * the oldest checkpoints
 * </pre>
 */
public final class JournalAgent implements Agent
{
    public static final String CHECKPOINT_KIND = "journal";

    private static final Logger LOG = LoggerFactory.getLogger(JournalAgent.class);
    private static final int MAX_MARKS = 1 << 16;
    private static final long IDLE_TIER_POLL_MS = 100;
    private static final int MAX_CACHED_SCHEDULES = 1 << 20;
    private static final int IDLE_SPINS = 100;
    /**
     * Kept (decision 353): without them a journal parks between single-event requests and every offer pays its
     * wake-up, and single events' open-loop p99 went from 8 to 10 ms to 27 to 187 ms.
     */
    private static final int IDLE_YIELDS = 100;
    private static final long MAX_PARK_NS = 10_000_000L;
    /**
     * The checkpoint layout written: 4 appends the control handlers' states, 3 the price book history, 2 the (tenant,
     * model) pairs; 1 had none of them.
     */
    private static final int CHECKPOINT_LAYOUT = 5;
    /** The first layout with the (tenant, model) pairs. */
    private static final int PAIRS_LAYOUT = 2;
    /** The first layout with the price book history. */
    private static final int HISTORY_LAYOUT = 3;
    /** The first layout with the control handlers' states. */
    private static final int STATES_LAYOUT = 4;
    /** The first layout with the streams. */
    private static final int STREAMS_LAYOUT = 5;
    /** Per drained request: accepted, duplicates, conflicts, refusal (ordinal + 1, 0 for none), refused event's index. */
    private static final int OUTCOME_SLOTS = 5;
    /** Events whose dedup probes are loaded ahead at a time: as many misses as the processor keeps in flight. */
    private static final int PREFETCH_CHUNK = 32;
    /** The {@code stream-timeout} setting's default: a stream with no final checkpoint 10 minutes after its first is closed. */
    public static final long DEFAULT_STREAM_TIMEOUT_MS = 600_000L;
    private static final long STREAM_SWEEP_INTERVAL_MS = 10_000L;
    /** {@link #skipAtOrBelow} not yet asked of the rules. */
    private static final long UNKNOWN_THRESHOLD = Long.MIN_VALUE;

    private final EventLog log;
    private final DedupIndex dedup;
    /** Holds what {@link #dedup} evicts because of its capacity, for the rest of the window; null when there is none. */
    private DedupDiskTier diskTier;
    private final DedupIndex.Spill spillToDisk = new DedupIndex.Spill()
    {
        @Override
        public void spill(final long idHashHi, final long idHashLo, final long contentHash, final long acceptedAtMs,
            final long seq)
        {
            JournalAgent.this.spill(idHashHi, idHashLo, contentHash, acceptedAtMs, seq);
        }

        @Override
        public void prefetch(final long idHashHi)
        {
            diskTier.prefetchSpill(idHashHi);
        }
    };
    private long lastTierPollMs;
    /** Whether {@link #recover()} is replaying: ids already on disk are not spilled again. */
    private boolean replaying;
    /** Ids held by the disk tier when the last budget eviction was seen. */
    private long evictedByBudgetSeen;
    /** Journal time of the last id forgotten before its window ended, Long.MIN_VALUE for never (since start). */
    private volatile long lastEarlyLossMs = Long.MIN_VALUE;
    private final SnapshotStore snapshots;
    private final Executor snapshotWriter;
    private final EpochClock clock;
    private final long checkpointIntervalMs;
    private final int maxDrainEvents;
    private final ManyToOneConcurrentArrayQueue<JournalRequest> inbox;
    private final WakeableIdleStrategy idle = new WakeableIdleStrategy(IDLE_SPINS, IDLE_YIELDS, MAX_PARK_NS);
    private final JournalRequest[] drained;
    private final int[] outcomes;
    private final NameDictionary tenants = new NameDictionary(BucketKey.MAX_TENANTS);
    private final NameDictionary models = new NameDictionary(BucketKey.MAX_MODELS);
    private final int maxModelsPerTenant;
    /** Every (tenant, model) pair of an event in the log, as {@link #pair}: the models each tenant has used. */
    private final LongHashSet tenantModels = new LongHashSet();
    /** Distinct models of each tenant id: its pairs in {@link #tenantModels}. Grows with the tenant dictionary. */
    private int[] modelCountOfTenant = new int[256];
    /**
     * Bit m of a tenant id's word: whether {@link #tenantModels} holds (tenant, m), for the models below 64, so that
     * the check of each new event reads one word of a small array (in cache) instead of probing the set, whose
     * table at 10,000 tenants is megabytes (a cache miss an event, 7 % of the journal's samples). The set stays the
     * record (checkpoints, rollback); this mirrors it. Grows with {@link #modelCountOfTenant}.
     */
    private long[] modelBitsOfTenant = new long[256];
    /** Pairs added since the drain began, in order, so that a refused request or a failed append takes them back. */
    private final LongArrayList pairsAdded = new LongArrayList();
    /** Tenant ids refused a new model since start: each is logged once, not once per refused request. */
    private final IntHashSet tenantsAtModelLimit = new IntHashSet();
    private final LogDocumentWriter writer = new LogDocumentWriter(1 << 20);
    private final StagedEvent staged = new StagedEvent();
    /** Reads ahead of {@link #staged} for {@link #prefetch}. */
    private final StagedEvent ahead = new StagedEvent();
    private final LongConsumer appendLatencyNs;
    private final long[] markIndex = new long[MAX_MARKS];
    private final long[] markSeq = new long[MAX_MARKS];
    private final long markSpacingMs;
    private int markFirst;
    private int markCount;
    private long lastMarkMs = Long.MIN_VALUE;
    private long clockMs;
    private long lastCheckpointMs;
    private long lastCheckpointIndex = EventLog.NO_INDEX;
    private String roleName = "journal";
    private ErrorHandler errorHandler = ex -> LOG.error("log append failed", ex);
    private RateRules rateRules = RateRules.NONE;
    private long smallestThreshold;
    private boolean timeWindows;
    private final Long2ObjectHashMap<RateSchedule> schedulesByPair = new Long2ObjectHashMap<>();
    /**
     * Per model id, the prompt size at or below which the model's events skip the pair lookup ({@link
     * RateRules#smallestThreshold(String)}; -1 when the model has time windows and nothing is skipped); {@code
     * UNKNOWN_THRESHOLD} until asked. Most models of a book with windows have none, so their events stay on the fast path.
     */
    private long[] skipAtOrBelow = new long[0];
    /** The streams seen (SPEC section 12): a checkpoint is logged as its increase over the stream's highest. */
    private StreamTable streams = new StreamTable(DEFAULT_STREAM_TIMEOUT_MS);
    private final long[] streamCounts = new long[io.tokenmeter.core.event.TokenClass.COUNT];
    private final long[] streamIncrements = new long[io.tokenmeter.core.event.TokenClass.COUNT];
    private final AtomicLong streamConflicts = new AtomicLong();
    private long lastStreamSweepMs;
    /** The command table: the handler of each kind of control record, by kind. */
    private final ControlHandler[] commands = new ControlHandler[LogLayout.MAX_CONTROL_KINDS];

    private volatile long priceBookIndex = EventLog.NO_INDEX;
    private volatile long priceBookRevision;
    /** Every book recorded in this log, published for the API's list of revisions. */
    private volatile PriceBookHistory priceBooks = PriceBookHistory.EMPTY;

    private volatile long lastAppendedIndex = EventLog.NO_INDEX;
    private volatile String failure;
    private final AtomicLong acceptedEvents = new AtomicLong();
    private final AtomicLong duplicateEvents = new AtomicLong();
    private final AtomicLong conflictEvents = new AtomicLong();
    private final AtomicLong appendFailures = new AtomicLong();

    /**
     * @param maxDrainEvents  events per document at most; a request is never split, so a document may hold up to
     *                        {@code maxDrainEvents + the largest request - 1}.
     * @param maxModelsPerTenant distinct models one tenant may use in this partition's log; a request with a new
     *                        model beyond it is refused whole ({@link JournalRequest.Refusal#TOO_MANY_MODELS}).
     * @param appendLatencyNs told the duration of each append (journal thread; must not block).
     */
    public JournalAgent(
        final EventLog log,
        final DedupIndex dedup,
        final SnapshotStore snapshots,
        final Executor snapshotWriter,
        final EpochClock clock,
        final int inboxCapacity,
        final int maxDrainRequests,
        final int maxDrainEvents,
        final int maxModelsPerTenant,
        final long checkpointIntervalMs,
        final LongConsumer appendLatencyNs)
    {
        if (maxModelsPerTenant < 1 || maxModelsPerTenant > BucketKey.MAX_MODELS)
        {
            throw new IllegalArgumentException("models per tenant must be 1 to " + BucketKey.MAX_MODELS + ", not "
                + maxModelsPerTenant);
        }
        this.maxModelsPerTenant = maxModelsPerTenant;
        this.appendLatencyNs = appendLatencyNs;
        this.log = log;
        this.dedup = dedup;
        this.snapshots = snapshots;
        this.snapshotWriter = snapshotWriter;
        this.clock = clock;
        this.inbox = new ManyToOneConcurrentArrayQueue<>(inboxCapacity);
        this.drained = new JournalRequest[maxDrainRequests];
        this.outcomes = new int[maxDrainRequests * OUTCOME_SLOTS];
        this.maxDrainEvents = maxDrainEvents;
        this.checkpointIntervalMs = checkpointIntervalMs;
        this.markSpacingMs = Math.max(1000L, dedup.windowMs() / (MAX_MARKS / 2));
        commands[LogLayout.CONTROL_PRICE_BOOK] = new PriceBookCommand();
    }

    /**
     * Hands a request to the journal. Any thread.
     *
     * @return false when the queue is full: the caller sheds the request (503 with Retry-After).
     */
    public boolean offer(final JournalRequest request)
    {
        if (inbox.offer(request))
        {
            idle.wake();
            return true;
        }
        return false;
    }

    /** @return the idle strategy to run this agent with: it parks when the inbox is empty and {@link #offer} wakes it. */
    public WakeableIdleStrategy idleStrategy()
    {
        return idle;
    }

    /**
     * Rebuilds the dedup index and the dictionaries from the newest usable checkpoint and the log after it.
     * Call once, before the agent runs, on the thread that will start it.
     *
     * @return the number of log documents replayed.
     */
    public long recover()
    {
        final long logEnd = log.lastIndex();
        long replayFrom = EventLog.NO_INDEX;
        final Optional<SnapshotStore.Snapshot> checkpoint =
            snapshots.loadNewest(CHECKPOINT_KIND, index -> index <= logEnd);
        if (checkpoint.isPresent())
        {
            final ByteBuffer payload = checkpoint.get().payload();
            replayFrom = payload.getLong();
            clockMs = payload.getLong();
            tenants.readFrom(payload);
            models.readFrom(payload);
            if (payload.remaining() >= 2 * Long.BYTES)
            {
                priceBookIndex = payload.getLong();
                priceBookRevision = payload.getLong();
            }
            final int layout = payload.remaining() >= Integer.BYTES ? payload.getInt() : 1;
            if (layout >= PAIRS_LAYOUT)
            {
                // a later layout may append more after what this version knows: that is read, the rest ignored
                for (int i = 0, n = payload.getInt(); i < n; i++)
                {
                    final long pair = payload.getLong();
                    addPair(pairTenantId(pair), pair);
                }
                if (layout >= HISTORY_LAYOUT)
                {
                    priceBooks = PriceBookHistory.readFrom(payload);
                }
                else
                {
                    findPriceBooksBefore(replayFrom);
                }
                if (layout >= STATES_LAYOUT)
                {
                    restoreHandlerStates(payload);
                }
                if (layout >= STREAMS_LAYOUT)
                {
                    streams.readFrom(payload);
                }
                LOG.info("journal checkpoint {} loaded: {} tenants, {} models, {} (tenant, model) pairs, replaying dedup "
                    + "keys from log index {}", checkpoint.get().file().getFileName(), tenants.size(), models.size(),
                    tenantModels.size(), Long.toHexString(replayFrom));
            }
            else
            {
                replayFrom = EventLog.NO_INDEX;
                LOG.info("journal checkpoint {} loaded: {} tenants, {} models; it was written before tenants' models were "
                    + "checkpointed, so the log is replayed from its start to count the models of each tenant exactly",
                    checkpoint.get().file().getFileName(), tenants.size(), models.size());
            }
        }
        else
        {
            LOG.info("no usable journal checkpoint: rebuilding dedup keys and names from the start of the log");
        }

        final ReplayHandler handler = new ReplayHandler();
        long documents = 0;
        replaying = true;
        // the replayed keys go into the index's table once, at the end, not as they are read (DedupIndex), and the disk
        // tier seals what capacity spills meanwhile but merges it only afterwards
        dedup.beginDeferredReplay();
        if (diskTier != null)
        {
            diskTier.pauseMerges(true);
        }
        try (EventLog.Reader reader = log.newReader())
        {
            reader.startAt(replayFrom);
            while (reader.readNext(handler, handler) != EventLog.NO_INDEX)
            {
                documents++;
            }
            lastAppendedIndex = reader.lastReadIndex() == EventLog.NO_INDEX ? logEnd : reader.lastReadIndex();
        }
        finally
        {
            dedup.endDeferredReplay();
            if (diskTier != null)
            {
                diskTier.pauseMerges(false);
            }
            replaying = false;
        }
        lastCheckpointIndex = checkpoint.map(SnapshotStore.Snapshot::logIndex).orElse(EventLog.NO_INDEX);
        lastCheckpointMs = clock.time();
        LOG.info("journal recovered: {} documents replayed, {} dedup keys, {} (tenant, model) pairs, log index {}, price "
            + "book revision {}", documents, dedup.size(), tenantModels.size(), Long.toHexString(lastAppendedIndex),
            priceBookRevision);
        return documents;
    }

    /**
     * Sets the rate rules (context tiers, time windows) of the book in force (the one at {@link #priceBookIndex()})
     * after {@link #recover()} and before the agent runs, on the thread that will start it.
     */
    public void useRateRules(final RateRules rules)
    {
        rateRules = rules;
        smallestThreshold = rules.smallestThreshold();
        timeWindows = rules.hasTimeWindows();
        schedulesByPair.clear();
        skipAtOrBelow = new long[0];
    }

    @Override
    public int doWork()
    {
        int count = 0;
        int events = 0;
        JournalRequest request;
        while (count < drained.length && (request = inbox.peek()) != null)
        {
            final ControlRequest control = request.asControl();
            if (control != null)
            {
                // a control record is a document of its own, after the events queued before it
                if (count == 0)
                {
                    inbox.poll();
                    record(control);
                    maybeCheckpoint();
                    return 1;
                }
                break;
            }
            if (count > 0 && events + request.eventCount() > maxDrainEvents)
            {
                break;
            }
            inbox.poll();
            drained[count++] = request;
            events += request.eventCount();
        }
        if (count == 0)
        {
            pollDiskTier();
            maybeCheckpoint();
            return 0;
        }
        journal(count);
        sweepStreams();
        maybeCheckpoint();
        return count;
    }

    private void journal(final int count)
    {
        final long nowMs = advanceClock();
        writer.begin(nowMs);
        final long dedupMark = dedup.tail();
        final int tenantsMark = tenants.size();
        final int modelsMark = models.size();
        try
        {
            for (int i = 0; i < count; i++)
            {
                journalRequest(i, nowMs);
            }
        }
        catch (final RuntimeException | Error ex)
        {
            // the dedup disk tier failed a lookup (an I/O error on a mapped segment): nothing of the drain is kept,
            // and every request is answered, as when the log cannot be appended
            dedup.rollbackTo(dedupMark);
            rollbackPairs(0);
            streams.rollbackTo(0);
            truncateNames(tenantsMark, modelsMark);
            if (failure == null)
            {
                LOG.error("{}: a dedup lookup failed: {}; requests are refused with 503 until one succeeds", roleName, ex.toString());
            }
            failure = "dedup lookup failed: " + ex;
            errorHandler.onError(ex);
            for (int i = 0; i < count; i++)
            {
                if (drained[i] != null)
                {
                    refuse(i, JournalRequest.Refusal.LOG_UNWRITABLE);
                }
            }
            return;
        }

        if (writer.recordCount() > 0)
        {
            final int length = writer.finish(log.lastDocumentSha256());
            final long startNs = System.nanoTime();
            final long index;
            try
            {
                index = log.append(writer.buffer(), length);
            }
            catch (final RuntimeException | Error ex)
            {
                dedup.rollbackTo(dedupMark);
                rollbackPairs(0);
                streams.rollbackTo(0);
                truncateNames(tenantsMark, modelsMark);
                onAppendFailed(ex);
                for (int i = 0; i < count; i++)
                {
                    refuse(i, JournalRequest.Refusal.LOG_UNWRITABLE);
                }
                return;
            }
            appendLatencyNs.accept(System.nanoTime() - startNs);
            streams.commit(index);
            lastAppendedIndex = index;
            addMark(index, dedupMark, nowMs);
            failure = null;
        }
        pairsAdded.clear();
        try
        {
            evict(nowMs);
        }
        catch (final RuntimeException | Error ex)
        {
            // the events are in the log: they are answered; the ids the tier could not take are forgotten early
            lastEarlyLossMs = nowMs;
            errorHandler.onError(ex);
        }

        for (int i = 0; i < count; i++)
        {
            final JournalRequest request = drained[i];
            drained[i] = null;
            final int at = i * OUTCOME_SLOTS;
            if (outcomes[at + 3] != 0)
            {
                request.onRefused(JournalRequest.Refusal.values()[outcomes[at + 3] - 1], outcomes[at + 4]);
            }
            else
            {
                acceptedEvents.lazySet(acceptedEvents.get() + outcomes[at]);
                duplicateEvents.lazySet(duplicateEvents.get() + outcomes[at + 1]);
                conflictEvents.lazySet(conflictEvents.get() + outcomes[at + 2]);
                request.onJournaled(outcomes[at], outcomes[at + 1], outcomes[at + 2]);
            }
        }
    }

    /**
     * Loads the dedup table words (and the disk tier's recent filter blocks) the next {@code count} events' checks
     * will start at, and their tenants' names, so that their cache misses overlap: the checks are the journal's
     * largest cost (a third of its samples), one miss each, and their branches keep the processor from running ahead
     * to the next event's.
     *
     * @return the offset after those events.
     */
    private int prefetch(final DirectBuffer buffer, final int offset, final int count)
    {
        int at = offset;
        for (int i = 0; i < count; i++)
        {
            final StagedEvent event = ahead.wrap(buffer, at);
            at += event.encodedLength();
            dedup.prefetch(event.idHashHi());
            tenants.prefetch(buffer, event.tenantOffset(), event.tenantLength());
            if (diskTier != null)
            {
                diskTier.prefetch(event.idHashHi());
            }
        }
        return at;
    }

    private void journalRequest(final int requestIndex, final long nowMs)
    {
        final JournalRequest request = drained[requestIndex];
        final long writerMark = writer.mark();
        final long dedupMark = dedup.tail();
        final int tenantsMark = tenants.size();
        final int modelsMark = models.size();
        final int pairsMark = pairsAdded.size();
        final int streamsMark = streams.mark();
        final DirectBuffer buffer = request.stagedEvents();
        int accepted = 0;
        int duplicates = 0;
        int conflicts = 0;
        int offset = 0;
        int prefetchedTo = 0;
        int prefetchOffset = 0;
        for (int e = 0, n = request.eventCount(); e < n; e++)
        {
            if (e == prefetchedTo)
            {
                prefetchedTo = Math.min(n, e + PREFETCH_CHUNK);
                prefetchOffset = prefetch(buffer, prefetchOffset, prefetchedTo - e);
            }
            final StagedEvent event = staged.wrap(buffer, offset);
            offset += event.encodedLength();
            final long beforeInsert = dedup.tail();
            int outcome = dedup.checkAndInsert(event.idHashHi(), event.idHashLo(), event.contentHash(), nowMs);
            if (outcome == DedupIndex.NEW && diskTier != null)
            {
                // not among the newest ids in memory: the older ones of the window are on disk
                final int held = diskTier.find(event.idHashHi(), event.idHashLo(), event.contentHash());
                if (held != DedupIndex.NEW)
                {
                    dedup.rollbackTo(beforeInsert);
                    outcome = held;
                }
            }
            int linkBits = event.linkBits();
            long[] loggedTokens = null;
            if (outcome == DedupIndex.NEW && (linkBits & EventLink.STREAM) != 0)
            {
                final int decided = decideCheckpoint(event, linkBits, nowMs);
                loggedTokens = decided == StreamTable.CONFLICT ? null : streamIncrements;
                linkBits |= decided == StreamTable.CONTINUED ? EventLink.CONTINUED : 0;
                if (loggedTokens == null)
                {
                    // a checkpoint below the stream's highest, or after its end: not counted, and its id stays free
                    dedup.rollbackTo(beforeInsert);
                    outcome = DedupIndex.CONFLICT;
                }
            }
            if (outcome == DedupIndex.NEW)
            {
                final int tenantId = intern(tenants, LogLayout.RECORD_TENANT_NAME, buffer, event.tenantOffset(), event.tenantLength());
                int modelId = tenantId < 0 ? -1 : models.lookup(buffer, event.modelOffset(), event.modelLength());
                JournalRequest.Refusal refusal = tenantId < 0 ? JournalRequest.Refusal.TOO_MANY_NAMES : null;
                if (refusal == null && (modelId == NameDictionary.MISSING || !hasPair(tenantId, modelId)))
                {
                    // the tenant's bound is checked before the shared table's, so that it is what a flooding tenant hears
                    if (modelCountOfTenant(tenantId) >= maxModelsPerTenant)
                    {
                        refusal = JournalRequest.Refusal.TOO_MANY_MODELS;
                        onModelLimit(tenantId);
                    }
                    else
                    {
                        modelId = intern(models, LogLayout.RECORD_MODEL_NAME, buffer, event.modelOffset(), event.modelLength());
                        if (modelId < 0)
                        {
                            refusal = JournalRequest.Refusal.TOO_MANY_NAMES;
                        }
                        else
                        {
                            final long pair = pair(tenantId, modelId);
                            addPair(tenantId, pair);
                            pairsAdded.addLong(pair);
                        }
                    }
                }
                if (refusal != null)
                {
                    writer.reset(writerMark);
                    dedup.rollbackTo(dedupMark);
                    rollbackPairs(pairsMark);
                    streams.rollbackTo(streamsMark);
                    truncateNames(tenantsMark, modelsMark);
                    setOutcome(requestIndex, 0, 0, 0, refusal.ordinal() + 1);
                    outcomes[requestIndex * OUTCOME_SLOTS + 4] = e;
                    return;
                }
                writer.appendEvent(event, tenantId, modelId, rateFlags(event, tenantId, modelId), loggedTokens);
                if (linkBits != 0)
                {
                    writer.appendLink(linkBits, event.reservationHashHi(), event.reservationHashLo(), event.streamHashHi(),
                        event.streamHashLo(), event.streamSeq());
                }
                accepted++;
            }
            else if (outcome == DedupIndex.DUPLICATE)
            {
                duplicates++;
            }
            else
            {
                conflicts++;
            }
        }
        setOutcome(requestIndex, accepted, duplicates, conflicts, 0);
    }

    /**
     * Decides a stream checkpoint; the counts to log (its increase over the stream's highest) are left in {@link
     * #streamIncrements}. @return a {@link StreamTable} outcome.
     */
    private int decideCheckpoint(final StagedEvent event, final int linkBits, final long nowMs)
    {
        for (int c = 0; c < streamCounts.length; c++)
        {
            streamCounts[c] = event.tokens(c);
        }
        final int decided = streams.decide(event.streamHashHi(), event.streamHashLo(), event.streamSeq(),
            (linkBits & EventLink.FINAL) != 0, streamCounts, nowMs, streamIncrements);
        if (decided == StreamTable.CONFLICT)
        {
            streamConflicts.lazySet(streamConflicts.get() + 1);
        }
        return decided;
    }

    /**
     * Sets the {@code stream-timeout}: a stream with no final checkpoint this long after its first is closed, billed at
     * its last checkpoint. Before {@link #recover()}.
     */
    public void streamTimeoutMs(final long timeoutMs)
    {
        streams = new StreamTable(timeoutMs);
    }

    /** @return stream checkpoints refused as conflicts since start. Any thread. */
    public long streamConflicts()
    {
        return streamConflicts.get();
    }

    /** @return the streams held (open, or ended within the dedup window). Journal thread, or racy for a gauge. */
    public int streamsHeld()
    {
        return streams.size();
    }

    /** The stream table; journal thread or after it stopped (tests). */
    StreamTable streams()
    {
        return streams;
    }

    /** Every {@value #STREAM_SWEEP_INTERVAL_MS} ms: closes streams past their timeout, forgets those out of the window. */
    private void sweepStreams()
    {
        final long now = clockMs;
        if (now - lastStreamSweepMs >= STREAM_SWEEP_INTERVAL_MS && streams.size() > 0)
        {
            lastStreamSweepMs = now;
            streams.sweep(now, now - dedup.windowMs());
        }
    }

    /** @return the flag bits of the event's context tier and time window under the book in force (0: standard, none). */
    private int rateFlags(final StagedEvent event, final int tenantId, final int modelId)
    {
        if (rateRules.isEmpty())
        {
            return 0;
        }
        final long prompt = event.tokens(0) + event.tokens(1) + event.tokens(2) + event.tokens(3);
        if (prompt <= smallestThreshold && !timeWindows)
        {
            // below every tier of a book without windows: no lookup (the common case, measured at 12 % of the journal's time)
            return 0;
        }
        if (prompt <= skipAtOrBelow(modelId))
        {
            // the same, per model: a book with windows for some models keeps the others' events off the lookup
            return 0;
        }
        final long pair = pair(tenantId, modelId);
        RateSchedule schedule = schedulesByPair.get(pair);
        if (schedule == null)
        {
            if (schedulesByPair.size() >= MAX_CACHED_SCHEDULES)
            {
                schedulesByPair.clear();
            }
            schedule = rateRules.schedule(tenants.name(tenantId), models.name(modelId));
            schedulesByPair.put(pair, schedule);
        }
        if (schedule.isEmpty())
        {
            return 0;
        }
        return RateVariant.toFlags(schedule.decide(event.timestampMs(), prompt));
    }

    private long skipAtOrBelow(final int modelId)
    {
        if (modelId >= skipAtOrBelow.length)
        {
            final int length = skipAtOrBelow.length;
            skipAtOrBelow = Arrays.copyOf(skipAtOrBelow, Math.max(modelId + 1, Math.max(64, length * 2)));
            Arrays.fill(skipAtOrBelow, length, skipAtOrBelow.length, UNKNOWN_THRESHOLD);
        }
        long skip = skipAtOrBelow[modelId];
        if (skip == UNKNOWN_THRESHOLD)
        {
            final String model = models.name(modelId);
            skip = rateRules.hasTimeWindows(model) ? -1 : rateRules.smallestThreshold(model);
            skipAtOrBelow[modelId] = skip;
        }
        return skip;
    }

    /** @return the key of a (tenant, model) pair: the tenant id above the 16 bits of the model id. */
    private static long pair(final int tenantId, final int modelId)
    {
        return ((long)tenantId << 16) | modelId;
    }

    private static int pairTenantId(final long pair)
    {
        return (int)(pair >>> 16);
    }

    private static int pairModelId(final long pair)
    {
        return (int)pair & 0xFFFF;
    }

    private int modelCountOfTenant(final int tenantId)
    {
        return tenantId < modelCountOfTenant.length ? modelCountOfTenant[tenantId] : 0;
    }

    /** @return whether the tenant has used the model: {@link #modelBitsOfTenant} for the first 64 models, else the set. */
    private boolean hasPair(final int tenantId, final int modelId)
    {
        if (modelId >= Long.SIZE)
        {
            return tenantModels.contains(pair(tenantId, modelId));
        }
        return tenantId < modelBitsOfTenant.length && (modelBitsOfTenant[tenantId] & (1L << modelId)) != 0;
    }

    /** Remembers that the tenant used the pair's model (no bound: live events are checked before, replay trusts the log). */
    private void addPair(final int tenantId, final long pair)
    {
        if (tenantModels.add(pair))
        {
            if (tenantId >= modelCountOfTenant.length)
            {
                final int length = Math.max(tenantId + 1, 2 * modelCountOfTenant.length);
                modelCountOfTenant = Arrays.copyOf(modelCountOfTenant, length);
                modelBitsOfTenant = Arrays.copyOf(modelBitsOfTenant, length);
            }
            modelCountOfTenant[tenantId]++;
            final int modelId = pairModelId(pair);
            if (modelId < Long.SIZE)
            {
                modelBitsOfTenant[tenantId] |= 1L << modelId;
            }
        }
    }

    private void onModelLimit(final int tenantId)
    {
        if (tenantsAtModelLimit.add(tenantId))
        {
            LOG.warn("tenant {} uses {} distinct models, the most max-models-per-tenant allows: its requests with a new model "
                + "are refused (400 too_many_models); logged once per tenant until restart", tenants.name(tenantId),
                modelCountOfTenant(tenantId));
        }
    }

    /** Forgets the pairs added since {@code mark} (a position in {@link #pairsAdded}), newest first. */
    private void rollbackPairs(final int mark)
    {
        while (pairsAdded.size() > mark)
        {
            final long pair = pairsAdded.popLong();
            tenantModels.remove(pair);
            modelCountOfTenant[pairTenantId(pair)]--;
            final int modelId = pairModelId(pair);
            if (modelId < Long.SIZE)
            {
                modelBitsOfTenant[pairTenantId(pair)] &= ~(1L << modelId);
            }
        }
        assert pairsAdded.size() == mark : "pairs are taken back to the mark";
    }

    /** Undoes name definitions that never reached the log; cached schedules may name the ids, so they go too. */
    private void truncateNames(final int tenantsMark, final int modelsMark)
    {
        if (tenants.size() != tenantsMark || models.size() != modelsMark)
        {
            tenants.truncate(tenantsMark);
            models.truncate(modelsMark);
            schedulesByPair.clear();
            skipAtOrBelow = new long[0];
        }
    }

    /**
     * Registers the handler of a kind of control record (the journal's command table). Before {@link #recover}; the
     * price book handler is built in.
     */
    public void handle(final int controlKind, final ControlHandler handler)
    {
        if (controlKind < 1 || controlKind >= commands.length)
        {
            throw new IllegalArgumentException("control kinds are 1 to " + (commands.length - 1) + ", not " + controlKind);
        }
        if (commands[controlKind] != null)
        {
            throw new IllegalStateException("control kind " + controlKind + " already has a handler");
        }
        commands[controlKind] = handler;
    }

    private ControlHandler handlerOf(final int controlKind)
    {
        return controlKind > 0 && controlKind < commands.length ? commands[controlKind] : null;
    }

    private void record(final ControlRequest control)
    {
        final ControlHandler handler = handlerOf(control.controlKind());
        if (handler == null)
        {
            control.onRefused(JournalRequest.Refusal.UNKNOWN_CONTROL);
            return;
        }
        final JournalRequest.Refusal refusal = handler.check(control);
        if (refusal != null)
        {
            control.onRefused(refusal);
            return;
        }
        final long nowMs = advanceClock();
        final int length = writer.writeControl(nowMs, control.controlKind(), control.revision(), control.payload(),
            log.lastDocumentSha256());
        final long index;
        try
        {
            index = log.append(writer.buffer(), length);
        }
        catch (final RuntimeException | Error ex)
        {
            onAppendFailed(ex);
            control.onRefused(JournalRequest.Refusal.LOG_UNWRITABLE);
            return;
        }
        failure = null;
        assert index > lastAppendedIndex : "log positions only grow";
        // the handler first: whoever sees the new lastAppendedIndex sees the state the record made (billing reads the
        // credit grants up to an index once the journal has published it)
        handler.onRecorded(control, index, nowMs);
        lastAppendedIndex = index;
        control.onRecorded(new ControlRequest.Recorded(control.revision(), index, nowMs));
    }

    /** The built-in command: price books, whose long-context rules the journal applies to the events after them. */
    private final class PriceBookCommand implements ControlHandler
    {
        @Override
        public JournalRequest.Refusal check(final ControlRequest request)
        {
            if (!(request instanceof PriceBookInstall))
            {
                // a price book must come with its compiled rules: a bare control record of this kind is a caller's bug
                LOG.error("a price book control record without its rules was refused (revision {})", request.revision());
                return JournalRequest.Refusal.UNKNOWN_CONTROL;
            }
            return request.revision() <= priceBookRevision ? JournalRequest.Refusal.STALE_REVISION : null;
        }

        @Override
        public void onRecorded(final ControlRequest request, final long logIndex, final long appendTimeMs)
        {
            priceBookIndex = logIndex;
            priceBookRevision = request.revision();
            useRateRules(((PriceBookInstall)request).rules());
            LOG.info("price book revision {} in force from log index {}", request.revision(), Long.toHexString(logIndex));
            priceBooks = priceBooks.with(request.revision(), logIndex, appendTimeMs, ((PriceBookInstall)request).sha256());
        }

        @Override
        public void onReplayed(final long revision, final DirectBuffer payload, final int offset, final int length,
            final long logIndex, final long appendTimeMs)
        {
            // the rules are compiled by billing from the book at this position and given with useRateRules
            priceBookIndex = logIndex;
            priceBookRevision = revision;
            if (logIndex > priceBooks.lastLogIndex())
            {
                priceBooks = priceBooks.with(revision, logIndex, appendTimeMs, sha256Of(payload, offset, length));
            }
        }
    }

    private int intern(
        final NameDictionary dictionary, final byte recordType, final DirectBuffer buffer, final int offset, final int length)
    {
        int id = dictionary.lookup(buffer, offset, length);
        if (id == NameDictionary.MISSING)
        {
            if (dictionary.isFull())
            {
                return -1;
            }
            id = dictionary.add(buffer, offset, length);
            writer.appendName(recordType, id, buffer, offset, length);
        }
        return id;
    }

    private void setOutcome(final int requestIndex, final int accepted, final int duplicates, final int conflicts, final int refusal)
    {
        final int at = requestIndex * OUTCOME_SLOTS;
        outcomes[at] = accepted;
        outcomes[at + 1] = duplicates;
        outcomes[at + 2] = conflicts;
        outcomes[at + 3] = refusal;
        outcomes[at + 4] = -1;
    }

    private void refuse(final int requestIndex, final JournalRequest.Refusal refusal)
    {
        final JournalRequest request = drained[requestIndex];
        drained[requestIndex] = null;
        request.onRefused(refusal);
    }

    private void onAppendFailed(final Throwable ex)
    {
        appendFailures.incrementAndGet();
        if (failure == null)
        {
            LOG.error("log append failed: {}; requests are refused with 503 until an append succeeds", ex.toString());
        }
        failure = "log append failed: " + ex;
        // the stack trace and the count of repeats go to the error handler (a distinct error log in the server)
        errorHandler.onError(ex);
    }

    /**
     * Where append failures go with their stack traces, besides the one line logged when appends start failing; the
     * server gives the distinct error log of its agents, which logs each distinct failure once and then counts it.
     * Before the agent runs.
     */
    public void errorHandler(final ErrorHandler handler)
    {
        errorHandler = handler;
    }

    /** The journal clock never goes back, so the dedup window is measured on a monotonic log time. */
    private long advanceClock()
    {
        final long now = clock.time();
        if (now > clockMs)
        {
            clockMs = now;
        }
        return clockMs;
    }

    /**
     * After each document: the memory index evicts (the window's old ids dropped, capacity's spilled to disk), and the
     * disk tier seals, merges and expires in the background.
     */
    private void evict(final long nowMs)
    {
        if (diskTier == null)
        {
            final long before = dedup.evictedByCapacity();
            dedup.evict(nowMs);
            if (dedup.evictedByCapacity() != before)
            {
                lastEarlyLossMs = nowMs;
            }
            return;
        }
        dedup.evict(nowMs, spillToDisk);
        // behind, and the buffer could not take the next document's evictions: wait for the tier's thread rather than
        // let a spill be refused (an id forgotten). Only then: waiting whenever it is behind stalled acks at full rate
        // (BENCHMARKS.md); a replay waits as long as it takes
        if (diskTier.endOfDocument(nowMs) && diskTier.spillRoom() < dedup.maxPendingInserts()
            && !diskTier.awaitCaughtUp(replaying ? 60_000 : 5_000))
        {
            LOG.warn("{}: the dedup disk tier is behind by more than a batch after {} s of waiting; ids may be refused",
                roleName, replaying ? 60 : 5);
        }
        final long byBudget = diskTier.evictedByBudget();
        if (byBudget != evictedByBudgetSeen)
        {
            if (evictedByBudgetSeen == 0 || nowMs - lastEarlyLossMs > 60_000)
            {
                LOG.error("{}: the dedup disk budget is full: the oldest ids are forgotten before the dedup window ends "
                    + "({} so far); a retry of one would be counted again. Raise dedup-disk-budget", roleName, byBudget);
            }
            evictedByBudgetSeen = byBudget;
            lastEarlyLossMs = nowMs;
        }
    }

    /**
     * While no events come, lets the disk tier go on at most every {@value #IDLE_TIER_POLL_MS} ms: the window's clock
     * moves on (old segments expire) and the files its merges retired are deleted, which both wait for the journal
     * to adopt the tier's newest segment list.
     */
    private void pollDiskTier()
    {
        if (diskTier != null)
        {
            final long now = clock.time();
            if (now - lastTierPollMs >= IDLE_TIER_POLL_MS)
            {
                lastTierPollMs = now;
                diskTier.endOfDocument(advanceClock());
            }
        }
    }

    /** Spills an id the memory index evicts because of capacity; during a replay, one already on disk is skipped. */
    private void spill(final long idHashHi, final long idHashLo, final long contentHash, final long acceptedAtMs, final long seq)
    {
        if (replaying && acceptedAtMs < diskTier.newestDurableAcceptedAtMs())
        {
            return;
        }
        if (!diskTier.spill(idHashHi, idHashLo, contentHash, acceptedAtMs, seq))
        {
            lastEarlyLossMs = clockMs;
        }
    }

    /** @return the ring position of the oldest id not yet durable anywhere but the log: a replay must reach it. */
    private long oldestLiveSeq()
    {
        return diskTier == null ? dedup.head() : Math.min(dedup.head(), diskTier.durableSeq());
    }

    /**
     * Gives the journal its disk tier of the dedup window (see {@link DedupDiskTier} for the rules it follows). Before
     * {@link #recover()}, on the thread that will start the agent; the journal closes it.
     */
    public void diskTier(final DedupDiskTier tier)
    {
        diskTier = tier;
    }

    /**
     * @return ids forgotten before their window ended: evicted by the memory's capacity when there is no disk tier,
     *     else dropped by the disk budget or refused by a tier too far behind. Any thread (racy).
     */
    public long forgottenEarly()
    {
        final DedupDiskTier tier = diskTier;
        return tier == null ? dedup.evictedByCapacity() : tier.evictedByBudget() + tier.spillsRefused();
    }

    /** The disk tier, or null; for gauges (read racily) and tests. */
    public DedupDiskTier diskTier()
    {
        return diskTier;
    }

    /**
     * @return the dedup window held now: the configured window, unless an id was forgotten before its window ended
     *     (memory and disk full) within the last window, then the age of the oldest id still held. Any thread (racy).
     */
    public long effectiveWindowMs()
    {
        final long now = Math.max(clockMs, clock.time());
        final long lastLoss = lastEarlyLossMs;
        if (lastLoss == Long.MIN_VALUE || now - lastLoss >= dedup.windowMs())
        {
            return dedup.windowMs();
        }
        long oldest = dedup.oldestAcceptedAtMs();
        if (diskTier != null)
        {
            oldest = Math.min(oldest, diskTier.oldestAcceptedAtMs());
        }
        return oldest == Long.MAX_VALUE ? 0 : Math.min(dedup.windowMs(), Math.max(0, now - oldest));
    }

    private void addMark(final long index, final long seqAtDocumentStart, final long nowMs)
    {
        while (markCount > 1 && markSeq[(markFirst + 1) & (MAX_MARKS - 1)] <= oldestLiveSeq())
        {
            markFirst = (markFirst + 1) & (MAX_MARKS - 1);
            markCount--;
        }
        if (markCount < MAX_MARKS && (markCount == 0 || nowMs - lastMarkMs >= markSpacingMs))
        {
            final int at = (markFirst + markCount) & (MAX_MARKS - 1);
            markIndex[at] = index;
            markSeq[at] = seqAtDocumentStart;
            markCount++;
            lastMarkMs = nowMs;
        }
    }

    /** @return the log index to replay from so that every live dedup key is read back; NO_INDEX is the start. */
    private long replayFromIndex()
    {
        if (markCount == 0 || markSeq[markFirst] > oldestLiveSeq())
        {
            return EventLog.NO_INDEX;
        }
        return markIndex[markFirst];
    }

    private void maybeCheckpoint()
    {
        final long now = clock.time();
        if (now - lastCheckpointMs >= checkpointIntervalMs && lastAppendedIndex != lastCheckpointIndex)
        {
            final long index = lastAppendedIndex;
            final ByteBuffer payload = checkpointPayload();
            lastCheckpointMs = now;
            lastCheckpointIndex = index;
            snapshotWriter.execute(() -> snapshots.writeOrWarn(CHECKPOINT_KIND, index, payload));
        }
    }

    private ByteBuffer checkpointPayload()
    {
        final byte[][] states = new byte[commands.length][];
        int statesLength = Integer.BYTES;
        for (int kind = 1; kind < commands.length; kind++)
        {
            states[kind] = commands[kind] == null ? null : commands[kind].checkpointState();
            statesLength += states[kind] == null ? 0 : 2 * Integer.BYTES + states[kind].length;
        }
        final ByteBuffer payload = ByteBuffer
            .allocate(40 + tenants.encodedLength() + models.encodedLength() + tenantModels.size() * Long.BYTES
                + priceBooks.encodedLength() + statesLength + streams.encodedLength())
            .order(ByteOrder.LITTLE_ENDIAN);
        payload.putLong(replayFromIndex()).putLong(clockMs);
        tenants.writeTo(payload);
        models.writeTo(payload);
        payload.putLong(priceBookIndex).putLong(priceBookRevision);
        payload.putInt(CHECKPOINT_LAYOUT).putInt(tenantModels.size());
        tenantModels.forEachLong(payload::putLong);
        priceBooks.writeTo(payload);
        final int countAt = payload.position();
        int count = 0;
        payload.putInt(0);
        for (int kind = 1; kind < commands.length; kind++)
        {
            if (states[kind] != null)
            {
                payload.putInt(kind).putInt(states[kind].length).put(states[kind]);
                count++;
            }
        }
        payload.putInt(countAt, count);
        streams.writeTo(payload);
        return payload.flip();
    }

    /** Hands each control handler the state it wrote into the checkpoint being loaded (layout 3 and later). */
    private void restoreHandlerStates(final ByteBuffer payload)
    {
        for (int i = 0, n = payload.getInt(); i < n; i++)
        {
            final int kind = payload.getInt();
            final int length = payload.getInt();
            final ControlHandler handler = handlerOf(kind);
            if (handler == null)
            {
                throw new IllegalStateException("the journal checkpoint holds the state of control records of kind " + kind
                    + ", which this version of tokenmeter does not know: it was written by another version");
            }
            final ByteBuffer state = payload.slice(payload.position(), length).order(ByteOrder.LITTLE_ENDIAN);
            payload.position(payload.position() + length);
            handler.restoreCheckpointState(state);
        }
    }

    @Override
    public void onClose()
    {
        JournalRequest request;
        while ((request = inbox.poll()) != null)
        {
            request.onRefused(JournalRequest.Refusal.SHUTTING_DOWN);
        }
        if (diskTier != null)
        {
            // sealed first, so that the last checkpoint need not replay what the tier was still buffering
            diskTier.close();
        }
        if (lastAppendedIndex != EventLog.NO_INDEX && lastAppendedIndex != lastCheckpointIndex)
        {
            snapshots.writeOrWarn(CHECKPOINT_KIND, lastAppendedIndex, checkpointPayload());
            lastCheckpointIndex = lastAppendedIndex;
        }
    }

    /** Names this agent's thread (Agrona's runner names the thread after the role), e.g. {@code journal-p3}. Before it runs. */
    public void roleName(final String name)
    {
        roleName = name;
    }

    @Override
    public String roleName()
    {
        return roleName;
    }

    /** @return the index of the newest appended document: everything acknowledged is at or before it. Any thread. */
    public long lastAppendedIndex()
    {
        return lastAppendedIndex;
    }

    /** @return the log index of the price book in force, {@link EventLog#NO_INDEX} when none was recorded. Any thread. */
    public long priceBookIndex()
    {
        return priceBookIndex;
    }

    /** @return the revision of the price book in force (1 for the first book, 0 for none). Any thread. */
    public long priceBookRevision()
    {
        return priceBookRevision;
    }

    /** @return every price book recorded in this partition's log, in log order. Any thread. */
    public PriceBookHistory priceBooks()
    {
        return priceBooks;
    }

    /** @return why the last append failed, or null while appends succeed. Any thread. */
    public String failure()
    {
        return failure;
    }

    public long acceptedEvents()
    {
        return acceptedEvents.get();
    }

    public long duplicateEvents()
    {
        return duplicateEvents.get();
    }

    public long conflictEvents()
    {
        return conflictEvents.get();
    }

    public long appendFailures()
    {
        return appendFailures.get();
    }

    public int inboxSize()
    {
        return inbox.size();
    }

    /** @return the most distinct models one tenant may use in this partition's log. Any thread. */
    public int maxModelsPerTenant()
    {
        return maxModelsPerTenant;
    }

    /** The dedup index, for metrics gauges (read racily) and tests. */
    public DedupIndex dedup()
    {
        return dedup;
    }

    /** Applies replayed documents to the dedup index, dictionaries and marks. */
    private final class ReplayHandler implements LogDocumentReader.Handler, EventLog.DocumentListener
    {
        private long seqAtDocumentStart = dedup.tail();
        private final org.agrona.ExpandableArrayBuffer controlPayload = new org.agrona.ExpandableArrayBuffer(4096);
        private int controlKind;
        private long controlRevision;
        private int controlLength;

        @Override
        public void onControl(final int kind, final long revision, final DirectBuffer buffer, final int offset, final int length,
            final long appendTimeMs)
        {
            if (handlerOf(kind) == null)
            {
                throw new IllegalStateException("the log holds a control record of kind " + kind + ", which this version of "
                    + "tokenmeter does not know: it was written by another version");
            }
            controlKind = kind;
            controlRevision = revision;
            controlLength = length;
            controlPayload.putBytes(0, buffer, offset, length);
        }

        @Override
        public void onName(final byte recordType, final int id, final DirectBuffer buffer, final int offset, final int length)
        {
            (recordType == LogLayout.RECORD_TENANT_NAME ? tenants : models).defineOrVerify(id, buffer, offset, length);
        }

        /** The stream checkpoints of the document being read: applied at its end, when its index is known. */
        private final java.util.ArrayList<long[]> checkpoints = new java.util.ArrayList<>();
        private final long[] lastTokens = new long[io.tokenmeter.core.event.TokenClass.COUNT];

        @Override
        public void onEvent(final EventRecord event, final long appendTimeMs)
        {
            dedup.insertReplayed(event.idHashHi(), event.idHashLo(), event.contentHash(), appendTimeMs);
            addPair(event.tenantId(), pair(event.tenantId(), event.modelId()));
            for (int c = 0; c < lastTokens.length; c++)
            {
                lastTokens[c] = event.tokens(c);
            }
        }

        /** A bucket of a file retention deleted: its ids are long outside the dedup window, its (tenant, model) pair counts. */
        @Override
        public void onRetainedBucket(final long[] bucket)
        {
            final int tenantId = BucketKey.tenantId(bucket[0]);
            addPair(tenantId, pair(tenantId, BucketKey.modelId(bucket[0])));
        }

        @Override
        public void onEventLink(final int bits, final long reservationHi, final long reservationLo, final long streamHi,
            final long streamLo, final long seq)
        {
            if ((bits & EventLink.STREAM) != 0)
            {
                final long[] checkpoint = java.util.Arrays.copyOf(lastTokens, lastTokens.length + 4);
                checkpoint[lastTokens.length] = streamHi;
                checkpoint[lastTokens.length + 1] = streamLo;
                checkpoint[lastTokens.length + 2] = seq;
                checkpoint[lastTokens.length + 3] = bits;
                checkpoints.add(checkpoint);
            }
        }

        @Override
        public void onDocumentEnd(final long index, final long appendTimeMs)
        {
            evict(appendTimeMs);
            if (appendTimeMs > clockMs)
            {
                clockMs = appendTimeMs;
            }
            addMark(index, seqAtDocumentStart, appendTimeMs);
            seqAtDocumentStart = dedup.tail();
            if (!checkpoints.isEmpty())
            {
                final int n = lastTokens.length;
                for (final long[] c : checkpoints)
                {
                    streams.replayed(c[n], c[n + 1], c[n + 2], (c[n + 3] & EventLink.FINAL) != 0, c, index, appendTimeMs);
                }
                checkpoints.clear();
            }
            if (controlKind != 0)
            {
                commands[controlKind].onReplayed(controlRevision, controlPayload, 0, controlLength, index, appendTimeMs);
                controlKind = 0;
            }
        }
    }

    /**
     * Recovery from a checkpoint written before the price book history was checkpointed (layout 2): reads the log up to
     * the replay point for its price books, once; the replay finds those after it, and the next checkpoint holds them.
     */
    private void findPriceBooksBefore(final long replayFrom)
    {
        if (replayFrom == EventLog.NO_INDEX)
        {
            return;
        }
        for (final ControlRecords.Recorded book : ControlRecords.readBefore(log, LogLayout.CONTROL_PRICE_BOOK, replayFrom))
        {
            priceBooks = priceBooks.with(book.revision(), book.logIndex(), book.appendTimeMs(),
                PriceBookHistory.sha256Of(book.payload(), 0, book.payload().length));
        }
        LOG.info("journal checkpoint of layout 2: read the log up to log index {} once for its price books ({} found)",
            Long.toHexString(replayFrom), priceBooks.size());
    }

    private static byte[] sha256Of(final DirectBuffer buffer, final int offset, final int length)
    {
        final byte[] bytes = new byte[length];
        buffer.getBytes(offset, bytes);
        return PriceBookHistory.sha256Of(bytes, 0, length);
    }
}
