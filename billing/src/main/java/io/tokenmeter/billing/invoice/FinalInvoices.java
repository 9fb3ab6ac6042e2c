package io.tokenmeter.billing.invoice;

import java.io.IOException;
import java.time.YearMonth;
import java.util.List;

/**
 * Where final invoices are kept and numbered: files of the node's data directory on a single node
 * ({@link InvoiceStore}, one number series), records in the tenant's partition log in cluster mode (one
 * {@link FinalInvoiceLedger} per partition, one number series each), so that they move and replicate with the usage.
 */
public interface FinalInvoices
{
    /** @return the final invoice of a tenant and period, or null. Any thread. */
    Invoice find(String tenant, YearMonth period);

    /** @return the tenant's final invoices, by period. Any thread. */
    List<Invoice> finals(String tenant);

    /** @return tenants with a final invoice for a period before or at {@code period}. Any thread. */
    List<String> tenantsWithFinalsThrough(YearMonth period);

    /** @return the number the tenant's next final invoice gets. Billing thread. */
    String nextNumber(String tenant);

    /**
     * Keeps a final invoice, numbered by {@link #nextNumber}, once. Billing thread.
     *
     * @throws java.nio.file.FileAlreadyExistsException when the tenant's period is already final.
     * @throws IOException when it was not kept (nothing was).
     */
    void store(Invoice invoice) throws IOException;
}
