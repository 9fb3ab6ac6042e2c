package io.tokenmeter.core.log;

/** When an acknowledged event is safe. */
public enum Durability
{
    /** Written to the memory-mapped log before the ack: survives the death of the process (kill -9). */
    PROCESS,
    /**
     * Also flushed to disk before the ack (an fdatasync of the log file, group-committed per journal drain, and the
     * file's name once per file): survives power loss (docs/log-format.md, "Power cuts").
     */
    SYNC,
    /**
     * Committed to a Kafka partition's in-sync replicas ({@code acks=all}, at least {@code min.insync.replicas}) before
     * the ack: survives the death of the node and of any one broker (cluster mode).
     */
    REPLICATED
}
