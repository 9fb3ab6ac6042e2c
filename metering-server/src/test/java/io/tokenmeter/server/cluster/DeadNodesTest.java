package io.tokenmeter.server.cluster;

import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.ServerSocket;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What {@link DeadNodes} takes for a dead node: a refused connection, and nothing else. */
class DeadNodesTest
{
    @Test
    void onlyARefusedConnectionCountsAsDead() throws Exception
    {
        final int port;
        try (ServerSocket listening = new ServerSocket(0, 50, InetAddress.getLoopbackAddress()))
        {
            port = listening.getLocalPort();
            assertFalse(DeadNodes.refused("http://127.0.0.1:" + port), "a port that accepts is alive");
            assertFalse(DeadNodes.refused("https://127.0.0.1:" + port + "/some/path"), "whatever the scheme and path");
        }
        assertTrue(DeadNodes.refused("http://127.0.0.1:" + port), "nothing listens on the port any more: refused");
        assertFalse(DeadNodes.refused("not a url"), "a URL that does not parse proves nothing");
        assertFalse(DeadNodes.refused("http:relative"), "nor one without a host");
        assertFalse(DeadNodes.refused("http://no-such-host.invalid:8080"), "nor a host that does not resolve");
    }
}
