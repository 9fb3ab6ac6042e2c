package io.tokenmeter.server.http;

import io.tokenmeter.server.TokenmeterServer;
import io.tokenmeter.server.config.Settings;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Starts the whole server in this JVM on an ephemeral loopback port and waits until it is ready. */
final class TestServer
{
    private TestServer()
    {
    }

    static TokenmeterServer start(final Path dataDir, final Map<String, String> extra) throws Exception
    {
        final Map<String, String> settings = new HashMap<>(Map.of("port", "0", "data-dir", dataDir.toString()));
        settings.putAll(extra);
        final TokenmeterServer server = TokenmeterServer.start(Settings.of(io.tokenmeter.server.TestPartitions.apply(settings)));
        for (int i = 0; i < 1000 && !server.isReady(); i++)
        {
            LockSupport.parkNanos(10_000_000);
        }
        assertTrue(server.isReady(), "ready within 10 s");
        return server;
    }
}
