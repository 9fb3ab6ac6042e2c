package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.server.TokenmeterServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Seeded fuzzing of the ingest routes over real HTTP: random bytes, mutations of valid bodies, deep nesting, huge and
 * fractional numbers, wrong types, invalid UTF-8, duplicate keys, oversized bodies, and slow or half-sent requests.
 * The server stays up, every refusal is a 4xx with a JSON error, and only what was acknowledged is counted. The seed
 * is printed in every failure (rerun with -Dfuzz.seed=N).
 */
class HostileInputTest
{
    private static final int CASES = 3_000;
    private static final int MAX_BODY = 65_536;
    private static final String VALID = "[{\"id\":\"ID\",\"tenant\":\"acme\",\"model\":\"gpt-4o\",\"timestamp\":\"2026-10-05T10:00:00Z\","
        + "\"input_tokens\":1200,\"cache_read_tokens\":1000,\"output_tokens\":350,\"reasoning_tokens\":100},"
        + "{\"id\":\"ID-2\",\"tenant\":\"globex\",\"model\":\"claude\",\"usage_format\":\"anthropic\","
        + "\"usage\":{\"input_tokens\":10,\"output_tokens\":5,\"cache_creation\":{\"ephemeral_1h_input_tokens\":3}}}]";
    private static final String VALID_CLOUD_EVENT = "{\"specversion\":\"1.0\",\"id\":\"ID\",\"source\":\"//gw\",\"type\":\"u\","
        + "\"subject\":\"acme\",\"data\":{\"model\":\"m\",\"type\":\"input\",\"tokens\":\"12\"}}";

    @TempDir
    Path dataDir;

    private final long seed = Long.getLong("fuzz.seed", System.nanoTime());
    private final Random random = new Random(seed);
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final Map<Integer, Integer> statuses = new TreeMap<>();
    private TokenmeterServer server;
    private long acknowledged;

    @BeforeEach
    void start() throws Exception
    {
        server = TestServer.start(dataDir, Map.of("max-body-bytes", Integer.toString(MAX_BODY), "idle-timeout", "1s"));
    }

    @AfterEach
    void stop()
    {
        server.close();
    }

