package io.tokenmeter.server;

import io.tokenmeter.billing.credit.CreditGrant;
import io.tokenmeter.billing.credit.RecordedGrants;
import io.tokenmeter.billing.invoice.Invoice;
import io.tokenmeter.billing.invoice.InvoiceStore;
import io.tokenmeter.core.aggregate.BucketKey;
import io.tokenmeter.core.archive.ArchiveManifest;
import io.tokenmeter.core.archive.LogArchive;
import io.tokenmeter.core.event.EventRecord;
import io.tokenmeter.core.event.LogDocumentReader;
import io.tokenmeter.core.event.LogDocumentWriter;
import io.tokenmeter.core.event.LogLayout;
import io.tokenmeter.core.event.NameDictionary;
import io.tokenmeter.core.event.StagedEvent;
import io.tokenmeter.core.event.TokenClass;
import io.tokenmeter.core.log.ChronicleEventLog;
import io.tokenmeter.core.log.Durability;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.partition.DataLayout;
import io.tokenmeter.core.partition.Partitioner;
import io.tokenmeter.server.config.SettingsException;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * {@code tokenmeter repartition}: copies a data directory into a new one with another number of partitions, offline.
 * Every source partition's log is read in order and the documents of all of them are merged by their journal time;
 * each document's events go to their tenant's new partition as a document with the same journal time (so the dedup
 * window and the journal clock replay as before), names are defined anew per partition, and every price book reaches
 * every new partition once, at its revision; each credit grant goes to its tenant's new partition, in the same order
 * among that tenant's events. Events are copied record for record: ids, id hashes, content hashes,
 * timestamps, tokens, service tier and flags (the long-context decision included) are the source's.
 *
 * <p>Final invoices keep their number, lines and totals; their two log positions ({@code log_index}, and the
 * price book's) are rewritten to the same points of the new layout: the new log position of a final invoice is the
 * end of its tenant's new partition at the moment the source document it named was copied, so it covers exactly the
 * tenant's events it covered before (docs/decisions.md). Snapshots are not copied: the first start rebuilds them.
 * The copy is written to {@code TARGET.partial}, forced to disk, checked (every tenant's events and tokens counted
 * in the source and in the copy, each read on its own, and its credit grants compared) and only then renamed to the
 * target, so a server can never
 * start on half a copy. Single-threaded; the source must not be in use (its lock is taken) and the target must not
 * exist.
 */
final class Repartitioner
{
    /** What was copied. */
    record Result(int fromPartitions, int toPartitions, long documents, long events, long priceBooks, int finalInvoices,
        long creditGrants)
    {
    }

    private final PrintStream out;

    Repartitioner(final PrintStream out)
    {
        this.out = out;
    }

    Result run(final Path from, final Path to, final int partitions) throws IOException
    {
        if (Files.exists(to))
        {
            throw new SettingsException("the target " + to + " exists; repartition writes a new data directory: name one that "
                + "does not exist yet");
        }
        if (partitions < 1 || partitions > DataLayout.MAX_PARTITIONS)
        {
            throw new SettingsException("--partitions must be between 1 and " + DataLayout.MAX_PARTITIONS);
        }
        final DataLayout source;
        try
        {
            source = DataLayout.read(from);
        }
        catch (final DataLayout.LayoutException ex)
        {
            throw new SettingsException(ex.getMessage());
        }
        refuseRetained(source);
        final Path partial = to.resolveSibling(to.getFileName() + ".partial");
        if (Files.exists(partial))
        {
            throw new SettingsException(partial + " exists: an earlier repartition into " + to + " did not finish; remove "
                + partial + " and run it again");
        }
        try (DataDirLock sourceLock = DataDirLock.acquire(from))
        {
            final Result result;
            try
            {
                final DataLayout target = DataLayout.create(partial, partitions);
                try (DataDirLock targetLock = DataDirLock.acquire(partial))
                {
                    result = copy(source, target);
                }
                verify(source, DataLayout.read(partial));
            }
            catch (final IOException | RuntimeException ex)
            {
                deleteAll(partial);
                throw ex;
            }
            // only a complete, verified copy gets the target's name: a server can never start on half a copy
            Files.move(partial, to, StandardCopyOption.ATOMIC_MOVE);
            forceDirectory(to.toAbsolutePath().getParent());
            out.println("written to " + to + ": every tenant's events and tokens are the source's");
            return result;
        }
    }

    /**
     * Counts every tenant's events and tokens in every log of the source and of the copy, each read on its own, and
     * refuses the copy unless they are equal.
     */
    private static void verify(final DataLayout source, final DataLayout copy)
    {
        final Map<String, long[]> before = tally(source);
        final Map<String, long[]> after = tally(copy);
        for (final Map.Entry<String, long[]> tenant : before.entrySet())
        {
            final long[] copied = after.get(tenant.getKey());
            if (copied == null || !java.util.Arrays.equals(tenant.getValue(), copied))
            {
                throw new IllegalStateException("the copy of tenant " + tenant.getKey() + " differs from the source (events "
                    + "and tokens " + java.util.Arrays.toString(tenant.getValue()) + " against "
                    + java.util.Arrays.toString(copied) + "); the copy was removed");
            }
        }
        if (after.size() != before.size())
        {
            throw new IllegalStateException("the copy holds " + after.size() + " tenants, the source " + before.size()
                + "; the copy was removed");
        }
        final Partitioner copyPartitioner = new Partitioner(copy.partitions());
        final Map<String, List<String>> grantsBefore = grants(source, null);
        final Map<String, List<String>> grantsAfter = grants(copy, copyPartitioner);
        if (!grantsBefore.equals(grantsAfter))
        {
            throw new IllegalStateException("the copy's credit grants differ from the source's (" + grantsAfter.size() + " tenants "
                + "with grants against " + grantsBefore.size() + "); the copy was removed");
        }
    }

    /**
     * A repartition moves every event to its new partition, so it needs every event: files retention deleted keep only
     * their totals per partition (their digests), which cannot be split by a new partitioning.
     */
    private static void refuseRetained(final DataLayout source)
    {
        for (int p = 0; p < source.partitions(); p++)
        {
            final long deleted = LogArchive.of(source.logDir(p)).manifests().stream()
                .filter(ArchiveManifest::deleted).count();
            if (deleted > 0)
            {
                throw new SettingsException("partition " + p + " of " + source.logDir(p).getParent() + " has " + deleted
                    + " log file(s) deleted by retention (log-retention): a repartition needs every event, and their "
                    + "digests keep only totals; restore their archives from the backup to repartition");
            }
        }
    }

    /**
     * @param partitioner when given, each grant must be in its tenant's partition.
     * @return every tenant's credit grants (their payloads) in log order, over every partition's log.
     */
    private static Map<String, List<String>> grants(final DataLayout layout, final Partitioner partitioner)
    {
        final Map<String, List<String>> grants = new HashMap<>();
        for (int p = 0; p < layout.partitions(); p++)
        {
            try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(layout.logDir(p)))
            {
                for (final CreditGrant grant : RecordedGrants.readAll(log))
                {
                    if (partitioner != null && partitioner.partitionOf(grant.tenant()) != p)
                    {
                        throw new IllegalStateException("credit grant '" + grant.id() + "' of tenant " + grant.tenant() + " was "
                            + "copied into partition " + p + ", not its tenant's; the copy was removed");
                    }
                    grants.computeIfAbsent(grant.tenant(), t -> new ArrayList<>())
                        .add(new String(grant.payload(), java.nio.charset.StandardCharsets.UTF_8));
                }
            }
        }
        return grants;
    }

    /** @return per tenant: events, then each token class's sum, over every partition's log. */
    private static Map<String, long[]> tally(final DataLayout layout)
    {
        final Map<String, long[]> tally = new HashMap<>();
        for (int p = 0; p < layout.partitions(); p++)
        {
            final NameDictionary tenants = new NameDictionary(BucketKey.MAX_TENANTS);
            try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(layout.logDir(p));
                EventLog.Reader reader = log.newReader())
            {
                reader.startAt(EventLog.NO_INDEX);
                final LogDocumentReader.Handler counter = new LogDocumentReader.Handler()
                {
                    @Override
                    public void onName(final byte recordType, final int id, final DirectBuffer buffer, final int offset,
                        final int length)
                    {
                        if (recordType == LogLayout.RECORD_TENANT_NAME)
                        {
                            tenants.defineOrVerify(id, buffer, offset, length);
                        }
                    }

                    @Override
                    public void onEvent(final EventRecord event, final long appendTimeMs)
                    {
                        final long[] sums = tally.computeIfAbsent(tenants.name(event.tenantId()), t -> new long[1 + TokenClass.COUNT]);
                        sums[0]++;
                        for (int i = 0; i < TokenClass.COUNT; i++)
                        {
                            sums[1 + i] += event.tokens(i);
                        }
                    }
                };
                while (reader.readNext(counter, (index, appendTimeMs) -> { }) != EventLog.NO_INDEX)
                {
                    // every document
                }
            }
        }
        return tally;
    }

    private static void deleteAll(final Path dir) throws IOException
    {
        if (!Files.exists(dir))
        {
            return;
        }
        try (Stream<Path> files = Files.walk(dir))
        {
            for (final Path file : files.sorted(java.util.Comparator.reverseOrder()).toList())
            {
                Files.delete(file);
            }
        }
    }

    private static void forceDirectory(final Path dir)
    {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ))
        {
            channel.force(true);
        }
        catch (final IOException ignored)
        {
            // some file systems cannot fsync a directory; the rename is still atomic
        }
    }

    private Result copy(final DataLayout source, final DataLayout target) throws IOException
    {
        final Partitioner sourcePartitioner = new Partitioner(source.partitions());
        final List<Invoice> finals = InvoiceStore.readAll(source.invoicesDir());
        final List<Set<Long>> named = new ArrayList<>();
        for (int p = 0; p < source.partitions(); p++)
        {
            named.add(new HashSet<>());
        }
        for (final Invoice invoice : finals)
        {
            named.get(sourcePartitioner.partitionOf(invoice.tenant())).add(invoice.logIndex());
        }

        final Target[] targets = new Target[target.partitions()];
        final Cursor[] cursors = new Cursor[source.partitions()];
        final Map<Long, long[]>[] positions = newPositionMaps(source.partitions());
        long documents = 0;
        long events = 0;
        long books = 0;
        long grants = 0;
        try
        {
            for (int q = 0; q < targets.length; q++)
            {
                targets[q] = new Target(new ChronicleEventLog(target.logDir(q), Durability.PROCESS));
            }
            for (int p = 0; p < cursors.length; p++)
            {
                cursors[p] = new Cursor(p, ChronicleEventLog.openReadOnly(source.logDir(p)), new Partitioner(target.partitions()));
                cursors[p].advance();
            }
            final long[] emptyTargets = lastIndexes(targets);
            for (int p = 0; p < cursors.length; p++)
            {
                positions[p].put(EventLog.NO_INDEX, emptyTargets);
            }
            Cursor next;
            while ((next = earliest(cursors)) != null)
            {
                documents++;
                if (next.bookJson != null)
                {
                    books += copyBook(next, targets);
                }
                else if (next.grantPayload != null)
                {
                    grants += copyTenantRecord(next, targets, new Partitioner(target.partitions()));
                }
                else
                {
                    events += next.copyEvents(targets);
                }
                if (named.get(next.partition).contains(next.index))
                {
                    positions[next.partition].put(next.index, lastIndexes(targets));
                }
                next.advance();
            }
            rewriteInvoices(finals, sourcePartitioner, new Partitioner(target.partitions()), positions, targets, target);
        }
        finally
        {
            for (final Cursor cursor : cursors)
            {
                if (cursor != null)
                {
                    cursor.close();
                }
            }
            for (final Target t : targets)
            {
                if (t != null)
                {
                    t.log.close();
                }
            }
        }
        forceAll(target.dataDir());
        out.println("copied " + source.dataDir() + " (" + source.partitions() + " partition" + plural(source.partitions())
            + ") into " + target.partitions() + " partition" + plural(target.partitions()) + ": "
            + documents + " documents, " + events + " events, " + books + " price book record(s), " + grants + " credit grant(s), "
            + finals.size() + " final invoice(s)");
        return new Result(source.partitions(), target.partitions(), documents, events, books, finals.size(), grants);
    }

    @SuppressWarnings("unchecked")
    private static Map<Long, long[]>[] newPositionMaps(final int count)
    {
        final Map<Long, long[]>[] maps = new Map[count];
        for (int i = 0; i < count; i++)
        {
            maps[i] = new HashMap<>();
        }
        return maps;
    }

    private static String plural(final int n)
    {
        return n == 1 ? "" : "s";
    }

    private static long[] lastIndexes(final Target[] targets)
    {
        final long[] indexes = new long[targets.length];
        for (int q = 0; q < targets.length; q++)
        {
            indexes[q] = targets[q].lastIndex;
        }
        return indexes;
    }

    /** @return the cursor whose next document has the earliest journal time (the lowest partition on a tie), or null. */
    private static Cursor earliest(final Cursor[] cursors)
    {
        Cursor earliest = null;
        for (final Cursor cursor : cursors)
        {
            if (cursor.index != EventLog.NO_INDEX && (earliest == null || cursor.appendTimeMs < earliest.appendTimeMs))
            {
                earliest = cursor;
            }
        }
        return earliest;
    }

    /** @return how many book documents were written: one per target partition that did not have the revision yet. */
    private static int copyBook(final Cursor cursor, final Target[] targets)
    {
        int written = 0;
        for (final Target target : targets)
        {
            if (target.bookRevision < cursor.bookRevision)
            {
                final int length = target.writer.writeControl(target.clock(cursor.appendTimeMs), LogLayout.CONTROL_PRICE_BOOK,
                    cursor.bookRevision, cursor.bookJson, target.log.lastDocumentSha256());
                target.append(length);
                target.bookRevision = cursor.bookRevision;
                target.bookIndexByRevision.put(cursor.bookRevision, target.lastIndex);
                written++;
            }
        }
        return written;
    }

    /** Writes the held credit grant into its tenant's new partition. @return 1. */
    /** Copies a record of one tenant (a credit grant, a budget, a reservation) into that tenant's new partition. */
    private static int copyTenantRecord(final Cursor cursor, final Target[] targets, final Partitioner partitioner)
    {
        final String tenant = cursor.grantKind == LogLayout.CONTROL_CREDIT_GRANT
            ? CreditGrant.fromPayload(cursor.grantPayload, cursor.index, cursor.appendTimeMs).tenant()
            : io.tokenmeter.billing.budget.Reservation.tenantOf(cursor.grantPayload);
        final Target target = targets[partitioner.partitionOf(tenant)];
        final int length = target.writer.writeControl(target.clock(cursor.appendTimeMs), cursor.grantKind,
            cursor.grantRevision, cursor.grantPayload, target.log.lastDocumentSha256());
        target.append(length);
        return 1;
    }

    private void rewriteInvoices(final List<Invoice> finals, final Partitioner sourcePartitioner,
        final Partitioner targetPartitioner, final Map<Long, long[]>[] positions, final Target[] targets,
        final DataLayout target) throws IOException
    {
        final InvoiceStore store = new InvoiceStore(target.invoicesDir());
        for (final Invoice f : finals)
        {
            final int p = sourcePartitioner.partitionOf(f.tenant());
            final int q = targetPartitioner.partitionOf(f.tenant());
            final long[] at = positions[p].get(f.logIndex());
            final Long bookIndex = targets[q].bookIndexByRevision.get(f.priceBook().revision());
            if (at == null || bookIndex == null)
            {
                throw new IllegalStateException("final invoice " + f.invoiceNumber() + " (" + f.tenant() + " " + f.period()
                    + ") names " + (at == null ? "log index " + Long.toHexString(f.logIndex()) : "price book revision "
                    + f.priceBook().revision()) + ", which is not in partition " + p + "'s log: audit the source first");
            }
            store.store(new Invoice(f.tenant(), f.period(), f.currency(), f.status(), f.invoiceNumber(), f.finalizedAt(),
                f.usageThrough(), at[q], new Invoice.PriceBookRef(f.priceBook().revision(), f.priceBook().sha256(), bookIndex),
                f.lines(), f.subtotal(), f.adjustments(), f.total(), f.warnings(), f.basis(),
                f.logSha256() == null ? null : targets[q].sha256At(at[q])));
        }
    }

    /** Forces every file of the new directory to disk, so the copy survives a power cut once the command has exited. */
    private static void forceAll(final Path dir) throws IOException
    {
        try (Stream<Path> files = Files.walk(dir))
        {
            for (final Path file : files.filter(Files::isRegularFile).toList())
            {
                try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE))
                {
                    channel.force(true);
                }
                catch (final java.nio.file.AccessDeniedException readOnly)
                {
                    // final invoices are read-only; they were forced when written
                }
            }
        }
    }

    /** One new partition being written. */
    private static final class Target
    {
        final ChronicleEventLog log;
        final LogDocumentWriter writer = new LogDocumentWriter(1 << 20);
        final NameDictionary tenants = new NameDictionary(BucketKey.MAX_TENANTS);
        final NameDictionary models = new NameDictionary(BucketKey.MAX_MODELS);
        final Map<Long, Long> bookIndexByRevision = new HashMap<>();
        long lastIndex = EventLog.NO_INDEX;
        long bookRevision;
        long clockMs = Long.MIN_VALUE;

        Target(final ChronicleEventLog log)
        {
            this.log = log;
        }

        /** The journal clock never goes back; nor does the copy's. */
        long clock(final long appendTimeMs)
        {
            clockMs = Math.max(clockMs, appendTimeMs);
            return clockMs;
        }

        void append(final int length)
        {
            lastIndex = log.append(writer.buffer(), length);
        }

        /** @return the hash of the copy's document at {@code index}: what a final invoice moved to it names. */
        String sha256At(final long index)
        {
            return io.tokenmeter.core.log.DocumentSha256.sha256At(log, index);
        }

        int intern(final NameDictionary dictionary, final byte recordType, final DirectBuffer buffer, final int offset,
            final int length)
        {
            int id = dictionary.lookup(buffer, offset, length);
            if (id == NameDictionary.MISSING)
            {
                id = dictionary.add(buffer, offset, length);
                writer.appendName(recordType, id, buffer, offset, length);
            }
            return id;
        }
    }

    /**
     * Reads one source partition a document at a time: the document read last is held (its events staged with their
     * names, or its price book) until it is copied.
     */
    private static final class Cursor implements LogDocumentReader.Handler, EventLog.DocumentListener
    {
        final int partition;
        final ChronicleEventLog log;
        final EventLog.Reader reader;
        final Partitioner targets;
        final NameDictionary tenants = new NameDictionary(BucketKey.MAX_TENANTS);
        final NameDictionary models = new NameDictionary(BucketKey.MAX_MODELS);
        final ExpandableArrayBuffer staged = new ExpandableArrayBuffer(1 << 16);
        final StagedEvent stagedEvent = new StagedEvent();
        final long[] tokens = new long[TokenClass.COUNT];
        final byte[] names = new byte[StagedEvent.MAX_LENGTH];
        int stagedLength;
        int stagedCount;
        long index = EventLog.NO_INDEX;
        long appendTimeMs;
        long bookRevision;
        byte[] bookJson;
        int grantKind;
        long grantRevision;
        byte[] grantPayload;
        /** The log's rate variant bits of each staged event (the staged flags keep only what a staged event may hold). */
        int[] variantFlags = new int[64];
        int lastStagedOffset;

        Cursor(final int partition, final ChronicleEventLog log, final Partitioner targets)
        {
            this.partition = partition;
            this.log = log;
            this.reader = log.newReader();
            this.targets = targets;
            reader.startAt(EventLog.NO_INDEX);
        }

        /** Reads the next document; {@link #index} is {@link EventLog#NO_INDEX} at the end of the log. */
        void advance()
        {
            stagedLength = 0;
            stagedCount = 0;
            bookJson = null;
            grantPayload = null;
            index = reader.readNext(this, this);
        }

        @Override
        public void onName(final byte recordType, final int id, final DirectBuffer buffer, final int offset, final int length)
        {
            (recordType == LogLayout.RECORD_TENANT_NAME ? tenants : models).defineOrVerify(id, buffer, offset, length);
        }

        @Override
        public void onEvent(final EventRecord event, final long appendTimeMs)
        {
            final byte[] tenant = tenants.name(event.tenantId()).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            final byte[] model = models.name(event.modelId()).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            final byte[] id = event.id().getBytes(java.nio.charset.StandardCharsets.UTF_8);
            System.arraycopy(tenant, 0, names, 0, tenant.length);
            System.arraycopy(model, 0, names, tenant.length, model.length);
            System.arraycopy(id, 0, names, tenant.length + model.length, id.length);
            for (int i = 0; i < TokenClass.COUNT; i++)
            {
                tokens[i] = event.tokens(i);
            }
            staged.checkLimit(stagedLength + StagedEvent.MAX_LENGTH);
            if (stagedCount == variantFlags.length)
            {
                variantFlags = java.util.Arrays.copyOf(variantFlags, 2 * stagedCount);
            }
            variantFlags[stagedCount] = event.flags() & ~StagedEvent.LOGGED_FLAGS;
            lastStagedOffset = stagedLength;
            stagedLength += stagedEvent.wrap(staged, stagedLength).encode(event.idHashHi(), event.idHashLo(),
                event.contentHash(), event.timestampMs(), tokens, event.tierCode(), event.flags() & StagedEvent.LOGGED_FLAGS,
                names, tenant.length, model.length, id.length);
            stagedCount++;
        }

        @Override
        public void onEventLink(final int bits, final long reservationHi, final long reservationLo, final long streamHi,
            final long streamLo, final long seq)
        {
            stagedLength += stagedEvent.wrap(staged, lastStagedOffset).encodeLink(bits, reservationHi, reservationLo, streamHi,
                streamLo, seq);
        }

        @Override
        public void onControl(final int controlKind, final long revision, final DirectBuffer buffer, final int offset,
            final int length, final long appendTimeMs)
        {
            if (controlKind == LogLayout.CONTROL_CREDIT_GRANT || controlKind == LogLayout.CONTROL_BUDGET
                || controlKind == LogLayout.CONTROL_RESERVATION)
            {
                grantKind = controlKind;
                grantRevision = revision;
                grantPayload = new byte[length];
                buffer.getBytes(offset, grantPayload);
                return;
            }
            if (controlKind != LogLayout.CONTROL_PRICE_BOOK)
            {
                throw new IllegalStateException("partition " + partition + "'s log holds a control record of kind "
                    + controlKind + ", which this version cannot repartition");
            }
            bookRevision = revision;
            bookJson = new byte[length];
            buffer.getBytes(offset, bookJson);
        }

        @Override
        public void onDocumentEnd(final long index, final long appendTimeMs)
        {
            this.appendTimeMs = appendTimeMs;
        }

        /** Writes the held document's events, one document per new partition that gets any. @return events copied. */
        int copyEvents(final Target[] all)
        {
            if (stagedCount == 0)
            {
                return 0;
            }
            final boolean[] begun = new boolean[all.length];
            for (int e = 0, offset = 0; e < stagedCount; e++)
            {
                final StagedEvent event = stagedEvent.wrap(staged, offset);
                final int q = targets.partitionOf(staged, event.tenantOffset(), event.tenantLength());
                final Target target = all[q];
                if (!begun[q])
                {
                    target.writer.begin(target.clock(appendTimeMs));
                    begun[q] = true;
                }
                final int tenantId = target.intern(target.tenants, LogLayout.RECORD_TENANT_NAME, staged, event.tenantOffset(),
                    event.tenantLength());
                final int modelId = target.intern(target.models, LogLayout.RECORD_MODEL_NAME, staged, event.modelOffset(),
                    event.modelLength());
                target.writer.appendEvent(event, tenantId, modelId, variantFlags[e]);
                if (event.linked())
                {
                    target.writer.appendLink(event.linkBits(), event.reservationHashHi(), event.reservationHashLo(),
                        event.streamHashHi(), event.streamHashLo(), event.streamSeq());
                }
                offset += event.encodedLength();
            }
            for (int q = 0; q < all.length; q++)
            {
                if (begun[q])
                {
                    all[q].append(all[q].writer.finish(all[q].log.lastDocumentSha256()));
                }
            }
            return stagedCount;
        }

        void close()
        {
            reader.close();
            log.close();
        }
    }
}
