package io.tokenmeter.billing.credit;

import io.tokenmeter.core.log.ControlHandler;
import io.tokenmeter.core.log.ControlRequest;
import io.tokenmeter.core.log.JournalRequest;
import org.agrona.DirectBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The credit grants of one partition: the handler of {@link io.tokenmeter.core.event.LogLayout#CONTROL_CREDIT_GRANT}
 * records in the partition journal's command table. It decides each {@link CreditRecord} in log order (a grant id is
 * recorded once per tenant), keeps every grant recorded in the log, and checkpoints them with the journal, since a
 * recovery replays only from the oldest live dedup id.
 *
 * <p>Owned by the journal thread, which alone changes it; {@link #grants} is read by any thread (billing), from an
 * immutable list per tenant that the journal replaces after each new grant.
 *
 * <pre>
 * checkpoint state (little-endian)
 *   grants i32 | (logIndex i64 | recordedAtMs i64 | length i32 | payload (canonical JSON)) * grants
 * </pre>
 */
public final class CreditLedger implements ControlHandler
{
    private static final Logger LOG = LoggerFactory.getLogger(CreditLedger.class);

    /** Journal thread: every tenant's grants by id, in log order. */
    private final Map<String, Map<String, CreditGrant>> byTenant = new LinkedHashMap<>();
    /** Any thread: each tenant's grants in log order, immutable, replaced whole. */
    private final ConcurrentHashMap<String, List<CreditGrant>> published = new ConcurrentHashMap<>();
    private volatile int count;

    /** @return the tenant's grants recorded so far, in log order. Any thread. */
    public List<CreditGrant> grants(final String tenant)
    {
        return published.getOrDefault(tenant, List.of());
    }

    /** @return how many grants the partition holds. Any thread (racy). */
    public int size()
    {
        return count;
    }

    @Override
    public JournalRequest.Refusal check(final ControlRequest request)
    {
        if (!(request instanceof CreditRecord record))
        {
            LOG.error("a credit grant control record without its grant was refused");
            return JournalRequest.Refusal.UNKNOWN_CONTROL;
        }
        final CreditGrant existing = find(record.grant().tenant(), record.grant().id());
        if (existing != null)
        {
            record.found(existing);
            return JournalRequest.Refusal.ALREADY_RECORDED;
        }
        return null;
    }

    @Override
    public void onRecorded(final ControlRequest request, final long logIndex, final long appendTimeMs)
    {
        final CreditRecord record = (CreditRecord)request;
        final CreditGrant grant = record.grant().recordedAt(logIndex, appendTimeMs);
        add(grant);
        record.recorded(grant);
        LOG.info("credit grant '{}' of tenant {} recorded at log index {}: {} {} for {} from {} to {}, priority {}", grant.id(),
            grant.tenant(), Long.toHexString(logIndex), grant.amount().toPlainString(), grant.currency(), grant.models(),
            grant.effectiveAt(), grant.expiresAt(), grant.priority());
    }

    @Override
    public void onReplayed(final long revision, final DirectBuffer payload, final int offset, final int length,
        final long logIndex, final long appendTimeMs)
    {
        final byte[] bytes = new byte[length];
        payload.getBytes(offset, bytes);
        final CreditGrant grant = CreditGrant.fromPayload(bytes, logIndex, appendTimeMs);
        final CreditGrant known = find(grant.tenant(), grant.id());
        if (known == null)
        {
            add(grant);
        }
        else if (known.logIndex() != logIndex)
        {
            // the journal records an id once; a second record can only come from a log written by hand
            LOG.warn("the log holds credit grant '{}' of tenant {} twice (log indexes {} and {}); the first is kept",
                grant.id(), grant.tenant(), Long.toHexString(known.logIndex()), Long.toHexString(logIndex));
        }
    }

    @Override
    public byte[] checkpointState()
    {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 + count * 256);
        final List<CreditGrant> all = new ArrayList<>(count);
        byTenant.values().forEach(grants -> all.addAll(grants.values()));
        try (DataOutputStream out = new DataOutputStream(bytes))
        {
            final ByteBuffer header = ByteBuffer.allocate(Integer.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            out.write(header.putInt(all.size()).array());
            for (final CreditGrant grant : all)
            {
                final byte[] payload = grant.payload();
                out.write(ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN).putLong(grant.logIndex())
                    .putLong(grant.recordedAtMs()).putInt(payload.length).array());
                out.write(payload);
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        return bytes.toByteArray();
    }

    @Override
    public void restoreCheckpointState(final ByteBuffer state)
    {
        final ByteBuffer in = state.order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0, n = in.getInt(); i < n; i++)
        {
            final long logIndex = in.getLong();
            final long recordedAtMs = in.getLong();
            final byte[] payload = new byte[in.getInt()];
            in.get(payload);
            add(CreditGrant.fromPayload(payload, logIndex, recordedAtMs));
        }
        LOG.info("{} credit grant(s) restored from the journal checkpoint", count);
    }

    private CreditGrant find(final String tenant, final String id)
    {
        final Map<String, CreditGrant> grants = byTenant.get(tenant);
        return grants == null ? null : grants.get(id);
    }

    private void add(final CreditGrant grant)
    {
        final Map<String, CreditGrant> grants = byTenant.computeIfAbsent(grant.tenant(), t -> new LinkedHashMap<>());
        grants.put(grant.id(), grant);
        count++;
        published.put(grant.tenant(), List.copyOf(grants.values()));
    }
}
