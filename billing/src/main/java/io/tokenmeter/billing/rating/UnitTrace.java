package io.tokenmeter.billing.rating;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where the units of each rated line came from: for every line the {@link Rater} made, the UTC hour and quantity of
 * each bucket (or part of a bucket, where graduated bands split one) it sums. A line has one rate, so the exact value
 * of any subset of its units is their quantity at that rate: this is what a credit grant, which covers some hours and
 * models only, is valued by. Filled by one rating call; not thread-safe.
 */
public final class UnitTrace
{
    /** Units of one line from one hour. */
    public record Units(long hour, long quantity)
    {
    }

    private final Map<Object, List<Units>> byKey = new HashMap<>();
    private final Map<InvoiceLine, List<Units>> byLine = new IdentityHashMap<>();

    /** The rater adds units to the line its key makes. */
    void add(final Object lineKey, final long hour, final long quantity)
    {
        byKey.computeIfAbsent(lineKey, k -> new ArrayList<>()).add(new Units(hour, quantity));
    }

    /** The rater made the line of this key. */
    void line(final Object lineKey, final InvoiceLine line)
    {
        final List<Units> units = new ArrayList<>(byKey.getOrDefault(lineKey, List.of()));
        units.sort(Comparator.comparingLong(Units::hour));
        byLine.put(line, List.copyOf(units));
    }

    /** @return the units of a line this trace saw rated (this very instance), by hour; empty for any other line. */
    public List<Units> of(final InvoiceLine line)
    {
        return byLine.getOrDefault(line, List.of());
    }
}
