package io.tokenmeter.server.alert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** The alert sender against real receivers on 127.0.0.1. */
class AlertSenderTest
{
    private static final String SECRET = "whsec-7f3a9c0e5b2d4f6a8c1e3b5d";
    private static final long CROSSED_AT_MS = Instant.parse("2026-12-17T09:12:44.051Z").toEpochMilli();
    /** Quick retries, a long give-up: for receivers that come back. */
    private static final AlertSender.Settings QUICK = new AlertSender.Settings(100, Duration.ofMillis(20),
        Duration.ofMillis(100), Duration.ofDays(3650), Duration.ofSeconds(10));

    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception
    {
        for (int i = toClose.size() - 1; i >= 0; i--)
        {
            toClose.get(i).close();
        }
    }

    @Test
    void postsTheAlertAsJsonSignedWithTheSecret() throws Exception
    {
        final WebhookReceiver receiver = closing(WebhookReceiver.ok());
        final AlertSender sender = closing(new AlertSender(SECRET, QUICK));
        final Alert alert = alert("acme", 80, receiver.url("/hooks/tokenmeter"));
        assertTrue(sender.send(alert));

        final AlertSender.Delivery d = await(sender, "acme", alert.id(), AlertSender.Delivery::delivered);
        assertEquals(1, d.attempts());
        assertNotNull(d.deliveredAtMs());
        assertNull(d.lastError());
        assertFalse(d.gaveUp());
        assertEquals(1, sender.delivered());
        assertEquals(0, sender.queued());

        assertEquals(1, receiver.received().size());
        final WebhookReceiver.Received r = receiver.received().get(0);
        assertEquals("POST", r.method());
        assertEquals("/hooks/tokenmeter", r.path());
        assertEquals("application/json", r.header("Content-Type"));
        assertTrue(verifies(r.header("Tokenmeter-Signature"), r.body(), SECRET), r.header("Tokenmeter-Signature"));

        final JsonNode body = new ObjectMapper().readTree(r.body());
        assertEquals(10, body.size(), body.toString());
        assertEquals("acme/2026-12/80", body.get("id").textValue());
        assertEquals("acme", body.get("tenant").textValue());
        assertEquals(80, body.get("threshold_percent").intValue());
        assertTrue(body.get("threshold_percent").isInt());
        assertEquals("400.20", body.get("spent").textValue(), "money is a string");
        assertEquals("500.00", body.get("limit").textValue(), "money is a string");
        assertEquals("USD", body.get("currency").textValue());
        assertEquals("month", body.get("period").textValue());
        assertEquals("2026-12-01T00:00:00Z", body.get("period_start").textValue());
        assertEquals("2027-01-01T00:00:00Z", body.get("period_end").textValue());
        assertEquals("2026-12-17T09:12:44.051Z", body.get("crossed_at").textValue());

        final List<Thread> threads = Thread.getAllStackTraces().keySet().stream()
            .filter(t -> t.getName().equals("alert-sender")).toList();
        assertFalse(threads.isEmpty(), "a thread named alert-sender");
        assertTrue(threads.stream().allMatch(Thread::isDaemon), "alert-sender is a daemon thread");
    }

    @Test
    void aWrongSecretOrAChangedBodyFailsTheReceiversCheck() throws Exception
    {
        final WebhookReceiver receiver = closing(WebhookReceiver.ok());
        final AlertSender sender = closing(new AlertSender(SECRET, QUICK));
        final Alert alert = alert("acme", 50, receiver.url("/"));
        sender.send(alert);
        await(sender, "acme", alert.id(), AlertSender.Delivery::delivered);

        final WebhookReceiver.Received r = receiver.received().get(0);
        assertTrue(verifies(r.header("Tokenmeter-Signature"), r.body(), SECRET));
        assertFalse(verifies(r.header("Tokenmeter-Signature"), r.body(), "whsec-another-secret-entirely"));
        final byte[] changed = new String(r.body(), StandardCharsets.UTF_8).replace("400.20", "400.21")
            .getBytes(StandardCharsets.UTF_8);
        assertFalse(verifies(r.header("Tokenmeter-Signature"), changed, SECRET));
    }

