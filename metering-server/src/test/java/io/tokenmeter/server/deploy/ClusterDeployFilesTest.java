package io.tokenmeter.server.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.kafka.LogTopic;
import io.tokenmeter.server.Main;
import io.tokenmeter.server.config.Settings;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartitionInfo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The cluster manifests in deploy/kubernetes/cluster agree with the server, as files (no Kubernetes, no Kafka): every
 * manifest parses and the kustomization lists files that exist; the StatefulSet's args are flags {@code tokenmeter
 * serve} accepts and, with the ConfigMap's settings, resolve to cluster mode with the pod name as node id, the pod's
 * stable DNS name as the advertised URL and the Strimzi cluster's bootstrap Service; and the KafkaTopic is a topic
 * {@code LogTopic} accepts as it is (its own check run on the declared partitions, replicas and settings), with the
 * partition count the nodes are given.
 */
class ClusterDeployFilesTest
{
    private static final Path CLUSTER = DeployFilesTest.DEPLOY.resolve("kubernetes/cluster");
    private static final Pattern K8S_VARIABLE = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");

    /** Every manifest of the kustomization's resources by kind (one of each kind but Service). */
    private static final Map<String, List<JsonNode>> BY_KIND = new HashMap<>();
    private static JsonNode kustomization;

    @BeforeAll
    static void readManifests() throws IOException
    {
        kustomization = DeployFilesTest.yamlDocuments(CLUSTER.resolve("kustomization.yaml")).get(0);
        for (final JsonNode resource : kustomization.get("resources"))
        {
            final Path file = CLUSTER.resolve(resource.asText());
            assertTrue(Files.isRegularFile(file), "the kustomization lists " + resource + ", which exists");
            for (final JsonNode manifest : DeployFilesTest.yamlDocuments(file))
            {
                assertTrue(manifest.hasNonNull("apiVersion") && manifest.hasNonNull("kind")
                    && manifest.path("metadata").hasNonNull("name"), resource + ": " + manifest);
                BY_KIND.computeIfAbsent(manifest.get("kind").asText(), k -> new ArrayList<>()).add(manifest);
            }
        }
    }

    private static JsonNode one(final String kind)
    {
        final List<JsonNode> manifests = BY_KIND.get(kind);
        assertNotNull(manifests, "a " + kind + " in deploy/kubernetes/cluster");
        assertEquals(1, manifests.size(), "one " + kind);
        return manifests.get(0);
    }

    private static JsonNode service(final String name)
    {
        for (final JsonNode service : BY_KIND.getOrDefault("Service", List.of()))
        {
            if (name.equals(service.at("/metadata/name").asText()))
            {
                return service;
            }
        }
        throw new AssertionError("no Service " + name + " in deploy/kubernetes/cluster");
    }

    private static String name(final JsonNode manifest)
    {
        return manifest.at("/metadata/name").asText();
    }

    @Test
    void theKustomizationNamesEveryKindAndFilesThatExist() throws IOException
    {
        assertEquals(Set.of("StatefulSet", "Service", "PodDisruptionBudget", "Kafka", "KafkaNodePool", "KafkaTopic"),
            BY_KIND.keySet());
        for (final JsonNode generator : kustomization.get("configMapGenerator"))
        {
            for (final JsonNode file : generator.get("files"))
            {
                assertTrue(Files.isRegularFile(CLUSTER.resolve(file.asText())), "the ConfigMap is generated from " + file);
            }
        }
        // the keys file is the operator's, never committed: it must be ignored by git
        final List<String> ignored = Files.readAllLines(Path.of("..", ".gitignore"));
        for (final JsonNode generator : kustomization.get("secretGenerator"))
        {
            for (final JsonNode file : generator.get("files"))
            {
                assertTrue(ignored.contains("deploy/kubernetes/cluster/" + file.asText()), file + " is in .gitignore");
            }
        }
    }

