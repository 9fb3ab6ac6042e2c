package io.tokenmeter.server.config;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.tokenmeter.core.aggregate.BucketKey;
import io.tokenmeter.core.log.Durability;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * Every setting of the server, resolved once at start from, in order of precedence: command-line flags, environment
 * variables ({@code TOKENMETER_} + the name in upper case with {@code _} for {@code -}), the YAML config file
 * (keys are the flag names), and the defaults below. Each value is checked; a bad one stops the start with a
 * message that names it.
 */
public final class Settings
{
    /** One setting: its name (flag, config key), default and meaning. */
    public record Definition(String name, String defaultValue, String description)
    {
        public String envName()
        {
            return "TOKENMETER_" + name.toUpperCase(Locale.ROOT).replace('-', '_');
        }
    }

    /** The value of an optional file setting that means "no file". */
    public static final String NONE = "none";

    /** The {@code prices} value meaning "no file": the book in force in the log, else the shipped one. */
    public static final String SHIPPED_PRICES = "shipped";

    /** The {@code partitions} value meaning "the directory's number, or {@link #NEW_DIRECTORY_PARTITIONS} for a new one". */
    public static final String AUTO = "auto";
    /** The value of {@code log-retention} that keeps every archive. */
    public static final String FOREVER = "forever";

    /**
     * Partitions of a new data directory when {@code partitions} is {@link #AUTO}: chosen by measurement on the 2-core
     * machine class (BENCHMARKS.md, "Partitions").
     */
    public static final int NEW_DIRECTORY_PARTITIONS = 2;

    /** Shortest {@code alert-webhook-secret} accepted, in characters. */
    public static final int MIN_ALERT_SECRET_LENGTH = 16;

    /** The settings whose values {@link #describe} never prints. */
    private static final List<String> SECRETS = List.of("alert-webhook-secret");

