package io.tokenmeter.core.event;

/**
 * The pricing decisions made for one event when it was metered, packed in 7 bits (bits 1 to 7 of the event record's
 * flags byte, {@link LogLayout}): the request's context tier, whether it was made in thinking mode, and the time
 * window its timestamp fell in. The hour buckets keep the variant, so each bucket is priced at one set of rates.
 *
 * <pre>
 *   6      4   3   2      0
 *  +--------+----+--------+
 *  | window |thk | context|
 *  +--------+----+--------+
 * </pre>
 *
 * {@code context} 0 is the standard tier and N the N-th context tier of the price version (1 is also the one-tier
 * {@code long_context}, so logs written before context tiers read the same); {@code window} 0 is no window and N the
 * N-th time window of the version. Variant 0 is a standard request outside every window.
 */
public final class RateVariant
{
    /** The most context tiers (above the standard one) a price version may have. */
    public static final int MAX_CONTEXT_TIERS = 7;
    /** The most time windows a price version may have. */
    public static final int MAX_WINDOWS = 7;
    public static final int STANDARD = 0;
    /** Variants are below this. */
    public static final int COUNT = 1 << 7;

    private static final int THINKING = 1 << 3;
    private static final int WINDOW_SHIFT = 4;

    private RateVariant()
    {
    }

    /** @return the variant of an event record's flags byte. */
    public static int ofFlags(final int flags)
    {
        return (flags >>> 1) & (COUNT - 1);
    }

    /** @return the flag bits that record the variant (to be or-ed with the other flags). */
    public static int toFlags(final int variant)
    {
        return variant << 1;
    }

    public static int of(final int contextTier, final boolean thinking, final int window)
    {
        return contextTier | (thinking ? THINKING : 0) | (window << WINDOW_SHIFT);
    }

    /** @return 0 for the standard context tier, else the tier's position (1-based) in the version's context tiers. */
    public static int contextTier(final int variant)
    {
        return variant & 0x7;
    }

    public static boolean thinking(final int variant)
    {
        return (variant & THINKING) != 0;
    }

    /** @return 0 outside every window, else the window's position (1-based) in the version's time windows. */
    public static int window(final int variant)
    {
        return (variant >>> WINDOW_SHIFT) & 0x7;
    }
}
