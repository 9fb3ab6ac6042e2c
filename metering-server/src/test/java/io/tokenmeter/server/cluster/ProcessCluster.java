package io.tokenmeter.server.cluster;

import io.tokenmeter.kafka.KafkaBrokers;
import io.tokenmeter.server.http.Client;
import io.tokenmeter.server.http.ServerProcess;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A whole cluster of separate processes for the cluster suites: real Kafka brokers ({@link KafkaBrokers}, three for
 * replication three ways) and tokenmeter nodes {@code n1}, {@code n2}, ... each its own {@code Main serve} JVM in
 * cluster mode with the owners group, its own data directory and loopback port, sessions of 6 s. Any node or broker can
 * be killed with kill -9 and started again on the same data and port. Used by one test thread at a time.
 */
final class ProcessCluster implements AutoCloseable
{
    private final KafkaBrokers brokers;
    private final List<ServerProcess> nodes = new ArrayList<>();
    private final boolean[] running;

    private ProcessCluster(final KafkaBrokers brokers, final int nodeCount)
    {
        this.brokers = brokers;
        this.running = new boolean[nodeCount];
    }

    /**
     * Starts {@code brokerCount} brokers, then {@code nodeCount} nodes (each waited for until ready) over the topic
     * {@code prefix}, with {@code partitions} partitions; {@code more} are further {@code serve} flags of every node.
     */
    static ProcessCluster start(final Path dir, final int brokerCount, final int nodeCount, final int partitions,
        final String prefix, final List<String> more) throws IOException
    {
        final ProcessCluster cluster = new ProcessCluster(KafkaBrokers.start(dir.resolve("kafka"), brokerCount), nodeCount);
        try
        {
            for (int i = 0; i < nodeCount; i++)
            {
                final Path nodeDir = dir.resolve(id(i));
                java.nio.file.Files.createDirectories(nodeDir);
                final List<String> args = new ArrayList<>(List.of("--data-dir", nodeDir.resolve("data").toString(),
                    "--partitions", Integer.toString(partitions), "--cluster", "kafka", "--kafka-bootstrap",
                    cluster.brokers.bootstrap(), "--node-id", id(i), "--kafka-topic-prefix", prefix,
                    "--kafka-session-timeout", "6s"));
                if (brokerCount < 3)
                {
                    args.add("--kafka-unsafe-single-broker");
                }
                args.addAll(more);
                cluster.nodes.add(new ServerProcess(nodeDir, args));
            }
            for (int i = 0; i < nodeCount; i++)
            {
                cluster.startNode(i);
            }
            return cluster;
        }
        catch (final IOException | RuntimeException | Error ex)
        {
            cluster.close();
            throw ex;
        }
    }

    /** @return node {@code i}'s id, {@code n1} for 0. */
    static String id(final int i)
    {
        return "n" + (i + 1);
    }

    KafkaBrokers brokers()
    {
        return brokers;
    }

    int nodeCount()
    {
        return nodes.size();
    }

    ServerProcess node(final int i)
    {
        return nodes.get(i);
    }

    Client client(final int i)
    {
        return new Client(nodes.get(i).port());
    }

    boolean running(final int i)
    {
        return running[i];
    }

    /** kill -9 of node {@code i}, waited for until gone. */
    void killNode(final int i) throws InterruptedException
    {
        nodes.get(i).killNine();
        running[i] = false;
    }

    /** Starts node {@code i} on its data and port without waiting for it. */
    void launchNode(final int i) throws IOException
    {
        nodes.get(i).launch();
        running[i] = true;
    }

    /** Starts node {@code i} and waits (at most 60 s) until it answers {@code /health/ready}. */
    void startNode(final int i) throws IOException
    {
        launchNode(i);
        nodes.get(i).awaitReady();
    }

    /** @return the running nodes' clients under their ids, in node order. */
    Map<String, Client> runningClients()
    {
        final Map<String, Client> clients = new LinkedHashMap<>();
        for (int i = 0; i < nodes.size(); i++)
        {
            if (running[i])
            {
                clients.put(id(i), client(i));
            }
        }
        return clients;
    }

    /**
     * Waits (at most {@code timeout}) until the running nodes agree on the owners and each owns a partition.
     *
     * @return each partition's owner, by partition.
     */
    Map<Integer, String> awaitOwners(final int partitions, final Duration timeout)
    {
        return ClusterView.awaitOwners(runningClients(), new HashMap<>(), partitions, timeout);
    }

    @Override
    public void close()
    {
        for (final ServerProcess node : nodes)
        {
            try
            {
                node.close();
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        }
        brokers.close();
    }
}
