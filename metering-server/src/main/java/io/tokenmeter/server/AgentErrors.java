package io.tokenmeter.server;

import org.agrona.ErrorHandler;
import org.agrona.concurrent.SystemEpochClock;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.errors.DistinctErrorLog;
import org.agrona.concurrent.errors.ErrorLogReader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;

/**
 * What the agent threads (journals, aggregators, the pre-toucher) failed with, as distinct errors with counts
 * (Agrona's {@link DistinctErrorLog}): an agent thread only records the error, which costs no I/O when it repeats; the
 * disk-watch thread calls {@link #report} every second, which logs each new distinct error once with its stack
 * trace and, for one that keeps happening, how many more times it happened. A storm of one error is one ERROR line
 * and a count per second, not a line per error; two different errors are never hidden behind one counter.
 */
final class AgentErrors
{
    private static final Logger LOG = LoggerFactory.getLogger(AgentErrors.class);
    private static final int LOG_BYTES = 1 << 20;

    private final UnsafeBuffer buffer = new UnsafeBuffer(ByteBuffer.allocateDirect(LOG_BYTES));
    private final DistinctErrorLog log = new DistinctErrorLog(buffer, SystemEpochClock.INSTANCE);
    /** Observations already reported, by first observation time and first line; disk-watch thread only. */
    private final Map<String, Integer> reported = new HashMap<>();
    private long reportedUpToMs;

    /** @return the error handler of the agent called {@code agent}: it records, and logs only when the log is full. */
    ErrorHandler handlerFor(final String agent)
    {
        return ex ->
        {
            if (!log.record(new AgentFailure(agent, ex)))
            {
                LOG.error("{} failed (the distinct error log is full, so this is logged at once)", agent, ex);
            }
        };
    }

    /** Logs what was recorded since the last call. One thread at a time (disk-watch, then the stopping thread). */
    synchronized void report()
    {
        final long since = reportedUpToMs;
        reportedUpToMs = SystemEpochClock.INSTANCE.time();
        ErrorLogReader.read(buffer, (count, firstMs, lastMs, encoded) ->
        {
            final String firstLine = summary(encoded);
            final String key = firstMs + " " + firstLine;
            final Integer before = reported.put(key, count);
            if (before == null)
            {
                LOG.error("{} (seen {} time{} since {}; repeats are counted, not logged one by one)\n{}", firstLine, count,
                    count == 1 ? "" : "s", Instant.ofEpochMilli(firstMs), encoded);
            }
            else if (count > before)
            {
                LOG.error("{}: {} more time{}, {} since {}", firstLine, count - before, count - before == 1 ? "" : "s", count,
                    Instant.ofEpochMilli(firstMs));
            }
        }, since);
    }

    /** @return "journal-p0 thread failed: CAUSE" from the encoded stack trace of an {@link AgentFailure}. */
    private static String summary(final String encoded)
    {
        final int newline = encoded.indexOf('\n');
        final String first = newline < 0 ? encoded : encoded.substring(0, newline);
        final String head = first.substring(first.indexOf(':') + 1).trim();
        final int causedBy = encoded.indexOf("Caused by: ");
        if (causedBy < 0)
        {
            return head;
        }
        final int end = encoded.indexOf('\n', causedBy);
        return head + ": " + encoded.substring(causedBy + "Caused by: ".length(), end < 0 ? encoded.length() : end).trim();
    }

    /** Names the agent in the distinct error, so that the same failure of two agents is two entries. */
    private static final class AgentFailure extends RuntimeException
    {
        private static final long serialVersionUID = 1L;

        AgentFailure(final String agent, final Throwable cause)
        {
            super(agent + " thread failed", cause, false, false);
        }
    }
}
