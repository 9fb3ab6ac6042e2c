package io.tokenmeter.core.snapshot;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SnapshotStoreTest
{
    @TempDir
    Path dir;

    @Test
    void writesReadsAndKeepsTheNewestTwo() throws Exception
    {
        final SnapshotStore store = new SnapshotStore(dir);
        for (long index = 1; index <= 4; index++)
        {
            store.write("k", index, ByteBuffer.wrap(new byte[] {(byte)index}));
        }
        assertEquals(2, store.list("k").size());
        final SnapshotStore.Snapshot newest = store.loadNewest("k", i -> true).orElseThrow();
        assertEquals(4, newest.logIndex());
        assertEquals(4, newest.payload().get());
    }

    @Test
    void damagedNewestFallsBackToTheOlder() throws Exception
    {
        final SnapshotStore store = new SnapshotStore(dir);
        store.write("k", 1, ByteBuffer.wrap(new byte[] {1, 1}));
        final Path newest = store.write("k", 2, ByteBuffer.wrap(new byte[] {2, 2}));
        final byte[] bytes = Files.readAllBytes(newest);
        bytes[25] ^= 0x40;
        Files.write(newest, bytes);
        assertEquals(1, store.loadNewest("k", i -> true).orElseThrow().logIndex());
    }

    @Test
    void truncatedSnapshotIsSkipped() throws Exception
    {
        final SnapshotStore store = new SnapshotStore(dir);
        store.write("k", 1, ByteBuffer.wrap(new byte[] {1}));
        final Path newest = store.write("k", 2, ByteBuffer.wrap(new byte[100]));
        try (var channel = Files.newByteChannel(newest, StandardOpenOption.WRITE))
        {
            channel.truncate(50);
        }
        assertEquals(1, store.loadNewest("k", i -> true).orElseThrow().logIndex());
    }

    @Test
    void snapshotBeyondTheLogIsNotUsed() throws Exception
    {
        final SnapshotStore store = new SnapshotStore(dir);
        store.write("k", 5, ByteBuffer.wrap(new byte[] {1}));
        assertTrue(store.loadNewest("k", i -> i <= 4).isEmpty());
    }
}
