import java.util.Arrays;
import java.util.concurrent.locks.LockSupport;

/**
 * How late a thread that sleeps 1 ms wakes up: the time a runnable thread waits for a core. Run it alone, then beside
 * a server under load: every hand-off of a request between threads (event loop, journal, event loop) can wait that
 * long, so its tail is a floor under the ack latency's tail on the same machine.
 *
 * <pre>
 *   java scripts/WakeupDelay.java 30          # 30 s, prints percentiles of the delay beyond the 1 ms asked for
 * </pre>
 */
public final class WakeupDelay
{
    public static void main(final String[] args)
    {
        final int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 30;
        final long[] delaysNs = new long[seconds * 1_000];
        final long end = System.nanoTime() + seconds * 1_000_000_000L;
        int count = 0;
        while (count < delaysNs.length && System.nanoTime() < end)
        {
            final long start = System.nanoTime();
            LockSupport.parkNanos(1_000_000L);
            delaysNs[count++] = Math.max(0, System.nanoTime() - start - 1_000_000L);
        }
        final long[] sorted = Arrays.copyOf(delaysNs, count);
        Arrays.sort(sorted);
        System.out.printf("%d wake-ups: delay beyond 1 ms p50 %.3f p99 %.3f p99.9 %.3f max %.3f ms; over 5 ms %d, over 10 ms %d%n",
            count, ms(sorted[count / 2]), ms(sorted[(int)(count * 0.99)]), ms(sorted[(int)(count * 0.999)]), ms(sorted[count - 1]),
            Arrays.stream(sorted).filter(d -> d > 5_000_000L).count(), Arrays.stream(sorted).filter(d -> d > 10_000_000L).count());
    }

    private static double ms(final long ns)
    {
        return ns / 1e6;
    }
}
