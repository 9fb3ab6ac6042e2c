package io.tokenmeter.core.log;

import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

class WakeableIdleStrategyTest
{
    /**
     * A consumer that idles whenever it finds no work, with a park of an hour: only {@link WakeableIdleStrategy#wake()}
     * can get it going again, so a lost wake-up shows as a consumer that never finishes (the join below gives up after
     * a minute, far beyond the milliseconds the hand-offs take).
     */
    @Test
    void noWakeUpIsLostAcrossManyHandOffs() throws InterruptedException
    {
        final WakeableIdleStrategy idle = new WakeableIdleStrategy(0, 0, TimeUnit.HOURS.toNanos(1));
        final AtomicLong offered = new AtomicLong();
        final long handOffs = 20_000;
        final long[] consumed = {0};
        final Thread consumer = new Thread(() ->
        {
            while (consumed[0] < handOffs)
            {
                final long available = offered.get();
                final int work = (int)(available - consumed[0]);
                consumed[0] = available;
                idle.idle(work);
            }
        }, "consumer");
        consumer.start();
        for (long i = 1; i <= handOffs; i++)
        {
            offered.set(i);
            idle.wake();
            if ((i & 63) == 0)
            {
                // let the consumer run dry and park now and then, so that wakes meet a parked thread too
                for (int spin = 0; spin < 10_000 && consumed[0] < i && consumer.isAlive(); spin++)
                {
                    Thread.onSpinWait();
                }
            }
        }
        consumer.join(TimeUnit.MINUTES.toMillis(1));
        assertFalse(consumer.isAlive(), "the consumer is still parked: a wake-up was lost");
        assertEquals(handOffs, offered.get());
    }

    @Test
    void refusesNonsense()
    {
        assertThrows(IllegalArgumentException.class, () -> new WakeableIdleStrategy(-1, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new WakeableIdleStrategy(0, -1, 1));
        assertThrows(IllegalArgumentException.class, () -> new WakeableIdleStrategy(0, 0, 0));
    }
}
