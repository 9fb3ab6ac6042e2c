package io.tokenmeter.core.log;

/** When an acknowledged event is safe. */
public enum Durability
{
    /** Written to the memory-mapped log before the ack: survives the death of the process (kill -9). */
    PROCESS,
    /** Also flushed to disk (msync, group-committed per journal drain) before the ack: survives power loss. */
    SYNC,
    /**
     * Committed to a Kafka partition's in-sync replicas ({@code acks=all}, at least {@code min.insync.replicas}) before
     * the ack: survives the death of the node and of any one broker (cluster mode).
     */
    REPLICATED
}
