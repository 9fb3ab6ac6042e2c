package io.tokenmeter.core.log;

import org.agrona.concurrent.IdleStrategy;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Idles an agent that other threads feed: spins briefly, then parks until a producer calls {@link #wake()} or
 * {@code maxParkNs} passes. On a machine with few cores a parked agent costs no CPU, where Agrona's backoff strategies
 * keep yielding and re-parking for microseconds at a time (measured at about half of the journal thread's CPU under
 * load on two cores), and a woken agent starts at once, where a timed park adds up to its period to the latency.
 *
 * <p>No wake-up is lost: a producer publishes its work, then increments {@code signals}, then reads {@code parked}.
 * The idling thread reads {@code signals}, sets {@code parked}, then reads {@code signals} again before it parks; in
 * the order of these volatile accesses either the idler sees the new signal and polls again, or the producer sees
 * {@code parked} and unparks it.
 *
 * <p>{@link #idle(int)} belongs to the agent's thread; {@link #wake()} is for any thread.
 */
public final class WakeableIdleStrategy implements IdleStrategy
{
    private final int maxSpins;
    private final long maxParkNs;
    private final AtomicLong signals = new AtomicLong();
    private volatile boolean parked;
    private volatile Thread owner;
    private long seenSignals;
    private int spins;

    /**
     * @param maxSpins  idle cycles spent spinning before parking.
     * @param maxParkNs longest park without a wake-up (bounds how late periodic duties such as snapshots run).
     */
    public WakeableIdleStrategy(final int maxSpins, final long maxParkNs)
    {
        if (maxSpins < 0 || maxParkNs < 1)
        {
            throw new IllegalArgumentException("spins must not be negative and the park must be positive");
        }
        this.maxSpins = maxSpins;
        this.maxParkNs = maxParkNs;
    }

    /** Tells the agent there is work. Any thread; a system call only when the agent is parked. */
    public void wake()
    {
        signals.incrementAndGet();
        if (parked)
        {
            final Thread thread = owner;
            if (thread != null)
            {
                LockSupport.unpark(thread);
            }
        }
    }

    @Override
    public void idle(final int workCount)
    {
        if (workCount > 0)
        {
            spins = 0;
            return;
        }
        idle();
    }

    @Override
    public void idle()
    {
        if (spins < maxSpins)
        {
            spins++;
            Thread.onSpinWait();
            return;
        }
        final long signalled = signals.get();
        if (signalled != seenSignals)
        {
            seenSignals = signalled;
            return;
        }
        if (owner == null)
        {
            owner = Thread.currentThread();
        }
        parked = true;
        if (signals.get() == signalled)
        {
            LockSupport.parkNanos(this, maxParkNs);
        }
        parked = false;
    }

    @Override
    public void reset()
    {
        spins = 0;
    }

    @Override
    public String alias()
    {
        return "wakeable";
    }
}