    public static final List<Definition> DEFINITIONS = List.of(
        new Definition("port", "8080", "TCP port of the HTTP API (0 picks a free port)"),
        new Definition("bind", "127.0.0.1", "address to listen on"),
        new Definition("data-dir", "./data", "directory of the log and snapshots"),
        new Definition("partitions", AUTO, "partitions of a new data directory, 1 to 1000 (each its own journal, log and "
            + "aggregator); auto: the directory's own number, " + NEW_DIRECTORY_PARTITIONS + " for a new one. Fixed at "
            + "creation: another number for an existing directory is refused (tokenmeter repartition copies the data)"),
        new Definition("durability", "process", "process: acked events survive kill -9; sync: also power loss (msync before ack)"),
        new Definition("dedup-window", "24h", "how long an event id is remembered for retries"),
        new Definition("dedup-capacity", "4000000", "most event ids remembered in memory (about 50 bytes each at the default; "
            + "older ids of the window go to the disk tier; see docs/dedup.md)"),
        new Definition("dedup-disk-budget", "32GiB", "most disk the ids of the dedup window beyond dedup-capacity may take, "
            + "over all partitions (about 17.6 bytes an id: 32GiB holds 1.95 billion, a 24h window at 22,600 events/s); "
            + "0 keeps no disk tier. Beyond it the oldest ids are forgotten early, and said so"),
        new Definition("max-future-skew", "5m", "how far in the future an event timestamp may be"),
        new Definition("archive-interval", "0s", "how often the server archives its sealed log files whose events are all in "
            + "final invoices, as tokenmeter archive does (0s: never; run tokenmeter archive offline instead)"),
        new Definition("log-retention", FOREVER, "how long after a period ends the archives of its events are kept: "
            + "archived files whose every event is in final invoices of periods that ended longer ago are deleted when "
            + "archiving runs, keeping a digest of each (its totals, price books, grants and chain hashes), so their "
            + "invoices still audit; forever: nothing is deleted"),
        new Definition("snapshot-interval", "10s", "how often counters are snapshotted and the journal checkpointed (bounds the log replayed after a crash)"),
        new Definition("journal-queue", "4096", "ingest requests waiting for the journal before 503"),
        new Definition("max-body-bytes", "8388608", "largest ingest body (413 beyond)"),
        new Definition("max-events-per-request", "10000", "most events in one ingest request (413 beyond)"),
        new Definition("max-models-per-tenant", "1000", "most distinct model names one tenant may use, 1 to "
            + BucketKey.MAX_MODELS + "; a request with a new model beyond it is refused (400 too_many_models), so that "
            + "one tenant cannot fill the model names its partition shares with other tenants"),
        new Definition("io-threads", "0", "HTTP event loop threads (0 = number of cores)"),
        new Definition("idle-timeout", "60s", "close connections idle this long"),
        new Definition("query-timeout", "10s", "longest a consistent=true usage query or an invoice waits for the counters"),
        new Definition("prices", SHIPPED_PRICES, "price book file (JSON or YAML); 'shipped' keeps the book in force in the log, "
            + "or the shipped book on a new data directory"),
        new Definition("stream-timeout", "10m", "a stream with no final checkpoint this long after its first is closed, "
            + "billed at its last checkpoint; its later checkpoints are conflicts"),
        new Definition("invoice-grace", "1h", "how long after a period ends late events are awaited before it can be finalized"),
        new Definition("keys", NONE, "API keys file (YAML, docs/access.md); 'none' runs open, on loopback only"),
        new Definition("keys-poll", "2s", "how often the keys file is checked for changes (0s: only on SIGHUP)"),
        new Definition("metrics-access", "key", "key: /metrics needs a read key for every tenant or an admin key "
            + "(when keys are configured); open: /metrics needs no key"),
        new Definition("tls-cert", NONE, "PEM certificate chain; with tls-key the port speaks HTTPS only (TLS 1.2+)"),
        new Definition("tls-key", NONE, "PEM private key (PKCS#8, unencrypted) of tls-cert"),
        new Definition("max-header-bytes", "16384", "largest request line plus headers (431 beyond)"),
        new Definition("max-connections", "10000", "most open connections; more are answered 503 and closed"),
        new Definition("max-connections-per-address", AUTO, "most open connections from one client address (503 and "
            + "closed beyond), so one address cannot take every slot; auto: half of max-connections. Behind a load "
            + "balancer every connection comes from its address: set it to max-connections there"),
        new Definition("header-timeout", "10s", "longest from a request's first byte to the end of its headers; also the "
            + "grace before min-body-rate applies (408 and closed beyond)"),
        new Definition("min-body-rate", "16KiB", "slowest average rate a request body may arrive at, per second, once "
            + "header-timeout has passed since its head (408 and closed below)"),
        new Definition("max-pipelined", "16", "most requests one connection may send ahead of its answers; beyond, and while "
            + "its answers are not read, the connection is not read"),
        new Definition("min-free-disk", "256MiB", "below this much free space in data-dir, ingest answers 503 and /health/ready "
            + "says disk full (a memory-mapped log must never write to a full disk)"),
        new Definition("otlp-tenant-attribute", "tenant.id", "the OpenTelemetry attribute that names a span's tenant on "
            + "POST /v1/traces: the span's, else its resource's"),
        new Definition("log-format", "text", "text: one line per event; json: one JSON object per line (Logback JsonEncoder)"),
        new Definition("alert-webhook-secret", NONE, "HMAC-SHA256 key of the Tokenmeter-Signature header of budget alert "
            + "webhooks, at least " + MIN_ALERT_SECRET_LENGTH + " characters (e.g. openssl rand -hex 32); give it in the "
            + "environment or the config file, not as a flag others can see; none: webhooks are posted unsigned"),
        new Definition("alert-retry-max-interval", "60s", "longest wait between attempts of a budget alert webhook "
            + "(the first retry is after 1s, each next wait doubles; retries end 24h after the crossing)"),
        new Definition("cluster", NONE, "none: a single node, each partition's log a Chronicle queue in data-dir; kafka: "
            + "cluster mode, each partition's log a partition of the Kafka topic KAFKA-TOPIC-PREFIX.log (docs/cluster.md); "
            + "needs kafka-bootstrap and node-id"),
        new Definition("kafka-bootstrap", NONE, "cluster kafka: the Kafka brokers to connect to first, HOST:PORT[,HOST:PORT...]"),
        new Definition("node-id", NONE, "cluster kafka: this node's name in the cluster, 1 to 64 letters, digits, '_', '-' "
            + "or '.', unique among the nodes"),
        new Definition("advertise", NONE, "cluster kafka: the URL other nodes reach this node's API at (http[s]://HOST:PORT); "
            + "its URL in the owners group, named in 503 partition_unavailable and GET /v1/cluster; default http://BIND:PORT"),
        new Definition("kafka-topic-prefix", "tokenmeter", "cluster kafka: the log topic is PREFIX.log and partition N's "
            + "transactional.id PREFIX-pN; 1 to 100 letters, digits, '_' or '-'"),
        new Definition("kafka-unsafe-single-broker", "false", "cluster kafka, trials only: accept a log topic with fewer "
            + "than 3 replicas (made with the replicas the Kafka cluster has); warned at start and on /health/ready, "
            + "since a broker's lost disk loses acknowledged events"),
        new Definition("kafka-ownership", "group", "cluster kafka: group: the node owns the partitions the owners consumer "
            + "group KAFKA-TOPIC-PREFIX.owners assigns it and refuses the others (503 partition_unavailable); static: "
            + "the node writes every partition, with no group (one node per topic: a second one fences it)"),
        new Definition("kafka-session-timeout", "6s", "cluster kafka, ownership group: how long the group waits for a "
            + "silent node before giving its partitions to the others (most of a takeover's time); the broker allows "
            + "6s to 30m by default"),
        new Definition("kafka-heartbeat-interval", "1s", "cluster kafka, ownership group: how often the node tells the "
            + "group it lives; at most a third of kafka-session-timeout"),
        new Definition("kafka-max-poll-interval", "30s", "cluster kafka, ownership group: the longest a handover (drain, "
            + "final snapshot) may take before the node is put out of the group; at least kafka-session-timeout"),
        new Definition("kafka-dead-node-after", "1s", "cluster kafka, ownership group: another node whose URL refuses "
            + "every TCP connection for this long (its process is gone) is removed from the owners group, so that its "
            + "partitions move now rather than after kafka-session-timeout; a node that does not answer at all is left "
            + "to its session timeout; 0s turns the removal off"));

