package io.tokenmeter.server.http;

import io.netty.util.concurrent.FastThreadLocal;
import org.agrona.ExpandableArrayBuffer;

import java.util.ArrayDeque;

/**
 * Reuses the buffers ingest requests are staged in, so that a request in steady state allocates no staging memory
 * (a new buffer per 100-event request was about 6 KB of garbage, zeroed on allocation). Each event loop keeps its own
 * free list: a buffer is taken on the event loop that parses a request and given back on the same event loop when the
 * request is answered, after the journal has read it. Not shared between threads.
 */
final class StagingBuffers
{
    /** Free buffers kept per event loop: more than the requests one loop has in flight in steady state. */
    private static final int MAX_FREE = 64;
    /** Buffers grown beyond this (by very large requests) are left to the garbage collector, not kept. */
    private static final int MAX_KEPT_CAPACITY = 1 << 20;
    private static final int INITIAL_CAPACITY = 1 << 14;

    private static final FastThreadLocal<ArrayDeque<ExpandableArrayBuffer>> FREE = new FastThreadLocal<>()
    {
        @Override
        protected ArrayDeque<ExpandableArrayBuffer> initialValue()
        {
            return new ArrayDeque<>(MAX_FREE);
        }
    };

    private StagingBuffers()
    {
    }

    /** @return a buffer from this thread's free list, or a new one. */
    static ExpandableArrayBuffer take()
    {
        final ExpandableArrayBuffer buffer = FREE.get().pollLast();
        return buffer != null ? buffer : new ExpandableArrayBuffer(INITIAL_CAPACITY);
    }

    /** Gives a buffer back to this thread's free list once nothing reads it any more. */
    static void giveBack(final ExpandableArrayBuffer buffer)
    {
        final ArrayDeque<ExpandableArrayBuffer> free = FREE.get();
        if (free.size() < MAX_FREE && buffer.capacity() <= MAX_KEPT_CAPACITY)
        {
            free.addLast(buffer);
        }
    }
}
