package io.tokenmeter.core.partition;

import org.agrona.concurrent.UnsafeBuffer;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class PartitionerTest
{
    private static final String TENANT_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-";

    @Test
    void partitionIsKafkasDefaultPartitionerForTheTenantKey()
    {
        final long seed = System.nanoTime();
        final SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < 20_000; i++)
        {
            final StringBuilder tenant = new StringBuilder();
            for (int n = 1 + random.nextInt(64); n > 0; n--)
            {
                tenant.append(TENANT_CHARS.charAt(random.nextInt(TENANT_CHARS.length())));
            }
            final byte[] bytes = tenant.toString().getBytes(StandardCharsets.UTF_8);
            final int partitions = 1 + random.nextInt(64);
            final int kafka = Utils.toPositive(Utils.murmur2(bytes)) % partitions;
            final Partitioner partitioner = new Partitioner(partitions);
            assertEquals(kafka, partitioner.partitionOf(tenant.toString()), "seed " + seed + " tenant " + tenant);
            final UnsafeBuffer buffer = new UnsafeBuffer(new byte[bytes.length + 7]);
            buffer.putBytes(3, bytes);
            assertEquals(kafka, partitioner.partitionOf(buffer, 3, bytes.length), "seed " + seed + " tenant " + tenant);
        }
    }

    @Test
    void knownTenantsLandWhereKafkaPutsThem()
    {
        // every length remainder (0..3) of murmur2's tail
        for (final String tenant : new String[] {"acme", "globex", "initech", "umbrella-corp", "a", "ab", "abc"})
        {
            final byte[] bytes = tenant.getBytes(StandardCharsets.UTF_8);
            assertEquals(Utils.murmur2(bytes), Partitioner.murmur2(new UnsafeBuffer(bytes), 0, bytes.length), tenant);
        }
    }

    @Test
    void onePartitionTakesEveryTenant()
    {
        assertEquals(0, new Partitioner(1).partitionOf("anything"));
    }

    @Test
    void refusesNoPartitions()
    {
        assertThrows(IllegalArgumentException.class, () -> new Partitioner(0));
    }
}