    /** The settings of cluster mode: given without {@code cluster kafka}, they are refused (they would do nothing). */
    private static final List<String> CLUSTER_SETTINGS = List.of("kafka-bootstrap", "node-id", "advertise",
        "kafka-topic-prefix", "kafka-unsafe-single-broker", "kafka-ownership", "kafka-session-timeout",
        "kafka-heartbeat-interval", "kafka-max-poll-interval", "kafka-dead-node-after");

    public final int port;
    public final String bind;
    public final Path dataDir;
    /** Partitions asked for, or 0 for {@link #AUTO}. */
    public final int partitions;
    public final Durability durability;
    public final Duration dedupWindow;
    public final int dedupCapacity;
    public final long dedupDiskBudgetBytes;
    public final Duration maxFutureSkew;
    public final Duration snapshotInterval;
    public final int journalQueue;
    public final int maxBodyBytes;
    public final int maxEventsPerRequest;
    public final int maxModelsPerTenant;
    public final int ioThreads;
    public final Duration idleTimeout;
    public final Duration queryTimeout;
    /** A stream with no final checkpoint this long after its first is closed, billed at its last checkpoint. */
    public final Duration streamTimeout;
    /** The price book file, or null for {@link #SHIPPED_PRICES}. */
    public final Path prices;
    public final Duration invoiceGrace;
    public final Duration archiveInterval;
    /** How long after a period ends its archives are kept ({@code log-retention}), or null to keep them forever. */
    public final Duration logRetention;
    /** The keys file, or null to run open (loopback only). */
    public final Path keys;
    public final Duration keysPoll;
    /** True when /metrics needs no key even with keys configured. */
    public final boolean metricsOpen;
    /** The TLS certificate chain and key, both null for plain HTTP. */
    public final Path tlsCert;
    public final Path tlsKey;
    public final int maxHeaderBytes;
    public final int maxConnections;
    public final int maxConnectionsPerAddress;
    public final Duration headerTimeout;
    public final long minBodyBytesPerSecond;
    public final int maxPipelined;
    public final long minFreeDiskBytes;
    /** The span (or resource) attribute that names the tenant of an OTLP span. */
    public final String otlpTenantAttribute;
    /** True for JSON log lines. */
    public final boolean jsonLogs;
    /** The HMAC key of budget alert webhooks, or null for {@link #NONE}: posted unsigned. Never logged. */
    public final String alertWebhookSecret;
    /** The longest wait between attempts of a budget alert webhook ({@code AlertSender.Settings#maxRetryInterval}). */
    public final Duration alertRetryMaxInterval;
    /** True for {@code cluster kafka}: the partitions' logs are a Kafka topic's partitions. */
    public final boolean clusterKafka;
    /** Kafka's bootstrap servers in cluster mode, null on a single node. */
    public final String kafkaBootstrap;
    /** This node's id in cluster mode, null on a single node. */
    public final String nodeId;
    /** The URL other nodes reach this node at, or null when not given. */
    public final String advertise;
    public final String kafkaTopicPrefix;
    /** True when a log topic with fewer than 3 replicas is accepted (a one-broker trial). */
    public final boolean kafkaUnsafeSingleBroker;
    /** True for {@code kafka-ownership group}: the owners consumer group says which partitions this node serves. */
    public final boolean kafkaOwnershipGroup;
    /** The owners group's session timeout, heartbeat interval and max poll interval ({@code PartitionOwnership.Settings}). */
    public final Duration kafkaSessionTimeout;
    /** Another member refusing connections this long is removed from the owners group; zero: never. */
    public final Duration kafkaDeadNodeAfter;
    public final Duration kafkaHeartbeatInterval;
    public final Duration kafkaMaxPollInterval;
    private final Map<String, String> resolved;
    private final Map<String, String> sources;

