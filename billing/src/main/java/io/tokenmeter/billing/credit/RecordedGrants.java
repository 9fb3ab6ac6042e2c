package io.tokenmeter.billing.credit;

import io.tokenmeter.core.event.LogLayout;
import io.tokenmeter.core.log.ControlRecords;
import io.tokenmeter.core.log.EventLog;

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
        for (final ControlRecords.Recorded record : ControlRecords.readAll(log, LogLayout.CONTROL_CREDIT_GRANT))
        {
            final CreditGrant grant = CreditGrant.fromPayload(record.payload(), record.logIndex(), record.appendTimeMs());
            if (seen.add(grant.tenant() + '\0' + grant.id()))
            {
                grants.add(grant);
            }
        }
        return grants;
    }
}
