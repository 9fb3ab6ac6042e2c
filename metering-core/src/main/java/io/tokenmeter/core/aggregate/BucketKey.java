package io.tokenmeter.core.aggregate;

/**
 * Packs an hour bucket's coordinates into one long for a primitive map:
 *
 * <pre>
 *  63            43 42                 19 18            3  2  1  0
 *  +---------------+---------------------+---------------+-----+--+
 *  | hour (21 bits)| tenant id (24 bits) | model (16)    |tier |v |
 *  +---------------+---------------------+---------------+-----+--+
 * </pre>
 *
 * {@code hour} counts UTC hours since 1970 (21 bits reach the year 2209); {@code v} is 0 for the buckets of standard
 * requests outside every time window ({@link io.tokenmeter.core.event.RateVariant} 0) and 1 for the others, whose
 * variant the aggregator keys in a second map under this one ({@link HourlyAggregator}). The all-ones key (hour
 * 2^21-1) cannot occur, so it serves as "missing".
 */
public final class BucketKey
{
    public static final long MISSING = -1L;
    public static final long MAX_HOUR = (1L << 21) - 2;
    public static final long MS_PER_HOUR = io.tokenmeter.core.event.Hours.MS_PER_HOUR;
    /** Tenant ids fill 24 bits of the key: the most distinct tenants a partition's log can name. */
    public static final int MAX_TENANTS = 1 << 24;
    /** Model ids fill 16 bits of the key: the most distinct models a partition's log can name. */
    public static final int MAX_MODELS = 1 << 16;

    private BucketKey()
    {
    }

    /** @param varied 1 for a bucket of a variant other than 0 (see the class comment), else 0. */
    public static long pack(final long hour, final int tenantId, final int modelId, final int tierCode, final int varied)
    {
        return (hour << 43) | ((long)tenantId << 19) | ((long)modelId << 3) | ((long)tierCode << 1) | varied;
    }

    public static long hour(final long key)
    {
        return key >>> 43;
    }

    public static int tenantId(final long key)
    {
        return (int)((key >>> 19) & 0xFF_FFFF);
    }

    public static int modelId(final long key)
    {
        return (int)((key >>> 3) & 0xFFFF);
    }

    public static int tierCode(final long key)
    {
        return (int)((key >>> 1) & 0x3);
    }

    /** @return 1 when the key is that of a variant other than 0, else 0. */
    public static int varied(final long key)
    {
        return (int)(key & 1);
    }
}
