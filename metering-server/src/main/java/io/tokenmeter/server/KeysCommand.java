package io.tokenmeter.server;

import io.tokenmeter.server.auth.ApiKey;
import io.tokenmeter.server.auth.KeyRing;
import io.tokenmeter.server.auth.KeyTool;
import io.tokenmeter.server.auth.KeysFile;
import io.tokenmeter.server.auth.KeysFileException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code tokenmeter keys}: make keys and check keys files. See docs/access.md. */
@Command(name = "keys", mixinStandardHelpOptions = true, description = "Make API keys and check keys files.",
    subcommands = {KeysCommand.New.class, KeysCommand.Hash.class, KeysCommand.Check.class})
final class KeysCommand implements Runnable
{
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run()
    {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "name a keys command: new, hash or check");
    }

    /** Prints a fresh random key once, and the keys-file entry (with its hash) to add. */
    @Command(name = "new", mixinStandardHelpOptions = true,
        description = "Print a new random key (shown only now) and the entry to add to the keys file.")
    static final class New implements Callable<Integer>
    {
        @Option(names = "--name", required = true, description = "name shown in logs and errors, e.g. gateway-eu")
        String name;
        @Option(names = "--role", required = true, description = "ingest, read or admin")
        String role;
        @Option(names = "--tenants", split = ",", description = "tenants the key acts for, comma separated, or * for every "
            + "tenant; required for ingest and read keys")
        List<String> tenants;

        @Override
        public Integer call()
        {
            final KeyTool.NewKey key;
            try
            {
                key = KeyTool.create(name, role, tenants);
            }
            catch (final KeysFileException ex)
            {
                System.err.println("tokenmeter keys new: " + String.join("; ", ex.problems())
                    .replace("keys[0].", "--").replace("--sha256", "sha256"));
                return 2;
            }
            System.out.println("# the key (shown only now; give it to the client, e.g. Authorization: Bearer KEY):");
            System.out.println(key.secret());
            System.out.println("# add this entry under 'keys:' in the keys file (a running server reloads it on change or SIGHUP):");
            System.out.print(key.yamlEntry());
            return 0;
        }
    }

    /** Prints the SHA-256 of a key read from standard input, for a keys-file entry of an existing key. */
    @Command(name = "hash", mixinStandardHelpOptions = true,
        description = "Read a key from standard input (first line) and print the sha256 the keys file wants.")
    static final class Hash implements Callable<Integer>
    {
        @Override
        public Integer call() throws IOException
        {
            final String line = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
            if (line == null || line.isBlank())
            {
                System.err.println("tokenmeter keys hash: give the key on standard input, e.g. printenv KEY | tokenmeter keys hash");
                return 2;
            }
            System.out.println(KeyTool.sha256Hex(line.strip()));
            return 0;
        }
    }

    /** Checks a keys file as the server would and lists its keys. */
    @Command(name = "check", mixinStandardHelpOptions = true,
        description = "Check a keys file as the server would; exits 0 and lists the keys, or 1 with every problem.")
    static final class Check implements Callable<Integer>
    {
        @Parameters(index = "0", description = "the keys file")
        Path file;

        @Override
        public Integer call()
        {
            try
            {
                final KeyRing ring = KeysFile.parse(Files.readAllBytes(file), file.toString());
                System.out.println(file + ": " + ring.keys().size() + " keys");
                for (final ApiKey key : ring.keys())
                {
                    System.out.println("  " + key.name() + ": " + key.role().code() + " for " + String.join(",", key.tenants()));
                }
                return 0;
            }
            catch (final KeysFileException ex)
            {
                System.err.println("tokenmeter keys check: " + file + " is not valid:");
                ex.problems().forEach(p -> System.err.println("  " + p));
                return 1;
            }
            catch (final IOException ex)
            {
                System.err.println("tokenmeter keys check: cannot read " + file + ": " + ex);
                return 2;
            }
        }
    }
}
