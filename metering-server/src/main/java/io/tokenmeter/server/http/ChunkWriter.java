package io.tokenmeter.server.http;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultHttpContent;

import java.io.ByteArrayOutputStream;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The body of one streamed answer, written in HTTP chunks by a producer thread that is not the event loop. Flow control
 * by write completion: at most {@value #CHUNKS_IN_FLIGHT} chunks of about {@value #CHUNK_BYTES} bytes are handed to the
 * channel and not yet written to its socket, so a stream costs about 256 KiB of memory however long it is and however
 * slowly its client reads; the producer waits for the client, and gives up when the connection is gone or takes no
 * chunk within the stall timeout (then the connection is closed: the body is cut off, never passed off as whole).
 *
 * <p>Owned by the producer thread; the write listeners run on the event loop and touch only the semaphore and the
 * broken flag.
 */
final class ChunkWriter
{
    /** A chunk is sent once this many bytes of body are buffered. */
    static final int CHUNK_BYTES = 64 * 1024;
    private static final int CHUNKS_IN_FLIGHT = 4;

    private final ChannelHandlerContext ctx;
    private final long stallTimeoutNanos;
    private final Semaphore inFlight = new Semaphore(CHUNKS_IN_FLIGHT);
    private final ByteArrayOutputStream buffered = new ByteArrayOutputStream(CHUNK_BYTES + 4096);
    private volatile boolean broken;

    /** @param stallTimeoutNanos how long the client may take no chunk before the stream is given up. */
    ChunkWriter(final ChannelHandlerContext ctx, final long stallTimeoutNanos)
    {
        this.ctx = ctx;
        this.stallTimeoutNanos = stallTimeoutNanos;
    }

    /** @return where the body's bytes are buffered; call {@link #sendIfFull} after writing to it. */
    ByteArrayOutputStream buffer()
    {
        return buffered;
    }

    /** @return false when the stream must stop: the connection is gone or stalled. Producer thread. */
    boolean sendIfFull() throws InterruptedException
    {
        return buffered.size() < CHUNK_BYTES ? !broken : send();
    }

    /** Sends what is buffered as one chunk, waiting while {@value #CHUNKS_IN_FLIGHT} are unwritten. Producer thread. */
    boolean send() throws InterruptedException
    {
        if (broken || !ctx.channel().isActive())
        {
            broken = true;
            return false;
        }
        if (buffered.size() == 0)
        {
            return true;
        }
        final long deadline = System.nanoTime() + stallTimeoutNanos;
        while (!inFlight.tryAcquire(100, TimeUnit.MILLISECONDS))
        {
            if (broken || !ctx.channel().isActive() || System.nanoTime() - deadline > 0)
            {
                broken = true;
                return false;
            }
        }
        final DefaultHttpContent chunk = new DefaultHttpContent(Unpooled.wrappedBuffer(buffered.toByteArray()));
        buffered.reset();
        ctx.writeAndFlush(chunk).addListener(written ->
        {
            if (!written.isSuccess())
            {
                broken = true;
            }
            inFlight.release();
        });
        return true;
    }

    /** @return whether the connection went away or stalled while the stream was written. */
    boolean broken()
    {
        return broken;
    }
}
