package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import io.tokenmeter.server.TokenmeterServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Budget alerts (SPEC section 12) from the whole server to a real local webhook receiver: a crossing is posted once,
 * signed with HMAC-SHA256 under the secret; while the receiver is down every ingest request is still answered, and the
 * alert is delivered once it is back.
 */
class BudgetAlertsServerTest
{
    private static final String SECRET = "test-secret-of-the-webhooks";
    private static final String BOOK = "{\"currency\":\"USD\",\"models\":{"
        + "\"gpt-x*\":[{\"effective_from\":\"2025-01-01T00:00:00Z\",\"per_million\":{\"input\":\"2.50\",\"output\":\"10.00\"}}]}}";

    @TempDir
    Path dataDir;
    @TempDir
    Path configDir;

    private TokenmeterServer server;
    private HttpServer receiver;
    private final List<Received> received = new CopyOnWriteArrayList<>();

    private record Received(String signature, byte[] body)
    {
    }

    @AfterEach
    void stop()
    {
        if (server != null)
        {
            server.close();
        }
        if (receiver != null)
        {
            receiver.stop(0);
        }
    }

    private void receive(final int port) throws Exception
    {
        receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        receiver.createContext("/hook", exchange ->
        {
            final byte[] body = exchange.getRequestBody().readAllBytes();
            received.add(new Received(exchange.getRequestHeaders().getFirst("Tokenmeter-Signature"), body));
            exchange.sendResponseHeaders(204, -1);
            exchange.close();
        });
        receiver.start();
    }

    private static String hmac(final byte[] body) throws Exception
    {
        final Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(SECRET.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        return "sha256=" + HexFormat.of().formatHex(mac.doFinal(body));
    }

    /** Polls the condition up to 600 times, 50 ms apart; fails when it never held (not a measure of speed). */
    private static void await(final BooleanSupplier condition, final String what)
    {
        for (int poll = 0; poll < 600; poll++)
        {
            if (condition.getAsBoolean())
            {
                return;
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
        }
        throw new AssertionError(what + ": never happened in 600 polls");
    }

    private Received alertOf(final int percent)
    {
        for (final Received r : received)
        {
            if (new String(r.body(), StandardCharsets.UTF_8).contains("\"threshold_percent\":" + percent))
            {
                return r;
            }
        }
        return null;
    }

    @Test
    void aCrossingIsPostedSignedAndADownReceiverGetsItWhenBackWhileIngestGoesOn() throws Exception
    {
        receive(0);
        final int port = receiver.getAddress().getPort();
        final Path prices = Files.writeString(configDir.resolve("prices.json"), BOOK);
        server = TestServer.start(dataDir, new HashMap<>(Map.of("prices", prices.toString(), "alert-webhook-secret", SECRET,
            "alert-retry-max-interval", "1s")));
        final Client client = new Client(server.port());
        assertEquals(200, client.put("/v1/budgets/acme", "application/json", "{\"limit\":\"1.00\",\"mode\":\"soft\","
            + "\"alert_percents\":[50,100],\"webhook\":\"http://127.0.0.1:" + port + "/hook?token=abc\"}").status());

        // 240,000 input tokens: 0.60 of 1.00, past 50 %
        assertEquals(202, client.post("/v1/events", "application/json", "{\"id\":\"e1\",\"tenant\":\"acme\",\"model\":\"gpt-x\","
            + "\"input_tokens\":240000}").status());
        await(() -> alertOf(50) != null, "the 50 % alert posted");
        final Received first = alertOf(50);
        assertEquals(hmac(first.body()), first.signature(), "signed with HMAC-SHA256 of the raw body under the secret");
        assertNotEquals(hmac("{}".getBytes(StandardCharsets.UTF_8)), first.signature(), "the check can fail");
        final JsonNode alert = Client.JSON.readTree(first.body());
        final String month = java.time.YearMonth.now(java.time.ZoneOffset.UTC).toString();
        assertEquals("acme/" + month + "/50", alert.get("id").asText());
        assertEquals("acme", alert.get("tenant").asText());
        assertEquals("0.60", alert.get("spent").asText());
        assertEquals("1.00", alert.get("limit").asText());
        assertEquals("USD", alert.get("currency").asText());
        assertEquals("month", alert.get("period").asText());
        assertTrue(alertOf(100) == null, "100 % is not crossed yet");
        await(() ->
        {
            final JsonNode listed = client.get("/v1/budgets/acme/alerts").json().get("alerts");
            return listed.size() == 1 && listed.get(0).get("delivery").get("delivered").asBoolean();
        }, "the 50 % alert listed as delivered");

        // the receiver goes down; the next crossing waits for it, and ingest does not
        receiver.stop(0);
        receiver = null;
        assertEquals(202, client.post("/v1/events", "application/json", "{\"id\":\"e2\",\"tenant\":\"acme\",\"model\":\"gpt-x\","
            + "\"input_tokens\":200000}").status());
        await(() ->
        {
            final JsonNode alerts = client.get("/v1/budgets/acme/alerts").json().get("alerts");
            return alerts.size() == 2 && alerts.get(1).has("delivery") && alerts.get(1).get("delivery").get("attempts").asInt() > 0;
        }, "the 100 % alert tried while the receiver is down");
        for (int i = 0; i < 200; i++)
        {
            final Client.Answer answer = client.post("/v1/events", "application/json", "{\"id\":\"down-" + i + "\",\"tenant\":"
                + "\"acme\",\"model\":\"gpt-x\",\"input_tokens\":1}");
            assertEquals(202, answer.status(), "ingest goes on while the webhook is down: " + answer.body());
        }
        JsonNode alerts = client.get("/v1/budgets/acme/alerts").json().get("alerts");
        assertFalse(alerts.get(1).get("delivery").get("delivered").asBoolean(), alerts.toString());
        assertEquals("http://127.0.0.1:" + port, alerts.get(1).get("webhook").asText(), "listed without its path and token");

        receive(port);
        await(() -> alertOf(100) != null, "the 100 % alert delivered once the receiver is back");
        final Received second = alertOf(100);
        assertEquals(hmac(second.body()), second.signature());
        assertEquals("acme/" + month + "/100", Client.JSON.readTree(second.body()).get("id").asText());
        await(() -> client.get("/v1/budgets/acme/alerts").json().get("alerts").get(1).get("delivery").get("delivered")
            .asBoolean(), "the listing says delivered");
        alerts = client.get("/v1/budgets/acme/alerts").json().get("alerts");
        assertEquals(50, alerts.get(0).get("threshold_percent").asInt());
        assertTrue(alerts.get(0).get("delivery").get("delivered").asBoolean());
        assertEquals(2, alerts.size(), "each threshold crossed once per period");
        assertEquals(1, received.stream().filter(r -> new String(r.body(), StandardCharsets.UTF_8)
            .contains("\"threshold_percent\":50")).count(), "a delivered alert is not posted again");
    }
}
