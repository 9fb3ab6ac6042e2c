package io.tokenmeter.billing.invoice;

import io.tokenmeter.billing.credit.CreditBalance;
import io.tokenmeter.billing.credit.CreditGrant;
import io.tokenmeter.billing.credit.CreditRecord;
import io.tokenmeter.billing.price.BookInForce;
import io.tokenmeter.billing.price.PartitionedBook;
import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.billing.rating.InvoiceLine;
import io.tokenmeter.core.aggregate.TenantBucket;
import io.tokenmeter.core.log.EventLog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Invoices and prices for the server: drafts, finalization, the finance listing and price book changes. Everything
 * runs on one "billing" thread behind a bounded queue, so finalizations and price installs happen one at a time, in
 * order (invoice numbers follow finalization order, and an invoice never sees half a price change). Counters come
 * from the aggregator through {@link UsageSource}, as of a log index that includes every event acknowledged before
 * the question was asked; credit grants from the partitions' ledgers through {@link CreditSource}, those recorded up
 * to that same index. Grants are recorded by the tenant's journal, not on the billing thread.
 */
public final class BillingService implements AutoCloseable
{
    private static final Logger LOG = LoggerFactory.getLogger(BillingService.class);

    /** Where the billing thread gets counters. */
    public interface UsageSource
    {
        /** @return one tenant's buckets in {@code [fromHour, toHour)}, including every event acknowledged so far. */
        CompletableFuture<UsageView> buckets(String tenant, long fromHour, long toHour);

        /**
         * @return the tenants of {@code scope} with usage in {@code [fromHour, toHour)}, including every event
         *     acknowledged so far; only the partitions of the scope are asked.
         */
        CompletableFuture<List<String>> tenantsWithUsage(long fromHour, long toHour, TenantScope scope);
    }

    /** Buckets, the partition they come from and the position in its log they reflect. */
    public record UsageView(List<TenantBucket> buckets, int partition, long logIndex)
    {
    }

    /** Records a price book in every partition's log (the journals). */
    public interface PriceRecorder
    {
        /**
         * Records {@code book} in every partition that does not have it in force yet (at the next revision, or at the
         * newest revision when it is the book a failed change left in some partitions only).
         *
         * @return the books in force afterwards, and why each partition that could not record it could not.
         */
        CompletableFuture<Recorded> record(PriceBook book, PartitionedBook current);
    }

    /** The tenants' prepaid credit grants: the ledgers of the partitions' journals, and the way to record one. */
    /** The hash chain's heads: what a final invoice records of the log it was made from. */
    @FunctionalInterface
    public interface ChainSource
    {
        ChainSource NONE = (tenant, logIndex) -> null;

        /** @return the SHA-256 (hex) of the document at {@code logIndex} of the tenant's partition log; null for none. */
        String sha256At(String tenant, long logIndex);
    }

    public interface CreditSource
    {
        /** No grants, and none can be recorded. */
        CreditSource NONE = new CreditSource()
        {
            @Override
            public List<CreditGrant> grants(final String tenant)
            {
                return List.of();
            }

            @Override
            public List<CreditGrant> grantsAt(final String tenant, final long logIndex)
            {
                return List.of();
            }

            @Override
            public CompletableFuture<CreditRecord.Outcome> record(final CreditGrant grant)
            {
                return CompletableFuture.failedFuture(new IllegalStateException("this server records no credit grants"));
            }
        };

        /** @return the tenant's grants recorded so far, in log order. Any thread. */
        List<CreditGrant> grants(String tenant);

        /**
         * @return the tenant's grants recorded at or before {@code logIndex} of its partition's log, in log order, once
         *     the journal has handed every record up to that index to its ledger. Any thread.
         */
        List<CreditGrant> grantsAt(String tenant, long logIndex);

        /** @return completes once the tenant's journal has recorded the grant, or found its id recorded before. */
        CompletableFuture<CreditRecord.Outcome> record(CreditGrant grant);
    }

