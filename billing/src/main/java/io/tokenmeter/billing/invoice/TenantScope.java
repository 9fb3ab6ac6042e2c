package io.tokenmeter.billing.invoice;

import io.tokenmeter.core.partition.Partitioner;

import java.util.BitSet;

/**
 * The tenants an answer across tenants (the finance listing, margins) covers: every tenant on a single node; on a
 * cluster node asked for its share of another node's answer, the tenants of the partitions it was asked for.
 */
public final class TenantScope
{
    /** Every tenant of every partition. */
    public static final TenantScope ALL = new TenantScope(null, null);

    private final BitSet partitions;
    private final Partitioner partitioner;

    private TenantScope(final BitSet partitions, final Partitioner partitioner)
    {
        this.partitions = partitions;
        this.partitioner = partitioner;
    }

    /** @return the tenants of {@code partitions} (copied) of a log split by {@code partitioner}. */
    public static TenantScope of(final BitSet partitions, final Partitioner partitioner)
    {
        return new TenantScope((BitSet)partitions.clone(), partitioner);
    }

    /** @return true when partition {@code p}'s tenants are covered. */
    public boolean coversPartition(final int p)
    {
        return partitions == null || partitions.get(p);
    }

    /** @return true when {@code tenant} is covered. */
    public boolean covers(final String tenant)
    {
        return partitions == null || partitions.get(partitioner.partitionOf(tenant));
    }

    @Override
    public String toString()
    {
        return partitions == null ? "every partition" : "partitions " + partitions.toString().replaceAll("[{} ]", "");
    }
}
