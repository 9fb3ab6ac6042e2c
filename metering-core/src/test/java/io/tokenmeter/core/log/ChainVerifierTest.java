package io.tokenmeter.core.log;

import io.tokenmeter.core.event.LogDocumentReader;
import io.tokenmeter.core.event.LogDocumentWriter;
import io.tokenmeter.core.event.LogLayout;
import org.agrona.collections.LongHashSet;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The hash chain on a real Chronicle queue: written by the log as documents are appended, continued across a
 * reopen and after a log of an earlier version, and broken, at the position named, by an edit whose CRC32C was recomputed, a removed document and two
 * swapped documents.
 */
class ChainVerifierTest
{
    private static final int DOCUMENTS = 12;

    @TempDir
    Path dir;

    /** Writes {@code count} documents of one name record each ("tenant-N"), chained by the log. */
    private static List<Long> write(final ChronicleEventLog log, final int from, final int count)
    {
        final LogDocumentWriter writer = new LogDocumentWriter(256);
        final List<Long> indexes = new ArrayList<>();
        for (int i = from; i < from + count; i++)
        {
            writer.begin(1_000L + i);
            final byte[] name = String.format("tenant-%04d", i).getBytes(StandardCharsets.US_ASCII);
            writer.appendName(LogLayout.RECORD_TENANT_NAME, i, new UnsafeBuffer(name), 0, name.length);
            indexes.add(log.append(writer.buffer(), writer.finish(log.lastDocumentSha256())));
        }
        return indexes;
    }

    /** @return every document's bytes, in log order. */
    private static List<byte[]> documents(final EventLog log)
    {
        final List<byte[]> all = new ArrayList<>();
        try (EventLog.Reader reader = log.newReader())
        {
            reader.startAt(EventLog.NO_INDEX);
            for (int i = 0; i < 10_000 && reader.readNextRaw((index, buffer, offset, length) ->
            {
                final byte[] bytes = new byte[length];
                buffer.getBytes(offset, bytes);
                all.add(bytes);
            }) != EventLog.NO_INDEX; i++)
            {
                // collected by the listener
            }
        }
        return all;
    }

