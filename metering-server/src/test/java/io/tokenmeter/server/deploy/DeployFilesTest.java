package io.tokenmeter.server.deploy;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.tokenmeter.server.config.Settings;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The files in deploy/ are well-formed and agree with the server: manifests have what Kubernetes needs and probe the
 * health routes, configs load as settings, alert rules and the dashboard use only documented metrics, and promtool
 * accepts the rules and the scrape config.
 */
class DeployFilesTest
{
    static final Path DEPLOY = Path.of("..", "deploy");
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory()).enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    private static final Pattern METRIC = Pattern.compile("\\b(tokenmeter_[a-z0-9_]+|jvm_[a-z0-9_]+|process_[a-z0-9_]+|system_[a-z0-9_]+)");

    static List<JsonNode> yamlDocuments(final Path file) throws IOException
    {
        final List<JsonNode> documents = new ArrayList<>();
        try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(file.toFile()))
        {
            while (it.hasNext())
            {
                final JsonNode document = it.next();
                if (document != null && !document.isNull())
                {
                    documents.add(document);
                }
            }
        }
        return documents;
    }

    private static List<Path> files(final String glob) throws IOException
    {
        try (Stream<Path> walk = Files.walk(DEPLOY))
        {
            final var matcher = DEPLOY.getFileSystem().getPathMatcher("glob:" + glob);
            return walk.filter(p -> matcher.matches(p.getFileName())).sorted().toList();
        }
    }

    @Test
    void everyYamlAndJsonFileParses() throws IOException
    {
        final List<Path> yaml = files("*.{yaml,yml}");
        assertTrue(yaml.size() >= 9, "deploy/ has its YAML files: " + yaml);
        for (final Path file : yaml)
        {
            assertTrue(!yamlDocuments(file).isEmpty(), file + " holds a document");
        }
        for (final Path file : files("*.json"))
        {
            new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION).readTree(file.toFile());
        }
    }

    @Test
    void kubernetesManifestsAreCompleteAndProbeTheHealthRoutes() throws IOException
    {
        final JsonNode kustomization = yamlDocuments(DEPLOY.resolve("kubernetes/kustomization.yaml")).get(0);
        final Set<String> kinds = new TreeSet<>();
        for (final JsonNode resource : kustomization.get("resources"))
        {
            for (final JsonNode manifest : yamlDocuments(DEPLOY.resolve("kubernetes").resolve(resource.asText())))
            {
                assertTrue(manifest.hasNonNull("apiVersion") && manifest.path("metadata").hasNonNull("name"), resource + ": " + manifest);
                kinds.add(manifest.get("kind").asText());
            }
        }
        assertEquals(Set.of("StatefulSet", "Service", "PodDisruptionBudget"), kinds);
        for (final JsonNode generator : kustomization.get("configMapGenerator"))
        {
            for (final JsonNode file : generator.get("files"))
            {
                assertTrue(Files.isRegularFile(DEPLOY.resolve("kubernetes").resolve(file.asText())), "generated from " + file);
            }
        }
        final JsonNode spec = yamlDocuments(DEPLOY.resolve("kubernetes/statefulset.yaml")).get(0).get("spec");
        assertEquals(1, spec.get("replicas").asInt(), "one writer per data directory");
        assertTrue(spec.path("volumeClaimTemplates").size() == 1, "a persistent volume for the data directory");
        final JsonNode pod = spec.get("template").get("spec");
        assertTrue(pod.get("terminationGracePeriodSeconds").asInt() >= 60, "time for the SIGTERM snapshot");
        final JsonNode container = pod.get("containers").get(0);
        assertEquals("/health/ready", container.at("/readinessProbe/httpGet/path").asText());
        assertEquals("/health/live", container.at("/livenessProbe/httpGet/path").asText());
        assertTrue(container.at("/resources/requests").has("cpu") && container.at("/resources/requests").has("memory"));
        final Set<String> mounts = new TreeSet<>();
        container.get("volumeMounts").forEach(m -> mounts.add(m.get("mountPath").asText()));
        final Settings settings = Settings.resolve(Map.of(), Map.of(), DEPLOY.resolve("kubernetes/tokenmeter.yaml"));
        assertTrue(mounts.contains(settings.dataDir.toString()), "the data directory is the volume: " + mounts);
        assertTrue(mounts.contains(settings.keys.getParent().toString()), "the keys file is mounted: " + mounts);
        assertEquals(List.of("serve", "--config", "/etc/tokenmeter/config/tokenmeter.yaml"),
            YAML.convertValue(container.get("args"), List.class));
    }

    @Test
    void shippedConfigFilesLoadAsSettings()
    {
        for (final String config : List.of("kubernetes/tokenmeter.yaml", "systemd/tokenmeter.yaml"))
        {
            final Settings settings = Settings.resolve(Map.of(), Map.of(), DEPLOY.resolve(config));
            assertEquals("0.0.0.0", settings.bind, config);
            assertTrue(settings.keys != null, config + " names a keys file, which a non-loopback bind needs");
        }
    }

    @Test
    void alertsAndDashboardUseOnlyDocumentedMetrics() throws IOException
    {
        final String docs = Files.readString(Path.of("..", "docs", "metrics.md"));
        final Set<String> documented = new TreeSet<>();
        final Matcher names = Pattern.compile("`(tokenmeter_[a-z0-9_]+)`").matcher(docs);
        while (names.find())
        {
            documented.add(names.group(1));
        }
        final Set<String> used = new TreeSet<>();
        for (final Path file : List.of(DEPLOY.resolve("prometheus/alerts.yml"), DEPLOY.resolve("grafana/tokenmeter-dashboard.json")))
        {
            final Matcher metric = METRIC.matcher(Files.readString(file));
            while (metric.find())
            {
                used.add(metric.group(1));
            }
        }
        final List<String> unknown = new ArrayList<>();
        for (final String metric : used)
        {
            final String family = metric.replaceAll("_(bucket|count|sum)$", "");
            if (metric.startsWith("tokenmeter_") && !documented.contains(family))
            {
                unknown.add(metric);
            }
        }
        assertEquals(List.of(), unknown, "metrics used by alerts or the dashboard but not in docs/metrics.md");
        assertTrue(used.contains("tokenmeter_ingest_latency_seconds_bucket") && used.contains("tokenmeter_aggregation_lag_seconds"));
    }

    @Test
    void promtoolAcceptsTheRulesAndTheScrapeConfig() throws Exception
    {
        final boolean installed = Files.isExecutable(Path.of("/usr/bin/promtool"));
        if ("true".equals(System.getenv("CI")))
        {
            assertTrue(installed, "CI installs Prometheus (promtool) from Debian's packages: see .ci/run");
        }
        assumeTrue(installed, "promtool is not installed (apt-get install prometheus); CI runs this check");
        assertEquals("", promtool("check", "rules", DEPLOY.resolve("prometheus/alerts.yml").toString()));
        // the rules' own unit tests: the shortened dedup window fires after 5 minutes, not before
        assertEquals("", promtool("test", "rules", DEPLOY.resolve("prometheus/alerts.test.yml").toString()));
        // the scrape config names a key file that exists only where Prometheus runs: check a copy pointing at a temp one
        final Path dir = Files.createTempDirectory("promtool");
        Files.writeString(dir.resolve("tokenmeter.key"), "not-a-real-key\n");
        Files.copy(DEPLOY.resolve("prometheus/alerts.yml"), dir.resolve("alerts.yml"));
        Files.writeString(dir.resolve("prometheus.yml"), Files.readString(DEPLOY.resolve("prometheus/prometheus.yml"))
            .replace("/etc/prometheus/tokenmeter.key", dir.resolve("tokenmeter.key").toString()));
        assertEquals("", promtool("check", "config", dir.resolve("prometheus.yml").toString()));
    }

    /** @return "" when promtool exits 0, else its output. */
    private static String promtool(final String... args) throws Exception
    {
        final List<String> command = new ArrayList<>(List.of("/usr/bin/promtool"));
        command.addAll(List.of(args));
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String output = new String(process.getInputStream().readAllBytes());
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "promtool finished");
        return process.exitValue() == 0 ? "" : output;
    }
}