    @Test
    void theStatefulSetRunsThreeClusterNodesNamedByTheirPods() throws Exception
    {
        final JsonNode statefulSet = one("StatefulSet");
        final JsonNode spec = statefulSet.get("spec");
        assertEquals(3, spec.get("replicas").asInt(), "three nodes");
        final JsonNode podLabels = spec.at("/template/metadata/labels");
        assertEquals(spec.at("/selector/matchLabels"), podLabels, "the selector is the pods' labels");
        final JsonNode pod = spec.at("/template/spec");
        assertTrue(pod.get("terminationGracePeriodSeconds").asInt() >= 60, "time for the SIGTERM snapshot");
        final JsonNode container = pod.get("containers").get(0);
        assertEquals("/health/live", container.at("/startupProbe/httpGet/path").asText());
        assertEquals("/health/live", container.at("/livenessProbe/httpGet/path").asText());
        assertEquals("/health/ready", container.at("/readinessProbe/httpGet/path").asText());
        assertTrue(container.at("/resources/requests").has("cpu") && container.at("/resources/requests").has("memory")
            && container.at("/resources/limits").has("memory"), "resources");

        // the args as the kubelet passes them: $(VAR) from the container's env, fieldRefs as they are for pod 1
        final Map<String, String> env = new LinkedHashMap<>();
        for (final JsonNode variable : container.get("env"))
        {
            final String field = variable.at("/valueFrom/fieldRef/fieldPath").asText();
            env.put(variable.get("name").asText(), switch (field)
            {
                case "metadata.name" -> name(statefulSet) + "-1";
                case "metadata.namespace" -> "billing";
                case "" -> variable.get("value").asText();
                default -> throw new AssertionError("an env fieldRef this test does not know: " + field);
            });
        }
        final List<String> args = new ArrayList<>();
        for (final JsonNode arg : container.get("args"))
        {
            final Matcher variable = K8S_VARIABLE.matcher(arg.asText());
            final StringBuilder expanded = new StringBuilder();
            while (variable.find())
            {
                final String value = env.get(variable.group(1));
                assertNotNull(value, "$(" + variable.group(1) + ") in the args is in the container's env");
                variable.appendReplacement(expanded, Matcher.quoteReplacement(value));
            }
            variable.appendTail(expanded);
            args.add(expanded.toString());
        }
        assertEquals("serve", args.get(0));

        // parsed by the server's own command line (an unknown flag fails here), then resolved as Main serve does
        final CommandLine.ParseResult parsed = new CommandLine(new Main()).parseArgs(args.toArray(String[]::new));
        final CommandLine.ParseResult serve = parsed.subcommand();
        assertEquals("serve", serve.commandSpec().name());
        final Map<String, String> flags = new LinkedHashMap<>();
        Path config = null;
        for (final CommandLine.Model.OptionSpec option : serve.matchedOptions())
        {
            final String flag = option.longestName().substring(2);
            if ("config".equals(flag))
            {
                config = option.getValue();
            }
            else
            {
                final Object value = option.getValue();
                flags.put(flag, String.valueOf(value));
            }
        }
        assertNotNull(config, "the settings come from --config");
        final Set<String> mounts = new TreeSet<>();
        container.get("volumeMounts").forEach(m -> mounts.add(m.get("mountPath").asText()));
        assertTrue(mounts.contains(config.getParent().toString()), "the config file is mounted: " + mounts);
        final String configMap = volume(pod, "config").at("/configMap/name").asText();
        assertEquals(kustomization.at("/configMapGenerator/0/name").asText(), configMap, "the mounted ConfigMap is the generated one");
        final Settings settings = Settings.resolve(flags, Map.of(), CLUSTER.resolve(config.getFileName().toString()));

        assertTrue(settings.clusterKafka, "cluster mode");
        assertFalse(settings.kafkaUnsafeSingleBroker, "no unsafe single broker in a real deployment");
        assertEquals(name(statefulSet) + "-1", settings.nodeId, "the node id is the pod name");
        final JsonNode headless = service(spec.get("serviceName").asText());
        assertEquals("None", headless.at("/spec/clusterIP").asText(), "serviceName is a headless Service");
        assertTrue(headless.at("/spec/publishNotReadyAddresses").asBoolean(), "a node is reachable by name while not ready");
        assertEquals(podLabels, headless.at("/spec/selector"));
        assertEquals("http://" + name(statefulSet) + "-1." + name(headless) + ".billing.svc:" + settings.port,
            settings.advertise, "the advertised URL is the pod's stable DNS name and port");
        assertEquals(settings.port, container.at("/ports/0/containerPort").asInt());

        final JsonNode kafka = one("Kafka");
        JsonNode plain = null;
        for (final JsonNode listener : kafka.at("/spec/kafka/listeners"))
        {
            if (!listener.get("tls").asBoolean() && "internal".equals(listener.get("type").asText()))
            {
                plain = listener;
            }
        }
        assertNotNull(plain, "a plain internal listener, the only kind tokenmeter connects to");
        assertEquals(name(kafka) + "-kafka-bootstrap:" + plain.get("port").asInt(), settings.kafkaBootstrap,
            "the bootstrap is Strimzi's bootstrap Service of the Kafka cluster");

        final JsonNode topic = one("KafkaTopic");
        assertEquals(settings.kafkaTopicPrefix + ".log", topic.at("/spec/topicName").asText(), "the log topic's name");
        assertEquals(topic.at("/spec/partitions").asInt(), settings.partitions,
            "the nodes make and check the topic with the partitions the KafkaTopic declares");

        assertTrue(mounts.contains(settings.dataDir.toString()), "the data directory is mounted: " + mounts);
        assertEquals("data", spec.at("/volumeClaimTemplates/0/metadata/name").asText());
        assertTrue(mountPaths(container, "data").contains(settings.dataDir.toString()), "on the claimed volume");
        assertTrue(mounts.contains(settings.keys.getParent().toString()), "the keys file is mounted: " + mounts);
        assertEquals(kustomization.at("/secretGenerator/0/name").asText(), volume(pod, "keys").at("/secret/secretName").asText());
    }

