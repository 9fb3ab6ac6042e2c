package io.tokenmeter.billing.invoice;

import io.tokenmeter.core.log.ControlHandler;
import io.tokenmeter.core.log.ControlRequest;
import io.tokenmeter.core.log.JournalRequest;
import org.agrona.DirectBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The final invoices of one partition in cluster mode: the handler of
 * {@link io.tokenmeter.core.event.LogLayout#CONTROL_FINAL_INVOICE} records in the partition journal's command table. A
 * final invoice is a record in its tenant's partition log, so it is replicated with the usage and known to whichever
 * node owns the partition next (decision 348). The partition numbers its invoices in a series of its own,
 * {@code INV-P003-000001} upwards for partition 3, with no gaps: the number is decided by the partition's single writer
 * in the same record as the invoice, so no number is taken without its invoice and no two invoices share one (a
 * deposed owner's append is fenced). A tenant's period is final once; the ledger checkpoints every invoice with the
 * journal, since a recovery replays only from the oldest live dedup id.
 *
 * <p>Owned by the journal thread, which alone changes it; {@link #find}, {@link #finals} and {@link #nextNumber} are
 * read by any thread from immutable maps the journal replaces whole.
 *
 * <pre>
 * checkpoint state (little-endian)
 *   invoices i32 | (length i32 | payload (the invoice's JSON)) * invoices
 * </pre>
 */
public final class FinalInvoiceLedger implements ControlHandler
{
    private static final Logger LOG = LoggerFactory.getLogger(FinalInvoiceLedger.class);

    private final int partition;
    /** Journal thread: every tenant's final invoices by period. */
    private final Map<String, TreeMap<YearMonth, Invoice>> byTenant = new HashMap<>();
    /** Any thread: each tenant's final invoices by period, immutable, replaced whole. */
    private final ConcurrentHashMap<String, NavigableMap<YearMonth, Invoice>> published = new ConcurrentHashMap<>();
    /** The highest number of the series recorded so far (0 before the first). */
    private volatile long lastNumber;
    private int count;

    /** @param partition the partition whose log this ledger reads and whose series it numbers. */
    public FinalInvoiceLedger(final int partition)
    {
        this.partition = partition;
    }

    /** @return the series' number {@code sequence}: {@code INV-P003-000042} for partition 3. */
    public static String number(final int partition, final long sequence)
    {
        return String.format("INV-P%03d-%06d", partition, sequence);
    }

    /** @return the number the partition's next final invoice gets. Any thread. */
    public String nextNumber()
    {
        return number(partition, lastNumber + 1);
    }

    /** @return the tenant's final invoice for the period, or null. Any thread. */
    public Invoice find(final String tenant, final YearMonth period)
    {
        final NavigableMap<YearMonth, Invoice> periods = published.get(tenant);
        return periods == null ? null : periods.get(period);
    }

    /** @return the tenant's final invoices, by period. Any thread. */
    public List<Invoice> finals(final String tenant)
    {
        final NavigableMap<YearMonth, Invoice> periods = published.get(tenant);
        return periods == null ? List.of() : List.copyOf(periods.values());
    }

    /** @return tenants with a final invoice for a period before or at {@code period}. Any thread. */
    public List<String> tenantsWithFinalsThrough(final YearMonth period)
    {
        final List<String> tenants = new ArrayList<>();
        published.forEach((tenant, periods) ->
        {
            if (!periods.headMap(period, true).isEmpty())
            {
                tenants.add(tenant);
            }
        });
        return tenants;
    }

    @Override
    public JournalRequest.Refusal check(final ControlRequest request)
    {
        if (!(request instanceof FinalInvoiceRecord record))
        {
            LOG.error("a final invoice control record without its invoice was refused");
            return JournalRequest.Refusal.UNKNOWN_CONTROL;
        }
        final Invoice invoice = record.invoice();
        final Invoice existing = find(invoice.tenant(), YearMonth.parse(invoice.period()));
        if (existing != null)
        {
            record.found(existing);
            return JournalRequest.Refusal.ALREADY_RECORDED;
        }
        if (!invoice.isFinal() || !nextNumber().equals(invoice.invoiceNumber()))
        {
            // numbered against a state this journal has moved past: the caller numbers it again
            LOG.warn("final invoice {} of tenant {} period {} refused: partition {}'s next number is {}", invoice.invoiceNumber(),
                invoice.tenant(), invoice.period(), partition, nextNumber());
            return JournalRequest.Refusal.STALE_REVISION;
        }
        return null;
    }

    @Override
    public void onRecorded(final ControlRequest request, final long logIndex, final long appendTimeMs)
    {
        final Invoice invoice = ((FinalInvoiceRecord)request).invoice();
        add(invoice);
        LOG.info("final invoice {} of tenant {} period {} recorded at log index {} of partition {}", invoice.invoiceNumber(),
            invoice.tenant(), invoice.period(), Long.toHexString(logIndex), partition);
    }

    @Override
    public void onReplayed(final long revision, final DirectBuffer payload, final int offset, final int length,
        final long logIndex, final long appendTimeMs)
    {
        final byte[] bytes = new byte[length];
        payload.getBytes(offset, bytes);
        final Invoice invoice = read(bytes);
        final Invoice known = find(invoice.tenant(), YearMonth.parse(invoice.period()));
        if (known == null)
        {
            add(invoice);
        }
        else if (!known.invoiceNumber().equals(invoice.invoiceNumber()))
        {
            // the journal records a period once; a second record can only come from a log written by hand
            LOG.warn("the log of partition {} holds two final invoices of tenant {} period {} ({} and {}); the first is kept",
                partition, invoice.tenant(), invoice.period(), known.invoiceNumber(), invoice.invoiceNumber());
        }
    }

    @Override
    public byte[] checkpointState()
    {
        if (count == 0)
        {
            return null;
        }
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 + count * 2048);
        bytes.writeBytes(ByteBuffer.allocate(Integer.BYTES).order(ByteOrder.LITTLE_ENDIAN).putInt(count).array());
        for (final TreeMap<YearMonth, Invoice> periods : byTenant.values())
        {
            for (final Invoice invoice : periods.values())
            {
                final byte[] payload = InvoiceJson.toBytes(invoice, true, false);
                bytes.writeBytes(ByteBuffer.allocate(Integer.BYTES).order(ByteOrder.LITTLE_ENDIAN).putInt(payload.length).array());
                bytes.writeBytes(payload);
            }
        }
        return bytes.toByteArray();
    }

    @Override
    public void restoreCheckpointState(final ByteBuffer state)
    {
        final ByteBuffer in = state.order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0, n = in.getInt(); i < n; i++)
        {
            final byte[] payload = new byte[in.getInt()];
            in.get(payload);
            add(read(payload));
        }
        LOG.info("{} final invoice(s) of partition {} restored from the journal checkpoint (next number {})", count, partition,
            nextNumber());
    }

    private static Invoice read(final byte[] payload)
    {
        try
        {
            return InvoiceJson.read(payload);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("a final invoice record cannot be read: " + ex.getMessage(), ex);
        }
    }

    private void add(final Invoice invoice)
    {
        final TreeMap<YearMonth, Invoice> periods = byTenant.computeIfAbsent(invoice.tenant(), t -> new TreeMap<>());
        if (periods.put(YearMonth.parse(invoice.period()), invoice) == null)
        {
            count++;
        }
        published.put(invoice.tenant(), Collections.unmodifiableNavigableMap(new TreeMap<>(periods)));
        lastNumber = Math.max(lastNumber, InvoiceStore.number(invoice.invoiceNumber()));
    }
}
