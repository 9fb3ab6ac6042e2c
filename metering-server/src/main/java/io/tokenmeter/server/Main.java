package io.tokenmeter.server;

import io.tokenmeter.server.config.Logging;
import io.tokenmeter.server.config.Settings;
import io.tokenmeter.server.config.SettingsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import io.tokenmeter.billing.audit.Auditor;
import io.tokenmeter.billing.invoice.Invoice;
import io.tokenmeter.billing.invoice.InvoiceJson;
import io.tokenmeter.billing.invoice.Periods;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/** The {@code tokenmeter} command line. */
@Command(name = "tokenmeter", mixinStandardHelpOptions = true, version = "tokenmeter 0.1.0",
    description = "LLM token metering and billing service.", subcommands = {Main.Serve.class, Main.Audit.class, Main.Repartition.class, Main.Archive.class, KeysCommand.class, Main.Health.class})
public final class Main implements Runnable
{
    /** The environment variable the client commands take an API key from. */
    static final String API_KEY_ENV = "TOKENMETER_API_KEY";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(final String[] args)
    {
        System.setProperty("chronicle.analytics.disable", "true");
        System.exit(new CommandLine(new Main()).execute(args));
    }

    @Override
    public void run()
    {
        throw new CommandLine.ParameterException(spec.commandLine(), "name a command, e.g. serve");
    }

    /** {@code tokenmeter serve}: runs the server until SIGTERM or SIGINT, then stops gracefully and exits 0. */
    @Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Run the metering server. Every setting can also come from --config FILE (YAML, keys as the flag "
            + "names) or the environment (TOKENMETER_<NAME>, e.g. TOKENMETER_DATA_DIR).")
    static final class Serve implements Callable<Integer>
    {
        private static final Logger LOG = LoggerFactory.getLogger(Serve.class);

        @Option(names = "--port", description = "TCP port (default 8080)")
        String port;
        @Option(names = "--bind", description = "address to listen on (default 127.0.0.1)")
        String bind;
        @Option(names = "--data-dir", description = "log and snapshots directory (default ./data)")
        String dataDir;
        @Option(names = "--partitions", description = "partitions of a new data directory (default auto: the directory's, "
            + "or " + Settings.NEW_DIRECTORY_PARTITIONS + " for a new one)")
        String partitions;
        @Option(names = "--durability", description = "process (default) or sync")
        String durability;
        @Option(names = "--dedup-window", description = "how long ids are remembered (default 24h)")
        String dedupWindow;
        @Option(names = "--dedup-capacity", description = "most ids remembered (default 4000000)")
        String dedupCapacity;
        @Option(names = "--prices", description = "price book file, JSON or YAML (default: the book in force, else the shipped one)")
        String prices;
        @Option(names = "--invoice-grace", description = "wait for late events after a period ends before it can be finalized (default 1h)")
        String invoiceGrace;
        @Option(names = "--keys", description = "API keys file, YAML (default none: open, loopback only); see docs/access.md")
        String keys;
        @Option(names = "--tls-cert", description = "PEM certificate chain: with --tls-key, HTTPS only")
        String tlsCert;
        @Option(names = "--tls-key", description = "PEM PKCS#8 private key of --tls-cert")
        String tlsKey;
        @Option(names = "--cluster", description = "none (default: a single node, logs in --data-dir) or kafka (cluster "
            + "mode: each partition's log on the Kafka topic PREFIX.log; docs/cluster.md)")
        String cluster;
        @Option(names = "--kafka-bootstrap", description = "--cluster kafka: Kafka brokers, HOST:PORT[,HOST:PORT...]")
        String kafkaBootstrap;
        @Option(names = "--node-id", description = "--cluster kafka: this node's id, unique in the cluster")
        String nodeId;
        @Option(names = "--advertise", description = "--cluster kafka: the URL other nodes and clients reach this node at "
            + "(default http://BIND:PORT)")
        String advertise;
        @Option(names = "--kafka-topic-prefix", description = "--cluster kafka: topic prefix (default tokenmeter: the log "
            + "topic is tokenmeter.log)")
        String kafkaTopicPrefix;
        @Option(names = "--kafka-unsafe-single-broker", description = "--cluster kafka, trials only: accept a log topic "
            + "with fewer than 3 replicas (may lose acknowledged events; warned on /health/ready)")
        boolean kafkaUnsafeSingleBroker;
        @Option(names = "--kafka-ownership", description = "--cluster kafka: group (default: serve the partitions the "
            + "owners group assigns this node) or static (write every partition, no group)")
        String kafkaOwnership;
        @Option(names = "--kafka-session-timeout", description = "--cluster kafka: the owners group's session timeout "
            + "(default 6s): how long a silent node keeps its partitions")
        String kafkaSessionTimeout;
        @Option(names = "--kafka-heartbeat-interval", description = "--cluster kafka: heartbeat to the owners group "
            + "(default 1s; at most a third of the session timeout)")
        String kafkaHeartbeatInterval;
        @Option(names = "--kafka-max-poll-interval", description = "--cluster kafka: longest handover step (default 30s)")
        String kafkaMaxPollInterval;
        @Option(names = "--kafka-dead-node-after", description = "--cluster kafka: remove from the owners group another "
            + "node whose URL refuses connections this long, so its partitions move at once (default 1s; 0s: never)")
        String kafkaDeadNodeAfter;
        @Option(names = "--config", description = "YAML config file")
        Path config;

