package io.tokenmeter.core.log;

import org.agrona.concurrent.IdleStrategy;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Idles an agent that other threads feed: spins briefly, yields for a while, then parks until a producer calls
 * {@link #wake()} or {@code maxParkNs} passes. While work keeps arriving (single-event requests at tens of thousands a
 * second) the agent is still spinning or yielding when the next request comes, so producers pay no system call; an
 * agent that has gone quiet parks without a timer, costs no CPU, and starts at once when woken, where Agrona's backoff
 * strategies re-park every few microseconds and add up to their longest park to the latency.
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
    private final int maxYields;
    private final long maxParkNs;
    private final AtomicLong signals = new AtomicLong();
    private volatile boolean parked;
    private volatile Thread owner;
    private long seenSignals;
    private int spins;
    private int yields;

    /**
     * @param maxSpins  idle cycles spent spinning ({@link Thread#onSpinWait()}) first.
     * @param maxYields idle cycles spent yielding the core ({@link Thread#yield()}) next, before parking.
     * @param maxParkNs longest park without a wake-up (bounds how late periodic duties such as snapshots run).
     */
    public WakeableIdleStrategy(final int maxSpins, final int maxYields, final long maxParkNs)
    {
        if (maxSpins < 0 || maxYields < 0 || maxParkNs < 1)
        {
            throw new IllegalArgumentException("spins and yields must not be negative and the park must be positive");
        }
        this.maxSpins = maxSpins;
        this.maxYields = maxYields;
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
            yields = 0;
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
        if (yields < maxYields)
        {
            yields++;
            Thread.yield();
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
        yields = 0;
    }

    @Override
    public String alias()
    {
        return "wakeable";
    }
}
