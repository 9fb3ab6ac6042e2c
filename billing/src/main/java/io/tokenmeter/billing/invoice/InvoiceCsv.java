package io.tokenmeter.billing.invoice;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import io.tokenmeter.billing.rating.InvoiceLine;

import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Invoices as CSV (RFC 4180, via Jackson): a header row, one row per line with one column per line field of the JSON
 * and the invoice's {@code currency} on every row (a spreadsheet of several tenants' lines must not mix CNY and USD
 * amounts unlabelled), and the total in a last row whose {@code kind} column says {@code total}.
 */
public final class InvoiceCsv
{
    public static final List<String> COLUMNS = List.of("kind", "model", "service_tier", "token_class", "context", "mode", "window",
        "band", "price_from", "price_entry", "price_scope", "quantity", "unit_price_per_million", "service_tier_multiplier",
        "window_multiplier", "discount_percent", "amount", "cost", "margin", "grant", "currency", "adjustment_for");

    private static final CsvMapper MAPPER = new CsvMapper();
    private static final CsvSchema SCHEMA;

    static
    {
        final CsvSchema.Builder builder = CsvSchema.builder();
        COLUMNS.forEach(builder::addColumn);
        SCHEMA = builder.setUseHeader(true).setLineSeparator("\r\n").build();
    }

    private InvoiceCsv()
    {
    }

    public static String render(final Invoice invoice)
    {
        return render(invoice, true);
    }

    /** @param includeCost whether the cost and margin columns are filled (finance keys only). */
    public static String render(final Invoice invoice, final boolean includeCost)
    {
        final List<String[]> rows = new ArrayList<>(invoice.lines().size() + 1);
        for (final InvoiceLine l : invoice.lines())
        {
            rows.add(new String[] {l.kind(), l.model(), l.serviceTier(), l.tokenClass(), l.context(), l.mode(), l.window(), l.band(),
                l.priceFrom(), l.priceEntry(), l.priceScope(), l.quantity() == null ? null : l.quantity().toString(),
                l.unitPricePerMillion(), l.serviceTierMultiplier(), l.windowMultiplier(), l.discountPercent(),
                l.amount().toPlainString(), includeCost ? plain(l.cost()) : null, includeCost ? plain(l.margin()) : null,
                l.grant(), invoice.currency(), l.adjustmentFor()});
        }
        final String[] total = new String[COLUMNS.size()];
        Arrays.fill(total, "");
        total[COLUMNS.indexOf("kind")] = "total";
        total[COLUMNS.indexOf("amount")] = invoice.total().toPlainString();
        total[COLUMNS.indexOf("currency")] = invoice.currency();
        rows.add(total);
        try
        {
            return MAPPER.writer(SCHEMA).writeValueAsString(rows);
        }
        catch (final JsonProcessingException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    private static String plain(final java.math.BigDecimal value)
    {
        return value == null ? null : value.toPlainString();
    }
}
