package io.tokenmeter.server.json;

import java.util.ArrayList;
import java.util.List;

/**
 * The problems found in one ingest body: the first {@link #MAX_LISTED} listed, all counted, and how many events had
 * any. Reused body after body by its {@link EventParser}; allocates only for a problem it lists.
 */
final class ProblemList
{
    /** Most problems listed in one answer; the rest are counted. */
    static final int MAX_LISTED = 1000;

    private final List<Problem> listed = new ArrayList<>();
    private int count;
    private int ofEvent;
    private int eventsWithProblems;

    void clear()
    {
        listed.clear();
        count = 0;
        ofEvent = 0;
        eventsWithProblems = 0;
    }

    /** Starts counting the problems of a new event. */
    void beginEvent()
    {
        ofEvent = 0;
    }

    /** Ends an event: it counts among the events with problems if it had any. */
    void endEvent()
    {
        if (ofEvent > 0)
        {
            eventsWithProblems++;
        }
        ofEvent = 0;
    }

    void add(final int index, final String field, final String message)
    {
        ofEvent++;
        count++;
        if (listed.size() < MAX_LISTED)
        {
            listed.add(new Problem(index, field, message));
        }
    }

    /** @return the problems of the current event so far. */
    int ofEvent()
    {
        return ofEvent;
    }

    /** @return every problem of the body so far, listed or not. */
    int count()
    {
        return count;
    }

    int eventsWithProblems()
    {
        return eventsWithProblems;
    }

    List<Problem> listed()
    {
        return listed;
    }
}
