package io.tokenmeter.core.log;

import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pre-toucher on a real Chronicle queue: it touches ahead of the journal, never grows the file, changes no byte. */
class LogPretouchAgentTest
{
    @TempDir
    Path dir;

    private static byte[] payload(final Random random)
    {
        final byte[] bytes = new byte[100 + random.nextInt(20_000)];
        random.nextBytes(bytes);
        // runs of zero words, which the pre-toucher's compare-and-set would rewrite (with zeros) if it reached them
        for (int i = 0; i + 64 < bytes.length; i += 512)
        {
            java.util.Arrays.fill(bytes, i, i + 64, (byte)0);
        }
        return bytes;
    }

    @Test
    void touchesPagesAheadOfTheLastAppendInsideTheFile() throws Exception
    {
        try (ChronicleEventLog log = new ChronicleEventLog(dir.resolve("log"), Durability.PROCESS))
        {
            final LogPretouchAgent agent = new LogPretouchAgent(log);
            assertEquals(0, agent.doWork(), "nothing to touch before the first append");

            final Random random = new Random(7);
            for (int i = 0; i < 50; i++)
            {
                final byte[] bytes = payload(random);
                log.append(new UnsafeBuffer(bytes), bytes.length);
            }
            final long position = log.appendPosition();
            final long length = log.appendFile().length();
            int cycles = 0;
            while (agent.doWork() > 0 && cycles < 1_000)
            {
                cycles++;
            }
            assertTrue(cycles > 0, "it touched something");
            assertTrue(agent.touchedTo() > position, agent.touchedTo() + " beyond " + position);
            assertTrue(agent.touchedTo() <= Math.min(position + LogPretouchAgent.AHEAD_BYTES, length));
            assertEquals(0, agent.touchedTo() % LogPretouchAgent.PAGE_BYTES);
            assertEquals(agent.touchedTo() - (position / LogPretouchAgent.PAGE_BYTES + 1) * LogPretouchAgent.PAGE_BYTES,
                agent.pagesTouched() * LogPretouchAgent.PAGE_BYTES, "every page from the one after the position, once");
            assertEquals(length, log.appendFile().length(), "the file is never grown by touching");
            agent.onClose();
        }
    }

    @Test
    void everyDocumentReadsBackAsWrittenWhileTheAgentTouchesAlongside() throws Exception
    {
        final Path logDir = dir.resolve("log");
        final List<byte[]> written = new ArrayList<>();
        final AtomicBoolean stop = new AtomicBoolean();
        try (ChronicleEventLog log = new ChronicleEventLog(logDir, Durability.PROCESS))
        {
            final LogPretouchAgent agent = new LogPretouchAgent(log);
            final Thread toucher = new Thread(() ->
            {
                final long deadline = System.nanoTime() + 60_000_000_000L;
                while (!stop.get() && System.nanoTime() < deadline)
                {
                    if (agent.doWork() == 0)
                    {
                        Thread.onSpinWait();
                    }
                }
                agent.onClose();
            }, "test-pretouch");
            toucher.start();
            final Random random = new Random(11);
            for (int i = 0; i < 4_000; i++)
            {
                final byte[] bytes = payload(random);
                written.add(bytes);
                log.append(new UnsafeBuffer(bytes), bytes.length);
            }
            stop.set(true);
            toucher.join(30_000);
            assertTrue(agent.pagesTouched() > 0, "the agent ran alongside the appends");
        }

        try (SingleChronicleQueue queue = SingleChronicleQueueBuilder.binary(logDir).readOnly(true).build())
        {
            final ExcerptTailer tailer = queue.createTailer();
            for (int i = 0; i < written.size(); i++)
            {
                try (DocumentContext dc = tailer.readingDocument())
                {
                    assertTrue(dc.isPresent(), "document " + i);
                    final byte[] read = new byte[(int)dc.wire().bytes().readRemaining()];
                    dc.wire().bytes().read(read);
                    assertArrayEquals(written.get(i), read, "document " + i);
                }
            }
        }
    }
}
