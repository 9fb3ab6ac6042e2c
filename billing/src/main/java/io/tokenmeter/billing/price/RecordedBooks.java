package io.tokenmeter.billing.price;

import io.tokenmeter.core.event.LogLayout;
import io.tokenmeter.core.log.ControlRecords;
import io.tokenmeter.core.log.EventLog;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads the price books recorded in a partition's log (CONTROL records of kind {@link LogLayout#CONTROL_PRICE_BOOK},
 * and the PRICE BOOK documents of earlier versions): the one reader of recorded books, for the server's start-up and
 * the audit. Cold path; the caller's thread.
 */
public final class RecordedBooks
{
    /** A book as recorded: its revision, position, journal time and JSON. */
    public record Recorded(long revision, long logIndex, long appendTimeMs, byte[] json)
    {
        /** @return the book, validated again. */
        public PriceBook parse() throws PriceBookException
        {
            return PriceBookLoader.parse(json, PriceBookLoader.Format.JSON);
        }

        /** @return the book, validated again, as in force in one partition's log. */
        public BookInForce inForce() throws PriceBookException
        {
            return new BookInForce(parse(), revision, logIndex, appendTimeMs);
        }
    }

    private RecordedBooks()
    {
    }

    /** @return the book recorded at {@code index}, or null when the document there is not a price book. */
    public static Recorded readAt(final EventLog log, final long index)
    {
        final ControlRecords.Recorded record = ControlRecords.readAt(log, index, LogLayout.CONTROL_PRICE_BOOK);
        return record == null ? null : new Recorded(record.revision(), index, record.appendTimeMs(), record.payload());
    }

    /** @return every book recorded in the log, by position, in log order. */
    public static Map<Long, Recorded> readAll(final EventLog log)
    {
        final Map<Long, Recorded> books = new LinkedHashMap<>();
        for (final ControlRecords.Recorded record : ControlRecords.readAll(log, LogLayout.CONTROL_PRICE_BOOK))
        {
            books.put(record.logIndex(), new Recorded(record.revision(), record.logIndex(), record.appendTimeMs(),
                record.payload()));
        }
        return books;
    }
}