    private void send(final String path, final String contentType, final byte[] body, final String what) throws Exception
    {
        final HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
            .timeout(Duration.ofSeconds(20)).header("Content-Type", contentType).POST(HttpRequest.BodyPublishers.ofByteArray(body))
            .build(), HttpResponse.BodyHandlers.ofString());
        final int status = answer.statusCode();
        statuses.merge(status, 1, Integer::sum);
        final String context = "seed " + seed + ", " + what + ": " + status + " " + answer.body() + " for "
            + new String(body, 0, Math.min(body.length, 300), StandardCharsets.ISO_8859_1);
        assertTrue(status == 202 || status == 400 || status == 413 || status == 415, context);
        final JsonNode json = Client.JSON.readTree(answer.body());
        if (status == 202)
        {
            acknowledged += json.get("accepted").asLong();
            return;
        }
        assertTrue(json.path("error").isTextual() && json.path("message").isTextual() && json.size() <= 3, context);
        assertTrue(!answer.body().contains("Exception") && !answer.body().contains("\tat "), "no stack trace: " + context);
    }

    private byte[] mutate(final byte[] valid)
    {
        final byte[] body = valid.clone();
        final int edits = 1 + random.nextInt(4);
        byte[] out = body;
        for (int e = 0; e < edits && out.length > 0; e++)
        {
            final int at = random.nextInt(out.length);
            switch (random.nextInt(5))
            {
                case 0 -> out[at] = (byte)random.nextInt(256);
                case 1 -> out[at] = (byte)"{}[]\":,0-9e.\\ntfu".charAt(random.nextInt(17));
                case 2 ->
                {
                    final int length = Math.min(out.length - at, 1 + random.nextInt(20));
                    final byte[] shorter = new byte[out.length - length];
                    System.arraycopy(out, 0, shorter, 0, at);
                    System.arraycopy(out, at + length, shorter, at, out.length - at - length);
                    out = shorter;
                }
                case 3 ->
                {
                    final int length = Math.min(out.length - at, 1 + random.nextInt(40));
                    final byte[] longer = new byte[out.length + length];
                    System.arraycopy(out, 0, longer, 0, at + length);
                    System.arraycopy(out, at, longer, at + length, out.length - at);
                    out = longer;
                }
                default -> out = java.util.Arrays.copyOf(out, at);
            }
        }
        return out;
    }

    private static String event(final String field, final String value)
    {
        return "{\"id\":\"x\",\"tenant\":\"acme\",\"model\":\"m\",\"" + field + "\":" + value + "}";
    }

    @Test
    void hostileBodiesAreRefusedWithJsonErrorsAndOnlyAcknowledgedEventsCount() throws Exception
    {
        final String[] numbers = {"1e400", "99999999999999999999999", "-1", "-0", "1.5", "1.0", "1e3", "\"12\"", "null", "true", "[]",
            "{}", "0x10", "NaN", "Infinity", "01", "1000000000001", "9223372036854775808"};
        final String[] fields = {"input_tokens", "output_tokens", "reasoning_tokens", "timestamp", "id", "tenant", "model",
            "service_tier", "usage", "usage_format"};
        for (int i = 0; i < CASES; i++)
        {
            final String id = "case" + i;
            switch (random.nextInt(10))
            {
                case 0 ->
                {
                    final byte[] bytes = new byte[random.nextInt(2_000)];
                    random.nextBytes(bytes);
                    send("/v1/events", "application/json", bytes, "random bytes");
                }
                case 1, 2, 3 -> send("/v1/events", random.nextBoolean() ? "application/json" : "application/x-ndjson",
                    mutate(VALID.replace("ID", id).getBytes(StandardCharsets.UTF_8)), "mutated events");
                case 4 -> send("/api/v1/events", "application/cloudevents+json",
                    mutate(VALID_CLOUD_EVENT.replace("ID", id).getBytes(StandardCharsets.UTF_8)), "mutated CloudEvent");
                case 5 ->
                {
                    final int depth = 10 + random.nextInt(5_000);
                    final String open = random.nextBoolean() ? "[" : "{\"a\":";
                    send("/v1/events", "application/json", (open.repeat(depth) + "1").getBytes(StandardCharsets.UTF_8), "deep nesting");
                }
                case 6 -> send("/v1/events", "application/json", event(fields[random.nextInt(fields.length)],
                    numbers[random.nextInt(numbers.length)]).getBytes(StandardCharsets.UTF_8), "wrong type or range");
                case 7 ->
                {
                    final byte[] utf8 = event("id", "\"" + id + "XX\"").getBytes(StandardCharsets.UTF_8);
                    final int at = utf8.length - 4;
                    utf8[at] = (byte)(0x80 + random.nextInt(0x80));
                    utf8[at + 1] = (byte)(random.nextBoolean() ? 0xC3 : 0xFF);
                    send("/v1/events", "application/json", utf8, "invalid UTF-8");
                }
                case 8 -> send("/v1/events", "application/json", ("{\"id\":\"" + id + "\",\"id\":\"other\",\"tenant\":\"acme\","
                    + "\"model\":\"m\",\"input_tokens\":1,\"input_tokens\":2}").getBytes(StandardCharsets.UTF_8), "duplicate keys");
                default ->
                {
                    final byte[] big = new byte[MAX_BODY + 1 + random.nextInt(MAX_BODY)];
                    java.util.Arrays.fill(big, (byte)' ');
                    big[0] = '[';
                    send("/v1/events", "application/json", big, "oversized body");
                }
            }
        }
        assertTrue(statuses.getOrDefault(400, 0) > CASES / 2, "seed " + seed + ": mostly refused: " + statuses);
        assertTrue(statuses.getOrDefault(413, 0) > 0 && statuses.getOrDefault(202, 0) > 0, "seed " + seed + ": " + statuses);

        final Client client = new Client(server.port());
        assertEquals(200, client.get("/health/ready").status(), "the server is up and ready");
        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        String metrics = "";
        while (System.nanoTime() < until && !(metrics = client.get("/metrics").body()).contains("tokenmeter_aggregation_lag_events 0.0"))
        {
            java.util.concurrent.locks.LockSupport.parkNanos(20_000_000);
        }
        assertTrue(metrics.contains("tokenmeter_ingest_events_total{result=\"accepted\"} " + acknowledged + ".0"),
            "seed " + seed + ": only the " + acknowledged + " acknowledged events were accepted: "
                + metrics.lines().filter(l -> l.startsWith("tokenmeter_ingest_events_total")).toList());
        assertTrue(metrics.contains("tokenmeter_aggregation_lag_events 0.0"), "and all of them are counted");
    }

    @Test
    void slowAndHalfSentRequestsAreClosedAndTheServerStaysUp() throws Exception
    {
        // a body shorter than its Content-Length, then silence: closed after the idle timeout
        try (Socket half = connect())
        {
            half.getOutputStream().write(("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Content-Length: 100\r\n\r\n{\"id\":\"half\"").getBytes(StandardCharsets.US_ASCII));
            assertEquals(-1, half.getInputStream().read(), "seed " + seed + ": a half-sent request is closed, unanswered");
        }
        // headers trickled one byte at a time, slower than the idle timeout between bytes: closed
        try (Socket slow = connect())
        {
            final OutputStream out = slow.getOutputStream();
            out.write("POST /v1/ev".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1_500));
            final InputStream in = slow.getInputStream();
            assertEquals(-1, in.read(), "a request stalled beyond the idle timeout is closed");
        }
        // garbage instead of HTTP: a 400, then the connection is closed
        try (Socket garbage = connect())
        {
            final byte[] noise = new byte[512];
            random.nextBytes(noise);
            noise[0] = 'X';
            garbage.getOutputStream().write(noise);
            garbage.getOutputStream().write("\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            final String answer = RawHttp.readUntilClosed(garbage.getInputStream());
            assertTrue(answer.isEmpty() || answer.startsWith("HTTP/1.1 400"), "seed " + seed + ": " + answer);
        }
        final Client client = new Client(server.port());
        assertEquals(200, client.get("/health/ready").status());
        assertEquals(202, client.post("/v1/events", "application/json", "{\"id\":\"after\",\"tenant\":\"acme\",\"model\":\"m\"}").status());
        final JsonNode rows = client.get("/v1/usage?tenant=acme&from=1970-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&group_by="
            + "&consistent=true").json().get("rows");
        assertEquals(1, rows.get(0).get("requests").asInt(), "only the complete request was counted");
    }

    private Socket connect() throws Exception
    {
        final Socket socket = new Socket();
        socket.connect(new InetSocketAddress("127.0.0.1", server.port()), 5000);
        socket.setSoTimeout(10_000);
        return socket;
    }
}