    private Settings(final Map<String, String> values, final Map<String, String> sources)
    {
        this.resolved = values;
        this.sources = sources;
        port = intIn("port", 0, 65_535);
        bind = text("bind");
        dataDir = Path.of(text("data-dir"));
        partitions = parse("partitions", v ->
        {
            if (AUTO.equals(v))
            {
                return 0;
            }
            final int n;
            try
            {
                n = Integer.parseInt(v);
            }
            catch (final NumberFormatException ex)
            {
                throw new IllegalArgumentException("must be auto or a number of partitions from 1 to 1000");
            }
            if (n < 1 || n > 1000)
            {
                throw new IllegalArgumentException("must be auto or a number of partitions from 1 to 1000");
            }
            return n;
        });
        durability = parse("durability", v -> switch (v)
        {
            case "process" -> Durability.PROCESS;
            case "sync" -> Durability.SYNC;
            default -> throw new IllegalArgumentException("must be process or sync");
        });
        dedupWindow = durationAtLeast("dedup-window", Duration.ofSeconds(1));
        dedupCapacity = intIn("dedup-capacity", 1, 1 << 28);
        dedupDiskBudgetBytes = parse("dedup-disk-budget", Settings::parseBytes);
        maxFutureSkew = durationAtLeast("max-future-skew", Duration.ZERO);
        snapshotInterval = durationAtLeast("snapshot-interval", Duration.ofMillis(100));
        journalQueue = intIn("journal-queue", 2, 1 << 20);
        maxBodyBytes = intIn("max-body-bytes", 1024, 64 << 20);
        maxEventsPerRequest = intIn("max-events-per-request", 1, 100_000);
        maxModelsPerTenant = intIn("max-models-per-tenant", 1, BucketKey.MAX_MODELS);
        ioThreads = intIn("io-threads", 0, 256);
        idleTimeout = durationAtLeast("idle-timeout", Duration.ofSeconds(1));
        queryTimeout = durationAtLeast("query-timeout", Duration.ofMillis(100));
        streamTimeout = durationAtLeast("stream-timeout", Duration.ofSeconds(1));
        prices = SHIPPED_PRICES.equals(text("prices")) ? null : Path.of(text("prices"));
        invoiceGrace = durationAtLeast("invoice-grace", Duration.ZERO);
        archiveInterval = durationAtLeast("archive-interval", Duration.ZERO);
        logRetention = FOREVER.equals(text("log-retention")) ? null : durationAtLeast("log-retention", Duration.ofHours(1));
        keys = optionalPath("keys");
        keysPoll = durationAtLeast("keys-poll", Duration.ZERO);
        metricsOpen = parse("metrics-access", v -> switch (v)
        {
            case "key" -> false;
            case "open" -> true;
            default -> throw new IllegalArgumentException("must be key or open");
        });
        tlsCert = optionalPath("tls-cert");
        tlsKey = optionalPath("tls-key");
        if ((tlsCert == null) != (tlsKey == null))
        {
            throw invalid(tlsCert == null ? "tls-key" : "tls-cert", "needs " + (tlsCert == null ? "tls-cert" : "tls-key")
                + " too: HTTPS takes a certificate and its private key");
        }
        maxHeaderBytes = intIn("max-header-bytes", 1024, 1 << 20);
        maxConnections = intIn("max-connections", 1, 1_000_000);
        maxConnectionsPerAddress = AUTO.equals(text("max-connections-per-address"))
            ? Math.max(1, maxConnections / 2) : intIn("max-connections-per-address", 1, 1_000_000);
        headerTimeout = durationAtLeast("header-timeout", Duration.ofMillis(100));
        minBodyBytesPerSecond = parse("min-body-rate", Settings::parseBytes);
        maxPipelined = intIn("max-pipelined", 1, 10_000);
        minFreeDiskBytes = parse("min-free-disk", Settings::parseBytes);
        otlpTenantAttribute = parse("otlp-tenant-attribute", v ->
        {
            if (v.length() > 255 || !v.chars().allMatch(c -> c > 0x20 && c < 0x7F))
            {
                throw new IllegalArgumentException("must be an attribute key: 1 to 255 printable ASCII characters without "
                    + "spaces, e.g. tenant.id");
            }
            return v;
        });
        jsonLogs = parse("log-format", v -> switch (v)
        {
            case "text" -> false;
            case "json" -> true;
            default -> throw new IllegalArgumentException("must be text or json");
        });
        alertWebhookSecret = secret("alert-webhook-secret");
        alertRetryMaxInterval = durationAtLeast("alert-retry-max-interval", Duration.ofSeconds(1));
        clusterKafka = parse("cluster", v -> switch (v)
        {
            case NONE -> false;
            case "kafka" -> true;
            default -> throw new IllegalArgumentException("must be none (a single node) or kafka (cluster mode)");
        });
        kafkaBootstrap = optionalText("kafka-bootstrap");
        nodeId = optionalText("node-id");
        advertise = optionalText("advertise");
        kafkaTopicPrefix = parse("kafka-topic-prefix", v ->
        {
            if (!v.matches("[A-Za-z0-9_-]{1,100}"))
            {
                throw new IllegalArgumentException("must be 1 to 100 letters, digits, '_' or '-' (the topic is PREFIX.log)");
            }
            return v;
        });
        kafkaUnsafeSingleBroker = parse("kafka-unsafe-single-broker", v -> switch (v)
        {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException("must be true or false");
        });
        kafkaOwnershipGroup = parse("kafka-ownership", v -> switch (v)
        {
            case "group" -> true;
            case "static" -> false;
            default -> throw new IllegalArgumentException("must be group (the owners consumer group assigns the partitions) "
                + "or static (this node writes every partition)");
        });
        kafkaSessionTimeout = durationAtLeast("kafka-session-timeout", Duration.ofSeconds(1));
        kafkaHeartbeatInterval = durationAtLeast("kafka-heartbeat-interval", Duration.ofMillis(100));
        kafkaMaxPollInterval = durationAtLeast("kafka-max-poll-interval", Duration.ofSeconds(1));
        kafkaDeadNodeAfter = durationAtLeast("kafka-dead-node-after", Duration.ZERO);
        if (!kafkaDeadNodeAfter.isZero() && kafkaDeadNodeAfter.toMillis() < 250)
        {
            throw invalid("kafka-dead-node-after", "must be 0s (never remove a node) or at least 250ms (the nodes are "
                + "probed every 250 ms)");
        }
        checkCluster();
    }

