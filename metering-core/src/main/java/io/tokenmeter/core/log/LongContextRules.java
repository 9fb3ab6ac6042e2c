package io.tokenmeter.core.log;

/**
 * Where the price book in force draws the long-context line: the journal asks once per (tenant, model) pair and
 * marks each event whose prompt (input + cache_read + cache_write + cache_write_1h) is above the threshold of the
 * price version in effect at the event's hour. Implemented by the billing module's price book; immutable.
 */
public interface LongContextRules
{
    /** No long-context pricing anywhere. */
    LongContextRules NONE = new LongContextRules()
    {
        @Override
        public boolean isEmpty()
        {
            return true;
        }

        @Override
        public long[] schedule(final String tenant, final String model)
        {
            return NO_SCHEDULE;
        }
    };

    /** A schedule with no threshold at any hour. */
    long[] NO_SCHEDULE = new long[0];

    /** Threshold meaning "no long-context rule at this hour". */
    long NO_THRESHOLD = Long.MAX_VALUE;

    /** @return true when no model has a long-context rule (the journal then skips the check). */
    boolean isEmpty();

    /**
     * @return a prompt size no rule of the book exceeds at or below: a prompt of at most this many tokens is never long
     *     context, so the journal skips the per-pair lookup for it (most events). 0 asks for the lookup every time.
     */
    default long smallestThreshold()
    {
        return 0;
    }

    /**
     * @return pairs {@code [fromHour0, threshold0, fromHour1, threshold1, ...]} sorted by hour: from {@code fromHourN}
     * (UTC hours since 1970) on, a prompt above {@code thresholdN} tokens is long context ({@link #NO_THRESHOLD}: never).
     * Before the first hour there is no rule. Never null.
     */
    long[] schedule(String tenant, String model);

    /** @return the threshold a schedule gives at {@code hour}, {@link #NO_THRESHOLD} where it gives none. */
    static long thresholdAt(final long[] schedule, final long hour)
    {
        long threshold = NO_THRESHOLD;
        for (int i = 0; i < schedule.length && schedule[i] <= hour; i += 2)
        {
            threshold = schedule[i + 1];
        }
        return threshold;
    }
}
