package io.tokenmeter.core.event;

import org.agrona.BitUtil;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Interns names (tenants or models, ASCII by the SPEC) to dense ids 0, 1, 2 ... in order of first definition.
 * Lookups by byte range allocate nothing; only a new name allocates. Not thread-safe: each owning thread
 * (journal, aggregator) keeps its own dictionary, rebuilt from the log's NAME records, so both agree.
 */
public final class NameDictionary
{
    /** Returned by lookups when the name is not defined. */
    public static final int MISSING = -1;

    private final int maxSize;
    private byte[][] namesById = new byte[16][];
    private String[] stringsById = new String[16];
    private int size;
    private int[] table = new int[32];
    /** Sums what {@link #prefetch} loads, so that the JIT cannot drop those loads. */
    private long prefetchSink;

    /** @param maxSize the most ids this dictionary may hand out (the id field's range). */
    public NameDictionary(final int maxSize)
    {
        this.maxSize = maxSize;
    }

    public int size()
    {
        return size;
    }

    public int maxSize()
    {
        return maxSize;
    }

    public boolean isFull()
    {
        return size >= maxSize;
    }

    /** @return the id of the name in {@code buffer[offset, offset + length)}, or {@link #MISSING}. */
    public int lookup(final DirectBuffer buffer, final int offset, final int length)
    {
        final int mask = table.length - 1;
        int index = hash(buffer, offset, length) & mask;
        while (true)
        {
            final int entry = table[index];
            if (entry == 0)
            {
                return MISSING;
            }
            final int id = entry - 1;
            if (equals(namesById[id], buffer, offset, length))
            {
                return id;
            }
            index = (index + 1) & mask;
        }
    }

    /**
     * Loads what a {@link #lookup} of this name will read first (its table slot and the bytes of the name held there),
     * and nothing else: called for the next names of a request before they are looked up, it has their cache misses
     * overlap instead of come one after another, as the dedup index's prefetch does for its probes. With thousands of
     * tenants the table and the names are beyond the cache the dedup index leaves.
     */
    public void prefetch(final DirectBuffer buffer, final int offset, final int length)
    {
        final int entry = table[hash(buffer, offset, length) & (table.length - 1)];
        if (entry != 0)
        {
            prefetchSink += namesById[entry - 1].length;
        }
    }

    /** @return the id of the name, or {@link #MISSING}. */
    public int lookup(final String name)
    {
        final byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        return lookup(new UnsafeBuffer(bytes), 0, bytes.length);
    }

    /**
     * Defines the next id for a name not yet present.
     *
     * @return the new id.
     * @throws IllegalStateException when full or when the name is already defined (callers look up first).
     */
    public int add(final DirectBuffer buffer, final int offset, final int length)
    {
        if (size >= maxSize)
        {
            throw new IllegalStateException("name dictionary full at " + maxSize + " names");
        }
        if (lookup(buffer, offset, length) != MISSING)
        {
            throw new IllegalStateException("name already defined");
        }
        final byte[] bytes = new byte[length];
        buffer.getBytes(offset, bytes);
        return put(size, bytes);
    }

    /**
     * Defines a name under the id the log gave it; ids must arrive in order.
     *
     * @throws IllegalStateException when the id is not the next one: the log and this dictionary disagree.
     */
    public void define(final int id, final DirectBuffer buffer, final int offset, final int length)
    {
        if (id != size)
        {
            throw new IllegalStateException("name id " + id + " defined out of order; expected " + size);
        }
        final byte[] bytes = new byte[length];
        buffer.getBytes(offset, bytes);
        put(id, bytes);
    }

    /** Forgets every id at or above {@code newSize}: undoes definitions that never reached the log. */
    public void truncate(final int newSize)
    {
        if (newSize >= size)
        {
            return;
        }
        for (int id = newSize; id < size; id++)
        {
            namesById[id] = null;
            stringsById[id] = null;
        }
        size = newSize;
        rebuildTable(table.length);
    }

    /** Bytes {@link #writeTo} needs. */
    public int encodedLength()
    {
        int length = Integer.BYTES;
        for (int id = 0; id < size; id++)
        {
            length += 1 + namesById[id].length;
        }
        return length;
    }