    /** A tenant already holds the most grants one tenant may hold. */
    public static final class TooManyGrantsException extends RuntimeException
    {
        private static final long serialVersionUID = 1L;

        TooManyGrantsException(final String message)
        {
            super(message);
        }
    }

    /** The most credit grants one tenant may hold (each is kept in memory and in every journal checkpoint). */
    public static final int MAX_GRANTS_PER_TENANT = 10_000;

    /** The books in force after a price change, and the partitions that refused it (empty when all have it). */
    public record Recorded(PartitionedBook inForce, List<String> refusals)
    {
    }

    /** The answer to a finalize: the final invoice, and whether this call created it. */
    public record Finalized(Invoice invoice, boolean created)
    {
    }

    /**
     * One row of {@code GET /v1/margins}: a tenant's billed usage of one model on its invoice of the period, what it
     * cost us and the margin. {@code cost} and {@code margin} are null when some of the usage has no cost in the cost
     * book (the {@code uncosted} amount says how much revenue that is).
     */
    public record MarginEntry(String tenant, String model, String currency, BigDecimal amount, BigDecimal cost,
        BigDecimal margin, BigDecimal uncosted)
    {
    }

    /** One row of the finance listing. */
    public record ListingEntry(String tenant, String status, String invoiceNumber, String currency, BigDecimal total)
    {
    }

    /** Finalizing a period that has not ended (plus the grace period). */
    public static final class PeriodOpenException extends RuntimeException
    {
        private static final long serialVersionUID = 1L;

        PeriodOpenException(final String message)
        {
            super(message);
        }
    }

    /** The counters or the log could not answer in time, or the billing queue is full: retry later. */
    public static final class BillingUnavailableException extends RuntimeException
    {
        private static final long serialVersionUID = 1L;

        public BillingUnavailableException(final String message)
        {
            super(message);
        }
    }

    private final FinalInvoices store;
    private final UsageSource usage;
    private final CreditSource credits;
    private final ChainSource chain;
    private final PriceRecorder recorder;
    private final Duration grace;
    private final LongSupplier clockMs;
    private final Duration timeout;
    private final ThreadPoolExecutor thread;
    private volatile PartitionedBook prices;

    public BillingService(final FinalInvoices store, final UsageSource usage, final PriceRecorder recorder, final PartitionedBook prices,
        final Duration grace, final LongSupplier clockMs, final Duration timeout)
    {
        this(store, usage, CreditSource.NONE, ChainSource.NONE, recorder, prices, grace, clockMs, timeout);
    }