    private static ChainVerifier.Result verify(final Path logDir)
    {
        try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(logDir))
        {
            return ChainVerifier.verify(log, ChainVerifier.startOfLog(), new LongHashSet());
        }
    }

    @Test
    void theLogChainsEveryDocumentAndContinuesTheChainAfterAReopen()
    {
        final Path logDir = dir.resolve("log");
        final List<Long> indexes;
        try (ChronicleEventLog log = new ChronicleEventLog(logDir, Durability.PROCESS))
        {
            indexes = new ArrayList<>(write(log, 0, DOCUMENTS / 2));
        }
        try (ChronicleEventLog log = new ChronicleEventLog(logDir, Durability.PROCESS))
        {
            indexes.addAll(write(log, DOCUMENTS / 2, DOCUMENTS / 2));
        }
        final ChainVerifier.Result result = verify(logDir);
        assertTrue(result.holds(), () -> "breaks: " + result.breaks());
        assertEquals(DOCUMENTS, result.documents());
        assertEquals(DOCUMENTS, result.chained());
        assertEquals(indexes.get(DOCUMENTS - 1), result.lastIndex());

        try (ChronicleEventLog log = ChronicleEventLog.openReadOnly(logDir))
        {
            final List<byte[]> docs = documents(log);
            final UnsafeBuffer first = new UnsafeBuffer(docs.get(0));
            assertEquals("0".repeat(64), DocumentSha256.hex(first, LogDocumentReader.previousSha256Offset(first, 0, docs.get(0).length)),
                "the first document of a log records 32 zero bytes");
            final LongHashSet wanted = new LongHashSet();
            wanted.add(indexes.get(3));
            final ChainVerifier.Result asked = ChainVerifier.verify(log, ChainVerifier.startOfLog(), wanted);
            final UnsafeBuffer fifth = new UnsafeBuffer(docs.get(4));
            assertEquals(DocumentSha256.hex(fifth, LogDocumentReader.previousSha256Offset(fifth, 0, docs.get(4).length)),
                asked.sha256At().get(indexes.get(3)), "the hash of a document is what the next one records");
        }
    }

    @Test
    void anEditWithItsChecksumRecomputedBreaksTheChainAtTheNextDocument() throws IOException
    {
        final Path logDir = dir.resolve("log");
        final List<Long> indexes;
        final List<byte[]> docs;
        try (ChronicleEventLog log = new ChronicleEventLog(logDir, Durability.PROCESS))
        {
            indexes = write(log, 0, DOCUMENTS);
            docs = documents(log);
        }
        // the document of tenant-0005 becomes tenant-0009's, with a valid CRC32C: the reader would accept it
        final byte[] original = docs.get(5);
        final byte[] edited = original.clone();
        final int nameAt = indexOf(edited, "tenant-0005".getBytes(StandardCharsets.US_ASCII), 0);
        edited[nameAt + 10] = '9';
        final int checked = edited.length - LogLayout.CHECKSUM_LENGTH;
        final java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(edited, 0, checked);
        new UnsafeBuffer(edited).putInt(checked, (int)crc.getValue());
        new LogDocumentReader().read(new UnsafeBuffer(edited), 0, edited.length, new LogDocumentReader.Handler()
        {
            @Override
            public void onName(final byte recordType, final int id, final org.agrona.DirectBuffer nameBuffer, final int offset,
                final int length)
            {
                // the edited document passes its checksum
            }

            @Override
            public void onEvent(final io.tokenmeter.core.event.EventRecord event, final long appendTimeMs)
            {
                // none
            }
        });
        patch(logDir, original, edited);

        final ChainVerifier.Result result = verify(logDir);
        assertFalse(result.holds());
        assertEquals(1, result.breakCount(), () -> "breaks: " + result.breaks());
        final String why = result.breaks().get(0);
        assertTrue(why.startsWith("log document at index " + Long.toHexString(indexes.get(6))), why);
        assertTrue(why.contains("(index " + Long.toHexString(indexes.get(5)) + ")"), why);
        assertTrue(why.contains("edited"), why);
    }

    @Test
    void aRemovedDocumentAndTwoSwappedOnesBreakTheChainWhereTheyWere()
    {
        final Path logDir = dir.resolve("log");
        final List<byte[]> docs;
        try (ChronicleEventLog log = new ChronicleEventLog(logDir, Durability.PROCESS))
        {
            write(log, 0, DOCUMENTS);
            docs = documents(log);
        }

        final List<byte[]> withoutOne = new ArrayList<>(docs);
        withoutOne.remove(4);
        final List<Long> removed = copy(dir.resolve("removed"), withoutOne);
        final ChainVerifier.Result afterRemoval = verify(dir.resolve("removed"));
        assertEquals(1, afterRemoval.breakCount(), () -> "breaks: " + afterRemoval.breaks());
        assertTrue(afterRemoval.breaks().get(0).startsWith("log document at index " + Long.toHexString(removed.get(4))),
            afterRemoval.breaks().get(0));

        final List<byte[]> swapped = new ArrayList<>(docs);
        swapped.set(7, docs.get(8));
        swapped.set(8, docs.get(7));
        final List<Long> swappedIndexes = copy(dir.resolve("swapped"), swapped);
        final ChainVerifier.Result afterSwap = verify(dir.resolve("swapped"));
        assertEquals(3, afterSwap.breakCount(), () -> "each of the two and the one after them: " + afterSwap.breaks());
        assertTrue(afterSwap.breaks().get(0).startsWith("log document at index " + Long.toHexString(swappedIndexes.get(7))),
            afterSwap.breaks().get(0));

        final List<Long> headless = copy(dir.resolve("headless"), docs.subList(3, docs.size()));
        final ChainVerifier.Result withoutStart = verify(dir.resolve("headless"));
        assertEquals(1, withoutStart.breakCount());
        assertTrue(withoutStart.breaks().get(0).contains(Long.toHexString(headless.get(0)) + " is the first of the log"),
            withoutStart.breaks().get(0));
    }

    /** @return a version 2 document (a checksum, no chain hash) of one name record, as builds before the chain wrote it. */
    private static byte[] version2Document(final int i)
    {
        final LogDocumentWriter writer = new LogDocumentWriter(256);
        writer.begin(1_000L + i);
        final byte[] name = String.format("tenant-%04d", i).getBytes(StandardCharsets.US_ASCII);
        writer.appendName(LogLayout.RECORD_TENANT_NAME, i, new UnsafeBuffer(name), 0, name.length);
        final int content = writer.finish(ChainVerifier.startOfLog()) - LogLayout.CHAINED_TRAILER_LENGTH;
        final byte[] doc = new byte[content + LogLayout.CHECKSUM_LENGTH];
        writer.buffer().getBytes(0, doc, 0, content);
        doc[LogLayout.DOC_VERSION_OFFSET] = LogLayout.DOCUMENT_VERSION_WITHOUT_CHAIN;
        final java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(doc, 0, content);
        new UnsafeBuffer(doc).putInt(content, (int)crc.getValue());
        return doc;
    }

    @Test
    void aLogOfAnEarlierVersionIsContinuedByTheChainAndADocumentWithoutItAfterChainedOnesIsABreak()
    {
        final Path logDir = dir.resolve("log");
        final List<byte[]> before = new ArrayList<>();
        for (int i = 0; i < 3; i++)
        {
            before.add(version2Document(i));
        }
        copy(logDir, before);
        final List<Long> indexes;
        try (ChronicleEventLog log = new ChronicleEventLog(logDir, Durability.PROCESS))
        {
            indexes = write(log, 3, 3);
        }
        final ChainVerifier.Result upgraded = verify(logDir);
        assertTrue(upgraded.holds(), () -> "the first chained document links to the last version 2 one: " + upgraded.breaks());
        assertEquals(6, upgraded.documents());
        assertEquals(3, upgraded.chained());

        try (ChronicleEventLog log = new ChronicleEventLog(logDir, Durability.PROCESS))
        {
            final byte[] older = version2Document(9);
            log.append(new UnsafeBuffer(older), older.length);
        }
        final ChainVerifier.Result downgraded = verify(logDir);
        assertEquals(1, downgraded.breakCount(), () -> "breaks: " + downgraded.breaks());
        assertTrue(downgraded.breaks().get(0).contains("holds no chain hash but follows a chained document (index "
            + Long.toHexString(indexes.get(2)) + ")"), downgraded.breaks().get(0));
    }

    /** A log rebuilt from documents as they are: what an edit of the files by hand could make. */
    private static List<Long> copy(final Path logDir, final List<byte[]> docs)
    {
        final List<Long> indexes = new ArrayList<>();
        try (ChronicleEventLog log = new ChronicleEventLog(logDir, Durability.PROCESS))
        {
            for (final byte[] doc : docs)
            {
                indexes.add(log.append(new UnsafeBuffer(doc), doc.length));
            }
        }
        return indexes;
    }

    /** Overwrites, in the queue's file, the one place holding {@code original} with {@code edited} (same length). */
    private static void patch(final Path logDir, final byte[] original, final byte[] edited) throws IOException
    {
        final List<Path> files;
        try (Stream<Path> listing = Files.list(logDir))
        {
            files = listing.filter(p -> p.toString().endsWith(".cq4")).toList();
        }
        int patched = 0;
        for (final Path file : files)
        {
            final byte[] content = Files.readAllBytes(file);
            final int at = indexOf(content, original, 0);
            if (at >= 0)
            {
                assertEquals(-1, indexOf(content, original, at + 1), "the document's bytes are unique in the file");
                try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw"))
                {
                    raf.seek(at);
                    raf.write(edited);
                }
                patched++;
            }
        }
        assertEquals(1, patched, "the document was found in one file");
    }

    private static int indexOf(final byte[] haystack, final byte[] needle, final int from)
    {
        outer:
        for (int i = from; i <= haystack.length - needle.length; i++)
        {
            for (int j = 0; j < needle.length; j++)
            {
                if (haystack[i + j] != needle[j])
                {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
