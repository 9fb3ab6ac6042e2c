import java.io.BufferedWriter;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The load and the check of scripts/power-cut.sh (docs/robustness.md, "Power cuts").
 * <pre>
 *   java scripts/PowerCutLoad.java load  URL TENANTS TAG THREADS BATCH ACK_FILE TIMESTAMP_MS SECONDS
 *   java scripts/PowerCutLoad.java check URL ACK_FILE TIMESTAMP_MS
 * </pre>
 * {@code load}: THREADS gateways (gateway g posts for the g-th of the comma-separated TENANTS, round the list) post
 * BATCH-event requests (ids TAG-g-n, one output token each, all at TIMESTAMP_MS) for SECONDS or until a file
 * ACK_FILE.stop appears, and write to ACK_FILE the tenant and id of every event of every request answered 202 with all
 * its events taken (one event a line, flushed before the gateway sends its next request). A request not answered so
 * is not retried: its events are never counted as acknowledged.
 * {@code check}: posts every event of ACK_FILE again exactly as it was first posted and prints what the server says of
 * them: a duplicate is an acknowledged event the server still has, an accepted one is an acknowledged event it lost.
 */
public final class PowerCutLoad
{
    private static final Pattern ANSWER =
        Pattern.compile("\"accepted\":(\\d+),\"duplicates\":(\\d+),\"conflicts\":(\\d+)");
    private static final int CHECK_BATCH = 1000;

    private PowerCutLoad()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        if (args.length == 9 && "load".equals(args[0]))
        {
            load(URI.create(args[1]), args[2], args[3], Integer.parseInt(args[4]), Integer.parseInt(args[5]),
                Path.of(args[6]), Long.parseLong(args[7]), Integer.parseInt(args[8]));
        }
        else if (args.length == 4 && "check".equals(args[0]))
        {
            check(URI.create(args[1]), Path.of(args[2]), Long.parseLong(args[3]));
        }
        else
        {
            System.err.println("usage: PowerCutLoad load URL TENANTS TAG THREADS BATCH ACK_FILE TIMESTAMP_MS SECONDS"
                + " | check URL ACK_FILE TIMESTAMP_MS");
            System.exit(2);
        }
    }

    private static String event(final String id, final String tenant, final long timestampMs)
    {
        return "{\"id\":\"" + id + "\",\"tenant\":\"" + tenant + "\",\"model\":\"power-cut\",\"output_tokens\":1,"
            + "\"timestamp\":" + timestampMs + "}\n";
    }

    private static HttpRequest post(final URI url, final String body)
    {
        return HttpRequest.newBuilder(url).timeout(Duration.ofSeconds(10))
            .header("Content-Type", "application/x-ndjson")
            .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8)).build();
    }

    private static void load(final URI url, final String tenants, final String tag, final int threads,
        final int batch, final Path ackFile, final long timestampMs, final int seconds) throws Exception
    {
        final long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        final Path stop = Path.of(ackFile + ".stop");
        final String[] tenant = tenants.split(",");
        final AtomicLong acknowledged = new AtomicLong();
        final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(2)).build();
        try (BufferedWriter out = Files.newBufferedWriter(ackFile, StandardCharsets.UTF_8,
            StandardOpenOption.CREATE, StandardOpenOption.APPEND))
        {
            final List<Thread> gateways = new ArrayList<>();
            for (int t = 0; t < threads; t++)
            {
                final int thread = t;
                final Thread gateway = new Thread(() -> gateway(client, url, tenant[thread % tenant.length],
                    tag + "-" + thread, batch, out, timestampMs, deadline, stop, acknowledged), "gateway-" + t);
                gateway.start();
                gateways.add(gateway);
            }
            for (final Thread gateway : gateways)
            {
                gateway.join();
            }
        }
        System.out.println("load " + tag + ": " + acknowledged.get() + " events acknowledged");
    }

    private static void gateway(final HttpClient client, final URI url, final String tenant, final String prefix,
        final int batch, final BufferedWriter out, final long timestampMs, final long deadline,
        final Path stop, final AtomicLong acknowledged)
    {
        long next = 0;
        while (System.nanoTime() < deadline && !Files.exists(stop))
        {
            final StringBuilder body = new StringBuilder();
            final List<String> ids = new ArrayList<>(batch);
            for (int i = 0; i < batch; i++)
            {
                final String id = prefix + "-" + next++;
                ids.add(id);
                body.append(event(id, tenant, timestampMs));
            }
            try
            {
                final HttpResponse<String> answer = client.send(post(url, body.toString()),
                    HttpResponse.BodyHandlers.ofString());
                final Matcher m = ANSWER.matcher(answer.body());
                if (answer.statusCode() == 202 && m.find()
                    && Integer.parseInt(m.group(1)) + Integer.parseInt(m.group(2)) == batch)
                {
                    synchronized (out)
                    {
                        for (final String id : ids)
                        {
                            out.write(tenant);
                            out.write(' ');
                            out.write(id);
                            out.write('\n');
                        }
                        out.flush();
                    }
                    acknowledged.addAndGet(batch);
                }
                else
                {
                    sleepQuietly();
                }
            }
            catch (final IOException e)
            {
                sleepQuietly();
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static void sleepQuietly()
    {
        try
        {
            Thread.sleep(50);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
    }

    private static void check(final URI url, final Path ackFile, final long timestampMs) throws Exception
    {
        final List<String> events = Files.readAllLines(ackFile, StandardCharsets.UTF_8);
        final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        long found = 0;
        long lost = 0;
        long conflicts = 0;
        for (int from = 0; from < events.size(); from += CHECK_BATCH)
        {
            final StringBuilder body = new StringBuilder();
            for (final String line : events.subList(from, Math.min(events.size(), from + CHECK_BATCH)))
            {
                final int space = line.indexOf(' ');
                body.append(event(line.substring(space + 1), line.substring(0, space), timestampMs));
            }
            final HttpResponse<String> answer = client.send(post(url, body.toString()),
                HttpResponse.BodyHandlers.ofString());
            final Matcher m = ANSWER.matcher(answer.body());
            if (answer.statusCode() != 202 || !m.find())
            {
                System.err.println("check: the server answered " + answer.statusCode() + " " + answer.body());
                System.exit(2);
            }
            lost += Long.parseLong(m.group(1));
            found += Long.parseLong(m.group(2));
            conflicts += Long.parseLong(m.group(3));
        }
        System.out.println("acknowledged " + events.size() + " found " + found + " lost " + lost
            + " conflicts " + conflicts);
    }
}
