package io.tokenmeter.server.http;

import io.tokenmeter.server.Main;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** Runs a {@code tokenmeter} command (audit, archive, repartition) in the test's JVM, as a user would from a shell. */
final class Commands
{
    private Commands()
    {
    }

    /** @return the command's exit code, a space, and what it printed on standard output then on standard error. */
    static String run(final String... args)
    {
        final ByteArrayOutputStream captured = new ByteArrayOutputStream();
        final ByteArrayOutputStream errors = new ByteArrayOutputStream();
        final PrintStream original = System.out;
        final PrintStream originalErr = System.err;
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(errors, true, StandardCharsets.UTF_8));
        try
        {
            final int exit = new CommandLine(new Main()).execute(args);
            return exit + " " + captured.toString(StandardCharsets.UTF_8) + errors.toString(StandardCharsets.UTF_8);
        }
        finally
        {
            System.setOut(original);
            System.setErr(originalErr);
        }
    }
}
