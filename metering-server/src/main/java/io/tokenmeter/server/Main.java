package io.tokenmeter.server;

import io.tokenmeter.server.config.Settings;
import io.tokenmeter.server.config.SettingsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** The {@code tokenmeter} command line. */
@Command(name = "tokenmeter", mixinStandardHelpOptions = true, version = "tokenmeter 0.1.0",
    description = "LLM token metering and billing service.", subcommands = {Main.Serve.class})
public final class Main implements Runnable
{
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
        @Option(names = "--durability", description = "process (default) or sync")
        String durability;
        @Option(names = "--dedup-window", description = "how long ids are remembered (default 24h)")
        String dedupWindow;
        @Option(names = "--dedup-capacity", description = "most ids remembered (default 4000000)")
        String dedupCapacity;
        @Option(names = "--config", description = "YAML config file")
        Path config;

        @Override
        public Integer call() throws Exception
        {
            final Map<String, String> flags = new LinkedHashMap<>();
            putIfSet(flags, "port", port);
            putIfSet(flags, "bind", bind);
            putIfSet(flags, "data-dir", dataDir);
            putIfSet(flags, "durability", durability);
            putIfSet(flags, "dedup-window", dedupWindow);
            putIfSet(flags, "dedup-capacity", dedupCapacity);
            final Settings settings;
            final TokenmeterServer server;
            try
            {
                settings = Settings.resolve(flags, System.getenv(), config);
                LOG.info("{}", settings.describe());
                server = TokenmeterServer.start(settings);
            }
            catch (final SettingsException ex)
            {
                System.err.println("tokenmeter: " + ex.getMessage());
                return 2;
            }
            final CountDownLatch stop = new CountDownLatch(1);
            for (final String signal : new String[] {"TERM", "INT"})
            {
                sun.misc.Signal.handle(new sun.misc.Signal(signal), s ->
                {
                    LOG.info("SIG{} received: stopping", s.getName());
                    stop.countDown();
                });
            }
            LOG.info("tokenmeter serving on http://{}:{}", settings.bind, server.port());
            stop.await();
            server.close();
            return 0;
        }

        private static void putIfSet(final Map<String, String> flags, final String name, final String value)
        {
            if (value != null)
            {
                flags.put(name, value);
            }
        }
    }
}
