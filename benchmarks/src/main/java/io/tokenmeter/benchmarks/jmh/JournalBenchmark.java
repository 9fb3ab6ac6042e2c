package io.tokenmeter.benchmarks.jmh;

import io.tokenmeter.core.dedup.DedupDiskTier;
import io.tokenmeter.core.dedup.DedupIndex;
import io.tokenmeter.core.event.StagedEvent;
import io.tokenmeter.core.log.ChronicleEventLog;
import io.tokenmeter.core.log.Durability;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.log.JournalAgent;
import io.tokenmeter.core.log.RateRules;
import io.tokenmeter.core.log.RateSchedule;
import io.tokenmeter.core.log.TimeWindow;
import io.tokenmeter.core.log.JournalRequest;
import io.tokenmeter.core.snapshot.SnapshotStore;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The journal's whole work per event, on a real Chronicle queue in a temporary directory: one duty cycle drains
 * {@value #EVENTS} new events (as 100-event requests or as single-event ones), decides each against a full dedup
 * index, interns the names (10,000 tenants, nine models), appends one document and evicts
 * as many old ids. The event loop's part (re-keying each staged event with a fresh id hash) is in the time too, and is
 * what {@link #baseline} measures. The log grows by about 120 bytes per event: a run of the default length writes a
 * few GB, deleted at the end.
 *
 * <p>With {@code -p tier=busy} the journal has a dedup disk tier, as the server does (spill batches of 65,536 ids, a
 * 24 h window): every event then spills an evicted id, and each new id is also looked up in the spill buffers and
 * every segment's filter, while the tier's own thread seals and merges on another core. The difference from
 * {@code tier=none} is the tier's cost on the journal thread at full rate (the figure issue 17's ingest target is
 * about); it writes about 18 bytes per event more, in the same directory.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class JournalBenchmark
{
    private static final int EVENTS = 1_600;
    private static final String[] MODELS = {"gpt-4o-2024-08-06", "gpt-4o-mini", "o3", "claude-sonnet-4-5",
        "claude-haiku-4-5", "gemini-2.5-pro", "gemini-2.5-flash", "llama-3.3-70b", "mistral-large"};

    /** Dedup capacity: the default 4,000,000 ids, far beyond cache. */
    @Param({"4000000"})
    public int capacity;

    /** Events per request: 100 (batches) or 1 (single events; the drain then holds 1,600 requests). */
    @Param({"100", "1"})
    public int eventsPerRequest;

    /** {@code none}: no disk tier; {@code busy}: a disk tier taking every evicted id (class comment). */
    @Param({"none"})
    public String tier;

    /**
     * The book's per-event rules: {@code none}, or {@code rules}: every model has two context tiers and two time windows
     * (one in Asia/Shanghai, one crossing midnight in UTC), so every event is looked up and decided.
     */
    @Param({"none", "rules"})
    public String book;

    private static final RateSchedule SCHEDULE = new RateSchedule(new long[] {0}, new long[][] {{32_000, 128_000}},
        new TimeWindow[][] {{new TimeWindow(ZoneId.of("Asia/Shanghai"), 0x1F, 30, 510),
            new TimeWindow(ZoneOffset.UTC, 0x7F, 990, 30)}});
    private static final RateRules EVERY_MODEL_HAS_RULES = new RateRules()
    {
        @Override
        public boolean isEmpty()
        {
            return false;
        }

        @Override
        public long smallestThreshold()
        {
            return 32_000;
        }

        @Override
        public boolean hasTimeWindows()
        {
            return true;
        }

        @Override
        public RateSchedule schedule(final String tenant, final String model)
        {
            return SCHEDULE;
        }
    };

    private Path directory;
    private EventLog log;
    private JournalAgent journal;
    private DedupDiskTier diskTier;
    private Request[] requests;
    private long nextKey;
    private int acceptedSink;

    /** A request whose staged events are written once; only their id hashes change between invocations. */
    private final class Request implements JournalRequest
    {
        private final UnsafeBuffer staged;
        private final int[] eventOffsets;

        Request(final UnsafeBuffer staged, final int[] eventOffsets)
        {
            this.staged = staged;
            this.eventOffsets = eventOffsets;
        }

        void rekey()
        {
            for (final int offset : eventOffsets)
            {
                final long key = ++nextKey * 0x9E3779B97F4A7C15L;
                staged.putLong(offset + StagedEvent.ID_HASH_HI_OFFSET, key);
                staged.putLong(offset + StagedEvent.ID_HASH_LO_OFFSET, key ^ 0x5DEECE66DL);
            }
        }

        @Override
        public DirectBuffer stagedEvents()
        {
            return staged;
        }

        @Override
        public int stagedLength()
        {
            return staged.capacity();
        }

        @Override
        public int eventCount()
        {
            return eventOffsets.length;
        }

        @Override
        public void onJournaled(final int accepted, final int duplicates, final int conflicts)
        {
            acceptedSink += accepted;
        }

        @Override
        public void onRefused(final Refusal refusal)
        {
            throw new IllegalStateException("refused: " + refusal);
        }
    }

    @Setup(Level.Trial)
    public void setUp() throws IOException
    {
        directory = Files.createTempDirectory("journal-benchmark");
        log = new ChronicleEventLog(directory.resolve("log"), Durability.PROCESS);
        final int requestCount = EVENTS / eventsPerRequest;
        journal = new JournalAgent(log, new DedupIndex(capacity, TimeUnit.HOURS.toMillis(24), EVENTS),
            new SnapshotStore(directory.resolve("snapshots")), Runnable::run, System::currentTimeMillis,
            requestCount, requestCount, EVENTS, 1000, Long.MAX_VALUE, ns -> { });
        if (tier.equals("busy"))
        {
            diskTier = DedupDiskTier.open(directory.resolve("dedup"), TimeUnit.HOURS.toMillis(24), Long.MAX_VALUE,
                1 << 16, r -> new Thread(r, "dedup-bench"));
            journal.diskTier(diskTier);
        }
        journal.recover();
        if (book.equals("rules"))
        {
            journal.useRateRules(EVERY_MODEL_HAS_RULES);
        }
        requests = new Request[requestCount];
        final SplittableRandom random = new SplittableRandom(11);
        for (int r = 0; r < requestCount; r++)
        {
            final ExpandableArrayBuffer out = new ExpandableArrayBuffer(eventsPerRequest * StagedEvent.MAX_LENGTH);
            final int[] offsets = new int[eventsPerRequest];
            int length = 0;
            for (int e = 0; e < eventsPerRequest; e++)
            {
                offsets[e] = length;
                length += Events.stage(out, length, "t" + zipfLike(random), MODELS[random.nextInt(MODELS.length)],
                    "chatcmpl-" + r + "-" + e + "-0000000000", System.currentTimeMillis(), 0, random);
            }
            requests[r] = new Request(new UnsafeBuffer(out.byteArray(), 0, length), offsets);
        }
        // fill the dedup index, so that every new id also evicts the oldest, as in steady state
        for (long filled = 0; filled < capacity + EVENTS; filled += EVENTS)
        {
            journalAll();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException
    {
        if (diskTier != null)
        {
            diskTier.close();
        }
        log.close();
        try (Stream<Path> files = Files.walk(directory))
        {
            files.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        }
    }

    @Benchmark
    @OperationsPerInvocation(EVENTS)
    public int baseline()
    {
        for (final Request request : requests)
        {
            request.rekey();
        }
        return acceptedSink;
    }

    @Benchmark
    @OperationsPerInvocation(EVENTS)
    public int journal()
    {
        journalAll();
        return acceptedSink;
    }

    private void journalAll()
    {
        for (final Request request : requests)
        {
            request.rekey();
            if (!journal.offer(request))
            {
                throw new IllegalStateException("journal inbox full");
            }
        }
        while (journal.doWork() > 0)
        {
            // one drain takes every request offered above; a second call finds none
        }
    }

    /** A tenant rank between 1 and 10,000, log-uniform: about Zipf(1), near the load generator's Zipf(1.1). */
    private static int zipfLike(final SplittableRandom random)
    {
        return (int)Math.min(10_000, Math.floor(Math.pow(10_001, random.nextDouble())));
    }
}