    /** Refuses combinations of the cluster settings that cannot work, saying what to change. */
    private void checkCluster()
    {
        if (!clusterKafka)
        {
            for (final String name : CLUSTER_SETTINGS)
            {
                if (!"default".equals(sources.get(name)))
                {
                    throw invalid(name, "applies to cluster mode only: add --cluster kafka (with --kafka-bootstrap and "
                        + "--node-id), or remove it to run a single node");
                }
            }
            return;
        }
        if (kafkaBootstrap == null)
        {
            throw new SettingsException("cluster kafka needs kafka-bootstrap: give --kafka-bootstrap HOST:PORT[,HOST:PORT...] "
                + "naming at least one Kafka broker");
        }
        for (final String server : kafkaBootstrap.split(",", -1))
        {
            if (!server.trim().matches("[A-Za-z0-9._\\-]+:[0-9]{1,5}|\\[[0-9A-Fa-f:.]+\\]:[0-9]{1,5}"))
            {
                throw invalid("kafka-bootstrap", "must be HOST:PORT[,HOST:PORT...], e.g. 127.0.0.1:9092; '" + server.trim()
                    + "' is not HOST:PORT");
            }
        }
        if (nodeId == null)
        {
            throw new SettingsException("cluster kafka needs node-id: give --node-id NAME, unique among the cluster's nodes "
                + "(1 to 64 letters, digits, '_', '-' or '.')");
        }
        if (!nodeId.matches("[A-Za-z0-9._-]{1,64}"))
        {
            throw invalid("node-id", "must be 1 to 64 letters, digits, '_', '-' or '.'");
        }
        if (advertise != null)
        {
            final URI uri;
            try
            {
                uri = new URI(advertise);
            }
            catch (final URISyntaxException ex)
            {
                throw invalid("advertise", "must be a URL like http://10.0.0.5:8080 (" + ex.getMessage() + ")");
            }
            if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null
                || uri.getPort() < 0)
            {
                throw invalid("advertise", "must be a URL with scheme, host and port, like http://10.0.0.5:8080");
            }
        }
        if (!archiveInterval.isZero())
        {
            throw invalid("archive-interval", "archives local log files, and in cluster mode the log is the Kafka topic "
                + "(kept forever, retention.ms=-1): set archive-interval 0s with --cluster kafka");
        }
        if (logRetention != null)
        {
            throw invalid("log-retention", "deletes archives of local log files, and in cluster mode the log is the Kafka "
                + "topic, kept forever: remove log-retention (or set it to forever) with --cluster kafka");
        }
        if (!"default".equals(sources.get("durability")))
        {
            throw invalid("durability", "applies to the local log of a single node; with --cluster kafka an ack means "
                + "committed to the topic's in-sync replicas: remove it");
        }
    }

    /** @return the setting {@code name}, or null when it is empty or {@link #NONE}. */
    private String optionalText(final String name)
    {
        final String value = resolved.get(name);
        return value == null || value.isBlank() || NONE.equals(value) ? null : value.trim();
    }

    /** @return the secret setting {@code name}, null for {@link #NONE}; a refusal never repeats the value. */
    private String secret(final String name)
    {
        final String value = resolved.get(name);
        if (value == null || value.isBlank() || NONE.equals(value))
        {
            return null;
        }
        if (value.length() < MIN_ALERT_SECRET_LENGTH)
        {
            throw new SettingsException("setting " + name + " (from " + sources.get(name) + ") is " + value.length()
                + " characters long; it must be at least " + MIN_ALERT_SECRET_LENGTH + " (e.g. openssl rand -hex 32), "
                + "or none");
        }
        return value;
    }

    /** Parses {@code 1048576}, {@code 512KiB}, {@code 256MiB} or {@code 2GiB} (also KB/MB/GB as powers of 1024). */
    public static long parseBytes(final String text)
    {
        final String v = text.trim();
        final int unitAt = firstNonDigit(v);
        if (unitAt == 0)
        {
            throw new IllegalArgumentException("must be a size like 268435456, 512KiB, 256MiB or 2GiB");
        }
        final long amount = Long.parseLong(v.substring(0, unitAt));
        final int shift = switch (v.substring(unitAt).trim().toLowerCase(Locale.ROOT))
        {
            case "", "b" -> 0;
            case "k", "kb", "kib" -> 10;
            case "m", "mb", "mib" -> 20;
            case "g", "gb", "gib" -> 30;
            default -> throw new IllegalArgumentException("must be a size like 268435456, 512KiB, 256MiB or 2GiB");
        };
        if (amount > (Long.MAX_VALUE >> shift))
        {
            throw new IllegalArgumentException("is too large");
        }
        return amount << shift;
    }

    private Path optionalPath(final String name)
    {
        final String value = resolved.get(name);
        return value == null || value.isBlank() || NONE.equals(value) ? null : Path.of(value);
    }

    /** The defaults alone (for tests and embedded use), with overrides by name. */
    public static Settings of(final Map<String, String> overrides)
    {
        return resolve(overrides, Map.of(), null);
    }

    /**
     * @param flags      values given on the command line, by setting name.
     * @param env        the environment.
     * @param configFile a YAML file of name: value, or null.
     */
    public static Settings resolve(final Map<String, String> flags, final Map<String, String> env, final Path configFile)
    {
        final Map<String, String> values = new LinkedHashMap<>();
        final Map<String, String> sources = new LinkedHashMap<>();
        for (final Definition d : DEFINITIONS)
        {
            values.put(d.name(), d.defaultValue());
            sources.put(d.name(), "default");
        }
        if (configFile != null)
        {
            readConfigFile(configFile).forEach((name, value) ->
            {
                values.put(name, value);
                sources.put(name, "config file " + configFile);
            });
        }
        for (final Definition d : DEFINITIONS)
        {
            final String value = env.get(d.envName());
            if (value != null)
            {
                values.put(d.name(), value.trim());
                sources.put(d.name(), "environment " + d.envName());
            }
        }
        flags.forEach((name, value) ->
        {
            requireKnown(name, "flag");
            values.put(name, value);
            sources.put(name, "flag --" + name);
        });
        return new Settings(values, sources);
    }

    private static Map<String, String> readConfigFile(final Path file)
    {
        if (!Files.isReadable(file))
        {
            throw new SettingsException("config file " + file + " does not exist or cannot be read");
        }
        final Map<?, ?> tree;
        try
        {
            tree = new ObjectMapper(new YAMLFactory()).readValue(file.toFile(), Map.class);
        }
        catch (final IOException ex)
        {
            throw new SettingsException("config file " + file + " is not valid YAML: " + ex.getMessage());
        }
        final Map<String, String> values = new LinkedHashMap<>();
        if (tree != null)
        {
            tree.forEach((k, v) ->
            {
                final String name = String.valueOf(k);
                requireKnown(name, "config file " + file + " key");
                if (v instanceof Map || v instanceof List)
                {
                    throw new SettingsException("config file " + file + ": " + name + " must be a single value");
                }
                values.put(name, String.valueOf(v));
            });
        }
        return values;
    }

    private static void requireKnown(final String name, final String where)
    {
        if (DEFINITIONS.stream().noneMatch(d -> d.name().equals(name)))
        {
            throw new SettingsException(where + " '" + name + "' is not a setting; known settings: "
                + String.join(", ", DEFINITIONS.stream().map(Definition::name).toList()));
        }
    }

    /**
     * @return every setting with its value, and where it came from when not the default, on one line for the start-up
     *     log; a secret's value is shown as {@code (set)} or {@code none}, never itself.
     */
    public String describe()
    {
        final StringBuilder sb = new StringBuilder("settings:");
        resolved.forEach((name, value) ->
        {
            sb.append(' ').append(name).append('=');
            if (SECRETS.contains(name))
            {
                sb.append(value == null || value.isBlank() || NONE.equals(value) ? NONE : "(set)");
            }
            else
            {
                sb.append(value);
            }
            if (!"default".equals(sources.get(name)))
            {
                sb.append(" (").append(sources.get(name)).append(')');
            }
            sb.append(';');
        });
        sb.setLength(sb.length() - 1);
        return sb.toString();
    }

    public long dedupWindowMs()
    {
        return dedupWindow.toMillis();
    }

    private String text(final String name)
    {
        final String value = resolved.get(name);
        if (value == null || value.isBlank())
        {
            throw invalid(name, "must not be empty");
        }
        return value;
    }

    private int intIn(final String name, final int min, final int max)
    {
        final int value = parse(name, v -> Integer.parseInt(v.replace("_", "")));
        if (value < min || value > max)
        {
            throw invalid(name, "must be between " + min + " and " + max);
        }
        return value;
    }

    private Duration durationAtLeast(final String name, final Duration min)
    {
        final Duration value = parse(name, Settings::parseDuration);
        if (value.compareTo(min) < 0)
        {
            throw invalid(name, "must be at least " + min.toMillis() + " ms");
        }
        return value;
    }

    /** Parses {@code 250ms}, {@code 30s}, {@code 5m}, {@code 24h}, {@code 7d} or ISO-8601 ({@code PT24H}). */
    public static Duration parseDuration(final String text)
    {
        final String v = text.trim().toLowerCase(Locale.ROOT);
        if (v.startsWith("p"))
        {
            return Duration.parse(text.trim().toUpperCase(Locale.ROOT));
        }
        final int unitAt = firstNonDigit(v);
        if (unitAt == 0)
        {
            throw new IllegalArgumentException("must be a duration like 250ms, 30s, 5m, 24h or 7d");
        }
        final long amount = Long.parseLong(v.substring(0, unitAt));
        return switch (v.substring(unitAt))
        {
            case "ms" -> Duration.ofMillis(amount);
            case "s" -> Duration.ofSeconds(amount);
            case "m" -> Duration.ofMinutes(amount);
            case "h" -> Duration.ofHours(amount);
            case "d" -> Duration.ofDays(amount);
            default -> throw new IllegalArgumentException("must be a duration like 250ms, 30s, 5m, 24h or 7d");
        };
    }

    private static int firstNonDigit(final String v)
    {
        int i = 0;
        while (i < v.length() && Character.isDigit(v.charAt(i)))
        {
            i++;
        }
        return i;
    }

    private <T> T parse(final String name, final Function<String, T> parser)
    {
        final String value = text(name);
        try
        {
            return parser.apply(value);
        }
        catch (final RuntimeException ex)
        {
            final String reason = ex instanceof NumberFormatException ? "must be a whole number" : ex.getMessage();
            throw invalid(name, reason);
        }
    }

    private SettingsException invalid(final String name, final String reason)
    {
        return new SettingsException("setting " + name + " = '" + resolved.get(name) + "' (from "
            + sources.get(name) + ") " + reason);
    }
}
