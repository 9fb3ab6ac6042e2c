package io.tokenmeter.core.aggregate;

import io.tokenmeter.core.event.EventLink;
import io.tokenmeter.core.event.EventRecord;
import io.tokenmeter.core.event.LogDocumentReader;
import io.tokenmeter.core.event.LogLayout;
import io.tokenmeter.core.event.NameDictionary;
import io.tokenmeter.core.event.RateVariant;
import io.tokenmeter.core.event.TokenClass;
import org.agrona.DirectBuffer;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.collections.IntArrayList;
import org.agrona.collections.Long2LongHashMap;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The hour buckets: per (tenant, model, service tier, rate variant, UTC hour) the request count and the six token
 * sums; the {@link RateVariant} holds the event's context tier, mode and time window, decided when it was metered. Built from log records alone, by event time, so replaying the log rebuilds exactly the same state.
 * Owned by one thread (the aggregator); allocates only when a new bucket or name appears.
 *
 * <p>Storage: a {@link Long2LongHashMap} from {@link BucketKey} to a slot, and the slot's counters in one
 * {@code long[]} with stride {@link #STRIDE}. A bucket of a variant other than 0 takes two lookups: its key (with
 * {@code v} = 1) gives an anchor number shared by the variants of that (hour, tenant, model, tier), and
 * {@code anchor << 7 | variant} gives the slot in a second map; the common bucket (variant 0) costs one lookup as before
 * and every limit of the key stays as it was. Counters: : {@code [requests, input, cache_read, cache_write, cache_write_1h,
 * output, reasoning, saturated]}. Sums saturate at {@code Long.MAX_VALUE} instead of wrapping; a saturated bucket is
 * flagged and counted (it needs over 9.2 million events of the maximum 10^12 tokens in one hour).
 */
public final class HourlyAggregator implements LogDocumentReader.Handler
{
    public static final int STRIDE = 8;
    /** Where the counters of the last event applied start: its link may take back its request. */
    private int lastBase;
    private static final int SATURATED = 7;

    private final NameDictionary tenants = new NameDictionary(BucketKey.MAX_TENANTS);
    private final NameDictionary models = new NameDictionary(BucketKey.MAX_MODELS);
    private final Long2LongHashMap slotByKey = new Long2LongHashMap(BucketKey.MISSING);
    private final Long2LongHashMap slotByVariant = new Long2LongHashMap(BucketKey.MISSING);
    private long anchors;
    private final Int2ObjectHashMap<IntArrayList> slotsByTenant = new Int2ObjectHashMap<>();
    private long[] keys = new long[1024];
    private byte[] variants = new byte[1024];
    private long[] counters = new long[1024 * STRIDE];
    private int slots;
    private long events;
    private long saturations;

    @Override
    public void onName(final byte recordType, final int id, final DirectBuffer buffer, final int offset, final int length)
    {
        (recordType == LogLayout.RECORD_TENANT_NAME ? tenants : models).defineOrVerify(id, buffer, offset, length);
    }

    @Override
    public void onEvent(final EventRecord event, final long appendTimeMs)
    {
        final long hour = Math.floorDiv(event.timestampMs(), BucketKey.MS_PER_HOUR);
        final int variant = RateVariant.ofFlags(event.flags());
        final long key = BucketKey.pack(hour, event.tenantId(), event.modelId(), event.tierCode(), variant == 0 ? 0 : 1);
        long slot = slotByKey.get(key);
        if (variant != 0)
        {
            slot = variantSlot(key, slot, variant, event.tenantId());
        }
        else if (slot == BucketKey.MISSING)
        {
            slot = newSlot(key, 0, event.tenantId());
        }
        final long[] c = counters;
        final int base = (int)slot * STRIDE;
        lastBase = base;
        c[base]++;
        for (int i = 0; i < TokenClass.COUNT; i++)
        {
            final int at = base + 1 + i;
            final long sum = c[at] + event.tokens(i);
            if (sum < 0)
            {
                c[at] = Long.MAX_VALUE;
                c[base + SATURATED] = 1;
                saturations++;
            }
            else
            {
                c[at] = sum;
            }
        }
        events++;
    }

    /**
     * A stream's checkpoint after its first is a part of a request already counted: its event does not count another
     * ({@link EventLink#CONTINUED}); its tokens (the increase the journal logged) do count.
     */
    @Override
    public void onEventLink(final int bits, final long reservationHi, final long reservationLo, final long streamHi,
        final long streamLo, final long seq)
    {
        if ((bits & EventLink.CONTINUED) != 0 && counters[lastBase] > 0)
        {
            counters[lastBase]--;
        }
    }

