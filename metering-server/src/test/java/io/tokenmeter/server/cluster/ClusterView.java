package io.tokenmeter.server.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.server.http.Client;

import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the cluster tests read of {@code GET /v1/cluster} on every node: who owns which partition, once they agree. */
final class ClusterView
{
    private ClusterView()
    {
    }

    /**
     * Waits (at most {@code timeout}) until every node's {@code GET /v1/cluster} names the same owner for every one of
     * {@code partitions} partitions, each node says it owns exactly the partitions named as its own (state owned, with a
     * log position and its own URL), and each of {@code nodes} owns one. A node that does not answer (it is starting)
     * is not agreement yet.
     *
     * @param nodes each node's client under its node id.
     * @param urls  filled with each node's URL under its id.
     * @return each partition's owner, by partition.
     */
    static Map<Integer, String> awaitOwners(final Map<String, Client> nodes, final Map<String, String> urls,
        final int partitions, final Duration timeout)
    {
        final long until = System.nanoTime() + timeout.toNanos();
        String last = "";
        while (System.nanoTime() < until)
        {
            final Map<Integer, String> agreed = new TreeMap<>();
            boolean agree = true;
            final StringBuilder seen = new StringBuilder();
            for (final Map.Entry<String, Client> node : nodes.entrySet())
            {
                final Client.Answer answer;
                try
                {
                    answer = node.getValue().get("/v1/cluster");
                }
                catch (final IllegalStateException notListening)
                {
                    agree = false;
                    seen.append('\n').append(node.getKey()).append(": ").append(notListening.getMessage());
                    continue;
                }
                assertEquals(200, answer.status(), answer.body());
                final JsonNode cluster = answer.json();
                seen.append('\n').append(cluster);
                assertEquals(node.getKey(), cluster.get("node").get("id").asText(), cluster.toString());
                urls.put(node.getKey(), cluster.get("node").get("url").asText());
                for (final JsonNode partition : cluster.get("partitions"))
                {
                    final int p = partition.get("partition").asInt();
                    final String owner = partition.get("owner").isNull() ? null : partition.get("owner").asText();
                    final boolean ownsHere = "owned".equals(partition.get("state").asText());
                    if (owner == null || !nodes.containsKey(owner) || ownsHere != owner.equals(node.getKey())
                        || (agreed.containsKey(p) && !agreed.get(p).equals(owner)))
                    {
                        agree = false;
                    }
                    if (owner != null)
                    {
                        agreed.put(p, owner);
                    }
                    if (ownsHere)
                    {
                        assertTrue(partition.get("log_position").isNumber(), "an owned partition's log position: " + cluster);
                        assertEquals(cluster.get("node").get("url").asText(), partition.get("owner_url").asText());
                    }
                }
            }
            last = seen.toString();
            if (agree && agreed.size() == partitions && agreed.values().containsAll(nodes.keySet()))
            {
                return agreed;
            }
            LockSupport.parkNanos(Duration.ofMillis(200).toNanos());
        }
        throw new AssertionError("the nodes " + nodes.keySet() + " did not split the partitions within "
            + timeout.toSeconds() + " s: " + last);
    }
}
