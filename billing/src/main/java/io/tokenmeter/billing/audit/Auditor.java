package io.tokenmeter.billing.audit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tokenmeter.billing.credit.CreditGrant;
import io.tokenmeter.billing.credit.RecordedGrants;
import io.tokenmeter.billing.invoice.Invoice;
import io.tokenmeter.billing.invoice.InvoiceCalculator;
import io.tokenmeter.billing.invoice.InvoiceJson;
import io.tokenmeter.billing.invoice.InvoiceStore;
import io.tokenmeter.billing.invoice.Periods;
import io.tokenmeter.billing.price.BookInForce;
import io.tokenmeter.billing.price.PriceBook;
import io.tokenmeter.billing.price.PriceBookException;
import io.tokenmeter.billing.price.PriceBookLoader;
import io.tokenmeter.billing.price.RecordedBooks;
import io.tokenmeter.core.aggregate.HourlyAggregator;
import io.tokenmeter.core.log.ChainVerifier;
import io.tokenmeter.core.log.ChronicleEventLog;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.partition.DataLayout;
import io.tokenmeter.core.partition.Partitioner;
import org.agrona.collections.LongHashSet;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Recomputes invoices from the log alone and compares them with what the server finalized (and, when given, the
 * drafts it serves). The log holds every accepted event and every price book put in force; a final invoice names the
 * log index its counters reflect and the book that priced it. So the audit replays the log into fresh counters,
 * and at each invoice's index computes the invoice again, with that book and with the final invoices numbered
 * before it (recomputed the same way, never taken from their files) and the credit grants recorded up to its index, and
 * requires the same JSON, basis and credit lines included.
 *
 * <p>Also checked: invoice numbers run from INV-000001 without gaps (a deleted final invoice is noticed unless it
 * was the newest), each file sits where its tenant and period say, and each named price book is in the log with the
 * same revision and hash. Single-threaded; reads the log read-only, so it can run beside the server.
 */
public final class Auditor
{
    /** The outcome: what was compared, and every difference found. */
    public record Report(int compared, int notCompared, List<String> differences)
    {
        public boolean clean()
        {
            return differences.isEmpty();
        }
    }

    private record Work(Invoice invoice, boolean isFinal, long order)
    {
    }

    private final Path dataDir;
    private final YearMonth period;
    private final String tenant;
    private final PrintStream out;
    private final List<String> differences = new ArrayList<>();
    private int compared;
    private int notCompared;
    /** "partition N: " while partition N is replayed, when there are several. */
    private String partitionLabel = "";
    private Partitioner partitioner;
    private int currentPartition;
    /** The credit grants of the partition being replayed, in log order. */
    private List<CreditGrant> grants = List.of();
    /** The hashes of the partition's documents that its final invoices name. */
    private org.agrona.collections.Long2ObjectHashMap<String> chainHashes = new org.agrona.collections.Long2ObjectHashMap<>();
    /** The price books of the partition being replayed, parsed, by their log index. */
    private final Map<Long, PriceBook> parsedBooks = new HashMap<>();

    /**
     * @param tenant only this tenant's invoices are reported, or null for all.
     * @param out    where the findings are printed, one line each.
     */
    public Auditor(final Path dataDir, final YearMonth period, final String tenant, final PrintStream out)
    {
        this.dataDir = dataDir;
        this.period = period;
        this.tenant = tenant;
        this.out = out;
    }