    /** Adds a bucket of a file retention deleted, from its digest: the same counters its events gave. */
    @Override
    public void onRetainedBucket(final long[] bucket)
    {
        final long key = bucket[0];
        final int variant = (int)bucket[1 + STRIDE];
        long slot = slotByKey.get(key);
        if (variant != 0)
        {
            slot = variantSlot(key, slot, variant, BucketKey.tenantId(key));
        }
        else if (slot == BucketKey.MISSING)
        {
            slot = newSlot(key, 0, BucketKey.tenantId(key));
        }
        final int base = (int)slot * STRIDE;
        for (int c = 0; c < SATURATED; c++)
        {
            counters[base + c] = saturatingAdd(counters[base + c], bucket[1 + c]);
        }
        if (bucket[1 + SATURATED] != 0 && counters[base + SATURATED] == 0)
        {
            counters[base + SATURATED] = 1;
            saturations++;
        }
    }

    @Override
    public void onRetainedEvents(final long retainedEvents)
    {
        events += retainedEvents;
    }

    /** @param anchor what {@code slotByKey} holds for the key: the variants' anchor, or missing. */
    private long variantSlot(final long key, final long anchor, final int variant, final int tenantId)
    {
        final long slot = anchor == BucketKey.MISSING ? BucketKey.MISSING : slotByVariant.get((anchor << 7) | variant);
        return slot == BucketKey.MISSING ? newSlot(key, variant, tenantId) : slot;
    }

    /** @param key the bucket's key, {@code v} = 1 when {@code variant} is not 0. */
    private int newSlot(final long key, final int variant, final int tenantId)
    {
        final int slot = slots++;
        if (slot == keys.length)
        {
            keys = Arrays.copyOf(keys, slot * 2);
            variants = Arrays.copyOf(variants, slot * 2);
            counters = Arrays.copyOf(counters, slot * 2 * STRIDE);
        }
        keys[slot] = key;
        variants[slot] = (byte)variant;
        if (variant == 0)
        {
            slotByKey.put(key, slot);
        }
        else
        {
            long anchor = slotByKey.get(key);
            if (anchor == BucketKey.MISSING)
            {
                anchor = anchors++;
                slotByKey.put(key, anchor);
            }
            slotByVariant.put((anchor << 7) | variant, slot);
        }
        IntArrayList tenantSlots = slotsByTenant.get(tenantId);
        if (tenantSlots == null)
        {
            tenantSlots = new IntArrayList();
            slotsByTenant.put(tenantId, tenantSlots);
        }
        tenantSlots.addInt(slot);
        return slot;
    }

    /** Answers a usage query from the current counters. Owner thread only. */
    public List<UsageRow> query(final UsageQuery query)
    {
        final int tenantId = tenants.lookup(query.tenant());
        if (tenantId == NameDictionary.MISSING)
        {
            return List.of();
        }
        final IntArrayList tenantSlots = slotsByTenant.get(tenantId);
        if (tenantSlots == null)
        {
            return List.of();
        }
        final Map<RowKey, long[]> rows = new HashMap<>();
        for (int i = 0, n = tenantSlots.size(); i < n; i++)
        {
            final int slot = tenantSlots.getInt(i);
            final long key = keys[slot];
            final long hour = BucketKey.hour(key);
            if (hour < query.fromHour() || hour >= query.toHour())
            {
                continue;
            }
            final RowKey rowKey = new RowKey(
                query.granularity().rowStartMs(hour),
                query.byModel() ? models.name(BucketKey.modelId(key)) : null,
                query.byTier() ? BucketKey.tierCode(key) : -1);
            final long[] sums = rows.computeIfAbsent(rowKey, k -> new long[1 + TokenClass.COUNT]);
            final int base = slot * STRIDE;
            for (int c = 0; c <= TokenClass.COUNT; c++)
            {
                sums[c] = saturatingAdd(sums[c], counters[base + c]);
            }
        }
        final List<UsageRow> result = new ArrayList<>(rows.size());
        rows.forEach((k, v) -> result.add(new UsageRow(k.startMs, k.model, k.tierCode, v)));
        result.sort(ROW_ORDER);
        return result;
    }

    /**
     * @return copies of one tenant's buckets in hours {@code [fromHour, toHour)}, sorted by hour, model, tier and
     * context. Owner thread only.
     */
    public List<TenantBucket> buckets(final String tenant, final long fromHour, final long toHour)
    {
        final int tenantId = tenants.lookup(tenant);
        final IntArrayList tenantSlots = tenantId == NameDictionary.MISSING ? null : slotsByTenant.get(tenantId);
        if (tenantSlots == null)
        {
            return List.of();
        }
        final List<TenantBucket> result = new ArrayList<>();
        for (int i = 0, n = tenantSlots.size(); i < n; i++)
        {
            final int slot = tenantSlots.getInt(i);
            final long key = keys[slot];
            final long hour = BucketKey.hour(key);
            if (hour >= fromHour && hour < toHour)
            {
                result.add(new TenantBucket(hour, models.name(BucketKey.modelId(key)), BucketKey.tierCode(key),
                    variants[slot], Arrays.copyOfRange(counters, slot * STRIDE, slot * STRIDE + STRIDE)));
            }
        }
        result.sort(TenantBucket.ORDER);
        return result;
    }