        @Override
        public Integer call() throws Exception
        {
            final Map<String, String> flags = new LinkedHashMap<>();
            putIfSet(flags, "port", port);
            putIfSet(flags, "bind", bind);
            putIfSet(flags, "data-dir", dataDir);
            putIfSet(flags, "partitions", partitions);
            putIfSet(flags, "durability", durability);
            putIfSet(flags, "dedup-window", dedupWindow);
            putIfSet(flags, "dedup-capacity", dedupCapacity);
            putIfSet(flags, "prices", prices);
            putIfSet(flags, "invoice-grace", invoiceGrace);
            putIfSet(flags, "keys", keys);
            putIfSet(flags, "tls-cert", tlsCert);
            putIfSet(flags, "tls-key", tlsKey);
            putIfSet(flags, "cluster", cluster);
            putIfSet(flags, "kafka-bootstrap", kafkaBootstrap);
            putIfSet(flags, "node-id", nodeId);
            putIfSet(flags, "advertise", advertise);
            putIfSet(flags, "kafka-topic-prefix", kafkaTopicPrefix);
            putIfSet(flags, "kafka-unsafe-single-broker", kafkaUnsafeSingleBroker ? "true" : null);
            putIfSet(flags, "kafka-ownership", kafkaOwnership);
            putIfSet(flags, "kafka-session-timeout", kafkaSessionTimeout);
            putIfSet(flags, "kafka-heartbeat-interval", kafkaHeartbeatInterval);
            putIfSet(flags, "kafka-max-poll-interval", kafkaMaxPollInterval);
            putIfSet(flags, "kafka-dead-node-after", kafkaDeadNodeAfter);
            final Settings settings;
            final TokenmeterServer server;
            // the signals are handled from before the server starts: a SIGHUP sent as soon as it answers is never lost
            final AtomicReference<TokenmeterServer> started = new AtomicReference<>();
            final AtomicBoolean reloadWhenStarted = new AtomicBoolean();
            final sun.misc.SignalHandler before = sun.misc.Signal.handle(new sun.misc.Signal("HUP"), s ->
            {
                LOG.info("SIGHUP received: reloading the keys file");
                final TokenmeterServer running = started.get();
                if (running == null)
                {
                    reloadWhenStarted.set(true);
                    return;
                }
                running.reloadKeys();
            });
            if (before == sun.misc.SignalHandler.SIG_IGN)
            {
                // the JVM leaves a signal ignored at its start ignored (nohup does that to SIGHUP)
                LOG.warn("SIGHUP is ignored by this process (started under nohup?): the keys file is reloaded only by "
                    + "keys-poll; start it without nohup (systemd, a container, setsid) to reload on SIGHUP");
            }
            try
            {
                settings = Settings.resolve(flags, System.getenv(), config);
                if (settings.jsonLogs)
                {
                    Logging.useJson();
                }
                LOG.info("{}", settings.describe());
                server = TokenmeterServer.start(settings);
                started.set(server);
                if (reloadWhenStarted.get())
                {
                    server.reloadKeys();
                }
            }
            catch (final SettingsException ex)
            {
                System.err.println("tokenmeter: " + ex.getMessage());
                return 2;
            }
            // 0 after SIGTERM or SIGINT; 3 when the server must stop on its own (its cluster node id was taken over)
            final CompletableFuture<Integer> exitCode = new CompletableFuture<>();
            for (final String signal : new String[] {"TERM", "INT"})
            {
                sun.misc.Signal.handle(new sun.misc.Signal(signal), s ->
                {
                    LOG.info("SIG{} received: stopping", s.getName());
                    exitCode.complete(0);
                });
            }
            server.mustStop().thenAccept(why ->
            {
                LOG.error("stopping (exit 3): {}", why);
                exitCode.complete(3);
            });
            LOG.info("tokenmeter serving on {}://{}:{}", settings.tlsCert == null ? "http" : "https", settings.bind, server.port());
            final int code = exitCode.get();
            server.close();
            return code;
        }