    /**
     * @param served the server's drafts of the period (fetched with their basis), or an empty list: drafts are then
     *               recomputed and printed but not compared.
     */
    public Report run(final List<Invoice> served) throws IOException
    {
        final DataLayout layout = DataLayout.read(dataDir);
        partitioner = new Partitioner(layout.partitions());
        final List<Invoice> finals = InvoiceStore.readAll(layout.invoicesDir());
        checkNumbers(finals);
        for (int p = 0; p < layout.partitions(); p++)
        {
            final int partition = p;
            currentPartition = p;
            try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(layout.logDir(p)))
            {
                partitionLabel = layout.partitions() == 1 ? "" : "partition " + p + ": ";
                if (!archivesWhole(log))
                {
                    continue;
                }
                final LongHashSet finalIndexes = new LongHashSet();
                finals.stream().filter(f -> partitioner.partitionOf(f.tenant()) == partition).forEach(f -> finalIndexes.add(f.logIndex()));
                chainHashes = verifyChain(log, finalIndexes);
                final Map<Long, RecordedBooks.Recorded> books = RecordedBooks.readAll(log);
                parsedBooks.clear();
                grants = RecordedGrants.readAll(log);
                replay(log, books, finals.stream().filter(f -> partitioner.partitionOf(f.tenant()) == partition).toList(),
                    served.stream().filter(d -> partitioner.partitionOf(d.tenant()) == partition).toList());
            }
        }
        out.println(differences.isEmpty()
            ? "audit clean: " + compared + " invoice(s) of " + period + " match the log" + notComparedNote()
            : differences.size() + " difference(s) between the log and the invoices of " + period + notComparedNote());
        return new Report(compared, notCompared, List.copyOf(differences));
    }

    /**
     * Checks every archive of the partition's log whole against its manifest (and that none is missing) before the log
     * is read through them.
     *
     * @return false when one is not: each problem is a difference, and the partition is not replayed.
     */
    private boolean archivesWhole(final ChronicleEventLog log)
    {
        if (log.archive().isEmpty())
        {
            return true;
        }
        final List<String> problems = log.archive().problems(true, log.days().live()::contains);
        problems.forEach(problem -> differ(partitionLabel + "archives: " + problem));
        if (!problems.isEmpty())
        {
            differ(partitionLabel + "not replayed: " + problems.size() + " problem(s) with its archives (above)");
            return false;
        }
        final long archived = log.archive().manifests().stream().filter(m -> !m.deleted()).count();
        final long retained = log.archive().manifests().size() - archived;
        out.println(partitionLabel + "archives: " + archived + " file(s) read back whole against their manifests"
            + (retained == 0 ? "" : "; " + retained + " file(s) deleted by retention, replayed from their digests (each checked "
                + "against its manifest)"));
        return true;
    }

    /** The partition's hash chain: every chained document holds its predecessor's SHA-256 (a break is a difference). */
    private org.agrona.collections.Long2ObjectHashMap<String> verifyChain(final EventLog log, final LongHashSet finalIndexes)
    {
        final ChainVerifier.Result chain = ChainVerifier.verify(log, ChainVerifier.startOfLog(), finalIndexes);
        chain.breaks().forEach(why -> differ(partitionLabel + "hash chain: " + why));
        if (chain.breakCount() > chain.breaks().size())
        {
            differ(partitionLabel + "hash chain: " + (chain.breakCount() - chain.breaks().size()) + " more break(s) not listed");
        }
        out.println(partitionLabel + "hash chain: " + chain.documents() + " documents"
            + (chain.retainedFiles() == 0 ? "" : " (of " + chain.retainedFiles() + " deleted file(s): their digests' chain ends)")
            + ", " + chain.chained() + " chained, "
            + (chain.holds() ? "holds; head " + chain.headSha256() + " at log index " + InvoiceJson.indexText(chain.lastIndex())
                : chain.breakCount() + " break(s)"));
        return chain.sha256At();
    }

    private String notComparedNote()
    {
        return notCompared == 0 ? "" : "; " + notCompared + " draft(s) recomputed but not compared (no server given)";
    }

    private void checkNumbers(final List<Invoice> finals)
    {
        long expected = 1;
        for (final Invoice invoice : finals)
        {
            final long number = InvoiceStore.number(invoice.invoiceNumber());
            if (number != expected)
            {
                differ("invoice numbers: expected " + String.format("INV-%06d", expected) + " next, found "
                    + invoice.invoiceNumber() + " (" + invoice.tenant() + " " + invoice.period() + "): a final invoice is missing "
                    + "or renumbered");
                expected = number;
            }
            expected++;
        }
    }

    private void replay(final EventLog log, final Map<Long, RecordedBooks.Recorded> books, final List<Invoice> finals,
        final List<Invoice> served)
    {
        final List<Work> work = new ArrayList<>();
        finals.forEach(f -> work.add(new Work(f, true, InvoiceStore.number(f.invoiceNumber()))));
        served.stream().filter(d -> !d.isFinal()).forEach(d -> work.add(new Work(d, false, Long.MAX_VALUE)));
        work.sort(Comparator.comparingLong((Work w) -> w.invoice().logIndex()).thenComparingLong(Work::order));

        final HourlyAggregator counters = new HourlyAggregator();
        final Map<String, List<Invoice>> recomputedFinals = new HashMap<>();
        final Iterator<Work> next = work.iterator();
        Work pending = next.hasNext() ? next.next() : null;
        pending = runDue(pending, next, EventLog.NO_INDEX, counters, books, recomputedFinals);
        long documents = 0;
        try (EventLog.Reader reader = log.newReader())
        {
            reader.startAt(EventLog.NO_INDEX);
            long index;
            while ((index = reader.readNext(counters, (i, t) -> { })) != EventLog.NO_INDEX)
            {
                documents++;
                while (pending != null && pending.invoice().logIndex() != EventLog.NO_INDEX
                    && pending.invoice().logIndex() < index)
                {
                    differ(describe(pending.invoice()) + ": log index " + InvoiceJson.indexText(pending.invoice().logIndex())
                        + " is not a document of the log");
                    pending = next.hasNext() ? next.next() : null;
                }
                pending = runDue(pending, next, index, counters, books, recomputedFinals);
            }
        }
        while (pending != null)
        {
            differ(describe(pending.invoice()) + ": computed at log index " + InvoiceJson.indexText(pending.invoice().logIndex())
                + ", beyond the end of the log");
            pending = next.hasNext() ? next.next() : null;
        }
        out.println(partitionLabel + "log replayed: " + documents + " documents, " + counters.eventCount() + " events, " + books.size()
            + " price book(s)");
        reportUncompared(counters, books, recomputedFinals, finals, served);
    }

    private Work runDue(Work pending, final Iterator<Work> next, final long index, final HourlyAggregator counters,
        final Map<Long, RecordedBooks.Recorded> books, final Map<String, List<Invoice>> recomputedFinals)
    {
        while (pending != null && pending.invoice().logIndex() == index)
        {
            check(pending, counters, books, recomputedFinals);
            pending = next.hasNext() ? next.next() : null;
        }
        return pending;
    }

    private void check(final Work work, final HourlyAggregator counters, final Map<Long, RecordedBooks.Recorded> books,
        final Map<String, List<Invoice>> recomputedFinals)
    {
        final Invoice stored = work.invoice();
        final List<Invoice> prior = recomputedFinals.computeIfAbsent(stored.tenant(), t -> new ArrayList<>());
        final BookInForce book = book(stored, books);
        if (book == null)
        {
            return;
        }
        final YearMonth invoicePeriod = YearMonth.parse(stored.period());
        final List<CreditGrant> known = grantsAt(stored.tenant(), stored.logIndex());
        final YearMonth earliest = InvoiceCalculator.earliestNeeded(invoicePeriod, prior, known);
        Invoice recomputed = InvoiceCalculator.draft(stored.tenant(), invoicePeriod, book,
            counters.buckets(stored.tenant(), Periods.startHour(earliest), Periods.endHour(invoicePeriod)), List.copyOf(prior),
            known, stored.logIndex(), stored.usageThrough());
        if (work.isFinal())
        {
            recomputed = recomputed.asFinal(stored.invoiceNumber(), stored.finalizedAt());
            if (stored.logSha256() != null)
            {
                // the log as it is now: a stored hash that differs means the log is not the one the invoice was made from
                recomputed = recomputed.withLogSha256(chainHashes.get(stored.logIndex()));
            }
            prior.add(recomputed);
        }
        if (!reported(stored))
        {
            return;
        }
        compared++;
        final List<String> found = compare(InvoiceJson.toTree(stored, true), InvoiceJson.toTree(recomputed, true));
        if (found.isEmpty())
        {
            out.println("OK    " + describe(stored) + "  total " + stored.total().toPlainString() + " " + stored.currency());
        }
        else
        {
            differ(describe(stored) + ": " + String.join("; ", found));
        }
    }

    private BookInForce book(final Invoice invoice, final Map<Long, RecordedBooks.Recorded> books)
    {
        final RecordedBooks.Recorded recorded = books.get(invoice.priceBook().logIndex());
        if (recorded == null)
        {
            differ(describe(invoice) + ": names price book revision " + invoice.priceBook().revision() + " at log index "
                + InvoiceJson.indexText(invoice.priceBook().logIndex()) + ", which is not a price book in the log");
            return null;
        }
        try
        {
            final PriceBook book = parsed(invoice.priceBook().logIndex(), recorded);
            if (recorded.revision() != invoice.priceBook().revision() || !book.sha256().equals(invoice.priceBook().sha256()))
            {
                differ(describe(invoice) + ": names price book revision " + invoice.priceBook().revision() + " sha256 "
                    + invoice.priceBook().sha256() + " but the log has revision " + recorded.revision() + " sha256 "
                    + book.sha256() + " there");
            }
            return new BookInForce(book, recorded.revision(), invoice.priceBook().logIndex(), 0);
        }
        catch (final PriceBookException ex)
        {
            differ(describe(invoice) + ": the price book in the log does not validate: " + ex.getMessage());
            return null;
        }
    }

    /** @return the recorded book at a log index, parsed once per audit (a draft per tenant would parse it each time). */
    private PriceBook parsed(final long logIndex, final RecordedBooks.Recorded recorded) throws PriceBookException
    {
        PriceBook book = parsedBooks.get(logIndex);
        if (book == null)
        {
            book = PriceBookLoader.parse(recorded.json(), PriceBookLoader.Format.JSON);
            parsedBooks.put(logIndex, book);
        }
        return book;
    }

    private void reportUncompared(final HourlyAggregator counters, final Map<Long, RecordedBooks.Recorded> books,
        final Map<String, List<Invoice>> recomputedFinals, final List<Invoice> finals, final List<Invoice> served)
    {
        if (books.isEmpty())
        {
            return;
        }
        final long newestBookIndex = books.keySet().stream().max(Long::compare).orElseThrow();
        final List<String> tenants = tenant != null
            ? (partitioner.partitionOf(tenant) == currentPartition ? List.of(tenant) : List.of())
            : counters.tenantsWithUsage(Periods.startHour(period), Periods.endHour(period));
        for (final String t : tenants)
        {
            final boolean handled = finals.stream().anyMatch(f -> f.tenant().equals(t) && f.period().equals(period.toString()))
                || served.stream().anyMatch(d -> d.tenant().equals(t) && d.period().equals(period.toString()));
            if (handled)
            {
                continue;
            }
            final RecordedBooks.Recorded recorded = books.get(newestBookIndex);
            final BookInForce book;
            try
            {
                book = new BookInForce(parsed(newestBookIndex, recorded), recorded.revision(), newestBookIndex, 0);
            }
            catch (final PriceBookException ex)
            {
                differ("the newest price book in the log does not validate: " + ex.getMessage());
                return;
            }
            final List<Invoice> prior = recomputedFinals.getOrDefault(t, List.of());
            final List<CreditGrant> known = grantsAt(t, Long.MAX_VALUE);
            final YearMonth earliest = InvoiceCalculator.earliestNeeded(period, prior, known);
            final Invoice draft = InvoiceCalculator.draft(t, period, book,
                counters.buckets(t, Periods.startHour(earliest), Periods.endHour(period)), prior, known, EventLog.NO_INDEX, "");
            notCompared++;
            out.println("DRAFT " + t + " " + period + "  total " + draft.total().toPlainString() + " " + draft.currency()
                + " (recomputed at the end of the log with price book revision " + recorded.revision() + "; not compared)");
        }
    }

    /** @return the tenant's grants recorded at or before the log index (an invoice's computation saw exactly these). */
    private List<CreditGrant> grantsAt(final String tenantName, final long logIndex)
    {
        return grants.stream().filter(g -> g.tenant().equals(tenantName) && g.logIndex() <= logIndex)
            .toList();
    }

    private boolean reported(final Invoice invoice)
    {
        return invoice.period().equals(period.toString()) && (tenant == null || tenant.equals(invoice.tenant()));
    }

    /** @return where two invoice trees differ, field by field and line by line (at most 20 findings). */
    static List<String> compare(final JsonNode stored, final JsonNode recomputed)
    {
        final List<String> found = new ArrayList<>();
        final ObjectNode a = (ObjectNode)stored;
        final ObjectNode b = (ObjectNode)recomputed;
        final List<String> fields = new ArrayList<>();
        a.fieldNames().forEachRemaining(fields::add);
        b.fieldNames().forEachRemaining(f -> { if (!fields.contains(f)) fields.add(f); });
        for (final String field : fields)
        {
            final JsonNode x = a.get(field);
            final JsonNode y = b.get(field);
            if (Objects.equals(x, y))
            {
                continue;
            }
            if (field.equals("lines") && x != null && y != null && x.isArray() && y.isArray())
            {
                for (int i = 0; i < Math.max(x.size(), y.size()) && found.size() < 20; i++)
                {
                    if (!Objects.equals(x.get(i), y.get(i)))
                    {
                        found.add("lines[" + i + "]: stored " + x.get(i) + ", recomputed " + y.get(i));
                    }
                }
            }
            else if (field.equals("basis"))
            {
                found.add("basis (the hour buckets priced) differs from the log's counters");
            }
            else
            {
                found.add(field + ": stored " + x + ", recomputed " + y);
            }
            if (found.size() >= 20)
            {
                break;
            }
        }
        return found;
    }

    private static String describe(final Invoice invoice)
    {
        return invoice.tenant() + " " + invoice.period() + " " + (invoice.isFinal() ? "final " + invoice.invoiceNumber() : "draft");
    }

    private void differ(final String difference)
    {
        differences.add(difference);
        out.println("DIFF  " + difference);
    }
}