    /** @return the tenants with at least one bucket in hours {@code [fromHour, toHour)}, sorted. Owner thread only. */
    public List<String> tenantsWithUsage(final long fromHour, final long toHour)
    {
        final List<String> result = new ArrayList<>();
        slotsByTenant.forEach((tenantId, tenantSlots) ->
        {
            for (int i = 0, n = tenantSlots.size(); i < n; i++)
            {
                final long hour = BucketKey.hour(keys[tenantSlots.getInt(i)]);
                if (hour >= fromHour && hour < toHour)
                {
                    result.add(tenants.name(tenantId));
                    return;
                }
            }
        });
        result.sort(Comparator.naturalOrder());
        return result;
    }

    private static final Comparator<UsageRow> ROW_ORDER = Comparator
        .comparingLong(UsageRow::startMs)
        .thenComparing(UsageRow::model, Comparator.nullsFirst(Comparator.naturalOrder()))
        .thenComparingInt(UsageRow::tierCode);

    private static long saturatingAdd(final long a, final long b)
    {
        final long sum = a + b;
        return sum < 0 ? Long.MAX_VALUE : sum;
    }

    private record RowKey(long startMs, String model, int tierCode)
    {
    }

    public int bucketCount()
    {
        return slots;
    }

    public long eventCount()
    {
        return events;
    }

    public long saturations()
    {
        return saturations;
    }

    /** @return every bucket's key, counters and variant ({@code [key, counters..., variant]}), for replay checks. */
    public long[][] exportBuckets()
    {
        final long[][] out = new long[slots][];
        for (int slot = 0; slot < slots; slot++)
        {
            final long[] row = new long[2 + STRIDE];
            row[0] = keys[slot];
            System.arraycopy(counters, slot * STRIDE, row, 1, STRIDE);
            row[1 + STRIDE] = variants[slot];
            out[slot] = row;
        }
        return out;
    }

    public NameDictionary tenants()
    {
        return tenants;
    }

    public NameDictionary models()
    {
        return models;
    }

    /** Bytes {@link #writeTo} needs. */
    public int encodedLength()
    {
        return tenants.encodedLength() + models.encodedLength() + 2 * Long.BYTES + Integer.BYTES
            + slots * (1 + STRIDE) * Long.BYTES + Integer.BYTES + variedAbove1() * (Integer.BYTES + 1);
    }

    private int variedAbove1()
    {
        int count = 0;
        for (int slot = 0; slot < slots; slot++)
        {
            count += variants[slot] > 1 ? 1 : 0;
        }
        return count;
    }

    /**
     * Writes names, totals, every bucket (key then counters), then the variants above 1 as {@code count, (slot i32,
     * variant byte)...}: a bucket not listed has the variant its key's {@code v} bit says (0, or 1: context tier 1, the
     * only variant snapshots written before the list could hold, so they read the same).
     */
    public void writeTo(final ByteBuffer out)
    {
        tenants.writeTo(out);
        models.writeTo(out);
        out.putLong(events).putLong(saturations).putInt(slots);
        for (int slot = 0; slot < slots; slot++)
        {
            out.putLong(keys[slot]);
            for (int c = 0; c < STRIDE; c++)
            {
                out.putLong(counters[slot * STRIDE + c]);
            }
        }
        out.putInt(variedAbove1());
        for (int slot = 0; slot < slots; slot++)
        {
            if (variants[slot] > 1)
            {
                out.putInt(slot).put(variants[slot]);
            }
        }
    }

    /** Restores state written by {@link #writeTo} into this empty aggregator. */
    public void readFrom(final ByteBuffer in)
    {
        if (slots != 0)
        {
            throw new IllegalStateException("aggregator not empty");
        }
        tenants.readFrom(in);
        models.readFrom(in);
        events = in.getLong();
        saturations = in.getLong();
        final int count = in.getInt();
        final long[] restoredKeys = new long[count];
        final long[] restoredCounters = new long[count * STRIDE];
        for (int i = 0; i < count; i++)
        {
            restoredKeys[i] = in.getLong();
            for (int c = 0; c < STRIDE; c++)
            {
                restoredCounters[i * STRIDE + c] = in.getLong();
            }
        }
        final byte[] restoredVariants = new byte[count];
        for (int i = 0; i < count; i++)
        {
            restoredVariants[i] = (byte)BucketKey.varied(restoredKeys[i]);
        }
        if (in.hasRemaining())
        {
            for (int i = 0, listed = in.getInt(); i < listed; i++)
            {
                final int slot = in.getInt();
                restoredVariants[slot] = in.get();
            }
        }
        for (int i = 0; i < count; i++)
        {
            final int slot = newSlot(restoredKeys[i], restoredVariants[i], BucketKey.tenantId(restoredKeys[i]));
            System.arraycopy(restoredCounters, i * STRIDE, counters, slot * STRIDE, STRIDE);
        }
    }
}
