package io.tokenmeter.billing.credit;

import io.tokenmeter.core.event.EventRecord;
import io.tokenmeter.core.event.LogDocumentReader;
import io.tokenmeter.core.event.LogLayout;
import io.tokenmeter.core.log.EventLog;
import org.agrona.DirectBuffer;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Reads the credit grants recorded in a partition's log (CONTROL records of kind {@link LogLayout#CONTROL_CREDIT_GRANT}),
 * for the audit, which must know them from the log alone. Cold path; the caller's thread.
 */
public final class RecordedGrants
{
    private RecordedGrants()
    {
    }

    /** @return every grant in the log, in log order, each with its log index; a repeated (tenant, id) keeps the first. */
    public static List<CreditGrant> readAll(final EventLog log)
    {
        final List<CreditGrant> grants = new ArrayList<>();
        final Set<String> seen = new HashSet<>();
        final Collector collector = new Collector();
        try (EventLog.Reader reader = log.newReader())
        {
            reader.startAt(EventLog.NO_INDEX);
            while (reader.readNext(collector, (index, appendTimeMs) ->
            {
                if (collector.payload != null)
                {
                    final CreditGrant grant = CreditGrant.fromPayload(collector.payload, index, collector.appendTimeMs);
                    if (seen.add(grant.tenant() + '\0' + grant.id()))
                    {
                        grants.add(grant);
                    }
                    collector.payload = null;
                }
            }) != EventLog.NO_INDEX)
            {
                // every document is read; only grants are kept
            }
        }
        return grants;
    }

    private static final class Collector implements LogDocumentReader.Handler
    {
        long appendTimeMs;
        byte[] payload;

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
            if (controlKind == LogLayout.CONTROL_CREDIT_GRANT)
            {
                this.appendTimeMs = appendTimeMs;
                payload = new byte[length];
                buffer.getBytes(offset, payload);
            }
        }
    }
}
