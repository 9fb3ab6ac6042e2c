package io.tokenmeter.kafka;

/** The checks of the names every cluster-mode setting shares: the brokers to ask, and the prefix of topics and groups. */
final class ClusterNames
{
    private ClusterNames()
    {
    }

    /** @throws IllegalArgumentException unless {@code bootstrapServers} names at least one broker. */
    static void requireBootstrap(final String bootstrapServers)
    {
        if (bootstrapServers == null || bootstrapServers.isBlank())
        {
            throw new IllegalArgumentException("kafka-bootstrap: give HOST:PORT[,...] of at least one broker");
        }
    }

    /** @throws IllegalArgumentException unless {@code prefix} can start topic, group and transactional ids. */
    static void requirePrefix(final String prefix)
    {
        if (prefix == null || !prefix.matches("[A-Za-z0-9_-]{1,100}"))
        {
            throw new IllegalArgumentException("kafka-topic-prefix: give 1 to 100 letters, digits, '_' or '-', not " + prefix);
        }
    }
}
