package io.tokenmeter.kafka;

import io.tokenmeter.core.event.LogDocumentWriter;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A member of the owners group in its own JVM, for the tests that kill it or stop it: joins with
 * {@link PartitionOwnership}, opens each partition's {@link KafkaEventLog} when it acquires it, and talks over its
 * standard streams. It prints {@code @@ acquired P}, {@code @@ opened P}, {@code @@ released P owns=B},
 * {@code @@ lost P owns=B}; it reads {@code append P N} (appends document N to the first log it opened for P, even after
 * it lost P, which a real node never does: the test wants to see the append fail) answered by
 * {@code @@ ok P N OFFSET} or {@code @@ failed P N owns=B MESSAGE}, and {@code exit}.
 *
 * <p>Arguments: bootstrap servers, topic prefix, node id, advertised URL, session timeout in ms.
 */
public final class OwnershipMember
{
    private static final Object OUT = new Object();

    private OwnershipMember()
    {
    }

    public static void main(final String[] args) throws IOException
    {
        final long sessionMs = Long.parseLong(args[4]);
        final PartitionOwnership.Settings settings = new PartitionOwnership.Settings(args[0], args[1], args[2], args[3])
            .withSession(Duration.ofMillis(sessionMs), Duration.ofMillis(sessionMs / 6));
        final KafkaEventLog.Settings logSettings = new KafkaEventLog.Settings(args[0], args[1], Duration.ofSeconds(10),
            Duration.ofMillis(20));
        final Map<Integer, KafkaEventLog> firstLogs = new ConcurrentHashMap<>();
        final PartitionOwnership[] self = new PartitionOwnership[1];
        final Object started = new Object();
        final PartitionOwnership.Listener listener = new PartitionOwnership.Listener()
        {
            @Override
            public void acquired(final int partition)
            {
                say("acquired " + partition);
                final KafkaEventLog log = ownership().openLog(logSettings, partition);
                firstLogs.putIfAbsent(partition, log);
                say("opened " + partition);
            }

            @Override
            public void released(final int partition)
            {
                say("released " + partition + " owns=" + ownership().owns(partition));
            }

            @Override
            public void lost(final int partition)
            {
                say("lost " + partition + " owns=" + ownership().owns(partition));
            }

            @Override
            public void stopped(final RuntimeException cause)
            {
                say("stopped " + cause);
            }

            private PartitionOwnership ownership()
            {
                synchronized (started)
                {
                    for (int i = 0; i < 100 && self[0] == null; i++)
                    {
                        try
                        {
                            started.wait(50);
                        }
                        catch (final InterruptedException ex)
                        {
                            Thread.currentThread().interrupt();
                            break;
                        }
                    }
                    return self[0];
                }
            }
        };
        final PartitionOwnership ownership = PartitionOwnership.start(settings, listener);
        synchronized (started)
        {
            self[0] = ownership;
            started.notifyAll();
        }
        final LogDocumentWriter writer = new LogDocumentWriter(256);
        final BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line = in.readLine(); line != null && !"exit".equals(line); line = in.readLine())
        {
            final String[] words = line.trim().split(" ");
            if (words.length == 3 && "append".equals(words[0]))
            {
                final int partition = Integer.parseInt(words[1]);
                final int n = Integer.parseInt(words[2]);
                final KafkaEventLog log = firstLogs.get(partition);
                if (log == null)
                {
                    say("failed " + partition + " " + n + " owns=" + ownership.owns(partition) + " no log was opened");
                    continue;
                }
                final boolean owns = ownership.owns(partition);
                try
                {
                    final long offset = KafkaEventLogTest.appendDocument(log, writer, n);
                    say("ok " + partition + " " + n + " " + offset);
                }
                catch (final RuntimeException ex)
                {
                    say("failed " + partition + " " + n + " owns=" + owns + " " + ex.getMessage().replace('\n', ' '));
                }
            }
        }
        ownership.close();
        System.exit(0);
    }

    private static void say(final String line)
    {
        synchronized (OUT)
        {
            System.out.println("@@ " + line);
            System.out.flush();
        }
    }
}