    /** Writes every name in id order: a count, then length-prefixed names. */
    public void writeTo(final java.nio.ByteBuffer out)
    {
        out.putInt(size);
        for (int id = 0; id < size; id++)
        {
            out.put((byte)namesById[id].length).put(namesById[id]);
        }
    }

    /** Reads names written by {@link #writeTo} into this (empty) dictionary. */
    public void readFrom(final java.nio.ByteBuffer in)
    {
        if (size != 0)
        {
            throw new IllegalStateException("dictionary not empty");
        }
        final int count = in.getInt();
        if (count < 0 || count > maxSize)
        {
            throw new IllegalStateException("dictionary of " + count + " names exceeds " + maxSize);
        }
        for (int id = 0; id < count; id++)
        {
            final byte[] bytes = new byte[in.get() & 0xFF];
            in.get(bytes);
            put(id, bytes);
        }
    }

    /**
     * Defines a name read from the log, or checks it when this dictionary already holds that id (replay may start
     * before the point a snapshot of the dictionary was taken).
     *
     * @throws IllegalStateException when the log and this dictionary disagree.
     */
    public void defineOrVerify(final int id, final DirectBuffer buffer, final int offset, final int length)
    {
        if (id < size)
        {
            if (!equals(namesById[id], buffer, offset, length))
            {
                throw new IllegalStateException("name id " + id + " in the log differs from the snapshot's");
            }
            return;
        }
        define(id, buffer, offset, length);
    }

    public String name(final int id)
    {
        return stringsById[id];
    }

    private int put(final int id, final byte[] bytes)
    {
        if (id >= namesById.length)
        {
            final int newLength = namesById.length * 2;
            namesById = Arrays.copyOf(namesById, newLength);
            stringsById = Arrays.copyOf(stringsById, newLength);
        }
        namesById[id] = bytes;
        stringsById[id] = new String(bytes, StandardCharsets.UTF_8);
        size = id + 1;
        if (size * 2 > table.length)
        {
            rebuildTable(BitUtil.findNextPositivePowerOfTwo(size * 4));
        }
        else
        {
            insert(table, id);
        }
        return id;
    }

    private void rebuildTable(final int length)
    {
        final int[] newTable = new int[length];
        for (int id = 0; id < size; id++)
        {
            insert(newTable, id);
        }
        table = newTable;
    }

    private void insert(final int[] target, final int id)
    {
        final byte[] bytes = namesById[id];
        final int mask = target.length - 1;
        int index = hash(bytes) & mask;
        while (target[index] != 0)
        {
            index = (index + 1) & mask;
        }
        target[index] = id + 1;
    }

    private static boolean equals(final byte[] name, final DirectBuffer buffer, final int offset, final int length)
    {
        if (name.length != length)
        {
            return false;
        }
        final byte[] array = buffer.byteArray();
        if (array != null)
        {
            // vectorised by the JIT: the names of staged events (the hot path) live in arrays
            final int from = offset + buffer.wrapAdjustment();
            return Arrays.equals(name, 0, length, array, from, from + length);
        }
        for (int i = 0; i < length; i++)
        {
            if (name[i] != buffer.getByte(offset + i))
            {
                return false;
            }
        }
        return true;
    }

    /** Eight bytes at a step: names are short, and this runs twice per journaled event. */
    private static int hash(final DirectBuffer buffer, final int offset, final int length)
    {
        long h = 0x9E3779B97F4A7C15L ^ length;
        int i = 0;
        for (; i + Long.BYTES <= length; i += Long.BYTES)
        {
            h = Long.rotateLeft((h ^ buffer.getLong(offset + i, ByteOrder.LITTLE_ENDIAN)) * 0xFF51AFD7ED558CCDL, 29);
        }
        long last = 0;
        for (; i < length; i++)
        {
            last = (last << 8) | (buffer.getByte(offset + i) & 0xFF);
        }
        h = (h ^ last) * 0xC4CEB9FE1A85EC53L;
        return (int)(h ^ (h >>> 32));
    }

    private static int hash(final byte[] bytes)
    {
        return hash(new UnsafeBuffer(bytes), 0, bytes.length);
    }
}
