import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The HTTP side of scripts/takeover-time.sh, run as a single-file program (JDK only):
 * <ul>
 *   <li>{@code load URL TENANT EVENTS CONNECTIONS BATCH SECONDS}: posts events {@code e-0} to {@code e-(EVENTS-1)} of
 *       one tenant, all of the same content ({@link #event}), in batches of BATCH over CONNECTIONS kept-alive
 *       connections, each connection sending its next batch when the previous one is answered; a 503 is retried
 *       with the same bytes after its {@code Retry-After} (a retry is exact: what went in comes back as duplicates).
 *       Prints the events/s; exit 1 on any other answer, or when SECONDS have passed.</li>
 *   <li>{@code await URL TENANT COUNT SECONDS SINCE_EPOCH_MS}: asks the tenant's usage with {@code consistent=true}
 *       every 20 ms until its {@code requests} add up to COUNT, then prints {@code counted_after_ms=} the wall time
 *       from SINCE_EPOCH_MS (the script's stopwatch start, e.g. the kill -9); exit 1 at more than COUNT (an event
 *       doubled) or when SECONDS have passed, with the last answer.</li>
 * </ul>
 * One thread per connection; every wait is bounded.
 */
public final class TakeoverTime
{
    private static final Pattern REQUESTS = Pattern.compile("\"requests\":(\\d+)");
    private static final Pattern RETRY_AFTER = Pattern.compile("\\d+");

    private TakeoverTime()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        if (args.length == 7 && "load".equals(args[0]))
        {
            System.exit(load(args[1], args[2], Long.parseLong(args[3]), Integer.parseInt(args[4]), Integer.parseInt(args[5]),
                Integer.parseInt(args[6])));
        }
        if (args.length == 6 && "await".equals(args[0]))
        {
            System.exit(await(args[1], args[2], Long.parseLong(args[3]), Integer.parseInt(args[4]), Long.parseLong(args[5])));
        }
        System.err.println("usage: TakeoverTime load URL TENANT EVENTS CONNECTIONS BATCH SECONDS"
            + " | await URL TENANT COUNT SECONDS SINCE_EPOCH_MS");
        System.exit(2);
    }

    /** @return event {@code e-N} of the tenant; the script posts {@code e-0} again and expects a duplicate. */
    static String event(final String tenant, final long n)
    {
        return "{\"id\":\"e-" + n + "\",\"tenant\":\"" + tenant + "\",\"model\":\"gpt-4o-mini\",\"input_tokens\":100,"
            + "\"output_tokens\":10}";
    }

    private static HttpClient client()
    {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    }

    private static int load(final String url, final String tenant, final long events, final int connections, final int batch,
        final int seconds) throws InterruptedException
    {
        final long startNs = System.nanoTime();
        final long deadlineNs = startNs + TimeUnit.SECONDS.toNanos(seconds);
        final AtomicLong next = new AtomicLong();
        final AtomicLong acknowledged = new AtomicLong();
        final AtomicLong retries = new AtomicLong();
        final AtomicReference<String> failure = new AtomicReference<>();
        final List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < connections; c++)
        {
            final Thread thread = new Thread(() ->
            {
                final HttpClient http = client();
                final URI uri = URI.create(url + "/v1/events");
                while (failure.get() == null)
                {
                    final long from = next.getAndAdd(batch);
                    if (from >= events)
                    {
                        return;
                    }
                    final long to = Math.min(events, from + batch);
                    final StringBuilder body = new StringBuilder((int)(to - from) * 100 + 2).append('[');
                    for (long n = from; n < to; n++)
                    {
                        body.append(n == from ? "" : ",").append(event(tenant, n));
                    }
                    final byte[] bytes = body.append(']').toString().getBytes(StandardCharsets.US_ASCII);
                    while (failure.get() == null)
                    {
                        if (System.nanoTime() > deadlineNs)
                        {
                            failure.compareAndSet(null, "not loaded within " + seconds + " s");
                            return;
                        }
                        try
                        {
                            final HttpResponse<String> answer = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30))
                                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(bytes))
                                .build(), HttpResponse.BodyHandlers.ofString());
                            if (answer.statusCode() == 202)
                            {
                                acknowledged.addAndGet(to - from);
                                break;
                            }
                            if (answer.statusCode() != 503)
                            {
                                failure.compareAndSet(null, "answered " + answer.statusCode() + ": " + answer.body());
                                return;
                            }
                            retries.incrementAndGet();
                            final Matcher after = RETRY_AFTER.matcher(answer.headers().firstValue("Retry-After").orElse("1"));
                            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(after.find() ? Math.min(5_000,
                                200 * Long.parseLong(after.group())) : 200));
                        }
                        catch (final IOException ex)
                        {
                            retries.incrementAndGet();
                            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
                        }
                        catch (final InterruptedException ex)
                        {
                            Thread.currentThread().interrupt();
                            return;
                        }
                    }
                }
            }, "load-" + c);
            thread.start();
            threads.add(thread);
        }
        long lastReportNs = startNs;
        for (final Thread thread : threads)
        {
            while (thread.isAlive())
            {
                thread.join(1_000);
                if (System.nanoTime() - lastReportNs > TimeUnit.SECONDS.toNanos(15))
                {
                    lastReportNs = System.nanoTime();
                    System.out.printf(Locale.ROOT, "load: %,d events acknowledged after %.0f s%n", acknowledged.get(),
                        (lastReportNs - startNs) / 1e9);
                }
            }
        }
        final double elapsed = (System.nanoTime() - startNs) / 1e9;
        if (failure.get() != null)
        {
            System.err.printf(Locale.ROOT, "load: %s (%,d events acknowledged in %.1f s)%n", failure.get(), acknowledged.get(),
                elapsed);
            return 1;
        }
        System.out.printf(Locale.ROOT, "load_events=%d load_seconds=%.1f load_events_per_second=%.0f load_retries=%d%n",
            acknowledged.get(), elapsed, acknowledged.get() / elapsed, retries.get());
        return 0;
    }

    private static int await(final String url, final String tenant, final long count, final int seconds, final long sinceEpochMs)
        throws InterruptedException
    {
        final HttpClient http = client();
        final Instant now = Instant.now();
        final URI uri = URI.create(url + "/v1/usage?tenant=" + tenant + "&from=" + now.minus(1, ChronoUnit.DAYS)
            .truncatedTo(ChronoUnit.HOURS) + "&to=" + now.plus(2, ChronoUnit.HOURS).truncatedTo(ChronoUnit.HOURS)
            + "&consistent=true");
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        String last = "no answer yet";
        long polls = 0;
        while (System.nanoTime() < deadlineNs)
        {
            polls++;
            try
            {
                final HttpResponse<String> answer = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(15)).build(),
                    HttpResponse.BodyHandlers.ofString());
                last = answer.statusCode() + " " + answer.body();
                if (answer.statusCode() == 200)
                {
                    long counted = 0;
                    final Matcher requests = REQUESTS.matcher(answer.body());
                    while (requests.find())
                    {
                        counted += Long.parseLong(requests.group(1));
                    }
                    if (counted == count)
                    {
                        System.out.printf(Locale.ROOT, "counted=%d counted_after_ms=%d polls=%d%n", counted,
                            System.currentTimeMillis() - sinceEpochMs, polls);
                        return 0;
                    }
                    if (counted > count)
                    {
                        System.err.println("await: " + counted + " events counted, more than the " + count + " posted: " + last);
                        return 1;
                    }
                }
            }
            catch (final IOException ex)
            {
                last = ex.toString();
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
        System.err.println("await: " + count + " events not counted within " + seconds + " s; last answer: "
            + (last.length() > 500 ? last.substring(0, 500) + "..." : last));
        return 1;
    }
}
