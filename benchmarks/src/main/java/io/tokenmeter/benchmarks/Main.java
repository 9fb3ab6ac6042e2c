package io.tokenmeter.benchmarks;

import io.tokenmeter.benchmarks.load.LoadGenerator;
import io.tokenmeter.benchmarks.reference.ReferenceServer;
import picocli.CommandLine;

/**
 * {@code java -jar benchmarks.jar loadgen ...} runs the load generator, {@code reference --mode accept|parse} a
 * reference server, {@code compare} one comparison run of both references and tokenmeter, {@code footprint} and
 * {@code dedup-fill} measure the dedup tiers, {@code reservations} the whole server's reservations per second; anything
 * else goes to JMH ({@code java -jar benchmarks.jar -prof gc Parse}).
 */
public final class Main
{
    private Main()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        System.setProperty("chronicle.analytics.disable", "true");
        if (args.length > 0 && args[0].equals("loadgen"))
        {
            System.exit(new CommandLine(new LoadGenerator()).execute(java.util.Arrays.copyOfRange(args, 1, args.length)));
        }
        if (args.length > 0 && args[0].equals("restart"))
        {
            System.exit(new CommandLine(new io.tokenmeter.benchmarks.load.Restart()).execute(
                java.util.Arrays.copyOfRange(args, 1, args.length)));
        }
        if (args.length > 0 && args[0].equals("footprint"))
        {
            System.exit(new CommandLine(new io.tokenmeter.benchmarks.load.Footprint()).execute(
                java.util.Arrays.copyOfRange(args, 1, args.length)));
        }
        if (args.length > 0 && args[0].equals("dedup-fill"))
        {
            System.exit(new CommandLine(new io.tokenmeter.benchmarks.load.DedupFill()).execute(
                java.util.Arrays.copyOfRange(args, 1, args.length)));
        }
        if (args.length > 0 && args[0].equals("compare"))
        {
            System.exit(new CommandLine(new io.tokenmeter.benchmarks.load.Compare()).execute(
                java.util.Arrays.copyOfRange(args, 1, args.length)));
        }
        if (args.length > 0 && args[0].equals("reservations"))
        {
            System.exit(new CommandLine(new io.tokenmeter.benchmarks.load.Reservations()).execute(
                java.util.Arrays.copyOfRange(args, 1, args.length)));
        }
        if (args.length > 0 && args[0].equals("reference"))
        {
            System.exit(new CommandLine(new ReferenceServer()).execute(java.util.Arrays.copyOfRange(args, 1, args.length)));
        }
        org.openjdk.jmh.Main.main(withForkFlags(args));
    }

    /**
     * JMH forks a JVM with {@code -cp}, so the jar manifest's Add-Opens do not reach it: the flags Chronicle and Agrona
     * need, and the heap, are put before the flags of {@code -jvmArgsAppend} (or appended alone). A command line
     * that sets {@code -jvmArgs} or {@code -jvmArgsPrepend} is left as it is.
     */
    static String[] withForkFlags(final String[] args)
    {
        final int append = java.util.Arrays.asList(args).indexOf("-jvmArgsAppend");
        if (append >= 0 && append + 1 < args.length)
        {
            final String[] merged = args.clone();
            merged[append + 1] = FORK_FLAGS + " " + args[append + 1];
            return merged;
        }
        if (java.util.Arrays.stream(args).anyMatch(a -> a.startsWith("-jvmArgs")))
        {
            return args;
        }
        final String[] all = java.util.Arrays.copyOf(args, args.length + 2);
        all[args.length] = "-jvmArgsAppend";
        all[args.length + 1] = FORK_FLAGS;
        return all;
    }

    /** The JVM flags of tokenmeter (pom.xml tokenmeter.jvmFlags) and the benchmarks' heap. */
    static final String FORK_FLAGS = "-Xmx3g --add-exports=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED "
        + "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED "
        + "--add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED "
        + "--add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED "
        + "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED -Dchronicle.analytics.disable=true";
}