    public BillingService(final FinalInvoices store, final UsageSource usage, final CreditSource credits, final ChainSource chain,
        final PriceRecorder recorder, final PartitionedBook prices, final Duration grace, final LongSupplier clockMs,
        final Duration timeout)
    {
        this.store = store;
        this.chain = chain;
        this.usage = usage;
        this.credits = credits;
        this.recorder = recorder;
        this.prices = prices;
        this.grace = grace;
        this.clockMs = clockMs;
        this.timeout = timeout;
        this.thread = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(256), r ->
        {
            final Thread t = new Thread(r, "billing");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Cluster mode with an owners group: partition {@code partition}, newly served by this node, has {@code book} in
     * force (recorded in its log). Price changes through {@link #install} are refused in that mode, so nothing else
     * writes the book in force meanwhile. The partition's recovery thread.
     */
    public synchronized void adopt(final int partition, final BookInForce book)
    {
        prices = prices.with(partition, book);
    }

    /** @return the price book in force. Any thread. */
    public PartitionedBook prices()
    {
        return prices;
    }

    /** @return the tenant's invoice for the period: the final one if finalized, else a draft as of now. */
    public CompletableFuture<Invoice> invoice(final String tenant, final YearMonth period)
    {
        return onBillingThread(() ->
        {
            final Invoice stored = store.find(tenant, period);
            return stored != null ? stored : draft(tenant, period);
        });
    }

    /**
     * An invoice with the tenant's final invoices it was computed with, from which its lines are traced to their events
     * ({@link LineEvents}).
     *
     * @param finals for a final invoice, the tenant's final invoices numbered before it; for a draft, all of them.
     */
    public record Traceable(Invoice invoice, List<Invoice> finals)
    {
    }

    /** @return the tenant's invoice for the period as {@link #invoice} answers it, with the finals it was computed with. */
    public CompletableFuture<Traceable> traceable(final String tenant, final YearMonth period)
    {
        return onBillingThread(() ->
        {
            final List<Invoice> finals = store.finals(tenant);
            final Invoice stored = store.find(tenant, period);
            if (stored == null)
            {
                return new Traceable(draft(tenant, period), finals);
            }
            final long number = InvoiceStore.number(stored.invoiceNumber());
            return new Traceable(stored, finals.stream().filter(f -> InvoiceStore.number(f.invoiceNumber()) < number).toList());
        });
    }

    /** Finalizes the tenant's period, or answers the invoice finalized before. */
    public CompletableFuture<Finalized> finalizeInvoice(final String tenant, final YearMonth period)
    {
        return onBillingThread(() ->
        {
            final Invoice stored = store.find(tenant, period);
            if (stored != null)
            {
                return new Finalized(stored, false);
            }
            final long nowMs = clockMs.getAsLong();
            final long periodEndMs = io.tokenmeter.core.event.Hours.startMs(Periods.endHour(period));
            if (nowMs < periodEndMs + grace.toMillis())
            {
                throw new PeriodOpenException("period " + period + " is open: it ends " + Instant.ofEpochMilli(periodEndMs)
                    + " and late events are awaited for " + grace.toString().substring(2).toLowerCase(java.util.Locale.ROOT) + " more; it can be finalized from "
                    + Instant.ofEpochMilli(periodEndMs + grace.toMillis()));
            }
            final Invoice made = draft(tenant, period).asFinal(store.nextNumber(tenant), Instant.ofEpochMilli(nowMs).toString());
            final Invoice invoice = made.logIndex() == EventLog.NO_INDEX ? made
                : made.withLogSha256(chain.sha256At(tenant, made.logIndex()));
            try
            {
                store.store(invoice);
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException("final invoice not stored: " + ex.getMessage(), ex);
            }
            LOG.info("invoice {} final: tenant {} period {} total {} {} ({} lines, log index {})", invoice.invoiceNumber(),
                tenant, period, invoice.total().toPlainString(), invoice.currency(), invoice.lines().size(),
                InvoiceJson.indexText(invoice.logIndex()));
            return new Finalized(invoice, true);
        });
    }

    /**
     * @return every tenant with usage, a final invoice, late usage to bill, or a commitment owed in the period, with its
     *     total.
     */
    public CompletableFuture<List<ListingEntry>> list(final YearMonth period)
    {
        return list(period, TenantScope.ALL);
    }

    /** @return {@link #list(YearMonth)} of the tenants of {@code scope} only. */
    public CompletableFuture<List<ListingEntry>> list(final YearMonth period, final TenantScope scope)
    {
        return onBillingThread(() -> listNow(period, scope));
    }

    private List<ListingEntry> listNow(final YearMonth period, final TenantScope scope)
    {
        final List<ListingEntry> entries = new ArrayList<>();
        for (final Invoice invoice : invoicesNow(period, scope))
        {
            entries.add(new ListingEntry(invoice.tenant(), invoice.status(), invoice.invoiceNumber(), invoice.currency(),
                invoice.total()));
        }
        return entries;
    }

    /** @return the period's invoice (final, else a draft) of every tenant of {@code scope} the listing shows, by tenant. */
    private List<Invoice> invoicesNow(final YearMonth period, final TenantScope scope)
    {
        final TreeSet<String> tenants = new TreeSet<>(await(usage.tenantsWithUsage(Periods.startHour(period),
            Periods.endHour(period), scope)));
        tenants.addAll(store.tenantsWithFinalsThrough(period));
        tenants.addAll(prices.book().tenantsOwingCommitment(period));
        tenants.removeIf(tenant -> !scope.covers(tenant));
        final List<Invoice> invoices = new ArrayList<>();
        for (final String tenant : tenants)
        {
            final Invoice stored = store.find(tenant, period);
            final Invoice invoice = stored != null ? stored : draft(tenant, period);
            if (stored != null || !invoice.lines().isEmpty())
            {
                invoices.add(invoice);
            }
        }
        return invoices;
    }

    /**
     * @return per tenant and model, the usage billed on the period's invoice (final, else a draft; adjustment lines
     *     included, true-ups not, since they belong to no model), its cost and margin (null without a cost book).
     */
    public CompletableFuture<List<MarginEntry>> margins(final YearMonth period)
    {
        return margins(period, TenantScope.ALL);
    }

    /** @return {@link #margins(YearMonth)} of the tenants of {@code scope} only. */
    public CompletableFuture<List<MarginEntry>> margins(final YearMonth period, final TenantScope scope)
    {
        return onBillingThread(() ->
        {
            final List<MarginEntry> entries = new ArrayList<>();
            for (final Invoice invoice : invoicesNow(period, scope))
            {
                final Map<String, List<InvoiceLine>> byModel = new TreeMap<>();
                invoice.lines().stream().filter(InvoiceLine::isUsage)
                    .forEach(line -> byModel.computeIfAbsent(line.model(), m -> new ArrayList<>()).add(line));
                byModel.forEach((model, lines) ->
                {
                    final BigDecimal zero = BigDecimal.ZERO.setScale(invoice.total().scale());
                    BigDecimal amount = zero;
                    BigDecimal cost = zero;
                    BigDecimal uncosted = zero;
                    boolean complete = true;
                    for (final InvoiceLine line : lines)
                    {
                        amount = amount.add(line.amount());
                        if (line.cost() == null)
                        {
                            complete = false;
                            uncosted = uncosted.add(line.amount());
                        }
                        else
                        {
                            cost = cost.add(line.cost());
                        }
                    }
                    entries.add(new MarginEntry(invoice.tenant(), model, invoice.currency(), amount, complete ? cost : null,
                        complete ? amount.subtract(cost) : null, uncosted));
                });
            }
            return entries;
        });
    }

    /** Puts a validated book in force: recorded in the log first. The same book again changes nothing. */
    public CompletableFuture<PartitionedBook> install(final PriceBook book)
    {
        return onBillingThread(() ->
        {
            final PartitionedBook current = prices;
            if (current != null && current.book().sha256().equals(book.sha256()) && current.lacking().isEmpty())
            {
                return current;
            }
            final Recorded recorded;
            try
            {
                recorded = recorder.record(book, current).get(60, TimeUnit.SECONDS);
            }
            catch (final TimeoutException ex)
            {
                throw new BillingUnavailableException("the journals did not record the book within 60 s; GET /v1/prices "
                    + "shows what is in force, and PUT the book again to complete it");
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new BillingUnavailableException("interrupted");
            }
            catch (final ExecutionException ex)
            {
                throw new BillingUnavailableException(String.valueOf(ex.getCause().getMessage()));
            }
            // every partition that recorded it prices with it from now on, whatever the others did
            prices = recorded.inForce();
            if (!recorded.refusals().isEmpty())
            {
                throw new BillingUnavailableException("the book is in force in partitions that recorded it, not yet in "
                    + recorded.inForce().lacking() + " (" + String.join("; ", recorded.refusals()) + "); PUT the same book "
                    + "again to complete it (a restart completes it too)");
            }
            return recorded.inForce();
        });
    }

    private Invoice draft(final String tenant, final YearMonth period)
    {
        final List<Invoice> finals = store.finals(tenant);
        final PartitionedBook book = prices;
        final Counted counted = count(tenant, period, finals);
        return InvoiceCalculator.draft(tenant, period, book.inPartition(counted.view().partition()), counted.view().buckets(),
            finals, counted.grants(), counted.view().logIndex(), Instant.ofEpochMilli(clockMs.getAsLong()).toString());
    }

    /** The counters a computation through {@code period} needs, and the grants recorded up to the index they reflect. */
    private record Counted(UsageView view, List<CreditGrant> grants)
    {
    }

    private Counted count(final String tenant, final YearMonth period, final List<Invoice> finals)
    {
        YearMonth earliest = InvoiceCalculator.earliestNeeded(period, finals, credits.grants(tenant));
        for (int attempt = 0; ; attempt++)
        {
            final UsageView view = await(usage.buckets(tenant, Periods.startHour(earliest), Periods.endHour(period)));
            final List<CreditGrant> grants = credits.grantsAt(tenant, view.logIndex());
            final YearMonth needed = InvoiceCalculator.earliestNeeded(period, finals, grants);
            // a grant recorded meanwhile may cover periods before the counters asked for: ask again (twice at most)
            if (!needed.isBefore(earliest) || attempt == 2)
            {
                return new Counted(view, grants);
            }
            earliest = needed;
        }
    }

    /**
     * Records a credit grant in its tenant's partition log (decided there, in log order: an id is recorded once).
     *
     * @return the outcome; fails with {@link TooManyGrantsException} or {@link BillingUnavailableException}.
     */
    public CompletableFuture<CreditRecord.Outcome> grantCredit(final CreditGrant grant)
    {
        final List<CreditGrant> held = credits.grants(grant.tenant());
        if (held.size() >= MAX_GRANTS_PER_TENANT && held.stream().noneMatch(g -> g.id().equals(grant.id())))
        {
            return CompletableFuture.failedFuture(new TooManyGrantsException("tenant " + grant.tenant() + " holds "
                + held.size() + " credit grants, the most one tenant may hold; nothing was recorded"));
        }
        return credits.record(grant).handle((outcome, failure) ->
        {
            if (failure != null)
            {
                final Throwable cause = failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
                    ? failure.getCause() : failure;
                throw new BillingUnavailableException(String.valueOf(cause.getMessage()));
            }
            return outcome;
        });
    }

    /**
     * @return where each of the tenant's credit grants stands now (in draw order): drawn by final invoices, held by the
     *     drafts of its open periods, remaining, expired.
     */
    public CompletableFuture<List<CreditBalance>> credits(final String tenant)
    {
        return onBillingThread(() ->
        {
            final List<Invoice> finals = store.finals(tenant);
            final PartitionedBook book = prices;
            // drafts up to next month: an event may be stamped a few minutes ahead of the clock, into the next period
            final YearMonth through = Periods.ofHour(Math.floorDiv(clockMs.getAsLong(), 3_600_000L)).plusMonths(1);
            final Counted counted = count(tenant, through, finals);
            return InvoiceCalculator.credits(tenant, through, book.inPartition(counted.view().partition()),
                counted.view().buckets(), finals, counted.grants());
        });
    }

    private <T> T await(final CompletableFuture<T> future)
    {
        if (future == null)
        {
            throw new BillingUnavailableException("the counters are busy; retry shortly");
        }
        try
        {
            return future.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }
        catch (final TimeoutException ex)
        {
            throw new BillingUnavailableException("counting has not caught up within " + timeout.toMillis() + " ms; retry");
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new BillingUnavailableException("interrupted");
        }
        catch (final ExecutionException ex)
        {
            throw new BillingUnavailableException(String.valueOf(ex.getCause().getMessage()));
        }
    }

    private <T> CompletableFuture<T> onBillingThread(final Supplier<T> work)
    {
        try
        {
            return CompletableFuture.supplyAsync(work, thread);
        }
        catch (final RejectedExecutionException ex)
        {
            return CompletableFuture.failedFuture(new BillingUnavailableException("too many billing requests waiting; retry shortly"));
        }
    }

    @Override
    public void close()
    {
        thread.shutdown();
        try
        {
            if (!thread.awaitTermination(10, TimeUnit.SECONDS))
            {
                thread.shutdownNow();
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }
}
