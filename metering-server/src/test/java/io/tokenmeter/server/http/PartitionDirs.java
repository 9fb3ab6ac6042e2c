package io.tokenmeter.server.http;

import io.tokenmeter.core.partition.DataLayout;
import io.tokenmeter.core.partition.Partitioner;

import java.nio.file.Path;

/** Where a tenant's partition keeps its log and snapshots in a data directory, for tests that damage files. */
final class PartitionDirs
{
    private PartitionDirs()
    {
    }

    static Path log(final Path dataDir, final String tenant)
    {
        final DataLayout layout = DataLayout.read(dataDir);
        return layout.logDir(new Partitioner(layout.partitions()).partitionOf(tenant));
    }

    static Path snapshots(final Path dataDir, final String tenant)
    {
        final DataLayout layout = DataLayout.read(dataDir);
        return layout.snapshotDir(new Partitioner(layout.partitions()).partitionOf(tenant));
    }
}