        private static void putIfSet(final Map<String, String> flags, final String name, final String value)
        {
            if (value != null)
            {
                flags.put(name, value);
            }
        }
    }

    /**
     * {@code tokenmeter audit}: recomputes a period's invoices from the log alone and compares them with the final
     * invoices in the data directory and, with {@code --server}, the drafts the server serves. Exit 0 when everything
     * matches, 1 on any difference, 2 when the audit cannot run.
     */
    @Command(name = "audit", mixinStandardHelpOptions = true,
        description = "Recompute invoices from the log and compare them with the final invoices (and the server's drafts). "
            + "Exits 0 when all match, 1 on any difference, 2 when the audit cannot run.")
    static final class Audit implements Callable<Integer>
    {
        @Option(names = "--data-dir", description = "the server's data directory (default ./data)", defaultValue = "./data")
        Path dataDir;
        @Option(names = "--period", required = true, description = "the period, YYYY-MM")
        String period;
        @Option(names = "--tenant", description = "only this tenant")
        String tenant;
        @Option(names = "--server", description = "compare drafts too: the server's URL, e.g. http://127.0.0.1:8080")
        URI server;
        @Option(names = "--key-file", description = "file holding the API key for --server (a read key for every tenant, "
            + "or admin); default: the environment variable " + API_KEY_ENV)
        Path keyFile;

        @Override
        public Integer call()
        {
            final YearMonth month = Periods.parse(period);
            if (month == null)
            {
                System.err.println("tokenmeter audit: --period must be YYYY-MM, e.g. 2026-10");
                return 2;
            }
            try
            {
                final List<Invoice> drafts = server == null ? List.of() : fetchDrafts(month);
                final Auditor.Report report = new Auditor(dataDir, month, tenant, System.out).run(drafts);
                return report.clean() ? 0 : 1;
            }
            catch (final IOException | RuntimeException ex)
            {
                System.err.println("tokenmeter audit: cannot audit: " + ex.getMessage());
                return 2;
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                return 2;
            }
        }

        private List<Invoice> fetchDrafts(final YearMonth month) throws IOException, InterruptedException
        {
            final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
            final JsonNode listing = new ObjectMapper().readTree(get(client, "/v1/invoices?period=" + month));
            final List<Invoice> drafts = new ArrayList<>();
            for (final JsonNode entry : listing.path("invoices"))
            {
                final String t = entry.path("tenant").asText();
                if ("draft".equals(entry.path("status").asText()) && (tenant == null || tenant.equals(t)))
                {
                    drafts.add(InvoiceJson.read(get(client, "/v1/invoices/" + t + "/" + month + "?basis=true")));
                }
            }
            return drafts;
        }

        private byte[] get(final HttpClient client, final String path) throws IOException, InterruptedException
        {
            final HttpRequest.Builder request = HttpRequest.newBuilder(server.resolve(path)).timeout(Duration.ofSeconds(60)).GET();
            final String key = keyFile != null ? java.nio.file.Files.readString(keyFile).strip() : System.getenv(API_KEY_ENV);
            if (key != null && !key.isBlank())
            {
                request.header("Authorization", "Bearer " + key.strip());
            }
            final HttpResponse<byte[]> response = client.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
            if (response.statusCode() != 200)
            {
                throw new IOException("GET " + path + " answered " + response.statusCode() + ": "
                    + new String(response.body(), java.nio.charset.StandardCharsets.UTF_8));
            }
            return response.body();
        }
    }

    /**
     * {@code tokenmeter repartition}: copies a stopped server's data directory into a new one with another number of
     * partitions, then audits every period that has a final invoice in the copy. Exit 0 when copied and clean, 1 when
     * the audit of the copy found a difference, 2 when it cannot run (the source in use, the target exists, ...).
     */
    @Command(name = "repartition", mixinStandardHelpOptions = true,
        description = "Copy a data directory into a new one with another number of partitions (offline: stop the server "
            + "first), keeping every event, id, price book, final invoice and invoice number; then audit the copy. Exits 0 "
            + "when copied and clean, 1 when the audit of the copy differs, 2 when it cannot run.")
    static final class Repartition implements Callable<Integer>
    {
        @Option(names = "--from", required = true, description = "the data directory to copy (no server may be using it)")
        Path from;
        @Option(names = "--to", required = true, description = "the new data directory (must not exist)")
        Path to;
        @Option(names = "--partitions", required = true, description = "partitions of the new directory, 1 to 1000")
        int partitions;

