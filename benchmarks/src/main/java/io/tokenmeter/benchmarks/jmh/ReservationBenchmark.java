package io.tokenmeter.benchmarks.jmh;

import io.tokenmeter.billing.budget.Budget;
import io.tokenmeter.billing.budget.BudgetLedger;
import io.tokenmeter.billing.budget.Reservation;
import io.tokenmeter.billing.price.PriceBookLoader;
import io.tokenmeter.core.aggregate.HourlyAggregator;
import io.tokenmeter.core.event.EventLink;
import io.tokenmeter.core.event.EventRecord;
import io.tokenmeter.core.event.Hours;
import io.tokenmeter.core.event.LogDocumentReader;
import io.tokenmeter.core.event.LogDocumentWriter;
import io.tokenmeter.core.event.LogLayout;
import io.tokenmeter.core.event.StagedEvent;
import io.tokenmeter.core.event.TokenClass;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The budget ledger deciding reservation records on one thread, as a partition's aggregator thread hands them to it
 * (SPEC section 12): the {@link HourlyAggregator} first, then the {@link BudgetLedger}, record by record, then the
 * document's end. Three tenants, each with a hard budget that never refuses, under the shipped price book:
 * <ul>
 *   <li>{@code acme}: a month of usage, by default 3 models x 720 hours (2,160 buckets, December 1 to 30), and
 *       reservations on December 31;</li>
 *   <li>{@code newco}: the same usage in the month before, none in this one (a tenant on the first day of a month: its
 *       buckets are scanned, none is priced);</li>
 *   <li>{@code settler}: one bucket, for the settle.</li>
 * </ul>
 * Per operation: {@link #reserveSpendCached} a reservation of acme with no event since the last one (the spend is
 * cached: only the spend with the hold added is priced), {@link #reserveAfterEvent} one event of acme and then a
 * reservation (the spend is priced again as well), {@link #reserveEmptyMonth} a reservation of newco, {@link #settle}
 * an event of settler that settles its open hold (the hold is granted before each call, outside the measured time, by
 * JMH's per-invocation set-up, whose own time stamps add some tens of ns to the figure).
 * {@link #baseline} is the per-operation work outside the ledger: a new reservation id written into the payload.
 *
 * <p>Every reservation has a new id and is checked to be granted. The log's clock advances 1 ms per operation; holds
 * live 1 s and closed ones are forgotten 1 s later (the server keeps them a dedup window, 24 h by default), so about
 * 1,000 holds are open and 1,000 closed at any time, and each operation also expires one. A reservation of the full
 * month takes milliseconds before the JIT has compiled the rating: the warm-up is 10 s, and a 1 s one measures the
 * interpreter.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class ReservationBenchmark
{
    private static final String[] MODELS = {"gpt-4o-2024-08-06", "claude-sonnet-4-5", "gemini-2.5-pro", "gpt-4.1",
        "claude-haiku-4-5", "gemini-2.5-flash", "o3", "deepseek-chat", "qwen-plus", "glm-4.6"};
    private static final String FULL = "acme";
    private static final String EMPTY = "newco";
    private static final String SETTLER = "settler";
    private static final int FULL_ID = 0;
    private static final int EMPTY_ID = 1;
    private static final int SETTLER_ID = 2;
    private static final long MONTH_START_MS = Instant.parse("2026-12-01T00:00:00Z").toEpochMilli();
    private static final long PREVIOUS_MONTH_START_MS = Instant.parse("2026-11-01T00:00:00Z").toEpochMilli();
    /** Reservations start here, the last day of the month: a day of 1 ms steps, 86.4 million operations. */
    private static final long FIRST_RESERVATION_MS = Instant.parse("2026-12-31T00:00:00Z").toEpochMilli();
    private static final long MONTH_END_MS = Instant.parse("2027-01-01T00:00:00Z").toEpochMilli();
    private static final long HOLD_TTL_MS = 1_000;
    private static final long FORGET_AFTER_MS = 1_000;

    /** Hands each record to the counters, then to the ledger, as the aggregator's agent does. */
    private static final class Feed implements LogDocumentReader.Handler
    {
        private final HourlyAggregator aggregator;
        private final BudgetLedger ledger;

        Feed(final HourlyAggregator aggregator, final BudgetLedger ledger)
        {
            this.aggregator = aggregator;
            this.ledger = ledger;
        }

        @Override
        public void onName(final byte recordType, final int id, final DirectBuffer buffer, final int offset, final int length)
        {
            aggregator.onName(recordType, id, buffer, offset, length);
            ledger.onName(recordType, id, buffer, offset, length);
        }

        @Override
        public void onEvent(final EventRecord event, final long appendTimeMs)
        {
            aggregator.onEvent(event, appendTimeMs);
            ledger.onEvent(event, appendTimeMs);
        }

        @Override
        public void onControl(final int controlKind, final long revision, final DirectBuffer buffer, final int offset,
            final int length, final long appendTimeMs)
        {
            aggregator.onControl(controlKind, revision, buffer, offset, length, appendTimeMs);
            ledger.onControl(controlKind, revision, buffer, offset, length, appendTimeMs);
        }

        @Override
        public void onEventLink(final int bits, final long reservationHi, final long reservationLo, final long streamHi,
            final long streamLo, final long seq)
        {
            aggregator.onEventLink(bits, reservationHi, reservationLo, streamHi, streamLo, seq);
            ledger.onEventLink(bits, reservationHi, reservationLo, streamHi, streamLo, seq);
        }
    }

    /** A reservation record's payload, as the journal logs it, whose id is rewritten in place for each new one. */
    private static final class ReservationPayload
    {
        private static final String ID_TEMPLATE = "r-000000000000";
        private static final int DIGITS = 12;

        private final byte[] bytes;
        private final UnsafeBuffer buffer;
        private final int digitsOffset;

        ReservationPayload(final String tenant, final String model)
        {
            bytes = new Reservation(Reservation.Op.RESERVE, ID_TEMPLATE, tenant, model, "standard", 12_000, 4_000, false,
                HOLD_TTL_MS).toPayload();
            buffer = new UnsafeBuffer(bytes);
            final String json = new String(bytes, StandardCharsets.UTF_8);
            digitsOffset = json.indexOf(ID_TEMPLATE) + 2;
            if (digitsOffset < 2 || json.indexOf(ID_TEMPLATE, digitsOffset) >= 0)
            {
                throw new IllegalStateException("the reservation payload does not hold its id once: " + json);
            }
        }

        /** Writes {@code id} (below 10^12) as the reservation's id. */
        void id(final long id)
        {
            long v = id;
            for (int i = DIGITS - 1; i >= 0; i--)
            {
                bytes[digitsOffset + i] = (byte)('0' + v % 10);
                v /= 10;
            }
        }

        /** @return the tenant-scoped hash of the id written last, as an event that settles it carries it. */
        long[] idHash()
        {
            return Reservation.fromPayload(bytes).idHash();
        }
    }

    /** One event record in a finished log document, applied again and again. */
    private record LoggedEvent(UnsafeBuffer document, int offset, long appendTimeMs)
    {
    }

    /** One partition's counters and ledger, fed on the benchmark's thread as its aggregator thread feeds them. */
    @State(Scope.Thread)
    public static class Partition
    {
        /** The full tenant's month: models x hours, one bucket each (hours from December 1, at most 720). */
        @Param({"3x720"})
        public String modelsByHours;

        HourlyAggregator aggregator;
        BudgetLedger ledger;
        Feed feed;
        ReservationPayload fullPayload;
        ReservationPayload emptyPayload;
        ReservationPayload settlerPayload;
        final EventRecord record = new EventRecord();
        LoggedEvent fullEvent;
        LoggedEvent settlerEvent;
        long index;
        long nowMs;
        long nextId;
        long notGranted;

        @Setup(Level.Trial)
        public void setUp()
        {
            final String[] parts = modelsByHours.split("x");
            final int models = Integer.parseInt(parts[0]);
            final int hours = Integer.parseInt(parts[1]);
            if (models < 1 || models > MODELS.length || hours < 1
                || hours > Hours.of(FIRST_RESERVATION_MS) - Hours.of(MONTH_START_MS))
            {
                throw new IllegalArgumentException("modelsByHours must be 1 to " + MODELS.length + " models x 1 to 720 hours, "
                    + "not " + modelsByHours);
            }
            aggregator = new HourlyAggregator();
            ledger = new BudgetLedger(aggregator, crossing -> { }, FORGET_AFTER_MS);
            feed = new Feed(aggregator, ledger);
            nowMs = FIRST_RESERVATION_MS - 1_000;
            final SplittableRandom random = new SplittableRandom(20);
            // the months: names first, as the journal logs them with their first event, then one event per model and hour
            final LogDocumentWriter writer = new LogDocumentWriter(1 << 20);
            writer.begin(nowMs);
            final UnsafeBuffer name = new UnsafeBuffer(new byte[64]);
            final String[] tenants = {FULL, EMPTY, SETTLER};
            for (int t = 0; t < tenants.length; t++)
            {
                name.putStringWithoutLengthAscii(0, tenants[t]);
                writer.appendName(LogLayout.RECORD_TENANT_NAME, t, name, 0, tenants[t].length());
            }
            for (int m = 0; m < models; m++)
            {
                name.putStringWithoutLengthAscii(0, MODELS[m]);
                writer.appendName(LogLayout.RECORD_MODEL_NAME, m, name, 0, MODELS[m].length());
            }
            final ExpandableArrayBuffer staging = new ExpandableArrayBuffer(StagedEvent.MAX_LENGTH);
            final StagedEvent staged = new StagedEvent();
            for (int h = 0; h < hours; h++)
            {
                for (int m = 0; m < models; m++)
                {
                    final long minuteMs = random.nextInt(60) * 60_000L;
                    Events.stage(staging, 0, FULL, MODELS[m], "fill-" + h + "-" + m,
                        MONTH_START_MS + h * Hours.MS_PER_HOUR + minuteMs, 0, hourOfTraffic(random), random.nextLong());
                    writer.appendEvent(staged.wrap(staging, 0), FULL_ID, m, 0);
                    Events.stage(staging, 0, EMPTY, MODELS[m], "fill-" + h + "-" + m,
                        PREVIOUS_MONTH_START_MS + h * Hours.MS_PER_HOUR + minuteMs, 0, hourOfTraffic(random), random.nextLong());
                    writer.appendEvent(staged.wrap(staging, 0), EMPTY_ID, m, 0);
                }
            }
            final int length = writer.finish(new byte[LogLayout.CHAIN_HASH_LENGTH]);
            new LogDocumentReader().read(writer.buffer(), 0, length, feed);
            ledger.onDocumentEnd(++index, nowMs);
            control(LogLayout.CONTROL_PRICE_BOOK, PriceBookLoader.shipped().recordedJson());
            for (final String tenant : tenants)
            {
                control(LogLayout.CONTROL_BUDGET, new Budget(tenant, new BigDecimal("1000000000.00"), Budget.Period.MONTH, true,
                    List.of(50, 80, 100), null).toPayload());
            }
            if (aggregator.bucketCount() != 2 * models * hours)
            {
                throw new IllegalStateException("expected " + 2 * models * hours + " buckets, the aggregator holds "
                    + aggregator.bucketCount());
            }
            fullPayload = new ReservationPayload(FULL, MODELS[0]);
            emptyPayload = new ReservationPayload(EMPTY, MODELS[0]);
            settlerPayload = new ReservationPayload(SETTLER, MODELS[0]);
            // the events applied per operation: acme's in the month's last filled hour (its bucket exists), the settler's
            final long eventMs = MONTH_START_MS + (hours - 1) * Hours.MS_PER_HOUR;
            fullEvent = event(FULL, FULL_ID, eventMs, random);
            settlerEvent = event(SETTLER, SETTLER_ID, eventMs, random);
        }

        /** Fails the run when a reservation was not granted: the figures would then measure refusals or retries. */
        @TearDown(Level.Iteration)
        public void checkEveryReservationWasGranted()
        {
            if (notGranted > 0)
            {
                throw new IllegalStateException(notGranted + " reservations were not granted");
            }
        }

        /** @return the id hash of a new hold of the settler, as an event that settles it carries it. */
        long[] grantSettlerHold()
        {
            reserve(settlerPayload, tick());
            return settlerPayload.idHash();
        }

        void applyEvent(final LoggedEvent event, final long at)
        {
            feed.onEvent(record.wrap(event.document(), event.offset(), event.appendTimeMs(), event.document().capacity()), at);
        }

        BudgetLedger.Kind reserve(final ReservationPayload payload, final long at)
        {
            payload.id(++nextId);
            final long document = ++index;
            feed.onControl(LogLayout.CONTROL_RESERVATION, 0, payload.buffer, 0, payload.bytes.length, at);
            ledger.onDocumentEnd(document, at);
            final BudgetLedger.Kind kind = ledger.outcomeAt(document).kind();
            if (kind != BudgetLedger.Kind.GRANTED)
            {
                notGranted++;
            }
            return kind;
        }

        /** @return the log's next millisecond: one per operation, within the month. */
        long tick()
        {
            if (++nowMs >= MONTH_END_MS)
            {
                throw new IllegalStateException("the benchmark's log clock reached the end of the month after 86.4 million "
                    + "operations: run shorter or fewer iterations");
            }
            return nowMs;
        }

        private void control(final int kind, final byte[] payload)
        {
            feed.onControl(kind, 1, new UnsafeBuffer(payload), 0, payload.length, nowMs);
            ledger.onDocumentEnd(++index, nowMs);
        }
    }

    /**
     * The partition of {@link #settle}: before each call, outside the measured time, the settler's hold to settle is
     * granted. (A state of its own rather than one injected into another: JMH 1.37 then made two partitions, one for the
     * set-up and one for the benchmark.)
     */
    @State(Scope.Thread)
    public static class SettlePartition extends Partition
    {
        long holdHashHi;
        long holdHashLo;

        @Setup(Level.Invocation)
        public void grantHold()
        {
            if (ledger.openHolds() != 0)
            {
                throw new IllegalStateException("the last settle left " + ledger.openHolds() + " holds open");
            }
            final long[] hash = grantSettlerHold();
            holdHashHi = hash[0];
            holdHashLo = hash[1];
        }
    }

    @Benchmark
    public long baseline(final Partition p)
    {
        p.fullPayload.id(++p.nextId);
        return p.nextId;
    }

    /** (a) No event since the last reservation: the spend is cached. */
    @Benchmark
    public BudgetLedger.Kind reserveSpendCached(final Partition p)
    {
        return p.reserve(p.fullPayload, p.tick());
    }

    /** (b) One event of the tenant, then its reservation: the spend is priced again. */
    @Benchmark
    public BudgetLedger.Kind reserveAfterEvent(final Partition p)
    {
        final long at = p.tick();
        p.applyEvent(p.fullEvent, at);
        p.ledger.onDocumentEnd(++p.index, at);
        return p.reserve(p.fullPayload, at);
    }

    /** (c) A tenant whose month holds no usage yet (the month before does). */
    @Benchmark
    public BudgetLedger.Kind reserveEmptyMonth(final Partition p)
    {
        return p.reserve(p.emptyPayload, p.tick());
    }

    /** (d) An event that settles the tenant's open hold: the event, its link, the document's end. */
    @Benchmark
    public int settle(final SettlePartition p)
    {
        final long at = p.tick();
        p.applyEvent(p.settlerEvent, at);
        p.feed.onEventLink(EventLink.RESERVATION, p.holdHashHi, p.holdHashLo, 0, 0, 0);
        p.ledger.onDocumentEnd(++p.index, at);
        return p.ledger.openHolds();
    }

    private static LoggedEvent event(final String tenant, final int tenantId, final long timestampMs, final SplittableRandom random)
    {
        final ExpandableArrayBuffer staging = new ExpandableArrayBuffer(StagedEvent.MAX_LENGTH);
        final long[] tokens = new long[TokenClass.COUNT];
        tokens[TokenClass.INPUT.ordinal()] = 2_000 + random.nextInt(10_000);
        tokens[TokenClass.OUTPUT.ordinal()] = 200 + random.nextInt(4_000);
        Events.stage(staging, 0, tenant, MODELS[0], "chatcmpl-" + tenant, timestampMs, 0, tokens, random.nextLong());
        final LogDocumentWriter writer = new LogDocumentWriter(1024);
        final long appendTimeMs = FIRST_RESERVATION_MS;
        writer.begin(appendTimeMs);
        final int offset = writer.length();
        writer.appendEvent(new StagedEvent().wrap(staging, 0), tenantId, 0, 0);
        final int length = writer.finish(new byte[LogLayout.CHAIN_HASH_LENGTH]);
        final byte[] bytes = new byte[length];
        writer.buffer().getBytes(0, bytes);
        return new LoggedEvent(new UnsafeBuffer(bytes), offset, appendTimeMs);
    }

    /** An hour of one model's traffic: millions of input tokens, a share cached, a tenth as much output. */
    private static long[] hourOfTraffic(final SplittableRandom random)
    {
        final long[] tokens = new long[TokenClass.COUNT];
        tokens[TokenClass.INPUT.ordinal()] = 1_000_000 + random.nextInt(4_000_000);
        tokens[TokenClass.CACHE_READ.ordinal()] = random.nextInt(1_000_000);
        tokens[TokenClass.OUTPUT.ordinal()] = 100_000 + random.nextInt(400_000);
        return tokens;
    }
}