    private static JsonNode volume(final JsonNode pod, final String name)
    {
        for (final JsonNode volume : pod.get("volumes"))
        {
            if (name.equals(volume.get("name").asText()))
            {
                return volume;
            }
        }
        throw new AssertionError("no volume " + name);
    }

    private static Set<String> mountPaths(final JsonNode container, final String volume)
    {
        final Set<String> paths = new TreeSet<>();
        for (final JsonNode mount : container.get("volumeMounts"))
        {
            if (volume.equals(mount.get("name").asText()))
            {
                paths.add(mount.get("mountPath").asText());
            }
        }
        return paths;
    }

    @Test
    void theServicesAndTheBudgetSelectThePods()
    {
        final JsonNode podLabels = one("StatefulSet").at("/spec/template/metadata/labels");
        for (final JsonNode service : BY_KIND.get("Service"))
        {
            assertEquals(podLabels, service.at("/spec/selector"), name(service));
            assertEquals("http", service.at("/spec/ports/0/targetPort").asText(), name(service));
        }
        assertEquals(2, BY_KIND.get("Service").size(), "the client Service and the headless one");
        final JsonNode budget = one("PodDisruptionBudget");
        assertEquals(podLabels, budget.at("/spec/selector/matchLabels"));
        assertEquals(1, budget.at("/spec/maxUnavailable").asInt(), "one node away at a time");
    }

    @Test
    void theKafkaClusterReplicatesThreeWaysAndNeedsTwoInSync()
    {
        final JsonNode kafka = one("Kafka");
        final JsonNode pool = one("KafkaNodePool");
        assertEquals(name(kafka), pool.at("/metadata/labels/strimzi.io~1cluster").asText(), "the pool is the cluster's");
        assertEquals(3, pool.at("/spec/replicas").asInt(), "three brokers");
        final Set<String> roles = new TreeSet<>();
        pool.at("/spec/roles").forEach(r -> roles.add(r.asText()));
        assertEquals(Set.of("broker", "controller"), roles, "KRaft: each node a broker and a controller (a three-voter quorum)");
        assertEquals("persistent-claim", pool.at("/spec/storage/volumes/0/type").asText());
        assertTrue(kafka.at("/spec/entityOperator").has("topicOperator"), "the topic operator makes the KafkaTopic");

        final JsonNode config = kafka.at("/spec/kafka/config");
        final Map<String, String> expected = new LinkedHashMap<>();
        expected.put("default.replication.factor", "3");
        expected.put("min.insync.replicas", "2");
        expected.put("unclean.leader.election.enable", "false");
        expected.put("auto.create.topics.enable", "false");
        expected.put("offsets.topic.replication.factor", "3");
        // the transaction coordinator survives a broker as the log does (docs/cluster.md, "Broker settings")
        expected.put("transaction.state.log.replication.factor", "3");
        expected.put("transaction.state.log.min.isr", "2");
        for (final Map.Entry<String, String> setting : expected.entrySet())
        {
            assertEquals(setting.getValue(), config.path(setting.getKey()).asText(), setting.getKey());
        }
    }

