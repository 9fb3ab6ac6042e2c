package io.tokenmeter.core.partition;

import org.agrona.DirectBuffer;

import java.nio.charset.StandardCharsets;

/**
 * Which partition a tenant belongs to: {@code toPositive(murmur2(UTF-8 bytes of the tenant)) % P}, the function of
 * Kafka's default partitioner for a keyed record, so that a gateway keying its own Kafka records by tenant lands in
 * the same partition (SPEC section 9). {@code PartitionerTest} checks it against Kafka's own {@code Utils.murmur2}.
 *
 * <p>Hand-written rather than taken from kafka-clients: the event loops compute it on staged bytes in a
 * {@link DirectBuffer} without copying them to an array. Stateless; any thread.
 */
public final class Partitioner
{
    private static final int SEED = 0x9747b28c;
    private static final int M = 0x5bd1e995;
    private static final int R = 24;

    private final int partitions;

    public Partitioner(final int partitions)
    {
        if (partitions < 1)
        {
            throw new IllegalArgumentException("partitions must be at least 1: " + partitions);
        }
        this.partitions = partitions;
    }

    public int partitions()
    {
        return partitions;
    }

    /** @return the partition of the tenant whose name is {@code length} ASCII bytes at {@code offset}. */
    public int partitionOf(final DirectBuffer buffer, final int offset, final int length)
    {
        return partitions == 1 ? 0 : (murmur2(buffer, offset, length) & 0x7fffffff) % partitions;
    }

    /** @return the partition of the tenant. */
    public int partitionOf(final String tenant)
    {
        if (partitions == 1)
        {
            return 0;
        }
        final byte[] bytes = tenant.getBytes(StandardCharsets.UTF_8);
        return (murmur2(new org.agrona.concurrent.UnsafeBuffer(bytes), 0, bytes.length) & 0x7fffffff) % partitions;
    }

    /** Kafka's {@code Utils.murmur2} over {@code length} bytes at {@code offset}. */
    static int murmur2(final DirectBuffer data, final int offset, final int length)
    {
        int h = SEED ^ length;
        final int whole = length & ~3;
        for (int i = 0; i < whole; i += 4)
        {
            int k = (data.getByte(offset + i) & 0xff)
                | (data.getByte(offset + i + 1) & 0xff) << 8
                | (data.getByte(offset + i + 2) & 0xff) << 16
                | (data.getByte(offset + i + 3) & 0xff) << 24;
            k *= M;
            k ^= k >>> R;
            k *= M;
            h *= M;
            h ^= k;
        }
        switch (length & 3)
        {
            case 3:
                h ^= (data.getByte(offset + whole + 2) & 0xff) << 16;
                // fall through
            case 2:
                h ^= (data.getByte(offset + whole + 1) & 0xff) << 8;
                // fall through
            case 1:
                h ^= data.getByte(offset + whole) & 0xff;
                h *= M;
                break;
            default:
                break;
        }
        h ^= h >>> 13;
        h *= M;
        h ^= h >>> 15;
        return h;
    }
}
