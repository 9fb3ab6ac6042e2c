package io.tokenmeter.server.http;

import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;

import java.nio.file.Path;

/**
 * Run as its own process: opens one partition's log directory (its argument), starts a document, writes half of it and halts the JVM, as a
 * kill -9 in the middle of an append leaves the log (the document's header stays "not complete").
 */
public final class TornWriter
{
    private TornWriter()
    {
    }

    public static void main(final String[] args)
    {
        System.setProperty("chronicle.analytics.disable", "true");
        final SingleChronicleQueue queue = SingleChronicleQueueBuilder.binary(Path.of(args[0]))
            .rollCycle(RollCycles.FAST_DAILY).build();
        final ExcerptAppender appender = queue.createAppender();
        final DocumentContext document = appender.writingDocument();
        // an events document header (kind 1, version 1, 3 records) and the first bytes of a record, then nothing
        document.wire().bytes().writeByte((byte)1).writeByte((byte)1).writeShort((short)0).writeInt(3)
            .writeLong(System.currentTimeMillis()).writeByte((byte)1).writeByte((byte)0);
        System.out.println("torn document started at index " + Long.toHexString(document.index()));
        System.out.flush();
        Runtime.getRuntime().halt(0);
    }
}
