package io.tokenmeter.core.log;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Faults a test can switch on in a running server's log, to show what users see when the disk fails or fills
 * ({@link #failAppends}) or the journal cannot keep up ({@link #delayAppends}). A server started without one never
 * injects anything; the cost in production is one volatile read per appended document.
 */
public final class Faults
{
    private volatile String appendFailure;
    private volatile long appendDelayNs;
    private volatile long logClockShiftMs;

    /** Makes every append fail as the file system would with {@code reason} (e.g. "No space left on device"); null stops it. */
    public void failAppends(final String reason)
    {
        appendFailure = reason;
    }

    /** Makes every append take this long first (a slow disk); 0 stops it. */
    public void delayAppends(final long delay, final TimeUnit unit)
    {
        appendDelayNs = unit.toNanos(delay);
    }

    /**
     * Makes the log put appends in the file of the day {@code shiftMs} later than now, as if its clock were ahead (a
     * test writes several days' files without waiting for days). Only ever move it forward: a log never goes back to
     * an earlier day's file. The documents' own append times stay the server's.
     */
    public void shiftLogClock(final long shiftMs)
    {
        logClockShiftMs = shiftMs;
    }

    /** @return the shift of {@link #shiftLogClock}, 0 unless set. */
    long logClockShiftMs()
    {
        return logClockShiftMs;
    }

    /** Called by the log before each append, on the journal thread. */
    public void beforeAppend()
    {
        final long delayNs = appendDelayNs;
        if (delayNs > 0)
        {
            LockSupport.parkNanos(delayNs);
        }
        final String failure = appendFailure;
        if (failure != null)
        {
            throw new java.io.UncheckedIOException(new java.io.IOException(failure + " (injected)"));
        }
    }
}
