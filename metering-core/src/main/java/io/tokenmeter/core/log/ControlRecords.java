package io.tokenmeter.core.log;

import io.tokenmeter.core.event.EventRecord;
import io.tokenmeter.core.event.LogDocumentReader;
import org.agrona.DirectBuffer;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads the CONTROL records of one kind from a partition's log (price books, credit grants), for start-up and the
 * audit, which know them from the log alone. Cold path; the caller's thread.
 */
public final class ControlRecords
{
    /** One record as written: its revision, position, journal time and payload. */
    public record Recorded(long revision, long logIndex, long appendTimeMs, byte[] payload)
    {
    }

    private ControlRecords()
    {
    }

    /** @return the record of {@code controlKind} at {@code index}, or null when the document there is not one. */
    public static Recorded readAt(final EventLog log, final long index, final int controlKind)
    {
        final Collector collector = new Collector(controlKind);
        try (EventLog.Reader reader = log.newReader())
        {
            if (reader.readAt(index, collector) && collector.payload != null)
            {
                return new Recorded(collector.revision, index, collector.appendTimeMs, collector.payload);
            }
        }
        return null;
    }

    /** @return every record of {@code controlKind} in the log, in log order. */
    public static List<Recorded> readAll(final EventLog log, final int controlKind)
    {
        return readBefore(log, controlKind, Long.MAX_VALUE);
    }

    /** @return the records of {@code controlKind} at log indexes below {@code endIndex}, in log order. */
    public static List<Recorded> readBefore(final EventLog log, final int controlKind, final long endIndex)
    {
        final List<Recorded> records = new ArrayList<>();
        final Collector collector = new Collector(controlKind);
        try (EventLog.Reader reader = log.newReader())
        {
            reader.startAt(EventLog.NO_INDEX);
            long index;
            while ((index = reader.readNext(collector, (at, appendTimeMs) ->
            {
                if (collector.payload != null && at < endIndex)
                {
                    records.add(new Recorded(collector.revision, at, collector.appendTimeMs, collector.payload));
                }
                collector.payload = null;
            })) != EventLog.NO_INDEX && index < endIndex)
            {
                // every document up to the end index is read; only the records of the kind are kept
            }
        }
        return records;
    }

    private static final class Collector implements LogDocumentReader.Handler
    {
        private final int controlKind;
        long revision;
        long appendTimeMs;
        byte[] payload;

        Collector(final int controlKind)
        {
            this.controlKind = controlKind;
        }

        @Override
        public void onName(final byte recordType, final int id, final DirectBuffer buffer, final int offset, final int length)
        {
        }

        @Override
        public void onEvent(final EventRecord event, final long appendTimeMs)
        {
        }

        @Override
        public void onControl(final int kind, final long revision, final DirectBuffer buffer, final int offset,
            final int length, final long appendTimeMs)
        {
            if (kind == controlKind)
            {
                this.revision = revision;
                this.appendTimeMs = appendTimeMs;
                payload = new byte[length];
                buffer.getBytes(offset, payload);
            }
        }
    }
}
