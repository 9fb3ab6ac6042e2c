package io.tokenmeter.core.partition;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DataLayoutTest
{
    @TempDir
    Path dir;

    @Test
    void aNewDirectoryGetsTheAskedNumberAndKeepsIt()
    {
        final DataLayout created = DataLayout.openOrCreate(dir, 4, 2);
        assertEquals(4, created.partitions());
        assertEquals(dir.resolve("log").resolve("p-003"), created.logDir(3));
        assertEquals(dir.resolve("snapshots").resolve("p-000"), created.snapshotDir(0));
        assertEquals(4, DataLayout.openOrCreate(dir, 0, 2).partitions(), "a later start without --partitions uses the directory's");
        assertEquals(4, DataLayout.read(dir).partitions());
    }

    @Test
    void theLogIsRecordedAndAnotherOneIsRefused() throws Exception
    {
        final String kafka = "kafka cluster abc topic tokenmeter.log";
        final DataLayout created = DataLayout.openOrCreate(dir.resolve("node"), 2, 2, kafka);
        assertEquals(kafka, created.log());
        assertEquals(kafka, DataLayout.openOrCreate(dir.resolve("node"), 0, 4, kafka).log(), "the same log opens");
        final DataLayout.LayoutException asSingle = assertThrows(DataLayout.LayoutException.class,
            () -> DataLayout.openOrCreate(dir.resolve("node"), 0, 2));
        assertTrue(asSingle.getMessage().contains(kafka) && asSingle.getMessage().contains("--cluster kafka with the same"),
            asSingle.getMessage());
        assertThrows(DataLayout.LayoutException.class,
            () -> DataLayout.openOrCreate(dir.resolve("node"), 0, 2, "kafka cluster other topic tokenmeter.log"));
        final DataLayout.LayoutException offline = assertThrows(DataLayout.LayoutException.class,
            () -> DataLayout.read(dir.resolve("node")));
        assertTrue(offline.getMessage().contains("local logs only"), offline.getMessage());

        assertEquals(DataLayout.LOCAL_LOG, DataLayout.openOrCreate(dir.resolve("single"), 2, 2).log());
        final DataLayout.LayoutException asCluster = assertThrows(DataLayout.LayoutException.class,
            () -> DataLayout.openOrCreate(dir.resolve("single"), 0, 2, kafka));
        assertTrue(asCluster.getMessage().contains("without --cluster"), asCluster.getMessage());

        // a directory made before the log was recorded is a single node's
        Files.createDirectories(dir.resolve("older"));
        Files.writeString(dir.resolve("older").resolve(DataLayout.LAYOUT_FILE), "partitions=3\n");
        assertEquals(DataLayout.LOCAL_LOG, DataLayout.read(dir.resolve("older")).log());
        assertThrows(DataLayout.LayoutException.class, () -> DataLayout.openOrCreate(dir.resolve("older"), 0, 2, kafka));
    }

    @Test
    void aNewDirectoryWithoutANumberGetsTheDefault()
    {
        assertEquals(2, DataLayout.openOrCreate(dir, 0, 2).partitions());
    }

    @Test
    void anotherNumberIsRefusedNamingBothAndTheRepartitionCommand()
    {
        DataLayout.openOrCreate(dir, 4, 2);
        final DataLayout.LayoutException refused = assertThrows(DataLayout.LayoutException.class,
            () -> DataLayout.openOrCreate(dir, 8, 2));
        assertTrue(refused.getMessage().contains("has 4 partitions"), refused.getMessage());
        assertTrue(refused.getMessage().contains("8 were asked for"), refused.getMessage());
        assertTrue(refused.getMessage().contains("tokenmeter repartition --from " + dir + " --to NEW_DIR --partitions 8"),
            refused.getMessage());
    }

    @Test
    void aOneLogDirectoryOpensAsOnePartitionInPlace() throws Exception
    {
        Files.createDirectories(dir.resolve("log"));
        Files.writeString(dir.resolve("log").resolve("metadata.cq4t"), "");
        final DataLayout layout = DataLayout.openOrCreate(dir, 0, 4);
        assertTrue(layout.isOneLog());
        assertEquals(1, layout.partitions());
        assertEquals(dir.resolve("log"), layout.logDir(0));
        assertEquals(dir.resolve("snapshots"), layout.snapshotDir(0));
        assertFalse(Files.exists(dir.resolve(DataLayout.LAYOUT_FILE)), "not rewritten");
        assertThrows(DataLayout.LayoutException.class, () -> DataLayout.openOrCreate(dir, 2, 4));
        assertEquals(1, DataLayout.openOrCreate(dir, 1, 4).partitions(), "asking for 1 is the directory's number");
    }

    @Test
    void aDamagedLayoutFileStopsTheStart() throws Exception
    {
        Files.writeString(dir.resolve(DataLayout.LAYOUT_FILE), "partitions=many\n");
        assertThrows(DataLayout.LayoutException.class, () -> DataLayout.read(dir));
    }

    @Test
    void partitionLogsWithoutTheLayoutFileAreRefusedNotGuessed() throws Exception
    {
        DataLayout.openOrCreate(dir, 4, 2);
        Files.createDirectories(dir.resolve("log").resolve("p-000"));
        Files.createDirectories(dir.resolve("log").resolve("p-003"));
        Files.delete(dir.resolve(DataLayout.LAYOUT_FILE));
        final DataLayout.LayoutException refused = assertThrows(DataLayout.LayoutException.class,
            () -> DataLayout.openOrCreate(dir, 0, 2));
        assertTrue(refused.getMessage().contains("[p-000, p-003]") && refused.getMessage().contains("restore"),
            refused.getMessage());
    }

    @Test
    void readingADirectoryWithoutDataSaysSo()
    {
        assertThrows(DataLayout.LayoutException.class, () -> DataLayout.read(dir));
    }
}
