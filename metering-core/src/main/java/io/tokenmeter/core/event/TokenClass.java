package io.tokenmeter.core.event;

/**
 * The token counters kept per event and per hour bucket, in their fixed order in every layout.
 * {@code REASONING} is an informational subset of {@code OUTPUT}; the other five are disjoint and billable.
 */
public enum TokenClass
{
    INPUT("input", "input_tokens"),
    CACHE_READ("cache_read", "cache_read_tokens"),
    CACHE_WRITE("cache_write", "cache_write_tokens"),
    CACHE_WRITE_1H("cache_write_1h", "cache_write_1h_tokens"),
    OUTPUT("output", "output_tokens"),
    REASONING("reasoning", "reasoning_tokens");

    /** Number of token classes; every layout stores this many longs. */
    public static final int COUNT = 6;

    /** Largest token count one event may carry for one class (SPEC section 2). */
    public static final long MAX_TOKENS_PER_EVENT = 1_000_000_000_000L;

    private static final TokenClass[] ALL = values();

    private final String className;
    private final String fieldName;

    TokenClass(final String className, final String fieldName)
    {
        this.className = className;
        this.fieldName = fieldName;
    }

    /** @return the class name used in price books and invoices, e.g. {@code cache_read}. */
    public String className()
    {
        return className;
    }

    /** @return the JSON field of an event and a usage row, e.g. {@code cache_read_tokens}. */
    public String fieldName()
    {
        return fieldName;
    }

    public static TokenClass of(final int index)
    {
        return ALL[index];
    }
}
