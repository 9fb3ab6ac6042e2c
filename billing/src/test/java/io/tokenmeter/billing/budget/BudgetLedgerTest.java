package io.tokenmeter.billing.budget;

import io.tokenmeter.billing.price.PriceBookLoader;
import io.tokenmeter.core.aggregate.HourlyAggregator;
import io.tokenmeter.core.event.LogLayout;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The budget ledger fed records as a partition's aggregator feeds them: its bounds on holds kept and held open. */
class BudgetLedgerTest
{
    private static final long HOUR_MS = 3_600_000L;
    private static final long T0 = 1_764_547_200_000L; // 2025-12-01T00:00:00Z

    private final List<BudgetLedger.Crossing> crossings = new ArrayList<>();
    private final BudgetLedger ledger = new BudgetLedger(new HourlyAggregator(), crossings::add, HOUR_MS);
    private long index;

    private void record(final int kind, final byte[] payload, final long timeMs)
    {
        ledger.onControl(kind, 1, new UnsafeBuffer(payload), 0, payload.length, timeMs);
        ledger.onDocumentEnd(++index, timeMs);
    }

    private BudgetLedger.Kind reserve(final String id, final long timeMs)
    {
        record(LogLayout.CONTROL_RESERVATION, new Reservation(Reservation.Op.RESERVE, id, "acme", "gpt-4o", "standard", 1000, 100,
            false, 24 * HOUR_MS).toPayload(), timeMs);
        return ledger.outcomeAt(index).kind();
    }

    @Test
    void atMostTheOpenHoldsOneTenantMayHaveAndClosedIdsAreForgottenAfterTheirTime()
    {
        final byte[] book = PriceBookLoader.shipped().recordedJson();
        record(LogLayout.CONTROL_PRICE_BOOK, book, T0);
        record(LogLayout.CONTROL_BUDGET, new Budget("acme", new BigDecimal("1000000.00"), Budget.Period.MONTH, true, List.of(),
            null).toPayload(), T0);
        for (int i = 0; i < BudgetLedger.MAX_OPEN_HOLDS; i++)
        {
            assertEquals(BudgetLedger.Kind.GRANTED, reserve("r-" + i, T0 + 1), "hold " + i);
        }
        assertEquals(BudgetLedger.MAX_OPEN_HOLDS, ledger.openHolds());
        assertEquals(BudgetLedger.Kind.TOO_MANY, reserve("one-more", T0 + 2));
        assertNull(ledger.hold("acme", "one-more"), "nothing was held");
        record(LogLayout.CONTROL_RESERVATION, Reservation.release("acme", "r-0").toPayload(), T0 + 3);
        assertEquals(BudgetLedger.Kind.RELEASED, ledger.outcomeAt(index).kind());
        assertEquals(BudgetLedger.Kind.GRANTED, reserve("one-more", T0 + 4), "room again once one is released");
        assertEquals(BudgetLedger.Kind.EXISTING, reserve("r-0", T0 + 5), "a closed hold's id is kept for its retries");
        assertEquals(BudgetLedger.HoldState.RELEASED, ledger.hold("acme", "r-0").state());

        // an hour after it closed, the id is forgotten: the same id again is a new reservation
        record(LogLayout.CONTROL_RESERVATION, Reservation.release("acme", "r-1").toPayload(), T0 + HOUR_MS + 4);
        assertNull(ledger.hold("acme", "r-0"));
        assertEquals(BudgetLedger.Kind.GRANTED, reserve("r-0", T0 + HOUR_MS + 5));
        // a day later every hold has expired (ttl 24 h), by the log's clock
        record(LogLayout.CONTROL_RESERVATION, Reservation.release("acme", "none").toPayload(), T0 + 26 * HOUR_MS);
        assertEquals(BudgetLedger.Kind.NOT_FOUND, ledger.outcomeAt(index).kind());
        assertEquals(0, ledger.openHolds());
        assertEquals("0", ledger.view("acme", T0 + 26 * HOUR_MS).reserved().stripTrailingZeros().toPlainString());
    }
}
