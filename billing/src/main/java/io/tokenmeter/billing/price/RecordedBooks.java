package io.tokenmeter.billing.price;

import io.tokenmeter.core.event.EventRecord;
import io.tokenmeter.core.event.LogDocumentReader;
import io.tokenmeter.core.event.LogLayout;
import io.tokenmeter.core.log.EventLog;
import org.agrona.DirectBuffer;

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
        final Collector collector = new Collector();
        try (EventLog.Reader reader = log.newReader())
        {
            if (reader.readAt(index, collector) && collector.json != null)
            {
                return new Recorded(collector.revision, index, collector.appendTimeMs, collector.json);
            }
        }
        return null;
    }

    /** @return every book recorded in the log, by position, in log order. */
    public static Map<Long, Recorded> readAll(final EventLog log)
    {
        final Map<Long, Recorded> books = new LinkedHashMap<>();
        final Collector collector = new Collector();
        try (EventLog.Reader reader = log.newReader())
        {
            reader.startAt(EventLog.NO_INDEX);
            while (reader.readNext(collector, (index, appendTimeMs) ->
            {
                if (collector.json != null)
                {
                    books.put(index, new Recorded(collector.revision, index, collector.appendTimeMs, collector.json));
                    collector.json = null;
                }
            }) != EventLog.NO_INDEX)
            {
                // every document is read; only books are kept
            }
        }
        return books;
    }

    private static final class Collector implements LogDocumentReader.Handler
    {
        long revision;
        long appendTimeMs;
        byte[] json;

        @Override
        public void onName(final byte recordType, final int id, final DirectBuffer buffer, final int offset, final int length)
        {
        }

        @Override
        public void onEvent(final EventRecord event, final long appendTimeMs)
        {
        }

        @Override
        public void onControl(final int controlKind, final long revision, final DirectBuffer buffer, final int offset,
            final int length, final long appendTimeMs)
        {
            if (controlKind == LogLayout.CONTROL_PRICE_BOOK)
            {
                this.revision = revision;
                this.appendTimeMs = appendTimeMs;
                json = new byte[length];
                buffer.getBytes(offset, json);
            }
        }
    }
}