    @Test
    void withoutASecretTheAlertIsPostedUnsigned() throws Exception
    {
        final WebhookReceiver receiver = closing(WebhookReceiver.ok());
        final AlertSender sender = closing(new AlertSender("", QUICK));
        final Alert alert = alert("acme", 50, receiver.url("/"));
        sender.send(alert);
        await(sender, "acme", alert.id(), AlertSender.Delivery::delivered);
        assertNull(receiver.received().get(0).header("Tokenmeter-Signature"));
    }

    @Test
    void aReceiverAnswering503IsRetriedUntilItTakesTheAlert() throws Exception
    {
        final WebhookReceiver receiver = closing(WebhookReceiver.failingFirst(2, 503));
        final AlertSender sender = closing(new AlertSender(SECRET, QUICK));
        final Alert alert = alert("acme", 100, receiver.url("/"));
        sender.send(alert);

        final AlertSender.Delivery d = await(sender, "acme", alert.id(), AlertSender.Delivery::delivered);
        assertEquals(3, d.attempts());
        assertEquals("HTTP 503", d.lastError(), "the last failure is kept after delivery");
        assertEquals(3, receiver.received().size());
        assertEquals(2, sender.failedAttempts());
        assertEquals(1, sender.delivered());
        final String firstBody = new String(receiver.received().get(0).body(), StandardCharsets.UTF_8);
        for (final WebhookReceiver.Received r : receiver.received())
        {
            assertEquals(firstBody, new String(r.body(), StandardCharsets.UTF_8), "every attempt sends the same body");
            assertTrue(verifies(r.header("Tokenmeter-Signature"), r.body(), SECRET));
        }
    }

