package io.tokenmeter.billing.budget;

import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.billing.price.PriceBookException;
import io.tokenmeter.billing.price.PriceBookLoader;
import io.tokenmeter.billing.rating.Rater;
import io.tokenmeter.core.aggregate.HourlyAggregator;
import io.tokenmeter.core.aggregate.LogFollower;
import io.tokenmeter.core.aggregate.TenantBucket;
import io.tokenmeter.core.event.EventLink;
import io.tokenmeter.core.event.EventRecord;
import io.tokenmeter.core.event.Hours;
import io.tokenmeter.core.event.LogLayout;
import io.tokenmeter.core.event.RateVariant;
import io.tokenmeter.core.event.ServiceTier;
import io.tokenmeter.core.event.TokenClass;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.money.Money;
import org.agrona.DirectBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The budgets and reservations of one partition (SPEC section 12), kept by its aggregator thread from the log, in log
 * order ({@link LogFollower}): budget records put a tenant's budget in force, reservation records ask for or release a
 * hold, events that name a reservation settle it, and a hold not settled by its {@code expires_at} expires at the first
 * document whose journal time passes it. Every decision is a function of the log up to its record, made against the
 * tenant's counters exactly as of that record: the journal serializes concurrent reservations in its log, so together
 * they can never pass a hard budget, and a replay (a restart, a kill -9) decides each the same.
 *
 * <p>Spend is the tenant's usage in the budget's period priced as its invoice prices it (the same {@link Rater}, the
 * book in force at the record, before credits and any commitment's true-up). A hold is the increase in that spend an
 * event of the reservation's most tokens would make now, at the rates that would apply to it. Spend is repriced only
 * when the tenant had events since it was last priced.
 *
 * <p>Alerts: spend crossing one of the budget's percents, once per percent and period, is told to the {@link AlertSink}
 * (which posts the webhook); the check runs at most once a second per tenant, off the log's order (it has side effects
 * and decides nothing).
 *
 * <p>Not thread-safe: the aggregator thread alone calls it; other threads ask through the aggregator's tasks.
 */
public final class BudgetLedger implements LogFollower
{
    /** Where threshold crossings go (the webhook sender); called on the aggregator thread, must not block. */
    @FunctionalInterface
    public interface AlertSink
    {
        void crossed(Crossing crossing);
    }

    /** One threshold crossing of a tenant's budget. */
    public record Crossing(String tenant, Budget.Period period, long periodStartMs, long periodEndMs, int percent,
        BigDecimal spent, BigDecimal limit, String currency, String webhook, long crossedAtMs)
    {
        /** @return the crossing's stable id: the same crossing sent again (after a crash) has the same id. */
        public String id()
        {
            return tenant + "/" + period.label(periodStartMs) + "/" + percent;
        }
    }

    /** What became of a hold. */
    public enum HoldState
    {
        OPEN, SETTLED, RELEASED, EXPIRED;

