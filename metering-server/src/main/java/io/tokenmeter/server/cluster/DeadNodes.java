package io.tokenmeter.server.cluster;

import io.tokenmeter.kafka.PartitionOwnership;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Finds the other members of the owners group whose process is gone, and removes them from the group so that their
 * partitions move now instead of after the session timeout (decision 363): with static membership a member killed
 * with kill -9 keeps its partitions until its session expires (6 s by default), which is most of a takeover.
 *
 * <p>A member is taken for dead when a TCP connection to its advertised URL's port is <em>refused</em> at every probe
 * for {@code after}: the host answered that nothing listens there, which a live node never does (it binds its port
 * before it joins the group). A probe that times out or is cut (a host or network gone quiet, a process stopped with
 * SIGSTOP or in a long pause: its socket still accepts) proves nothing and starts the count again, so such a node is
 * left to its session timeout as before. A wrong removal moves partitions but loses and doubles nothing: the removed
 * node joins again at its next heartbeat, and the partitions' next owners fence its writers. Each node is removed at
 * most once per {@link #REMOVAL_PAUSE_MS} by this node; every node of the group probes, and a second removal of a
 * member that is gone already does nothing.
 *
 * <p>Runs on its own {@code dead-nodes} thread ({@link #probe} every {@link #PROBE_INTERVAL_MS}), one at a time.
 */
final class DeadNodes
{
    private static final Logger LOG = LoggerFactory.getLogger(DeadNodes.class);
    static final long PROBE_INTERVAL_MS = 250;
    private static final int CONNECT_TIMEOUT_MS = 200;
    private static final long REMOVAL_PAUSE_MS = 15_000;

    private final String nodeId;
    private final long afterMs;
    private final Supplier<PartitionOwnership.Owners> view;
    private final PartitionOwnership ownership;
    /** When each member (by its session's member id) was first refused in the current run of refusals. */
    private final Map<String, Long> refusedSince = new HashMap<>();
    /** When this node last removed each node id. */
    private final Map<String, Long> removedAt = new HashMap<>();

    /**
     * @param view the owners group's last stable view (who is a member, at which URL), or null before the first.
     */
    DeadNodes(final String nodeId, final Duration after, final Supplier<PartitionOwnership.Owners> view,
        final PartitionOwnership ownership)
    {
        this.nodeId = nodeId;
        this.afterMs = after.toMillis();
        this.view = view;
        this.ownership = ownership;
    }

    /** One round: probes every other member once, and removes those refused for long enough. */
    void probe()
    {
        final PartitionOwnership.Owners owners = view.get();
        if (owners == null)
        {
            return;
        }
        final long now = System.currentTimeMillis();
        final java.util.Set<String> seen = new java.util.HashSet<>();
        for (final PartitionOwnership.Member member : owners.members())
        {
            if (member.nodeId().isEmpty() || member.nodeId().equals(nodeId))
            {
                continue;
            }
            seen.add(member.memberId());
            if (!refused(member.url()))
            {
                refusedSince.remove(member.memberId());
                continue;
            }
            final long since = refusedSince.computeIfAbsent(member.memberId(), id -> now);
            final Long removed = removedAt.get(member.nodeId());
            if (now - since < afterMs || removed != null && now - removed < REMOVAL_PAUSE_MS)
            {
                continue;
            }
            removedAt.put(member.nodeId(), now);
            try
            {
                final boolean done = ownership.removeMember(member.nodeId(), Duration.ofSeconds(5));
                LOG.warn("node {} at {} refused every connection for {} ms: {} from the owners group, so that its "
                    + "partitions move now rather than after its session timeout", member.nodeId(), member.url(),
                    now - since, done ? "removed it" : "it had left or been removed already");
            }
            catch (final RuntimeException ex)
            {
                LOG.warn("node {} at {} refused every connection for {} ms, but could not be removed from the owners "
                    + "group ({}); its partitions move when its session times out", member.nodeId(), member.url(),
                    now - since, ex.getMessage());
            }
        }
        refusedSince.keySet().retainAll(seen);
    }

    /** @return true only when a connection to the URL's host and port was refused (nothing listens there). */
    static boolean refused(final String url)
    {
        final URI uri;
        try
        {
            uri = URI.create(url);
        }
        catch (final IllegalArgumentException notAUrl)
        {
            return false;
        }
        if (uri.getHost() == null)
        {
            return false;
        }
        final int port = uri.getPort() != -1 ? uri.getPort() : "https".equals(uri.getScheme()) ? 443 : 80;
        try (Socket socket = new Socket())
        {
            socket.connect(new InetSocketAddress(uri.getHost(), port), CONNECT_TIMEOUT_MS);
            return false;
        }
        catch (final ConnectException refusedOrUnreachable)
        {
            // "Connection refused" (RST: the host is there, nothing listens); not "Network is unreachable"
            final String message = refusedOrUnreachable.getMessage();
            return message != null && message.contains("refused");
        }
        catch (final IOException | IllegalArgumentException | SecurityException unknown)
        {
            // a timeout, an unknown host, a route missing: nothing proves the process is gone
            return false;
        }
    }
}
