package io.tokenmeter.billing.invoice;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Final invoices, one file each, under {@code DATA_DIR/invoices/YYYY-MM/t-TENANT.json} (the {@code t-} prefix keeps
 * tenant names such as {@code ..} from being paths). A file is written once (temp file, fsync, atomic rename,
 * directory fsync), made read-only, and never replaced: a final invoice cannot change. Invoice numbers are
 * {@code INV-000001} upwards over the whole store, with no gaps, so a missing file is noticed by the audit.
 *
 * <p>Written by the billing thread only; read by any thread.
 */
public final class InvoiceStore implements FinalInvoices
{
    private static final java.util.regex.Pattern SERIES_NUMBER = java.util.regex.Pattern.compile("INV-(P[0-9]{3,}-)?[0-9]{6,}");

    private final Path root;
    private final Map<String, TreeMap<YearMonth, Path>> byTenant = new ConcurrentHashMap<>();
    private long lastNumber;

    /** Opens (creating) the store and indexes the invoices in it. */
    public InvoiceStore(final Path root) throws IOException
    {
        this.root = root;
        Files.createDirectories(root);
        for (final Invoice invoice : readAll())
        {
            index(invoice.tenant(), YearMonth.parse(invoice.period()), fileOf(invoice.tenant(), invoice.period()));
            lastNumber = Math.max(lastNumber, number(invoice.invoiceNumber()));
        }
    }

    /** @return every stored invoice, in invoice number order. Reads the files. */
    public List<Invoice> readAll() throws IOException
    {
        return readAll(root);
    }

    /**
     * Reads every final invoice under a store directory without opening the store (the audit reads only).
     *
     * @return the invoices in invoice number order.
     * @throws IOException when a file cannot be read or parsed, or does not sit where its tenant and period say.
     */
    public static List<Invoice> readAll(final Path root) throws IOException
    {
        final List<Invoice> all = new ArrayList<>();
        if (!Files.isDirectory(root))
        {
            return all;
        }
        try (DirectoryStream<Path> periods = Files.newDirectoryStream(root, p -> Periods.parse(p.getFileName().toString()) != null))
        {
            for (final Path periodDir : periods)
            {
                try (DirectoryStream<Path> files = Files.newDirectoryStream(periodDir, "t-*.json"))
                {
                    for (final Path file : files)
                    {
                        final Invoice invoice = read(file);
                        if (!file.getFileName().toString().equals("t-" + invoice.tenant() + ".json")
                            || !periodDir.getFileName().toString().equals(invoice.period()))
                        {
                            throw new IOException("final invoice " + file + " holds tenant " + invoice.tenant() + " period "
                                + invoice.period() + ": it was moved or altered");
                        }
                        all.add(invoice);
                    }
                }
            }
        }
        all.sort(Comparator.comparingLong(i -> number(i.invoiceNumber())));
        return all;
    }

    @Override
    public Invoice find(final String tenant, final YearMonth period)
    {
        final TreeMap<YearMonth, Path> periods = byTenant.get(tenant);
        final Path file = periods == null ? null : periods.get(period);
        return file == null ? null : readUnchecked(file);
    }

    @Override
    public List<Invoice> finals(final String tenant)
    {
        final TreeMap<YearMonth, Path> periods = byTenant.get(tenant);
        if (periods == null)
        {
            return List.of();
        }
        final List<Invoice> result = new ArrayList<>(periods.size());
        synchronized (periods)
        {
            periods.values().forEach(file -> result.add(readUnchecked(file)));
        }
        return result;
    }

    @Override
    public List<String> tenantsWithFinalsThrough(final YearMonth period)
    {
        final List<String> tenants = new ArrayList<>();
        byTenant.forEach((tenant, periods) ->
        {
            synchronized (periods)
            {
                if (!periods.headMap(period, true).isEmpty())
                {
                    tenants.add(tenant);
                }
            }
        });
        return tenants;
    }

    /** One series over the whole store, whatever the tenant. */
    @Override
    public String nextNumber(final String tenant)
    {
        return String.format("INV-%06d", lastNumber + 1);
    }

    @Override
    public void store(final Invoice invoice) throws IOException
    {
        if (!invoice.isFinal())
        {
            throw new IllegalArgumentException("only final invoices are stored");
        }
        final Path file = fileOf(invoice.tenant(), invoice.period());
        if (Files.exists(file))
        {
            throw new FileAlreadyExistsException(file.toString());
        }
        final Path dir = file.getParent();
        Files.createDirectories(dir);
        final Path temp = dir.resolve(file.getFileName() + ".tmp");
        try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE))
        {
            final ByteBuffer bytes = ByteBuffer.wrap(InvoiceJson.toBytes(invoice, true, true));
            while (bytes.hasRemaining())
            {
                channel.write(bytes);
            }
            channel.force(true);
        }
        Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE);
        try (FileChannel dirChannel = FileChannel.open(dir, StandardOpenOption.READ))
        {
            dirChannel.force(true);
        }
        catch (final IOException ignored)
        {
            // some file systems cannot fsync a directory; the rename is still atomic
        }
        try
        {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("r--r--r--"));
        }
        catch (final UnsupportedOperationException ignored)
        {
            // not a POSIX file system
        }
        index(invoice.tenant(), YearMonth.parse(invoice.period()), file);
        lastNumber = Math.max(lastNumber, number(invoice.invoiceNumber()));
    }

    /** @return where a tenant's final invoice for a period lives. */
    public Path fileOf(final String tenant, final String period)
    {
        return root.resolve(period).resolve("t-" + tenant + ".json");
    }

    private void index(final String tenant, final YearMonth period, final Path file)
    {
        final TreeMap<YearMonth, Path> periods = byTenant.computeIfAbsent(tenant, t -> new TreeMap<>());
        synchronized (periods)
        {
            periods.put(period, file);
        }
    }

    private static Invoice read(final Path file) throws IOException
    {
        try
        {
            return InvoiceJson.read(Files.readAllBytes(file));
        }
        catch (final java.nio.file.NoSuchFileException ex)
        {
            throw new IOException("final invoice file " + file + " is missing: restore invoices/ from a backup, then run "
                + "the audit", ex);
        }
        catch (final RuntimeException ex)
        {
            throw new IOException("final invoice " + file + " cannot be read: " + ex.getMessage(), ex);
        }
    }

    private static Invoice readUnchecked(final Path file)
    {
        try
        {
            return read(file);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex.getMessage(), ex);
        }
    }

    /**
     * @return the sequence number in its series of {@code INV-000042} (a single node's one series) or
     *     {@code INV-P003-000042} (partition 3's series in cluster mode), or 0 when it is not one.
     */
    public static long number(final String invoiceNumber)
    {
        if (invoiceNumber == null || !SERIES_NUMBER.matcher(invoiceNumber).matches())
        {
            return 0;
        }
        return Long.parseLong(invoiceNumber.substring(invoiceNumber.lastIndexOf('-') + 1));
    }
}