        public String jsonName()
        {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** A hold as seen from outside the aggregator thread (immutable). */
    public record HoldView(String id, HoldState state, BigDecimal held, long createdAtMs, long expiresAtMs, long closedAtMs)
    {
    }

    /** What a reservation record decided. */
    public enum Kind
    {
        /** A new hold. */
        GRANTED,
        /** The id holds already, on the same terms: the retry is answered with that hold. */
        EXISTING,
        /** A hard budget cannot cover the hold; nothing is held and the id stays free. */
        REFUSED,
        /** The id was reserved on other terms. */
        CONFLICT,
        /** The hold was released. */
        RELEASED,
        /** No reservation has that id (or it was forgotten, a dedup window after it closed). */
        NOT_FOUND,
        /** The hold to release was settled or expired already (or released: a repeated release). */
        CLOSED,
        /** The tenant holds {@link #MAX_OPEN_HOLDS} open holds already; nothing is held. */
        TOO_MANY
    }

    /** The most open holds one tenant may have: memory stays bounded whatever a client sends. */
    public static final int MAX_OPEN_HOLDS = 100_000;

    /** A reservation record's decision. */
    public record Outcome(Kind kind, HoldView hold, BigDecimal available, BigDecimal needed, String currency)
    {
    }

    /** A tenant's budget as of a read. */
    public record View(String tenant, Budget budget, BigDecimal spent, BigDecimal reserved, BigDecimal available,
        long periodStartMs, long periodEndMs, String currency, int openHolds)
    {
    }

    private static final Logger LOG = LoggerFactory.getLogger(BudgetLedger.class);
    private static final int MAX_OUTCOMES = 1 << 14;
    private static final int MAX_CROSSINGS_KEPT = 200;
    private static final long ALERT_CHECK_INTERVAL_MS = 1000;
    private static final int STATE_FORMAT = 1;

    private final HourlyAggregator counters;
    private final AlertSink alerts;
    private final long forgetAfterMs;
    private final Map<String, TenantState> byName = new HashMap<>();
    private TenantState[] byId = new TenantState[64];
    private final TreeSet<Hold> byExpiry = new TreeSet<>(Comparator.comparingLong((Hold h) -> h.expiresAtMs)
        .thenComparingLong(h -> h.logIndex));
    private final ArrayDeque<Hold> closed = new ArrayDeque<>();
    private final Map<Long, Outcome> outcomes = new LinkedHashMap<>(256, 0.75f, false)
    {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(final Map.Entry<Long, Outcome> eldest)
        {
            return size() > MAX_OUTCOMES;
        }
    };
    private PriceBook book;
    private byte[] bookJson;
    private long bookRevision;
    private int lastTenantId = -1;
    private long lastEventTimeMs;
    private long logTimeMs;
    private long lastAlertCheckMs;
    private int pendingKind;
    private byte[] pendingPayload;

    /**
     * @param counters      the partition's hour buckets (the aggregator's): spend is priced from them.
     * @param alerts        told each threshold crossing.
     * @param forgetAfterMs how long a closed hold's id is kept: a reservation with it again after that is a new one.
     */
    public BudgetLedger(final HourlyAggregator counters, final AlertSink alerts, final long forgetAfterMs)
    {
        this.counters = counters;
        this.alerts = alerts;
        this.forgetAfterMs = forgetAfterMs;
    }

    @Override
    public void onName(final byte recordType, final int id, final DirectBuffer buffer, final int offset, final int length)
    {
        if (recordType == LogLayout.RECORD_TENANT_NAME && !byName.isEmpty())
        {
            final byte[] bytes = new byte[length];
            buffer.getBytes(offset, bytes);
            final TenantState state = byName.get(new String(bytes, java.nio.charset.StandardCharsets.US_ASCII));
            if (state != null)
            {
                bind(id, state);
            }
        }
    }

    @Override
    public void onEvent(final EventRecord event, final long appendTimeMs)
    {
        lastTenantId = event.tenantId();
        lastEventTimeMs = appendTimeMs;
        if (lastTenantId < byId.length)
        {
            final TenantState state = byId[lastTenantId];
            if (state != null)
            {
                state.spendCache.clear();
                state.alertDirty = true;
                state.month.add(event, counters.models().name(event.modelId()));
            }
        }
    }

    @Override
    public void onEventLink(final int bits, final long reservationHi, final long reservationLo, final long streamHi,
        final long streamLo, final long seq)
    {
        // a stream's checkpoints before its final one leave the hold in place: the rest of the stream may still come
        if ((bits & EventLink.RESERVATION) == 0 || (bits & EventLink.STREAM) != 0 && (bits & EventLink.FINAL) == 0)
        {
            return;
        }
        final TenantState state = lastTenantId >= 0 && lastTenantId < byId.length ? byId[lastTenantId] : null;
        final Hold hold = state == null ? null : state.holds.get(new HoldKey(reservationHi, reservationLo));
        if (hold != null && hold.state == HoldState.OPEN)
        {
            close(state, hold, HoldState.SETTLED, lastEventTimeMs);
        }
    }

    @Override
    public void onControl(final int controlKind, final long revision, final DirectBuffer buffer, final int offset,
        final int length, final long appendTimeMs)
    {
        if (controlKind == LogLayout.CONTROL_PRICE_BOOK)
        {
            final byte[] json = new byte[length];
            buffer.getBytes(offset, json);
            useBook(json, revision);
        }
        else if (controlKind == LogLayout.CONTROL_BUDGET || controlKind == LogLayout.CONTROL_RESERVATION)
        {
            pendingKind = controlKind;
            pendingPayload = new byte[length];
            buffer.getBytes(offset, pendingPayload);
        }
    }

    @Override
    public void onDocumentEnd(final long index, final long appendTimeMs)
    {
        logTimeMs = Math.max(logTimeMs, appendTimeMs);
        expire(appendTimeMs);
        forget(appendTimeMs);
        if (pendingPayload != null)
        {
            final byte[] payload = pendingPayload;
            pendingPayload = null;
            if (pendingKind == LogLayout.CONTROL_BUDGET)
            {
                final Budget budget = Budget.fromPayload(payload);
                final TenantState state = state(budget.tenant());
                state.budget = budget;
                state.spendCache.clear();
                state.alertDirty = true;
            }
            else
            {
                outcomes.put(index, decide(Reservation.fromPayload(payload), index, appendTimeMs));
            }
        }
    }

    /**
     * @return what the reservation record at {@code logIndex} decided, or null when it is not one this ledger saw (the
     *     outcomes of the last {@value #MAX_OUTCOMES} records are kept). Aggregator thread, once it applied the index.
     */
    public Outcome outcomeAt(final long logIndex)
    {
        return outcomes.get(logIndex);
    }

    /** @return the tenant's budget now (its period by {@code nowMs}), or null when it has none. Aggregator thread. */
    public View view(final String tenant, final long nowMs)
    {
        final TenantState state = byName.get(tenant);
        if (state == null || state.budget == null)
        {
            return null;
        }
        final long at = Math.max(nowMs, logTimeMs);
        final long start = state.budget.period().startOf(at);
        final BigDecimal spent = spend(state, at);
        final BigDecimal limit = state.budget.limit();
        return new View(tenant, state.budget, spent, state.reserved, limit.subtract(spent).subtract(state.reserved), start,
            state.budget.period().endAfter(start), currency(tenant), openHolds(state));
    }

    /** @return the tenant's reservation with {@code id}, or null. Aggregator thread. */
    public HoldView hold(final String tenant, final String id)
    {
        final TenantState state = byName.get(tenant);
        if (state == null)
        {
            return null;
        }
        final long[] hash = Reservation.release(tenant, id).idHash();
        final Hold hold = state.holds.get(new HoldKey(hash[0], hash[1]));
        return hold == null ? null : hold.view();
    }

    /** @return the threshold crossings of the tenant's budget, oldest first (the last {@value #MAX_CROSSINGS_KEPT}). */
    public List<Crossing> crossings(final String tenant)
    {
        final TenantState state = byName.get(tenant);
        return state == null ? List.of() : List.copyOf(state.crossings);
    }

    /** @return holds open now in this partition (a gauge). Aggregator thread. */
    public int openHolds()
    {
        return byExpiry.size();
    }

    @Override
    public int doWork(final long nowMs)
    {
        if (nowMs - lastAlertCheckMs < ALERT_CHECK_INTERVAL_MS)
        {
            return 0;
        }
        lastAlertCheckMs = nowMs;
        int work = 0;
        for (final TenantState state : byName.values())
        {
            if (state.alertDirty && state.budget != null && !state.budget.alertPercents().isEmpty())
            {
                state.alertDirty = false;
                checkAlerts(state, Math.max(logTimeMs, lastEventTimeMs));
                work++;
            }
        }
        return work;
    }

    private Outcome decide(final Reservation request, final long index, final long timeMs)
    {
        final TenantState state = state(request.tenant());
        final long[] hash = request.idHash();
        final HoldKey key = new HoldKey(hash[0], hash[1]);
        final Hold existing = state.holds.get(key);
        final String currency = currency(request.tenant());
        if (request.op() == Reservation.Op.RELEASE)
        {
            if (existing == null)
            {
                return new Outcome(Kind.NOT_FOUND, null, null, null, currency);
            }
            if (existing.state != HoldState.OPEN)
            {
                return new Outcome(Kind.CLOSED, existing.view(), null, null, currency);
            }
            close(state, existing, HoldState.RELEASED, timeMs);
            return new Outcome(Kind.RELEASED, existing.view(), null, null, currency);
        }
        if (existing != null)
        {
            return new Outcome(existing.request.sameTerms(request) ? Kind.EXISTING : Kind.CONFLICT, existing.view(), null,
                null, currency);
        }
        if (state.open >= MAX_OPEN_HOLDS)
        {
            return new Outcome(Kind.TOO_MANY, null, null, null, currency);
        }
        final BigDecimal held = holdOf(state, request, timeMs);
        if (state.budget != null && state.budget.hard())
        {
            final BigDecimal available = state.budget.limit().subtract(spend(state, timeMs)).subtract(state.reserved);
            if (held.compareTo(available) > 0)
            {
                return new Outcome(Kind.REFUSED, null, available, held, currency);
            }
        }
        final Hold hold = new Hold(request, key, held, timeMs, timeMs + request.ttlMs(), index);
        state.holds.put(key, hold);
        state.reserved = state.reserved.add(held);
        state.open++;
        byExpiry.add(hold);
        return new Outcome(Kind.GRANTED, hold.view(), null, null, currency);
    }

    /** @return the increase in the tenant's spend an event of the reservation's most tokens would make at {@code timeMs}. */
    private BigDecimal holdOf(final TenantState state, final Reservation request, final long timeMs)
    {
        if (book == null)
        {
            return BigDecimal.ZERO;
        }
        final long hour = Hours.of(timeMs);
        final long monthStart = Budget.Period.MONTH.startOf(timeMs);
        final long fromHour = Hours.of(monthStart);
        final long toHour = Hours.of(Budget.Period.MONTH.endAfter(monthStart));
        final BigDecimal before = amount(state, fromHour, toHour);
        final List<TenantBucket> buckets = month(state, timeMs).buckets(Integer.MAX_VALUE);
        final long[] c = new long[HourlyAggregator.STRIDE];
        c[0] = 1;
        c[1 + TokenClass.INPUT.ordinal()] = request.maxInputTokens();
        c[1 + TokenClass.OUTPUT.ordinal()] = request.maxOutputTokens();
        final int decided = book.schedule(state.tenant, request.model()).decide(timeMs, request.maxInputTokens());
        final int variant = RateVariant.of(RateVariant.contextTier(decided), request.thinking(), RateVariant.window(decided));
        buckets.add(new TenantBucket(hour, request.model(), tierCode(request.serviceTier()), variant, c));
        final BigDecimal after = Rater.sum(Rater.rate(book, state.tenant, buckets, null, new LinkedHashSet<>()),
            book.minorDigits(state.tenant));
        final BigDecimal increase = after.subtract(before);
        return increase.signum() < 0 ? Money.round(BigDecimal.ZERO, book.minorDigits(state.tenant)) : increase;
    }

    /** @return the tenant's spend in its budget's period holding {@code timeMs} (a month when it has no budget). */
    private BigDecimal spend(final TenantState state, final long timeMs)
    {
        final Budget.Period period = state.budget == null ? Budget.Period.MONTH : state.budget.period();
        final long start = period.startOf(timeMs);
        final long monthStart = Budget.Period.MONTH.startOf(timeMs);
        final long fromHour = Hours.of(monthStart);
        final BigDecimal through = amount(state, fromHour, Hours.of(period.endAfter(start)));
        if (period == Budget.Period.MONTH)
        {
            return through;
        }
        // a day's spend is what it adds to its month's invoice: volume bands count from the month's first token
        return through.subtract(amount(state, fromHour, Hours.of(start)));
    }

    /**
     * The invoice's amount for the tenant's buckets from the start of a month up to {@code toHour} (the month's end, or
     * the start of one of its days), cached until its next event or book.
     */
    private BigDecimal amount(final TenantState state, final long fromHour, final long toHour)
    {
        final long key = fromHour * 1_000_003L + toHour;
        final BigDecimal cached = state.spendCache.get(key);
        if (cached != null)
        {
            return cached;
        }
        if (book == null)
        {
            return BigDecimal.ZERO;
        }
        final MonthUsage month = month(state, Hours.startMs(fromHour));
        final List<TenantBucket> buckets = month.buckets((int)((toHour - fromHour) / 24));
        final BigDecimal amount = buckets.isEmpty()
            ? Money.round(BigDecimal.ZERO, book.minorDigits(state.tenant))
            : Rater.sum(Rater.rate(book, state.tenant, buckets, null, new LinkedHashSet<>()), book.minorDigits(state.tenant));
        state.spendCache.put(key, amount);
        return amount;
    }

    /** @return the tenant's month holding {@code timeMs}, merged for pricing; rebuilt from the counters when stale. */
    private MonthUsage month(final TenantState state, final long timeMs)
    {
        final long monthStart = Budget.Period.MONTH.startOf(timeMs);
        final MonthUsage month = state.month;
        if (!month.valid || month.startMs != monthStart || month.book != book)
        {
            month.rebuild(book, monthStart, counters.buckets(state.tenant, Hours.of(monthStart),
                Hours.of(Budget.Period.MONTH.endAfter(monthStart))));
        }
        return month;
    }

    private void checkAlerts(final TenantState state, final long timeMs)
    {
        final Budget budget = state.budget;
        final long start = budget.period().startOf(timeMs);
        final BigDecimal spent = spend(state, timeMs);
        final String label = budget.period().label(start) + "/";
        state.alertsSent.removeIf(sent -> !sent.startsWith(label));
        for (final int percent : budget.alertPercents())
        {
            final String key = budget.period().label(start) + "/" + percent;
            final BigDecimal threshold = budget.limit().multiply(BigDecimal.valueOf(percent)).movePointLeft(2);
            if (spent.compareTo(threshold) >= 0 && state.alertsSent.add(key))
            {
                final Crossing crossing = new Crossing(state.tenant, budget.period(), start, budget.period().endAfter(start),
                    percent, spent, budget.limit(), currency(state.tenant), budget.webhook(), timeMs);
                state.crossings.add(crossing);
                if (state.crossings.size() > MAX_CROSSINGS_KEPT)
                {
                    state.crossings.remove(0);
                }
                LOG.info("tenant {} spent {} {} of its {} budget of {} ({} %, period {})", state.tenant, spent,
                    crossing.currency(), budget.period().jsonName(), budget.limit(), percent, budget.period().label(start));
                alerts.crossed(crossing);
            }
        }
    }

    private void expire(final long timeMs)
    {
        while (!byExpiry.isEmpty() && byExpiry.first().expiresAtMs <= timeMs)
        {
            final Hold hold = byExpiry.first();
            close(byName.get(hold.request.tenant()), hold, HoldState.EXPIRED, hold.expiresAtMs);
        }
    }

    private void forget(final long timeMs)
    {
        while (!closed.isEmpty() && closed.peekFirst().closedAtMs < timeMs - forgetAfterMs)
        {
            final Hold hold = closed.pollFirst();
            final TenantState state = byName.get(hold.request.tenant());
            if (state != null && state.holds.get(hold.key) == hold)
            {
                state.holds.remove(hold.key);
            }
        }
    }

    private void close(final TenantState state, final Hold hold, final HoldState to, final long timeMs)
    {
        hold.state = to;
        hold.closedAtMs = timeMs;
        state.reserved = state.reserved.subtract(hold.held);
        state.open--;
        byExpiry.remove(hold);
        closed.addLast(hold);
    }

    private static int openHolds(final TenantState state)
    {
        return state.open;
    }

    private void useBook(final byte[] json, final long revision)
    {
        try
        {
            book = PriceBookLoader.parse(json, PriceBookLoader.Format.JSON);
            bookJson = json;
            bookRevision = revision;
        }
        catch (final PriceBookException ex)
        {
            LOG.error("the price book of revision {} in the log cannot be read again ({}); budgets go on pricing with "
                + "revision {}", revision, ex.getMessage(), bookRevision);
        }
        for (final TenantState state : byName.values())
        {
            state.spendCache.clear();
            state.alertDirty = true;
        }
    }

    private String currency(final String tenant)
    {
        return book == null ? "USD" : book.currency(tenant);
    }

    private static int tierCode(final String tier)
    {
        for (final ServiceTier t : ServiceTier.values())
        {
            if (t.jsonName().equals(tier))
            {
                return t.code();
            }
        }
        return ServiceTier.STANDARD.code();
    }

    private TenantState state(final String tenant)
    {
        TenantState state = byName.get(tenant);
        if (state == null)
        {
            state = new TenantState(tenant);
            byName.put(tenant, state);
            final int id = counters.tenants().lookup(tenant);
            if (id >= 0)
            {
                bind(id, state);
            }
        }
        return state;
    }

    private void bind(final int id, final TenantState state)
    {
        if (id >= byId.length)
        {
            byId = Arrays.copyOf(byId, Math.max(id + 1, 2 * byId.length));
        }
        byId[id] = state;
    }

    @Override
    public byte[] snapshotState()
    {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes))
        {
            out.writeInt(STATE_FORMAT);
            out.writeLong(logTimeMs);
            out.writeLong(bookRevision);
            writeBytes(out, bookJson);
            out.writeInt(byName.size());
            for (final TenantState state : byName.values())
            {
                out.writeUTF(state.tenant);
                writeBytes(out, state.budget == null ? null : state.budget.toPayload());
                out.writeInt(state.alertsSent.size());
                for (final String sent : state.alertsSent)
                {
                    out.writeUTF(sent);
                }
                out.writeInt(state.crossings.size());
                for (final Crossing c : state.crossings)
                {
                    out.writeUTF(c.period().name());
                    out.writeLong(c.periodStartMs());
                    out.writeInt(c.percent());
                    out.writeUTF(c.spent().toPlainString());
                    out.writeUTF(c.limit().toPlainString());
                    out.writeUTF(c.currency());
                    out.writeUTF(c.webhook() == null ? "" : c.webhook());
                    out.writeLong(c.crossedAtMs());
                }
                out.writeInt(state.holds.size());
                for (final Hold hold : state.holds.values())
                {
                    writeBytes(out, hold.request.toPayload());
                    out.writeUTF(hold.held.toPlainString());
                    out.writeLong(hold.createdAtMs);
                    out.writeLong(hold.logIndex);
                    out.writeByte(hold.state.ordinal());
                    out.writeLong(hold.closedAtMs);
                }
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        return bytes.toByteArray();
    }

    @Override
    public void restoreSnapshotState(final ByteBuffer state)
    {
        final byte[] bytes = new byte[state.remaining()];
        state.get(bytes);
        try (DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(bytes)))
        {
            final int format = in.readInt();
            if (format != STATE_FORMAT)
            {
                throw new IllegalStateException("the aggregate snapshot holds budgets of format " + format
                    + ", which this version of tokenmeter does not know: it was written by another version");
            }
            logTimeMs = in.readLong();
            final long revision = in.readLong();
            final byte[] json = readBytes(in);
            if (json != null)
            {
                useBook(json, revision);
            }
            final List<Hold> closedHolds = new ArrayList<>();
            for (int t = 0, tenants = in.readInt(); t < tenants; t++)
            {
                final TenantState s = state(in.readUTF());
                final byte[] budget = readBytes(in);
                s.budget = budget == null ? null : Budget.fromPayload(budget);
                for (int i = 0, n = in.readInt(); i < n; i++)
                {
                    s.alertsSent.add(in.readUTF());
                }
                for (int i = 0, n = in.readInt(); i < n; i++)
                {
                    final Budget.Period period = Budget.Period.valueOf(in.readUTF());
                    final long start = in.readLong();
                    final int percent = in.readInt();
                    final BigDecimal spent = new BigDecimal(in.readUTF());
                    final BigDecimal limit = new BigDecimal(in.readUTF());
                    final String currency = in.readUTF();
                    final String webhook = in.readUTF();
                    s.crossings.add(new Crossing(s.tenant, period, start, period.endAfter(start), percent, spent, limit,
                        currency, webhook.isEmpty() ? null : webhook, in.readLong()));
                }
                for (int i = 0, n = in.readInt(); i < n; i++)
                {
                    final Reservation request = Reservation.fromPayload(readBytes(in));
                    final long[] hash = request.idHash();
                    final Hold hold = new Hold(request, new HoldKey(hash[0], hash[1]), new BigDecimal(in.readUTF()),
                        in.readLong(), 0, in.readLong());
                    hold.expiresAtMs = hold.createdAtMs + request.ttlMs();
                    hold.state = HoldState.values()[in.readByte()];
                    hold.closedAtMs = in.readLong();
                    s.holds.put(hold.key, hold);
                    if (hold.state == HoldState.OPEN)
                    {
                        s.reserved = s.reserved.add(hold.held);
                        s.open++;
                        byExpiry.add(hold);
                    }
                    else
                    {
                        closedHolds.add(hold);
                    }
                }
            }
            closedHolds.sort(Comparator.comparingLong(h -> h.closedAtMs));
            closed.addAll(closedHolds);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    private static void writeBytes(final DataOutputStream out, final byte[] bytes) throws IOException
    {
        out.writeInt(bytes == null ? -1 : bytes.length);
        if (bytes != null)
        {
            out.write(bytes);
        }
    }

    private static byte[] readBytes(final DataInputStream in) throws IOException
    {
        final int length = in.readInt();
        if (length < 0)
        {
            return null;
        }
        final byte[] bytes = new byte[length];
        in.readFully(bytes);
        return bytes;
    }

    private record HoldKey(long hi, long lo)
    {
    }

    /** A hold: the request, what it holds, until when, and what became of it. */
    private static final class Hold
    {
        final Reservation request;
        final HoldKey key;
        final BigDecimal held;
        final long createdAtMs;
        long expiresAtMs;
        final long logIndex;
        HoldState state = HoldState.OPEN;
        long closedAtMs = EventLog.NO_INDEX;

        Hold(final Reservation request, final HoldKey key, final BigDecimal held, final long createdAtMs,
            final long expiresAtMs, final long logIndex)
        {
            this.request = request;
            this.key = key;
            this.held = held;
            this.createdAtMs = createdAtMs;
            this.expiresAtMs = expiresAtMs;
            this.logIndex = logIndex;
        }

        HoldView view()
        {
            return new HoldView(request.id(), state, held, createdAtMs, expiresAtMs, closedAtMs);
        }
    }

    /**
     * One tenant's usage in one month as the ledger prices it: the hour buckets merged into one per (model, service
     * tier, rate variant, price version, day of the month), and per hour where a graduated band prices them (its bands
     * fill in hour order). The rating of the merged buckets is the rating of the hour buckets (lines are sums over
     * buckets; volume bands take the period's totals), so spend is exact, and a reservation costs the rating of a few
     * dozen buckets instead of the month's hundreds. Kept up to date event by event; rebuilt from the counters when the
     * month or the book changes, and after a restart.
     */
    private static final class MonthUsage
    {
        private record Key(String model, int tierCode, int variant, String scope, String entry, String from, int day, long hour)
        {
        }

        private final String tenant;
        private final Map<Key, TenantBucket> merged = new HashMap<>();
        /** The merged bucket's key of each (model id, hour of the month, tier, variant) seen: no resolve per event. */
        private final org.agrona.collections.Long2ObjectHashMap<Key> keys = new org.agrona.collections.Long2ObjectHashMap<>();
        boolean valid;
        long startMs = Long.MIN_VALUE;
        PriceBook book;

        MonthUsage(final String tenant)
        {
            this.tenant = tenant;
        }

        void rebuild(final PriceBook inForce, final long monthStart, final List<TenantBucket> buckets)
        {
            merged.clear();
            keys.clear();
            book = inForce;
            startMs = monthStart;
            valid = inForce != null;
            if (valid)
            {
                for (final TenantBucket bucket : buckets)
                {
                    add(bucket.hour(), bucket.model(), bucket.tierCode(), bucket.variant(), bucket.counters());
                }
            }
        }

        /**
         * An event applied to the counters: added to its merged bucket when its month is the one held. Allocates only
         * for a (model, hour, tier, variant) it has not seen this month, or a new merged bucket.
         */
        void add(final EventRecord event, final String model)
        {
            if (!valid)
            {
                return;
            }
            final long hour = Math.floorDiv(event.timestampMs(), Hours.MS_PER_HOUR);
            final long hourInMonth = hour - Hours.of(startMs);
            if (hourInMonth < 0 || hour >= Hours.of(Budget.Period.MONTH.endAfter(startMs)))
            {
                return;
            }
            final int variant = RateVariant.ofFlags(event.flags());
            final long packed = ((long)event.modelId() << 20 | hourInMonth) << 10 | event.tierCode() << 7 | variant;
            Key key = keys.get(packed);
            if (key == null)
            {
                key = keyOf(hour, model, event.tierCode(), variant);
                keys.put(packed, key);
            }
            final TenantBucket into = merged.get(key);
            if (into == null)
            {
                final long[] c = new long[HourlyAggregator.STRIDE];
                c[0] = 1;
                for (int i = 0; i < TokenClass.COUNT; i++)
                {
                    c[1 + i] = event.tokens(i);
                }
                merged.put(key, new TenantBucket(hour, model, event.tierCode(), variant, c));
                return;
            }
            final long[] c = into.counters();
            c[0]++;
            for (int i = 0; i < TokenClass.COUNT; i++)
            {
                addSaturating(c, 1 + i, event.tokens(i));
            }
        }

        private void add(final long hour, final String model, final int tierCode, final int variant, final long[] counts)
        {
            final Key key = keyOf(hour, model, tierCode, variant);
            final TenantBucket into = merged.get(key);
            if (into == null)
            {
                merged.put(key, new TenantBucket(hour, model, tierCode, variant, counts.clone()));
                return;
            }
            final long[] c = into.counters();
            for (int i = 0; i < HourlyAggregator.STRIDE - 1; i++)
            {
                addSaturating(c, i, counts[i]);
            }
            c[HourlyAggregator.STRIDE - 1] |= counts[HourlyAggregator.STRIDE - 1];
        }

        /** The merged bucket an hour's usage goes to: by price version and day, and by hour under graduated bands. */
        private Key keyOf(final long hour, final String model, final int tierCode, final int variant)
        {
            final PriceBook.Resolved price = book.resolve(tenant, model, hour);
            final int day = (int)((hour - Hours.of(startMs)) / 24);
            return price == null
                ? new Key(model, tierCode, variant, null, null, null, day, -1)
                : new Key(model, tierCode, variant, price.scope(), price.entryKey(), price.version().effectiveFrom(), day,
                    graduated(price, variant) ? hour : -1);
        }

        /** Adds to a counter, saturating at 2^63-1 and flagging it, as the hour buckets do. */
        private static void addSaturating(final long[] c, final int at, final long value)
        {
            final long sum = c[at] + value;
            if (sum < 0)
            {
                c[at] = Long.MAX_VALUE;
                c[HourlyAggregator.STRIDE - 1] = 1;
            }
            else
            {
                c[at] = sum;
            }
        }

        private static boolean graduated(final PriceBook.Resolved price, final int variant)
        {
            for (int c = 0; c < io.tokenmeter.billing.price.PriceVersion.BILLABLE_CLASSES; c++)
            {
                final io.tokenmeter.billing.price.Bands bands = price.version().bands(c, variant);
                if (bands != null && bands.graduated())
                {
                    return true;
                }
            }
            return false;
        }

        /** @return fresh copies of the merged buckets of the month's days before {@code endDay} (0-based). */
        List<TenantBucket> buckets(final int endDay)
        {
            final List<TenantBucket> out = new ArrayList<>(merged.size() + 1);
            merged.forEach((key, b) ->
            {
                if (key.day() < endDay)
                {
                    out.add(new TenantBucket(b.hour(), b.model(), b.tierCode(), b.variant(), b.counters().clone()));
                }
            });
            return out;
        }
    }

    /** One tenant's budget, holds, cached spend and alerts. */
    private static final class TenantState
    {
        final String tenant;
        final MonthUsage month;
        Budget budget;
        final Map<HoldKey, Hold> holds = new HashMap<>();
        BigDecimal reserved = BigDecimal.ZERO;
        /** Holds open now. */
        int open;
        /** Invoice amounts by hour range, cleared by the tenant's next event or a new book. */
        final Map<Long, BigDecimal> spendCache = new TreeMap<>();
        boolean alertDirty;
        final Set<String> alertsSent = new HashSet<>();
        final List<Crossing> crossings = new ArrayList<>();

        TenantState(final String tenant)
        {
            this.tenant = tenant;
            this.month = new MonthUsage(tenant);
        }
    }
}
