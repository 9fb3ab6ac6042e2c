package io.tokenmeter.server.alert;

import org.junit.jupiter.api.Test;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The alert's id, the webhook URL rule, the retry schedule and the sender's settings checks. */
class AlertTest
{
    @Test
    void theDocumentedExampleIsTheBodyAndSignatureSent() throws Exception
    {
        final Alert alert = Alert.of("acme", 80, "400.20", "500.00", "USD", "month", "2026-12-01T00:00:00Z",
            "2027-01-01T00:00:00Z", "http://127.0.0.1:9000/hooks/tokenmeter",
            Instant.parse("2026-12-17T09:12:44.051Z").toEpochMilli());
        final byte[] body = AlertBody.of(alert);
        final String api = Files.readString(Path.of("..", "docs", "api.md"));
        final String json = new String(body, StandardCharsets.UTF_8);
        assertTrue(api.contains("\n" + json + "\n"), "docs/api.md shows the body exactly as sent: " + json);
        final String header = "Tokenmeter-Signature: "
            + AlertBody.signature(body, "whsec-example-0123456789abcdef".getBytes(StandardCharsets.UTF_8));
        assertTrue(api.contains("\n" + header + "\n"), "docs/api.md shows its signature: " + header);
    }

    @Test
    void theIdIsTenantThenThePeriodsMonthOrDayThenThePercent()
    {
        assertEquals("acme/2026-12/80", Alert.idOf("acme", "month", "2026-12-01T00:00:00Z", 80));
        assertEquals("acme/2026-12-02/100", Alert.idOf("acme", "day", "2026-12-02T00:00:00Z", 100));
        assertEquals(Alert.idOf("acme", "day", "2026-12-02T00:00:00Z", 50),
            Alert.of("acme", 50, "1", "2", "USD", "day", "2026-12-02T00:00:00Z", "2026-12-03T00:00:00Z", null, 0).id());
        final IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
            () -> Alert.idOf("acme", "month", "December", 80));
        assertTrue(bad.getMessage().contains("RFC 3339"), bad.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Alert.idOf("acme", "week", "2026-12-01T00:00:00Z", 80));
    }

    @Test
    void anAlertRefusesAnUnknownPeriodAndAThresholdBelowOnePercent()
    {
        assertThrows(IllegalArgumentException.class,
            () -> new Alert("x", "acme", 80, "1", "2", "USD", "week", "a", "b", null, 0));
        assertThrows(IllegalArgumentException.class,
            () -> new Alert("x", "acme", 0, "1", "2", "USD", "month", "a", "b", null, 0));
    }

    @Test
    void webhooksAreHttpOrHttpsWithAHostLoopbackIncluded()
    {
        assertNull(WebhookUrl.problem("https://alerts.example.com/tokenmeter?token=abc"));
        assertNull(WebhookUrl.problem("http://127.0.0.1:9000/hook"));
        assertNull(WebhookUrl.problem("http://[::1]:9000/hook"));
        assertTrue(WebhookUrl.problem("ftp://example.com/x").contains("http:// or https://"));
        assertTrue(WebhookUrl.problem("/relative").contains("http:// or https://"));
        assertTrue(WebhookUrl.problem("https:///nohost").contains("must name a host"));
        assertTrue(WebhookUrl.problem("https://user:pw@example.com/").contains("user info"));
        assertTrue(WebhookUrl.problem("https://example.com/#x").contains("fragment"));
        assertTrue(WebhookUrl.problem("https://example.com/a b").contains("is not a URL"));
        assertTrue(WebhookUrl.problem("https://example.com/" + "a".repeat(WebhookUrl.MAX_LENGTH)).contains("at most"));
        assertTrue(WebhookUrl.problem(null).contains("http or https URL"));
    }

    @Test
    void logsNameOnlyTheDestinationNeverThePathOrQuery()
    {
        assertEquals("https://alerts.example.com:443",
            WebhookUrl.destination(URI.create("https://alerts.example.com/t/SECRET?k=SECRET")));
        assertEquals("http://127.0.0.1:9000", WebhookUrl.destination(URI.create("HTTP://127.0.0.1:9000/x")));
        assertEquals("http://example.com:80", WebhookUrl.destination(URI.create("http://example.com")));
    }

    @Test
    void retriesWaitFromOneSecondDoublingUpToTheMaximum()
    {
        final AlertSender.Settings s = AlertSender.Settings.defaults();
        final long[] expected = {1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000};
        for (int failures = 1; failures <= expected.length; failures++)
        {
            assertEquals(expected[failures - 1], AlertSender.backoffMs(s, failures), "after failure " + failures);
        }
        assertEquals(60_000, AlertSender.backoffMs(s, 10_000), "no overflow after many failures");
        assertEquals(300_000, AlertSender.backoffMs(s.withMaxRetryInterval(Duration.ofMinutes(5)), 20));
    }

    @Test
    void theDefaultsAreTheDocumentedOnes()
    {
        final AlertSender.Settings s = AlertSender.Settings.defaults();
        assertEquals(10_000, s.queueCapacity());
        assertEquals(Duration.ofSeconds(1), s.firstRetry());
        assertEquals(Duration.ofSeconds(60), s.maxRetryInterval());
        assertEquals(Duration.ofHours(24), s.giveUpAfter());
        assertEquals(Duration.ofSeconds(10), s.requestTimeout());
    }

    @Test
    void settingsThatCannotWorkAreRefused()
    {
        final IllegalArgumentException shorter = assertThrows(IllegalArgumentException.class,
            () -> new AlertSender.Settings(10, Duration.ofSeconds(2), Duration.ofSeconds(1), Duration.ofHours(1),
                Duration.ofSeconds(1)));
        assertTrue(shorter.getMessage().contains("maxRetryInterval"), shorter.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new AlertSender.Settings(0, Duration.ofSeconds(1),
            Duration.ofSeconds(1), Duration.ofHours(1), Duration.ofSeconds(1)));
        assertThrows(IllegalArgumentException.class, () -> new AlertSender.Settings(10, Duration.ofSeconds(1),
            Duration.ofSeconds(1), Duration.ofHours(1), Duration.ZERO));
    }
}
