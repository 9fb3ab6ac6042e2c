package io.tokenmeter.server;

import java.util.HashMap;
import java.util.Map;

/**
 * The number of partitions the whole-server suites run with: the build runs them twice, with
 * {@code TOKENMETER_PARTITIONS=1} and {@code =4} (metering-server/pom.xml); servers started in the test's own JVM take it
 * from here, servers started as processes from their inherited environment, as a user's would.
 */
public final class TestPartitions
{
    private TestPartitions()
    {
    }

    /** @return the partitions of this run, or null when the environment names none (the server's default applies). */
    public static String ofThisRun()
    {
        final String value = System.getenv("TOKENMETER_PARTITIONS");
        return value == null || value.isBlank() ? null : value.trim();
    }

    /** @return {@code settings} with this run's partitions added, unless they name their own. */
    public static Map<String, String> apply(final Map<String, String> settings)
    {
        final Map<String, String> withPartitions = new HashMap<>(settings);
        final String partitions = ofThisRun();
        if (partitions != null)
        {
            withPartitions.putIfAbsent("partitions", partitions);
        }
        return withPartitions;
    }
}
