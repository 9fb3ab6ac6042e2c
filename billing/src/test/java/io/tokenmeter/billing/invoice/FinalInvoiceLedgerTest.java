package io.tokenmeter.billing.invoice;

import io.tokenmeter.core.log.JournalRequest;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.time.YearMonth;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The final invoices of a partition as the journal drives them ({@link FinalInvoiceLedger}): a tenant's period is final
 * once, numbers come in the partition's own series with no gap, an invoice numbered against a stale state is refused,
 * and what the log and the checkpoint hold comes back the same (replay of records the checkpoint holds already counts
 * nothing twice).
 */
class FinalInvoiceLedgerTest
{
    private static Invoice invoice(final String tenant, final String period, final String number, final String total)
    {
        return new Invoice(tenant, period, "USD", Invoice.DRAFT, null, null, null, 7, new Invoice.PriceBookRef(1, "ab", 0),
            List.of(), new BigDecimal(total), BigDecimal.ZERO, new BigDecimal(total), List.of(), Map.of(), null)
            .asFinal(number, "2025-11-01T00:00:00Z");
    }

    /** Checks and, when not refused, records as the journal does (check, append, onRecorded). */
    private static JournalRequest.Refusal record(final FinalInvoiceLedger ledger, final FinalInvoiceRecord record,
        final long logIndex)
    {
        final JournalRequest.Refusal refusal = ledger.check(record);
        if (refusal == null)
        {
            ledger.onRecorded(record, logIndex, 1_000L + logIndex);
        }
        else
        {
            record.onRefused(refusal);
        }
        return refusal;
    }

    private static void replay(final FinalInvoiceLedger ledger, final Invoice invoice, final long logIndex)
    {
        final byte[] payload = InvoiceJson.toBytes(invoice, true, false);
        ledger.onReplayed(FinalInvoiceRecord.PAYLOAD_FORMAT, new UnsafeBuffer(payload), 0, payload.length, logIndex, 1_000L);
    }

    @Test
    void aPeriodIsFinalOnceAndTheSeriesHasNoGap() throws Exception
    {
        final FinalInvoiceLedger ledger = new FinalInvoiceLedger(3);
        assertEquals("INV-P003-000001", ledger.nextNumber());
        assertNull(ledger.find("acme", YearMonth.of(2025, 10)));

        final Invoice october = invoice("acme", "2025-10", ledger.nextNumber(), "12.50");
        assertNull(record(ledger, new FinalInvoiceRecord(october), 10));
        assertEquals(october, ledger.find("acme", YearMonth.of(2025, 10)));
        assertEquals("INV-P003-000002", ledger.nextNumber());

        // the same period again: nothing written, the outcome is the invoice made before
        final FinalInvoiceRecord twice = new FinalInvoiceRecord(invoice("acme", "2025-10", ledger.nextNumber(), "99"));
        assertEquals(JournalRequest.Refusal.ALREADY_RECORDED, record(ledger, twice, 11));
        assertEquals(october, twice.outcome().get());
        assertEquals("INV-P003-000002", ledger.nextNumber(), "a refused record takes no number");

        // numbered against a state the journal has moved past (a number taken, or one skipped): refused, not recorded
        for (final String stale : List.of("INV-P003-000001", "INV-P003-000003", "INV-P001-000002", "INV-000002"))
        {
            final FinalInvoiceRecord refused = new FinalInvoiceRecord(invoice("beta", "2025-10", stale, "1"));
            assertEquals(JournalRequest.Refusal.STALE_REVISION, record(ledger, refused, 12), stale);
            assertThrows(Exception.class, () -> refused.outcome().get(), stale);
            assertNull(ledger.find("beta", YearMonth.of(2025, 10)), stale);
        }
        final Invoice beta = invoice("beta", "2025-10", ledger.nextNumber(), "3");
        assertNull(record(ledger, new FinalInvoiceRecord(beta), 13));
        final Invoice september = invoice("acme", "2025-09", ledger.nextNumber(), "4");
        assertNull(record(ledger, new FinalInvoiceRecord(september), 14));
        assertEquals("INV-P003-000004", ledger.nextNumber());
        assertEquals(List.of(september, october), ledger.finals("acme"), "by period");
        assertEquals(List.of("acme"), ledger.tenantsWithFinalsThrough(YearMonth.of(2025, 9)));
        assertEquals(2, ledger.tenantsWithFinalsThrough(YearMonth.of(2025, 10)).size());
        assertEquals(3, InvoiceStore.number(september.invoiceNumber()), "the sequence within the series");
    }

    @Test
    void theLogAndTheCheckpointGiveTheSameInvoicesBack()
    {
        final FinalInvoiceLedger writer = new FinalInvoiceLedger(0);
        final Invoice a = invoice("acme", "2025-10", writer.nextNumber(), "1.25");
        record(writer, new FinalInvoiceRecord(a), 5);
        final Invoice b = invoice("beta", "2025-10", writer.nextNumber(), "2");
        record(writer, new FinalInvoiceRecord(b), 9);
        final byte[] state = writer.checkpointState();
        final Invoice c = invoice("acme", "2025-11", writer.nextNumber(), "3");
        record(writer, new FinalInvoiceRecord(c), 20);

        // a new owner with no checkpoint replays the whole partition
        final FinalInvoiceLedger replayed = new FinalInvoiceLedger(0);
        assertNull(replayed.checkpointState(), "an empty ledger adds nothing to the journal's checkpoint");
        replay(replayed, a, 5);
        replay(replayed, b, 9);
        replay(replayed, c, 20);
        // an owner restarted on its own data: the checkpoint, then a replay from before the checkpoint's index
        final FinalInvoiceLedger restored = new FinalInvoiceLedger(0);
        restored.restoreCheckpointState(ByteBuffer.wrap(state));
        replay(restored, b, 9);
        replay(restored, c, 20);
        for (final FinalInvoiceLedger ledger : List.of(replayed, restored))
        {
            assertEquals(List.of(a, c), ledger.finals("acme"));
            assertEquals(List.of(b), ledger.finals("beta"));
            assertEquals("INV-P000-000004", ledger.nextNumber(), "the series goes on after the last recorded number");
            // a second record of a period (a log written by hand) keeps the first
            replay(ledger, invoice("beta", "2025-10", "INV-P000-000009", "77"), 30);
            assertEquals(List.of(b), ledger.finals("beta"));
        }
    }
}
