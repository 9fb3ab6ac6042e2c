package io.tokenmeter.core.event;

import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LogCodecTest
{
    static int stage(final ExpandableArrayBuffer out, final int offset, final String tenant, final String model, final String id,
        final long timestampMs, final long[] tokens, final ServiceTier tier)
    {
        final byte[] t = tenant.getBytes(StandardCharsets.UTF_8);
        final byte[] m = model.getBytes(StandardCharsets.UTF_8);
        final byte[] i = id.getBytes(StandardCharsets.UTF_8);
        final byte[] names = new byte[t.length + m.length + i.length];
        System.arraycopy(t, 0, names, 0, t.length);
        System.arraycopy(m, 0, names, t.length, m.length);
        System.arraycopy(i, 0, names, t.length + m.length, i.length);
        final EventHasher hasher = new EventHasher();
        final byte[] key = (tenant + "\0" + id).getBytes(StandardCharsets.UTF_8);
        hasher.hashId(key, 0, key.length);
        return new StagedEvent().wrap(out, offset).encode(hasher.idHashHi(), hasher.idHashLo(), timestampMs ^ tokens[0],
            timestampMs, tokens, tier.code(), 0, names, t.length, m.length, i.length);
    }

    @Test
    void stagedEventRoundTrips()
    {
        final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(64);
        final long[] tokens = {1, 2, 3, 4, 1_000_000_000_000L, 6};
        final int length = stage(buffer, 0, "acme", "gpt-4o", "chatcmpl-é", 1234567890123L, tokens, ServiceTier.PRIORITY);
        final StagedEvent event = new StagedEvent().wrap((DirectBuffer)buffer, 0);
        assertEquals(length, event.encodedLength());
        assertEquals(1234567890123L, event.timestampMs());
        for (int i = 0; i < TokenClass.COUNT; i++)
        {
            assertEquals(tokens[i], event.tokens(i));
        }
        assertEquals(ServiceTier.PRIORITY.code(), event.tierCode());
        assertEquals("acme", buffer.getStringWithoutLengthUtf8(event.tenantOffset(), event.tenantLength()));
        assertEquals("gpt-4o", buffer.getStringWithoutLengthUtf8(event.modelOffset(), event.modelLength()));
        assertEquals("chatcmpl-é", buffer.getStringWithoutLengthUtf8(event.idOffset(), event.idLength()));
    }

    /**
     * One flyweight moved between buffers, as an event loop and a journal use theirs: wrapping the same buffer again
     * keeps it without storing it, so every switch of buffer (and of read-only and writable) must still take effect.
     */
    @Test
    void aStagedEventFlyweightFollowsEverySwitchOfBuffer()
    {
        final ExpandableArrayBuffer first = new ExpandableArrayBuffer(64);
        final ExpandableArrayBuffer second = new ExpandableArrayBuffer(64);
        final long[] tokens = {1, 2, 3, 4, 5, 6};
        final byte[] names = "acmegpt-4oa".getBytes(StandardCharsets.US_ASCII);
        final int firstLength = stage(first, 0, "acme", "gpt-4o", "a", 1000L, tokens, ServiceTier.STANDARD);
        stage(first, firstLength, "acme", "o4-mini", "b", 2000L, tokens, ServiceTier.STANDARD);
        stage(second, 0, "globex", "claude-haiku-4-5", "c", 3000L, tokens, ServiceTier.STANDARD);

        // read-only from buffer to buffer
        final StagedEvent event = new StagedEvent();
        assertEquals(1000L, event.wrap((DirectBuffer)first, 0).timestampMs());
        assertEquals(2000L, event.wrap((DirectBuffer)first, firstLength).timestampMs());
        assertEquals(3000L, event.wrap((DirectBuffer)second, 0).timestampMs());
        assertEquals("globex", second.getStringWithoutLengthUtf8(event.tenantOffset(), event.tenantLength()));
        assertEquals(1000L, event.wrap((DirectBuffer)first, 0).timestampMs());

        // writable on the buffer it was reading, then read-only on it again: no longer writable
        event.wrap(first, 0).encode(7, 8, 9, 4000L, tokens, ServiceTier.STANDARD.code(), 0, names, 4, 6, 1);
        assertEquals(4000L, event.timestampMs());
        assertEquals(4000L, event.wrap((DirectBuffer)first, 0).timestampMs());
        assertEquals(7, event.idHashHi());
        assertThrows(AssertionError.class, () -> event.encode(1, 2, 3, 5000L, tokens, 0, 0, new byte[0], 0, 0, 0));

        // writable on the other buffer: it reads and writes there, not in the one it read last
        event.wrap(second, 0).encode(10, 11, 12, 6000L, tokens, ServiceTier.STANDARD.code(), 0, names, 4, 6, 1);
        assertEquals(6000L, event.timestampMs());
        assertEquals(4000L, new StagedEvent().wrap((DirectBuffer)first, 0).timestampMs());

        // writable straight to writable on another buffer, then read-only on a third: each switch takes effect
        event.wrap(first, 0).encode(13, 14, 15, 7000L, tokens, ServiceTier.STANDARD.code(), 0, names, 4, 6, 1);
        event.wrap(second, 0).encode(16, 17, 18, 8000L, tokens, ServiceTier.STANDARD.code(), 0, names, 4, 6, 1);
        assertEquals(8000L, event.timestampMs());
        assertEquals(7000L, new StagedEvent().wrap((DirectBuffer)first, 0).timestampMs());
        assertEquals(8000L, new StagedEvent().wrap((DirectBuffer)second, 0).timestampMs());
        final ExpandableArrayBuffer third = new ExpandableArrayBuffer(64);
        stage(third, 0, "initech", "gpt-4o-mini", "d", 9000L, tokens, ServiceTier.STANDARD);
        assertEquals(9000L, event.wrap((DirectBuffer)third, 0).timestampMs());
        assertThrows(AssertionError.class, () -> event.encode(1, 2, 3, 5000L, tokens, 0, 0, new byte[0], 0, 0, 0));
        assertEquals(9000L, new StagedEvent().wrap((DirectBuffer)third, 0).timestampMs());
    }

    @Test
    void logDocumentRoundTripsNamesAndEvents()
    {
        final ExpandableArrayBuffer staged = new ExpandableArrayBuffer(64);
        final long[] tokens = {10, 20, 30, 40, 50, 5};
        stage(staged, 0, "acme", "claude", "req-1", 99L, tokens, ServiceTier.BATCH);
        final StagedEvent event = new StagedEvent().wrap((DirectBuffer)staged, 0);

        final LogDocumentWriter writer = new LogDocumentWriter(16);
        writer.begin(777L);
        writer.appendName(LogLayout.RECORD_TENANT_NAME, 0, staged, event.tenantOffset(), event.tenantLength());
        writer.appendName(LogLayout.RECORD_MODEL_NAME, 0, staged, event.modelOffset(), event.modelLength());
        writer.appendEvent(event, 0, 0, 0);
        final int length = writer.finish(new byte[LogLayout.CHAIN_HASH_LENGTH]);

        final List<String> seen = new ArrayList<>();
        final long appendTime = new LogDocumentReader().read(writer.buffer(), 0, length, new LogDocumentReader.Handler()
        {
            @Override
            public void onName(final byte type, final int id, final DirectBuffer buffer, final int offset, final int len)
            {
                seen.add(type + ":" + id + ":" + buffer.getStringWithoutLengthAscii(offset, len));
            }

            @Override
            public void onEvent(final EventRecord record, final long appendTimeMs)
            {
                seen.add("event:" + record.id() + ":" + record.tenantId() + ":" + record.modelId() + ":" + record.tierCode()
                    + ":" + record.timestampMs() + ":" + record.tokens(TokenClass.OUTPUT.ordinal())
                    + ":" + (record.idHashHi() == event.idHashHi()) + ":" + (record.contentHash() == event.contentHash()));
            }
        });
        assertEquals(777L, appendTime);
        assertEquals(List.of("2:0:acme", "3:0:claude", "event:req-1:0:0:1:99:50:true:true"), seen);
    }

    /** One reader (and its one event record flyweight) over documents in different buffers, as an aggregator reads. */
    @Test
    void anEventRecordFollowsTheReaderFromBufferToBuffer()
    {
        final List<org.agrona.MutableDirectBuffer> documents = new ArrayList<>();
        final List<Integer> lengths = new ArrayList<>();
        for (final String id : List.of("req-a", "req-b"))
        {
            final ExpandableArrayBuffer staged = new ExpandableArrayBuffer(64);
            stage(staged, 0, "acme", "claude", id, 99L, new long[] {1, 2, 3, 4, 5, 6}, ServiceTier.STANDARD);
            final LogDocumentWriter writer = new LogDocumentWriter(16);
            writer.begin(777L);
            writer.appendEvent(new StagedEvent().wrap((DirectBuffer)staged, 0), 0, 0, 0);
            final int length = writer.finish(new byte[LogLayout.CHAIN_HASH_LENGTH]);
            final ExpandableArrayBuffer copy = new ExpandableArrayBuffer(length);
            copy.putBytes(0, writer.buffer(), 0, length);
            documents.add(copy);
            lengths.add(length);
        }
        final List<String> seen = new ArrayList<>();
        final LogDocumentReader reader = new LogDocumentReader();
        final LogDocumentReader.Handler handler = new LogDocumentReader.Handler()
        {
            @Override
            public void onName(final byte type, final int id, final DirectBuffer buffer, final int offset, final int len)
            {
            }

            @Override
            public void onEvent(final EventRecord record, final long appendTimeMs)
            {
                seen.add(record.id());
            }
        };
        for (final int d : new int[] {0, 1, 1, 0})
        {
            reader.read(documents.get(d), 0, lengths.get(d), handler);
        }
        assertEquals(List.of("req-a", "req-b", "req-b", "req-a"), seen);
    }

    /** Reads every event record of a document into text. */
    private static List<String> events(final DirectBuffer buffer, final int length)
    {
        final List<String> seen = new ArrayList<>();
        new LogDocumentReader().read(buffer, 0, length, new LogDocumentReader.Handler()
        {
            @Override
            public void onName(final byte type, final int id, final DirectBuffer b, final int offset, final int len)
            {
            }

            @Override
            public void onEvent(final EventRecord r, final long appendTimeMs)
            {
                final StringBuilder text = new StringBuilder(r.id()).append(' ').append(r.tenantId()).append(' ')
                    .append(r.modelId()).append(' ').append(r.tierCode()).append(' ').append(r.flags()).append(' ')
                    .append(r.timestampMs()).append(' ').append(r.idHashHi()).append(' ').append(r.idHashLo()).append(' ')
                    .append(r.contentHash());
                for (int i = 0; i < TokenClass.COUNT; i++)
                {
                    text.append(' ').append(r.tokens(i));
                }
                seen.add(text.toString());
            }
        });
        return seen;
    }

    @Test
    void compactEventRecordsRoundTripEveryValueTheirFieldsCanHold()
    {
        final long seed = Long.getLong("tokenmeter.test.seed", 20261209L);
        final java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
        final ExpandableArrayBuffer staged = new ExpandableArrayBuffer(1024);
        final LogDocumentWriter writer = new LogDocumentWriter(16);
        final long appendTimeMs = 1_790_000_000_000L;
        writer.begin(appendTimeMs);
        final List<String> expected = new ArrayList<>();
        for (int e = 0; e < 2_000; e++)
        {
            final long[] tokens = new long[TokenClass.COUNT];
            for (int i = 0; i < tokens.length; i++)
            {
                tokens[i] = switch (random.nextInt(4))
                {
                    case 0 -> 0;
                    case 1 -> TokenClass.MAX_TOKENS_PER_EVENT;
                    case 2 -> random.nextLong(128);
                    default -> random.nextLong(TokenClass.MAX_TOKENS_PER_EVENT + 1);
                };
            }
            // far in the past, just before, after the document's time, and 1970 itself
            final long timestampMs = switch (random.nextInt(4))
            {
                case 0 -> 0L;
                case 1 -> appendTimeMs - random.nextLong(10_000);
                case 2 -> appendTimeMs + random.nextLong(300_000);
                default -> random.nextLong(appendTimeMs * 2);
            };
            final String id = "id-" + e + "-" + "x".repeat(random.nextInt(100));
            stage(staged, 0, "t" + e, "m", id, timestampMs, tokens, ServiceTier.fromCode(random.nextInt(4)));
            final StagedEvent event = new StagedEvent().wrap((DirectBuffer)staged, 0);
            final int tenantId = random.nextInt(4) == 0 ? (1 << 24) - 1 : random.nextInt(1000);
            final int modelId = random.nextInt(4) == 0 ? (1 << 16) - 1 : random.nextInt(100);
            final int flags = random.nextInt(4);
            writer.appendEvent(event, tenantId, modelId, flags);
            final StringBuilder text = new StringBuilder(id).append(' ').append(tenantId).append(' ').append(modelId)
                .append(' ').append(event.tierCode()).append(' ').append(flags).append(' ').append(timestampMs).append(' ')
                .append(event.idHashHi()).append(' ').append(event.idHashLo()).append(' ').append(event.contentHash());
            for (final long t : tokens)
            {
                text.append(' ').append(t);
            }
            expected.add(text.toString());
        }
        final int length = writer.finish(new byte[LogLayout.CHAIN_HASH_LENGTH]);
        assertEquals(expected, events(writer.buffer(), length), "seed " + seed);
        assertTrue(length < 2_000 * (LogLayout.EVENT_FIXED_LENGTH + 60), "compact records are smaller: " + length);
    }

    @Test
    void aCompactRecordCutInItsVarintsIsADamagedDocument()
    {
        final ExpandableArrayBuffer staged = new ExpandableArrayBuffer(256);
        stage(staged, 0, "acme", "m", "id-1", 5L, new long[] {1, 2, 3, 4, 5, 0}, ServiceTier.STANDARD);
        final LogDocumentWriter writer = new LogDocumentWriter(16);
        writer.begin(10L);
        writer.appendEvent(new StagedEvent().wrap((DirectBuffer)staged, 0), 300, 300, 0);
        final int length = writer.finish(new byte[LogLayout.CHAIN_HASH_LENGTH]);
        // a version 1 document (no checksum) whose event ends inside its varints: the walk must refuse it whole
        final UnsafeBuffer cut = new UnsafeBuffer(new byte[length]);
        cut.putBytes(0, writer.buffer(), 0, length);
        cut.putByte(LogLayout.DOC_VERSION_OFFSET, LogLayout.DOCUMENT_VERSION_WITHOUT_CHECKSUM);
        final int cutLength = LogLayout.DOC_HEADER_LENGTH + LogLayout.COMPACT_VARINTS_OFFSET + 1;
        assertThrows(DamagedDocumentException.class, () -> events(cut, cutLength));
    }

    @Test
    void fixedEventRecordsOfEarlierVersionsAreStillRead()
    {
        // a type 1 record as the versions before compact records wrote it
        final UnsafeBuffer doc = new UnsafeBuffer(new byte[LogLayout.DOC_HEADER_LENGTH + LogLayout.EVENT_FIXED_LENGTH + 3]);
        doc.putByte(LogLayout.DOC_KIND_OFFSET, LogLayout.DOCUMENT_KIND_EVENTS);
        doc.putByte(LogLayout.DOC_VERSION_OFFSET, LogLayout.DOCUMENT_VERSION_WITHOUT_CHECKSUM);
        doc.putInt(LogLayout.DOC_RECORD_COUNT_OFFSET, 1);
        doc.putLong(LogLayout.DOC_APPEND_TIME_OFFSET, 42L, java.nio.ByteOrder.LITTLE_ENDIAN);
        final int at = LogLayout.DOC_HEADER_LENGTH;
        doc.putByte(at, LogLayout.RECORD_EVENT);
        doc.putByte(at + LogLayout.EVENT_TIER_OFFSET, (byte)2);
        doc.putByte(at + LogLayout.EVENT_FLAGS_OFFSET, (byte)LogLayout.FLAG_LONG_CONTEXT);
        doc.putByte(at + LogLayout.EVENT_ID_LENGTH_OFFSET, (byte)3);
        doc.putInt(at + LogLayout.EVENT_TENANT_ID_OFFSET, 7, java.nio.ByteOrder.LITTLE_ENDIAN);
        doc.putInt(at + LogLayout.EVENT_MODEL_ID_OFFSET, 9, java.nio.ByteOrder.LITTLE_ENDIAN);
        doc.putLong(at + LogLayout.EVENT_TIMESTAMP_OFFSET, 1_000L, java.nio.ByteOrder.LITTLE_ENDIAN);
        doc.putLong(at + LogLayout.EVENT_ID_HASH_HI_OFFSET, 11L, java.nio.ByteOrder.LITTLE_ENDIAN);
        doc.putLong(at + LogLayout.EVENT_ID_HASH_LO_OFFSET, 12L, java.nio.ByteOrder.LITTLE_ENDIAN);
        doc.putLong(at + LogLayout.EVENT_CONTENT_HASH_OFFSET, 13L, java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < TokenClass.COUNT; i++)
        {
            doc.putLong(at + LogLayout.EVENT_TOKENS_OFFSET + 8 * i, 100 + i, java.nio.ByteOrder.LITTLE_ENDIAN);
        }
        doc.putBytes(at + LogLayout.EVENT_ID_OFFSET, "abc".getBytes(StandardCharsets.US_ASCII));
        assertEquals(List.of("abc 7 9 2 " + LogLayout.FLAG_LONG_CONTEXT + " 1000 11 12 13 100 101 102 103 104 105"),
            events(doc, doc.capacity()));
    }

    @Test
    void markAndResetForgetRecordsWrittenAfterTheMark()
    {
        final LogDocumentWriter writer = new LogDocumentWriter(16);
        writer.begin(1L);
        final UnsafeBuffer name = new UnsafeBuffer("abc".getBytes(StandardCharsets.US_ASCII));
        writer.appendName(LogLayout.RECORD_TENANT_NAME, 0, name, 0, 3);
        final long mark = writer.mark();
        writer.appendName(LogLayout.RECORD_TENANT_NAME, 1, name, 0, 3);
        writer.reset(mark);
        assertEquals(1, writer.recordCount());
        assertEquals(LogLayout.DOC_HEADER_LENGTH + LogLayout.NAME_BYTES_OFFSET + 3 + LogLayout.CHAINED_TRAILER_LENGTH,
            writer.finish(new byte[LogLayout.CHAIN_HASH_LENGTH]));
    }

    /** A handler that records what it is handed. */
    private static final class Recording implements LogDocumentReader.Handler
    {
        final List<String> seen = new ArrayList<>();

        @Override
        public void onName(final byte type, final int id, final DirectBuffer buffer, final int offset, final int len)
        {
            seen.add("name " + id);
        }

        @Override
        public void onEvent(final EventRecord record, final long appendTimeMs)
        {
            seen.add("event " + record.id());
        }
    }

    /** @return a finished document of one name and three events. */
    private static LogDocumentWriter threeEvents()
    {
        final ExpandableArrayBuffer staged = new ExpandableArrayBuffer(64);
        final LogDocumentWriter writer = new LogDocumentWriter(16);
        writer.begin(5L);
        for (int i = 0; i < 3; i++)
        {
            stage(staged, 0, "acme", "m", "req-" + i, 99L, new long[] {1, 2, 3, 4, 5, 1}, ServiceTier.STANDARD);
            final StagedEvent event = new StagedEvent().wrap((DirectBuffer)staged, 0);
            if (i == 0)
            {
                writer.appendName(LogLayout.RECORD_TENANT_NAME, 0, staged, event.tenantOffset(), event.tenantLength());
            }
            writer.appendEvent(event, 0, 0, 0);
        }
        return writer;
    }

    @Test
    void aDamagedDocumentIsRefusedWholeBeforeAnyRecordIsHandled()
    {
        final LogDocumentWriter writer = threeEvents();
        final int length = writer.finish(new byte[LogLayout.CHAIN_HASH_LENGTH]);
        final Recording intact = new Recording();
        new LogDocumentReader().read(writer.buffer(), 0, length, intact);
        assertEquals(4, intact.seen.size());

        final int at = length - 20;
        writer.buffer().putByte(at, (byte)(writer.buffer().getByte(at) ^ 1));
        final Recording damaged = new Recording();
        final DamagedDocumentException ex = assertThrows(DamagedDocumentException.class,
            () -> new LogDocumentReader().read(writer.buffer(), 0, length, damaged));
        assertTrue(ex.getMessage().contains("checksum mismatch"), ex.getMessage());
        assertEquals(List.of(), damaged.seen, "nothing of a damaged document is handled");
    }

    @Test
    void aDocumentCutShortAndZeroFilledIsDamaged()
    {
        final LogDocumentWriter writer = threeEvents();
        final int length = writer.finish(new byte[LogLayout.CHAIN_HASH_LENGTH]);
        for (int i = length / 2; i < length; i++)
        {
            writer.buffer().putByte(i, (byte)0);
        }
        final Recording seen = new Recording();
        assertThrows(DamagedDocumentException.class, () -> new LogDocumentReader().read(writer.buffer(), 0, length, seen));
        assertEquals(List.of(), seen.seen);
        final ExpandableArrayBuffer zeros = new ExpandableArrayBuffer(64);
        assertThrows(DamagedDocumentException.class, () -> new LogDocumentReader().read(zeros, 0, 40, seen));
    }

    @Test
    void version1DocumentsWithoutAChecksumAreStillReadButCheckedForFit()
    {
        final LogDocumentWriter writer = threeEvents();
        final int length = writer.finish(new byte[LogLayout.CHAIN_HASH_LENGTH]) - LogLayout.CHAINED_TRAILER_LENGTH;
        writer.buffer().putByte(LogLayout.DOC_VERSION_OFFSET, LogLayout.DOCUMENT_VERSION_WITHOUT_CHECKSUM);
        final Recording seen = new Recording();
        new LogDocumentReader().read(writer.buffer(), 0, length, seen);
        assertEquals(List.of("name 0", "event req-0", "event req-1", "event req-2"), seen.seen);
        final Recording cut = new Recording();
        assertThrows(DamagedDocumentException.class, () -> new LogDocumentReader().read(writer.buffer(), 0, length - 10, cut));
        assertEquals(List.of(), cut.seen, "a version 1 document that does not fit is refused before any record is handled");
    }

    @Test
    void aDocumentOfAnUnknownVersionIsNotSkippedAsDamage()
    {
        final LogDocumentWriter writer = threeEvents();
        final int length = writer.finish(new byte[LogLayout.CHAIN_HASH_LENGTH]);
        writer.buffer().putByte(LogLayout.DOC_VERSION_OFFSET, (byte)9);
        final IllegalStateException ex = assertThrows(IllegalStateException.class,
            () -> new LogDocumentReader().read(writer.buffer(), 0, length, new Recording()));
        assertTrue(!(ex instanceof DamagedDocumentException) && ex.getMessage().contains("another version"), ex.getMessage());
    }

    @Test
    void dictionaryInternsTruncatesAndRestores()
    {
        final NameDictionary dictionary = new NameDictionary(3);
        final UnsafeBuffer a = new UnsafeBuffer("alpha".getBytes(StandardCharsets.US_ASCII));
        final UnsafeBuffer b = new UnsafeBuffer("beta".getBytes(StandardCharsets.US_ASCII));
        assertEquals(0, dictionary.add(a, 0, 5));
        assertEquals(1, dictionary.add(b, 0, 4));
        assertEquals(1, dictionary.lookup("beta"));
        dictionary.truncate(1);
        assertEquals(NameDictionary.MISSING, dictionary.lookup("beta"));
        dictionary.add(b, 0, 4);
        final java.nio.ByteBuffer bytes = java.nio.ByteBuffer.allocate(dictionary.encodedLength());
        dictionary.writeTo(bytes);
        final NameDictionary copy = new NameDictionary(3);
        copy.readFrom(bytes.flip());
        assertEquals("alpha", copy.name(0));
        assertEquals(1, copy.lookup("beta"));
        assertThrows(IllegalStateException.class, () -> copy.defineOrVerify(1, a, 0, 5), "log and snapshot disagree");
    }

    @Test
    void dictionaryFindsEveryNameFromArrayAndDirectBuffersAlike()
    {
        // lengths 1..130 cover whole 8-byte words, tails, and names that differ only in their last byte
        final NameDictionary dictionary = new NameDictionary(1 << 16);
        final java.util.List<byte[]> names = new java.util.ArrayList<>();
        for (int length = 1; length <= 130; length++)
        {
            for (final char last : new char[] {'a', 'b'})
            {
                final byte[] name = ("x".repeat(length - 1) + last).getBytes(StandardCharsets.US_ASCII);
                names.add(name);
                dictionary.prefetch(new UnsafeBuffer(name), 0, name.length); // a name not held: its slot may be empty or not
                assertEquals(NameDictionary.MISSING, dictionary.lookup(new UnsafeBuffer(name), 0, name.length));
                assertEquals(names.size() - 1, dictionary.add(new UnsafeBuffer(name), 0, name.length));
            }
        }
        final org.agrona.ExpandableArrayBuffer array = new org.agrona.ExpandableArrayBuffer(256);
        final UnsafeBuffer direct = new UnsafeBuffer(java.nio.ByteBuffer.allocateDirect(256));
        for (int id = 0; id < names.size(); id++)
        {
            final byte[] name = names.get(id);
            array.putBytes(3, name);
            direct.putBytes(5, name);
            dictionary.prefetch(array, 3, name.length); // loads ahead, and changes nothing a lookup answers
            dictionary.prefetch(direct, 5, name.length);
            assertEquals(id, dictionary.lookup(array, 3, name.length), "array-backed, id " + id);
            assertEquals(id, dictionary.lookup(direct, 5, name.length), "direct, id " + id);
            assertEquals(new String(name, StandardCharsets.US_ASCII), dictionary.name(id));
        }
        final UnsafeBuffer offsetView = new UnsafeBuffer(("zz" + new String(names.get(9), StandardCharsets.US_ASCII)).getBytes(StandardCharsets.US_ASCII), 2,
            names.get(9).length);
        assertEquals(9, dictionary.lookup(offsetView, 0, names.get(9).length), "a view into the middle of an array");
    }
}
