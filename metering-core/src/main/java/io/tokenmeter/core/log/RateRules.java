package io.tokenmeter.core.log;

/**
 * The per-event pricing decisions of the price book in force (SPEC section 11): which context tier a request's prompt
 * puts it in and which time window its timestamp falls in. The journal asks once per (tenant, model) pair for a
 * {@link RateSchedule} and records each event's decisions in its flags ({@link io.tokenmeter.core.event.RateVariant}),
 * so replay and audit never decide again. Implemented by the billing module's price book; immutable.
 */
public interface RateRules
{
    /** No context tiers and no time windows anywhere. */
    RateRules NONE = new RateRules()
    {
        @Override
        public boolean isEmpty()
        {
            return true;
        }

        @Override
        public RateSchedule schedule(final String tenant, final String model)
        {
            return RateSchedule.EMPTY;
        }
    };

    /** @return true when no model has a context tier or a time window (the journal then skips the decisions). */
    boolean isEmpty();

    /**
     * @return a prompt size no context tier of the book is above: without {@link #hasTimeWindows} an event whose prompt
     *     is at most this is standard and outside every window, so the journal skips the per-pair lookup for it (most
     *     events). 0 asks for the lookup every time.
     */
    default long smallestThreshold()
    {
        return 0;
    }

    /** @return true when some price version has time windows: every event is then looked up. */
    default boolean hasTimeWindows()
    {
        return false;
    }

    /**
     * @return a prompt size no context tier that could price {@code model} (for any tenant, at any hour) is above;
     *     with {@link #hasTimeWindows(String)} false, an event of the model with a prompt of at most this is standard and
     *     outside every window, and the journal skips its pair lookup. The global {@link #smallestThreshold()} by default.
     */
    default long smallestThreshold(final String model)
    {
        return smallestThreshold();
    }

    /** @return false when no time window could price {@code model}, for any tenant at any hour. */
    default boolean hasTimeWindows(final String model)
    {
        return hasTimeWindows();
    }

    /** @return the decisions for one (tenant, model) pair over time; never null. */
    RateSchedule schedule(String tenant, String model);
}