    @Test
    void theLogTopicIsOneLogTopicAccepts() throws Exception
    {
        final JsonNode topic = one("KafkaTopic");
        assertEquals(name(one("Kafka")), topic.at("/metadata/labels/strimzi.io~1cluster").asText(), "the topic is the cluster's");
        final int partitions = topic.at("/spec/partitions").asInt();
        final int replicas = topic.at("/spec/replicas").asInt();
        assertTrue(partitions >= 1, "partitions");
        assertEquals(LogTopic.REPLICATION_FACTOR, replicas);
        final Map<String, String> declared = new LinkedHashMap<>();
        topic.at("/spec/config").fields().forEachRemaining(e -> declared.put(e.getKey(), e.getValue().asText()));

        // every setting LogTopic creates the topic with is declared with the same value
        final Method topicConfig = LogTopic.class.getDeclaredMethod("topicConfig", int.class);
        topicConfig.setAccessible(true);
        @SuppressWarnings("unchecked")
        final Map<String, String> created = (Map<String, String>)topicConfig.invoke(null, LogTopic.MIN_INSYNC_REPLICAS);
        assertEquals(String.valueOf(16 * 1024 * 1024 + 64 * 1024), created.get("max.message.bytes"), "16 MiB + 64 KiB");
        for (final Map.Entry<String, String> setting : created.entrySet())
        {
            assertEquals(setting.getValue(), declared.get(setting.getKey()), "the KafkaTopic's " + setting.getKey());
        }

        // and LogTopic's own check of an existing topic accepts it as declared, with no warning
        final List<Node> nodes = List.of(new Node(0, "kafka-0", 9092), new Node(1, "kafka-1", 9092), new Node(2, "kafka-2", 9092));
        final List<TopicPartitionInfo> infos = new ArrayList<>();
        for (int p = 0; p < partitions; p++)
        {
            infos.add(new TopicPartitionInfo(p, nodes.get(p % 3), nodes.subList(0, replicas), nodes.subList(0, replicas)));
        }
        final TopicDescription description = new TopicDescription(topic.at("/spec/topicName").asText(), false, infos);
        final List<ConfigEntry> entries = new ArrayList<>();
        declared.forEach((name, value) -> entries.add(new ConfigEntry(name, value)));
        assertEquals(List.of(), check(description, new Config(entries), partitions));

        // the check is the real one: a declared retention would be refused
        final List<ConfigEntry> retained = new ArrayList<>(entries);
        retained.removeIf(e -> "retention.ms".equals(e.name()));
        retained.add(new ConfigEntry("retention.ms", "604800000"));
        final IllegalStateException refused = assertThrows(IllegalStateException.class,
            () -> check(description, new Config(retained), partitions));
        assertTrue(refused.getMessage().contains("retention.ms is 604800000"), refused.getMessage());
    }

    @SuppressWarnings("unchecked")
    private static List<String> check(final TopicDescription description, final Config config, final int partitions)
        throws Exception
    {
        final Method check = LogTopic.class.getDeclaredMethod("check", TopicDescription.class, Config.class, int.class,
            boolean.class);
        check.setAccessible(true);
        try
        {
            return (List<String>)check.invoke(null, description, config, partitions, false);
        }
        catch (final InvocationTargetException ex)
        {
            if (ex.getCause() instanceof RuntimeException runtime)
            {
                throw runtime;
            }
            throw ex;
        }
    }
}