    @Test
    void aReceiverThatIsDownGetsTheAlertOnceItIsBack() throws Exception
    {
        final int port;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress()))
        {
            port = probe.getLocalPort();
        }
        final AlertSender sender = closing(new AlertSender(SECRET, QUICK));
        final Alert alert = alert("acme", 80, "http://127.0.0.1:" + port + "/hook");
        sender.send(alert);

        final AlertSender.Delivery failing = await(sender, "acme", alert.id(), d -> d.attempts() >= 2 && d.lastError() != null);
        assertFalse(failing.delivered());
        assertTrue(failing.lastError().contains("ConnectException"), failing.lastError());
        assertEquals(1, sender.queued(), "held for a retry");

        final WebhookReceiver receiver = closing(WebhookReceiver.start(port, n -> 200, null));
        final AlertSender.Delivery d = await(sender, "acme", alert.id(), AlertSender.Delivery::delivered);
        assertTrue(d.attempts() > 1, "attempts " + d.attempts());
        assertEquals(1, receiver.received().size());
        assertTrue(verifies(receiver.received().get(0).header("Tokenmeter-Signature"), receiver.received().get(0).body(),
            SECRET));
        assertEquals(0, sender.queued());
    }

    @Test
    void sendNeverBlocksAndAHangingReceiverDoesNotHoldBackAnother() throws Exception
    {
        final HangingReceiver hanging = closing(new HangingReceiver());
        final WebhookReceiver healthy = closing(WebhookReceiver.ok());
        final AlertSender sender = closing(new AlertSender(SECRET, new AlertSender.Settings(4, Duration.ofMillis(20),
            Duration.ofMillis(100), Duration.ofDays(3650), Duration.ofSeconds(120))));

        final Alert stuck = alert("slow-co", 50, hanging.url("/never"));
        assertTrue(sender.send(stuck));
        assertTrue(hanging.awaitConnection(), "the hanging receiver was connected to");

        final Alert other = alert("acme", 50, healthy.url("/"));
        assertTrue(sender.send(other));
        final AlertSender.Delivery d = await(sender, "acme", other.id(), AlertSender.Delivery::delivered);
        assertEquals(1, d.attempts());

        final AlertSender.Delivery stillStuck = sender.deliveries("slow-co").get(0);
        assertFalse(stillStuck.delivered(), "the hanging receiver never answered");
        assertEquals(1, stillStuck.attempts());
        assertTrue(stillStuck.pending());

        int refused = 0;
        for (int percent = 1; percent <= 100; percent++)
        {
            if (!sender.send(alert("slow-co", percent + 100, hanging.url("/never"))))
            {
                refused++;
            }
        }
        assertEquals(97, refused, "one held, three more taken, then the queue of 4 is full");
        assertEquals(97, sender.dropped());
        assertEquals(4, sender.queued());
    }

    @Test
    void aHangingReceiverHoldsAtMostFourAttemptsOpenAndTheRestWait() throws Exception
    {
        final HangingReceiver hanging = closing(new HangingReceiver());
        final WebhookReceiver healthy = closing(WebhookReceiver.ok());
        final AlertSender sender = closing(new AlertSender(SECRET, new AlertSender.Settings(100, Duration.ofMillis(20),
            Duration.ofMillis(100), Duration.ofDays(3650), Duration.ofSeconds(120))));
        for (int percent = 1; percent <= 6; percent++)
        {
            assertTrue(sender.send(alert("slow-co", percent, hanging.url("/never"))));
        }
        final Alert other = alert("acme", 50, healthy.url("/"));
        sender.send(other);
        await(sender, "acme", other.id(), AlertSender.Delivery::delivered);

        final List<Integer> attempts = sender.deliveries("slow-co").stream().map(AlertSender.Delivery::attempts).toList();
        assertEquals(List.of(1, 1, 1, 1, 0, 0), attempts, "four open to the hanging receiver, two waiting for a slot");
        for (int i = 0; i < AlertSender.MAX_IN_FLIGHT_PER_DESTINATION; i++)
        {
            assertTrue(hanging.awaitConnection(), "connection " + (i + 1));
        }
        assertEquals(7, sender.queued() + sender.delivered());
    }

    @Test
    void givesUpOnceGiveUpAfterHasPassedSinceTheCrossing() throws Exception
    {
        final WebhookReceiver receiver = closing(WebhookReceiver.failingFirst(Integer.MAX_VALUE, 500));
        final AlertSender sender = closing(new AlertSender(SECRET, new AlertSender.Settings(10, Duration.ofMillis(20),
            Duration.ofMillis(40), Duration.ofMillis(300), Duration.ofSeconds(10))));
        final Alert alert = Alert.of("acme", 80, "400.20", "500.00", "USD", "month", "2026-12-01T00:00:00Z",
            "2027-01-01T00:00:00Z", receiver.url("/"), System.currentTimeMillis());
        sender.send(alert);

        final AlertSender.Delivery d = await(sender, "acme", alert.id(), AlertSender.Delivery::gaveUp);
        assertFalse(d.delivered());
        assertFalse(d.pending());
        assertNull(d.deliveredAtMs());
        assertEquals("HTTP 500", d.lastError());
        assertTrue(d.attempts() >= 1);
        assertEquals(d.attempts(), receiver.received().size(), "no attempt after giving up");
        assertEquals(d.attempts(), sender.failedAttempts());
        assertEquals(0, sender.queued());
        assertEquals(0, sender.delivered());
    }

    @Test
    void redirectsAreNotFollowed() throws Exception
    {
        final WebhookReceiver target = closing(WebhookReceiver.ok());
        final WebhookReceiver redirecting = closing(WebhookReceiver.start(0, n -> 302, target.url("/elsewhere")));
        final AlertSender sender = closing(new AlertSender(SECRET, new AlertSender.Settings(10, Duration.ofMillis(20),
            Duration.ofMillis(40), Duration.ofMillis(200), Duration.ofSeconds(10))));
        final Alert alert = Alert.of("acme", 80, "400.20", "500.00", "USD", "month", "2026-12-01T00:00:00Z",
            "2027-01-01T00:00:00Z", redirecting.url("/"), System.currentTimeMillis());
        sender.send(alert);

        final AlertSender.Delivery d = await(sender, "acme", alert.id(), AlertSender.Delivery::gaveUp);
        assertTrue(d.lastError().startsWith("HTTP 302"), d.lastError());
        assertTrue(redirecting.received().size() >= 1);
        assertEquals(0, target.received().size(), "the Location was never followed");
    }

    @Test
    void anAlertWithoutAWebhookIsListedButNeverPosted()
    {
        final AlertSender sender = closing(new AlertSender(SECRET, QUICK));
        final Alert alert = alert("acme", 50, null);
        assertTrue(sender.send(alert));
        final AlertSender.Delivery d = await(sender, "acme", alert.id(), x -> true);
        assertEquals(0, d.attempts());
        assertFalse(d.delivered());
        assertFalse(d.gaveUp());
        assertFalse(d.pending());
        assertEquals(0, sender.delivered() + sender.failedAttempts());
    }

    @Test
    void aWebhookThatCanNeverBePostedToIsGivenUpAtOnce()
    {
        final AlertSender sender = closing(new AlertSender(SECRET, QUICK));
        final Alert alert = alert("acme", 50, "ftp://files.example.com/alerts");
        sender.send(alert);
        final AlertSender.Delivery d = await(sender, "acme", alert.id(), AlertSender.Delivery::gaveUp);
        assertEquals(0, d.attempts());
        assertTrue(d.lastError().contains("http:// or https://"), d.lastError());
        assertEquals(0, sender.queued());
    }

    @Test
    void aResendOfAnIdAlreadyDeliveredIsNotPostedAgain() throws Exception
    {
        final WebhookReceiver receiver = closing(WebhookReceiver.ok());
        final AlertSender sender = closing(new AlertSender(SECRET, QUICK));
        final Alert first = alert("acme", 50, receiver.url("/"));
        sender.send(first);
        await(sender, "acme", first.id(), AlertSender.Delivery::delivered);

        assertTrue(sender.send(first), "taken, and coalesced with the delivered one");
        final Alert next = alert("acme", 80, receiver.url("/"));
        sender.send(next);
        await(sender, "acme", next.id(), AlertSender.Delivery::delivered);

        assertEquals(2, receiver.received().size(), "the first alert once, then the next");
        assertEquals(List.of(first.id(), next.id()), sender.deliveries("acme").stream().map(d -> d.alert().id()).toList());
        assertEquals(0, sender.queued());
    }

    @Test
    void theListingKeepsTheLastThousandCrossingsOfATenantNewestLast()
    {
        final AlertSender sender = closing(new AlertSender(SECRET, AlertSender.Settings.defaults()));
        for (int percent = 1; percent <= AlertSender.HISTORY_PER_TENANT + 1; percent++)
        {
            assertTrue(sender.send(alert("acme", percent, null)));
        }
        final String newest = alert("acme", AlertSender.HISTORY_PER_TENANT + 1, null).id();
        await(sender, "acme", newest, x -> true);
        final List<AlertSender.Delivery> listed = sender.deliveries("acme");
        assertEquals(AlertSender.HISTORY_PER_TENANT, listed.size());
        assertEquals(alert("acme", 2, null).id(), listed.get(0).alert().id(), "the oldest went first");
        assertEquals(newest, listed.get(listed.size() - 1).alert().id());
        assertEquals(List.of(), sender.deliveries("another"));
    }

    @Test
    void aClosedSenderRefusesAlerts()
    {
        final AlertSender sender = new AlertSender(SECRET, QUICK);
        sender.close();
        assertFalse(sender.send(alert("acme", 50, null)));
        assertEquals(1, sender.dropped());
    }

    private static Alert alert(final String tenant, final int percent, final String url)
    {
        return Alert.of(tenant, percent, "400.20", "500.00", "USD", "month", "2026-12-01T00:00:00Z",
            "2027-01-01T00:00:00Z", url, CROSSED_AT_MS);
    }

    /** What a receiver does: recompute the HMAC-SHA256 of the raw body and compare in constant time. */
    private static boolean verifies(final String header, final byte[] body, final String secret) throws Exception
    {
        final Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        final String expected = "sha256=" + HexFormat.of().formatHex(mac.doFinal(body));
        return header != null && MessageDigest.isEqual(expected.getBytes(StandardCharsets.US_ASCII),
            header.getBytes(StandardCharsets.US_ASCII));
    }

    /** Polls the listing (at most 2,000 times, 10 ms apart) until the delivery of {@code id} satisfies {@code done}. */
    private static AlertSender.Delivery await(final AlertSender sender, final String tenant, final String id,
        final Predicate<AlertSender.Delivery> done)
    {
        AlertSender.Delivery last = null;
        for (int i = 0; i < 2_000; i++)
        {
            for (final AlertSender.Delivery d : sender.deliveries(tenant))
            {
                if (d.alert().id().equals(id))
                {
                    last = d;
                }
            }
            if (last != null && done.test(last))
            {
                return last;
            }
            try
            {
                Thread.sleep(10);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return fail("the delivery of " + id + " did not get there within 20 s; last seen: " + last);
    }

    private <T extends AutoCloseable> T closing(final T resource)
    {
        toClose.add(resource);
        return resource;
    }
}
