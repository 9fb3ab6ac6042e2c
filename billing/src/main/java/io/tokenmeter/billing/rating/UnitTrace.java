package io.tokenmeter.billing.rating;

import io.tokenmeter.core.aggregate.TenantBucket;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where the units of each rated line came from: for every line the {@link Rater} made, the bucket (or part of a bucket,
 * where graduated bands split one) each of its units comes from. A line has one rate, so the exact value of any subset
 * of its units is their quantity at that rate: this is what a credit grant, which covers some hours and models only, is
 * valued by; and the pieces lead from a line back to the events of the log behind it. Filled by one rating call; not
 * thread-safe.
 */
public final class UnitTrace
{
    /** Units of one line from one hour. */
    public record Units(long hour, long quantity)
    {
    }

    /**
     * Units of one line from one bucket: the bucket's units {@code [firstUnit, firstUnit + quantity)} of the line's token
     * class. A bucket's units are counted in the order its events were logged, so its first units are its earliest
     * events' (graduated bands give the first units the lower band).
     *
     * @param hour    the bucket's UTC hour (hours since the epoch).
     * @param variant the bucket's {@link io.tokenmeter.core.event.RateVariant}.
     */
    public record Piece(long hour, int variant, long firstUnit, long quantity)
    {
    }

    private final Map<Object, List<Piece>> byKey = new HashMap<>();
    private final Map<InvoiceLine, List<Piece>> byLine = new IdentityHashMap<>();

    /** The rater adds units of a bucket to the line its key makes. */
    void add(final Object lineKey, final TenantBucket bucket, final long firstUnit, final long quantity)
    {
        byKey.computeIfAbsent(lineKey, k -> new ArrayList<>()).add(new Piece(bucket.hour(), bucket.variant(), firstUnit, quantity));
    }

    /** The rater made the line of this key. */
    void line(final Object lineKey, final InvoiceLine line)
    {
        final List<Piece> pieces = new ArrayList<>(byKey.getOrDefault(lineKey, List.of()));
        pieces.sort(Comparator.comparingLong(Piece::hour));
        byLine.put(line, List.copyOf(pieces));
    }

    /** @return the units of a line this trace saw rated (this very instance), by hour; empty for any other line. */
    public List<Units> of(final InvoiceLine line)
    {
        return pieces(line).stream().map(p -> new Units(p.hour(), p.quantity())).toList();
    }

    /** @return the buckets' units a line this trace saw rated (this very instance) sums, by hour; empty for any other. */
    public List<Piece> pieces(final InvoiceLine line)
    {
        return byLine.getOrDefault(line, List.of());
    }
}
