package io.tokenmeter.kafka;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.Uuid;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * Real Kafka brokers for tests and scripts: {@code count} KRaft nodes in combined broker and controller roles, each its
 * own JVM ({@code kafka.Kafka}, from the {@code org.apache.kafka:kafka_2.13} jars on this test's class path) with a
 * small heap, listening on loopback ports chosen once. A node can be killed with SIGKILL and restarted on the same
 * directory and ports. Storage is formatted once per node directory ({@code kafka.tools.StorageTool format}, a child
 * JVM too). Every wait is bounded; the brokers are killed when the test JVM exits. Used by one test thread at a time.
 */
public final class KafkaBrokers implements AutoCloseable
{
    /** How long a node may take to start and be seen by the cluster. */
    private static final Duration START_TIMEOUT = Duration.ofSeconds(90);

    private final Path dir;
    private final String clusterId;
    private final int[] brokerPorts;
    private final int[] controllerPorts;
    private final Process[] processes;
    /** Kills the brokers if the test JVM exits without {@link #close} (a failed or interrupted run). */
    private final Thread killOnExit;

    private KafkaBrokers(final Path dir, final int count)
    {
        this.dir = dir;
        this.clusterId = Uuid.randomUuid().toString();
        final int[] ports = freePorts(2 * count);
        this.brokerPorts = new int[count];
        this.controllerPorts = new int[count];
        for (int i = 0; i < count; i++)
        {
            brokerPorts[i] = ports[2 * i];
            controllerPorts[i] = ports[2 * i + 1];
        }
        this.processes = new Process[count];
        this.killOnExit = new Thread(this::destroyAll, "kafka-brokers-exit");
        Runtime.getRuntime().addShutdownHook(killOnExit);
    }

    /**
     * Formats and starts {@code count} nodes (1, or 3 for a quorum that replicates three ways) under {@code dir}, and
     * returns once every one of them is a broker of the cluster.
     */
    public static KafkaBrokers start(final Path dir, final int count)
    {
        if (count < 1 || count > 5)
        {
            throw new IllegalArgumentException("brokers: give 1 to 5, not " + count);
        }
        final KafkaBrokers brokers = new KafkaBrokers(dir, count);
        try
        {
            final Process[] formats = new Process[count];
            for (int node = 0; node < count; node++)
            {
                formats[node] = brokers.startFormat(node);
            }
            for (int node = 0; node < count; node++)
            {
                brokers.awaitFormat(node, formats[node]);
            }
            for (int node = 0; node < count; node++)
            {
                brokers.launch(node);
            }
            brokers.awaitBrokers(allNodes(count));
        }
        catch (final RuntimeException | Error ex)
        {
            brokers.close();
            throw ex;
        }
        return brokers;
    }

    /** @return the bootstrap servers, {@code 127.0.0.1:PORT,...}. */
    public String bootstrap()
    {
        final List<String> servers = new ArrayList<>();
        for (final int port : brokerPorts)
        {
            servers.add("127.0.0.1:" + port);
        }
        return String.join(",", servers);
    }

    /** @return the number of nodes. */
    public int count()
    {
        return processes.length;
    }

    /** @return the node's process id, or -1 when it is not running. */
    public long pid(final int node)
    {
        final Process process = processes[node];
        return process != null && process.isAlive() ? process.pid() : -1;
    }

    /** @return the node's broker port. */
    public int port(final int node)
    {
        return brokerPorts[node];
    }

    /** Kills the node with SIGKILL (no shutdown of any kind) and waits until it has exited. */
    public void kill(final int node)
    {
        final Process process = processes[node];
        if (process == null)
        {
            return;
        }
        process.destroyForcibly();
        try
        {
            if (!process.waitFor(30, TimeUnit.SECONDS))
            {
                throw new IllegalStateException("Kafka node " + node + " (pid " + process.pid() + ") did not exit after SIGKILL");
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted waiting for Kafka node " + node + " to exit", ex);
        }
        processes[node] = null;
    }

    /** Starts a node that is not running on its directory and ports, and waits until the cluster sees it again. */
    public void restart(final int node)
    {
        if (pid(node) != -1)
        {
            throw new IllegalStateException("Kafka node " + node + " is running (pid " + pid(node) + "): kill it first");
        }
        launch(node);
        awaitBrokers(Set.of(node + 1));
    }

    @Override
    public void close()
    {
        for (int node = 0; node < processes.length; node++)
        {
            kill(node);
        }
        try
        {
            Runtime.getRuntime().removeShutdownHook(killOnExit);
        }
        catch (final IllegalStateException ex)
        {
            // the JVM is exiting already, and the hook is doing the same
        }
    }

    private void destroyAll()
    {
        for (final Process process : processes)
        {
            if (process != null)
            {
                process.destroyForcibly();
            }
        }
    }

    private Path nodeDir(final int node)
    {
        return dir.resolve("kafka-" + (node + 1));
    }

    private Path writeProperties(final int node)
    {
        final int count = processes.length;
        final int replicas = Math.min(3, count);
        final int minIsr = replicas >= 3 ? 2 : 1;
        final String voters = IntStream.range(0, count)
            .mapToObj(i -> (i + 1) + "@127.0.0.1:" + controllerPorts[i])
            .collect(Collectors.joining(","));
        final Path nodeDir = nodeDir(node);
        final String properties = String.join("\n",
            "process.roles=broker,controller",
            "node.id=" + (node + 1),
            "controller.quorum.voters=" + voters,
            "listeners=PLAINTEXT://127.0.0.1:" + brokerPorts[node] + ",CONTROLLER://127.0.0.1:" + controllerPorts[node],
            "advertised.listeners=PLAINTEXT://127.0.0.1:" + brokerPorts[node],
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs=" + nodeDir.resolve("data"),
            "auto.create.topics.enable=false",
            "num.partitions=1",
            "offsets.topic.replication.factor=" + replicas,
            "offsets.topic.num.partitions=1",
            "transaction.state.log.replication.factor=" + replicas,
            "transaction.state.log.min.isr=" + minIsr,
            "transaction.state.log.num.partitions=1",
            "share.coordinator.state.topic.replication.factor=" + replicas,
            "share.coordinator.state.topic.min.isr=" + minIsr,
            "group.initial.rebalance.delay.ms=0",
            // a killed node is noticed in seconds, not the 9 s and 30 s of the defaults
            "broker.heartbeat.interval.ms=500",
            "broker.session.timeout.ms=3000",
            "replica.lag.time.max.ms=4000",
            "num.network.threads=1",
            "num.io.threads=2",
            "background.threads=2",
            "num.recovery.threads.per.data.dir=1",
            "log.cleaner.threads=1",
            "log.cleaner.dedupe.buffer.size=4194304",
            "")
            + "\n";
        try
        {
            Files.createDirectories(nodeDir);
            final Path file = nodeDir.resolve("server.properties");
            Files.writeString(file, properties, StandardCharsets.UTF_8);
            return file;
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("could not write the properties of Kafka node " + node + " in " + nodeDir, ex);
        }
    }

    /** Starts {@code kafka.tools.StorageTool format} for the node's directory, in a child JVM. */
    private Process startFormat(final int node)
    {
        final Path properties = writeProperties(node);
        final List<String> command = java("kafka.tools.StorageTool");
        command.addAll(List.of("format", "-t", clusterId, "-c", properties.toString()));
        try
        {
            return new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(nodeDir(node).resolve("format.log").toFile()).start();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("could not run the Kafka storage tool for node " + node, ex);
        }
    }

    private void awaitFormat(final int node, final Process process)
    {
        final Path log = nodeDir(node).resolve("format.log");
        try
        {
            if (!process.waitFor(90, TimeUnit.SECONDS))
            {
                process.destroyForcibly();
                throw new IllegalStateException("formatting Kafka node " + node + " took over 90 s; see " + log);
            }
            if (process.exitValue() != 0)
            {
                throw new IllegalStateException("formatting Kafka node " + node + " failed (exit " + process.exitValue() + "): "
                    + Files.readString(log));
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("could not read " + log, ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted formatting Kafka node " + node, ex);
        }
    }

    private void launch(final int node)
    {
        final Path nodeDir = nodeDir(node);
        final List<String> command = java("kafka.Kafka");
        command.add(nodeDir.resolve("server.properties").toString());
        try
        {
            processes[node] = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(nodeDir.resolve("broker.log").toFile())).start();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("could not start Kafka node " + node, ex);
        }
    }

    private static List<String> java(final String mainClass)
    {
        final List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(List.of("-Xmx256m", "-Xms64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k",
            "-Djava.awt.headless=true", "-cp", System.getProperty("java.class.path"), mainClass));
        return command;
    }

    private static Set<Integer> allNodes(final int count)
    {
        return IntStream.rangeClosed(1, count).boxed().collect(Collectors.toSet());
    }

    /** Waits until every node id in {@code nodeIds} is a broker the cluster describes, or a node has died. */
    private void awaitBrokers(final Set<Integer> nodeIds)
    {
        final long deadlineNs = System.nanoTime() + START_TIMEOUT.toNanos();
        String last = "no answer yet";
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap(),
            AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 2_000, AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 3_000,
            AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 500)))
        {
            for (int attempt = 0; attempt < 1_000 && System.nanoTime() < deadlineNs; attempt++)
            {
                for (final int id : nodeIds)
                {
                    final Process process = processes[id - 1];
                    if (process == null || !process.isAlive())
                    {
                        throw new IllegalStateException("Kafka node " + (id - 1) + " exited while starting; see "
                            + nodeDir(id - 1).resolve("broker.log"));
                    }
                }
                try
                {
                    final Collection<Node> nodes = admin.describeCluster(new DescribeClusterOptions().timeoutMs(2_000))
                        .nodes().get(3, TimeUnit.SECONDS);
                    final Set<Integer> seen = nodes.stream().map(Node::id).collect(Collectors.toSet());
                    if (seen.containsAll(nodeIds))
                    {
                        return;
                    }
                    last = "brokers seen: " + seen;
                }
                catch (final ExecutionException | TimeoutException ex)
                {
                    last = ex.toString();
                }
                Thread.sleep(200);
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted waiting for Kafka", ex);
        }
        throw new IllegalStateException("Kafka nodes " + nodeIds + " were not all brokers of the cluster within "
            + START_TIMEOUT.toSeconds() + " s (" + last + "); see " + dir + "/kafka-*/broker.log");
    }

    private static int[] freePorts(final int count)
    {
        final ServerSocket[] sockets = new ServerSocket[count];
        final int[] ports = new int[count];
        try
        {
            for (int i = 0; i < count; i++)
            {
                sockets[i] = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                ports[i] = sockets[i].getLocalPort();
            }
            return ports;
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("could not find free loopback ports", ex);
        }
        finally
        {
            for (final ServerSocket socket : sockets)
            {
                if (socket != null)
                {
                    try
                    {
                        socket.close();
                    }
                    catch (final IOException ignored)
                    {
                        // the port was found; closing it is all that is left
                    }
                }
            }
        }
    }
}
