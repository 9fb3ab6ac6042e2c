package io.tokenmeter.server.config;

import io.tokenmeter.core.log.Durability;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SettingsTest
{
    @TempDir
    Path dir;

    @Test
    void defaultsMatchTheSpec()
    {
        final Settings s = Settings.of(Map.of());
        assertEquals(8080, s.port);
        assertEquals("127.0.0.1", s.bind);
        assertEquals(Path.of("./data"), s.dataDir);
        assertEquals(Durability.PROCESS, s.durability);
        assertEquals(Duration.ofHours(24), s.dedupWindow);
        assertEquals(Duration.ofMinutes(5), s.maxFutureSkew);
        assertEquals(8 * 1024 * 1024, s.maxBodyBytes);
        assertEquals(10_000, s.maxEventsPerRequest);
    }

    @Test
    void flagsBeatEnvironmentBeatsConfigFile() throws Exception
    {
        final Path config = dir.resolve("tokenmeter.yaml");
        Files.writeString(config, "port: 9000\ndata-dir: /from/file\ndedup-window: 2h\n");
        final Settings s = Settings.resolve(Map.of("port", "9100"),
            Map.of("TOKENMETER_PORT", "9050", "TOKENMETER_DATA_DIR", "/from/env"), config);
        assertEquals(9100, s.port);
        assertEquals(Path.of("/from/env"), s.dataDir);
        assertEquals(Duration.ofHours(2), s.dedupWindow);
        assertTrue(s.describe().contains(" port=9100 (flag --port);"), s.describe());
        assertTrue(s.describe().contains(" bind=127.0.0.1;") && !s.describe().contains("\n"), s.describe());
    }

    @Test
    void badValueNamesTheSettingAndItsSource()
    {
        final SettingsException ex = assertThrows(SettingsException.class,
            () -> Settings.resolve(Map.of(), Map.of("TOKENMETER_DEDUP_CAPACITY", "lots"), null));
        assertTrue(ex.getMessage().contains("dedup-capacity"), ex.getMessage());
        assertTrue(ex.getMessage().contains("TOKENMETER_DEDUP_CAPACITY"), ex.getMessage());
    }

    @Test
    void unknownConfigKeyIsRefused() throws Exception
    {
        final Path config = dir.resolve("bad.yaml");
        Files.writeString(config, "prot: 9000\n");
        final SettingsException ex = assertThrows(SettingsException.class, () -> Settings.resolve(Map.of(), Map.of(), config));
        assertTrue(ex.getMessage().contains("'prot' is not a setting"), ex.getMessage());
    }

    @Test
    void durationsTakeUnitsAndIso()
    {
        assertEquals(Duration.ofMillis(250), Settings.parseDuration("250ms"));
        assertEquals(Duration.ofDays(7), Settings.parseDuration("7d"));
        assertEquals(Duration.ofHours(24), Settings.parseDuration("PT24H"));
        assertThrows(IllegalArgumentException.class, () -> Settings.parseDuration("soon"));
    }

    @Test
    void theOtlpTenantAttributeDefaultsToTenantIdAndMustBeAnAttributeKey()
    {
        assertEquals("tenant.id", Settings.of(Map.of()).otlpTenantAttribute);
        assertEquals("customer.id", Settings.of(Map.of("otlp-tenant-attribute", "customer.id")).otlpTenantAttribute);
        final SettingsException refused = assertThrows(SettingsException.class,
            () -> Settings.of(Map.of("otlp-tenant-attribute", "tenant id")));
        assertTrue(refused.getMessage().contains("otlp-tenant-attribute = 'tenant id'") && refused.getMessage()
            .contains("must be an attribute key"), refused.getMessage());
    }

    @Test
    void outOfRangePortIsRefused()
    {
        assertThrows(SettingsException.class, () -> Settings.of(Map.of("port", "70000")));
    }

    @Test
    void partitionsAreAutoOrANumberAndABadValueSaysWhich()
    {
        assertEquals(0, Settings.of(Map.of()).partitions, "auto by default");
        assertEquals(4, Settings.of(Map.of("partitions", "4")).partitions);
        for (final String bad : new String[] {"0", "1001", "many"})
        {
            final SettingsException refused = assertThrows(SettingsException.class,
                () -> Settings.of(Map.of("partitions", bad)));
            org.junit.jupiter.api.Assertions.assertTrue(refused.getMessage().contains("must be auto or a number of partitions "
                + "from 1 to 1000"), refused.getMessage());
        }
    }

    @Test
    void modelsPerTenantDefaultTo1000AndMayNotExceedTheModelIdWidth()
    {
        assertEquals(1000, Settings.of(Map.of()).maxModelsPerTenant);
        assertEquals(65_536, Settings.resolve(Map.of(), Map.of("TOKENMETER_MAX_MODELS_PER_TENANT", "65536"), null).maxModelsPerTenant);
        for (final String bad : new String[] {"0", "65537", "lots"})
        {
            final SettingsException refused = assertThrows(SettingsException.class,
                () -> Settings.of(Map.of("max-models-per-tenant", bad)));
            assertTrue(refused.getMessage().startsWith("setting max-models-per-tenant = '" + bad + "'"), refused.getMessage());
            assertTrue(refused.getMessage().contains(bad.equals("lots") ? "must be a whole number" : "must be between 1 and 65536"),
                refused.getMessage());
        }
    }

    @Test
    void theAlertWebhookSecretIsOptionalComesFromTheEnvironmentAndIsNeverPrinted()
    {
        final Settings none = Settings.of(Map.of());
        assertNull(none.alertWebhookSecret, "none by default: webhooks are posted unsigned");
        assertTrue(none.describe().contains(" alert-webhook-secret=none;"), none.describe());
        final String secret = "7f3a9c0e5b2d4f6a8c1e3b5d7f9a0c2e";
        final Settings set = Settings.resolve(Map.of(), Map.of("TOKENMETER_ALERT_WEBHOOK_SECRET", secret), null);
        assertEquals(secret, set.alertWebhookSecret);
        assertTrue(set.describe().contains(" alert-webhook-secret=(set) (environment TOKENMETER_ALERT_WEBHOOK_SECRET);"),
            set.describe());
        assertFalse(set.describe().contains(secret), set.describe());
    }

    @Test
    void aShortAlertWebhookSecretIsRefusedWithoutRepeatingIt()
    {
        final SettingsException refused = assertThrows(SettingsException.class,
            () -> Settings.resolve(Map.of(), Map.of("TOKENMETER_ALERT_WEBHOOK_SECRET", "hunter2"), null));
        assertTrue(refused.getMessage().contains("alert-webhook-secret") && refused.getMessage().contains("at least 16"),
            refused.getMessage());
        assertFalse(refused.getMessage().contains("hunter2"), refused.getMessage());
    }

    @Test
    void theAlertRetryIntervalDefaultsTo60sAndIsAtLeastASecond()
    {
        assertEquals(Duration.ofSeconds(60), Settings.of(Map.of()).alertRetryMaxInterval);
        assertEquals(Duration.ofMinutes(5), Settings.of(Map.of("alert-retry-max-interval", "5m")).alertRetryMaxInterval);
        final SettingsException refused = assertThrows(SettingsException.class,
            () -> Settings.of(Map.of("alert-retry-max-interval", "500ms")));
        assertTrue(refused.getMessage().contains("alert-retry-max-interval = '500ms'")
            && refused.getMessage().contains("must be at least 1000 ms"), refused.getMessage());
    }
}