        @Override
        public Integer call()
        {
            try
            {
                new Repartitioner(System.out).run(from, to, partitions);
                final java.util.TreeSet<YearMonth> periods = new java.util.TreeSet<>();
                io.tokenmeter.billing.invoice.InvoiceStore.readAll(to.resolve("invoices"))
                    .forEach(invoice -> periods.add(YearMonth.parse(invoice.period())));
                boolean clean = true;
                for (final YearMonth period : periods)
                {
                    clean &= new Auditor(to, period, null, System.out).run(List.of()).clean();
                }
                System.out.println(clean ? "the copy audits clean" + (periods.isEmpty() ? " (no final invoices)" : " for "
                    + periods.size() + " period(s) with final invoices") : "the copy does NOT audit clean: see the differences above");
                return clean ? 0 : 1;
            }
            catch (final SettingsException ex)
            {
                System.err.println("tokenmeter repartition: " + ex.getMessage());
                return 2;
            }
            catch (final IOException | RuntimeException ex)
            {
                System.err.println("tokenmeter repartition: cannot repartition: " + ex.getMessage());
                return 2;
            }
        }
    }

    /**
     * {@code tokenmeter archive}: replaces each partition's oldest sealed log files whose events are all in final
     * invoices and outside the dedup window by verified zstd archives, offline. Exit 0 when done (also when nothing
     * could be archived), 2 when it cannot run.
     */
    @Command(name = "archive", mixinStandardHelpOptions = true,
        description = "Compress each partition's oldest sealed daily log files whose events are all in final invoices and "
            + "older than the dedup window into verified zstd archives, removing each original only after its archive "
            + "read back whole (offline: stop the server first). Replay, audit and repartition read archives as the "
            + "log. With a log-retention, then deletes the archives of files whose events are all in final invoices of "
            + "periods that ended longer ago, keeping a digest of each that the audit proves their totals from. Exits 0 "
            + "when done, 2 when it cannot run.")
    static final class Archive implements Callable<Integer>
    {
        @Option(names = "--data-dir", description = "the server's data directory (default ./data)")
        String dataDir;
        @Option(names = "--dedup-window", description = "the server's dedup window (default 24h): files with ids inside it stay live")
        String dedupWindow;
        @Option(names = "--log-retention", description = "delete the archives of files whose events are all in final "
            + "invoices of periods that ended longer ago than this, keeping their digests (default: the config's "
            + "log-retention; forever keeps everything)")
        String logRetention;
        @Option(names = "--config", description = "the server's YAML config file, for data-dir, dedup-window and log-retention")
        Path config;

        @Override
        public Integer call()
        {
            final Map<String, String> flags = new LinkedHashMap<>();
            if (dataDir != null)
            {
                flags.put("data-dir", dataDir);
            }
            if (dedupWindow != null)
            {
                flags.put("dedup-window", dedupWindow);
            }
            if (logRetention != null)
            {
                flags.put("log-retention", logRetention);
            }
            try
            {
                final Settings settings = Settings.resolve(flags, System.getenv(), config);
                new Archiver(System.out).run(settings.dataDir, settings.dedupWindow, settings.logRetention,
                    System.currentTimeMillis());
                return 0;
            }
            catch (final SettingsException ex)
            {
                System.err.println("tokenmeter archive: " + ex.getMessage());
                return 2;
            }
            catch (final IOException | RuntimeException ex)
            {
                System.err.println("tokenmeter archive: cannot archive: " + (ex.getMessage() == null ? ex : ex.getMessage()));
                return 2;
            }
        }
    }

    /**
     * {@code tokenmeter health}: asks a running server whether it is ready, for container health checks. Exit 0 when
     * {@code /health/ready} answers 200, 1 when it answers otherwise or not at all.
     */
    @Command(name = "health", mixinStandardHelpOptions = true,
        description = "Ask a running server's /health/ready; exit 0 when ready, 1 otherwise (for container health checks).")
    static final class Health implements Callable<Integer>
    {
        @Option(names = "--url", defaultValue = "http://127.0.0.1:8080", description = "the server (default http://127.0.0.1:8080)")
        URI url;
        @Option(names = "--timeout", defaultValue = "3s", description = "how long to wait for the answer (default 3s)")
        String timeout;

        @Override
        public Integer call()
        {
            try
            {
                final Duration wait = Settings.parseDuration(timeout);
                final HttpClient client = HttpClient.newBuilder().connectTimeout(wait).build();
                final HttpResponse<String> response = client.send(HttpRequest.newBuilder(url.resolve("/health/ready"))
                    .timeout(wait).GET().build(), HttpResponse.BodyHandlers.ofString());
                System.out.println(response.statusCode() + " " + response.body());
                return response.statusCode() == 200 ? 0 : 1;
            }
            catch (final IOException | RuntimeException ex)
            {
                System.out.println("not reachable: " + ex);
                return 1;
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                return 1;
            }
        }
    }
}
