package io.tokenmeter.kafka;

import io.tokenmeter.core.event.LogDocumentWriter;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The owners group on one real broker (a separate JVM): members split the log topic's partitions so that each is
 * owned by exactly one, and the group's description names each partition's owner with its URL; a member that closes
 * hands its partitions over at once; a member killed with kill -9 has its partitions taken over after its session
 * timeout; and a member stopped with SIGSTOP past its session timeout, whose partitions another member took (opening
 * their logs, which fences its writers), sees the loss when it is resumed, and nothing it appends afterwards is read.
 * Members are threads of this JVM, except the killed and the stopped ones, which are {@link OwnershipMember} JVMs.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PartitionOwnershipTest
{
    /** A test session timeout: the least a broker accepts by default. */
    private static final Duration SESSION = Duration.ofSeconds(6);
    private static final Duration HEARTBEAT = Duration.ofSeconds(1);
    private static final AtomicInteger PREFIXES = new AtomicInteger();

    @TempDir
    static Path dir;

    private static KafkaBrokers brokers;

    @BeforeAll
    static void startBroker()
    {
        brokers = KafkaBrokers.start(dir, 1);
    }

    @AfterAll
    static void stopBroker()
    {
        if (brokers != null)
        {
            brokers.close();
        }
    }

    @Test
    void membersSplitThePartitionsAndOneThatClosesHandsItsOnAtOnce()
    {
        final String prefix = newTopic(6);
        // a session far longer than the test's every wait: a handover at all can only be the closing member leaving the
        // group (its session cannot have expired), whatever the machine's speed
        final Duration session = Duration.ofMinutes(5);
        final Duration heartbeat = Duration.ofSeconds(2);
        final List<String> history = Collections.synchronizedList(new ArrayList<>());
        try (Recorder a = Recorder.start(settings(prefix, "a").withSession(session, heartbeat), null, history);
             Recorder b = Recorder.start(settings(prefix, "b").withSession(session, heartbeat), null, history))
        {
            final Recorder c = Recorder.start(settings(prefix, "c").withSession(session, heartbeat), null, history);
            final List<Recorder> three = List.of(a, b, c);
            await(() -> splitExactly(three, 6) && three.stream().allMatch(r -> r.ownership.assigned().size() == 2),
                Duration.ofSeconds(40), () -> "three members each own 2 of 6 partitions, once each: " + describe(three));
            for (final Recorder member : three)
            {
                for (int partition = 0; partition < 6; partition++)
                {
                    assertEquals(member.ownership.assigned().contains(partition), member.ownership.owns(partition),
                        member.nodeId + " owns exactly its assignment, partition " + partition);
                }
            }
            await(() -> viewMatches(a, three, 6), Duration.ofSeconds(20),
                () -> "the group's view names each partition's owner: " + a.ownership.owners(Duration.ofSeconds(5)));
            final PartitionOwnership.Owners view = a.ownership.owners(Duration.ofSeconds(5));
            assertEquals(6, view.partitions());
            assertEquals(List.of("a", "b", "c"), view.members().stream().map(PartitionOwnership.Member::nodeId).toList());
            assertEquals(url("c"), view.members().get(2).url());

            final Set<Integer> handedOver = new TreeSet<>(c.ownership.assigned());
            final int before = c.events().size();
            c.close();
            assertEquals(handedOver.stream().map(p -> "released " + p + " owns=false").collect(Collectors.toList()),
                c.events().subList(before, c.events().size()),
                "the closing member released its partitions, each already not owned when it was told");
            final List<Recorder> two = List.of(a, b);
            await(() -> splitExactly(two, 6), Duration.ofSeconds(60),
                () -> "the two left own all 6 partitions while the closed member's 5-minute session would still run, so "
                    + "by its leave: " + describe(two));
            for (final int partition : handedOver)
            {
                assertTrue(a.events().contains("acquired " + partition) || b.events().contains("acquired " + partition),
                    "partition " + partition + " was acquired by a or b: " + a.events() + " " + b.events());
            }
            await(() -> viewMatches(b, two, 6), Duration.ofSeconds(20),
                () -> "the group's view has no member c: " + b.ownership.owners(Duration.ofSeconds(5)));
        }
        assertOneHolderAtATime(history);
    }

    /**
     * Checks, from the members' own accounts in order, that no member was told it acquired a partition while another
     * still held it (acquired and not yet done releasing): every handover waited for the drain in {@code released}.
     */
    private static void assertOneHolderAtATime(final List<String> history)
    {
        final List<String> events;
        synchronized (history)
        {
            events = List.copyOf(history);
        }
        final Map<Integer, String> holders = new HashMap<>();
        int handovers = 0;
        for (final String event : events)
        {
            final String[] words = event.split(" ");
            final String node = words[0];
            final int partition = Integer.parseInt(words[2]);
            switch (words[1])
            {
                case "acquired" ->
                {
                    final String holder = holders.putIfAbsent(partition, node);
                    assertNull(holder, node + " acquired partition " + partition + " while " + holder
                        + " still held it: " + events);
                }
                case "released-done", "lost" ->
                {
                    assertEquals(node, holders.remove(partition), event + " by its holder: " + events);
                    handovers++;
                }
                default ->
                {
                    // "released" starts the drain; the holder keeps the partition until it is done
                }
            }
            assertFalse(event.contains("owns=true"), "owns() is false once a release or loss starts: " + event);
        }
        assertTrue(handovers >= 6, "partitions moved when members joined and left: " + events);
    }

    @Test
    void aPartitionOfAGroupNobodyJoinedHasNoOwner()
    {
        final String prefix = newTopic(3);
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers.bootstrap())))
        {
            final PartitionOwnership.Owners none = PartitionOwnership.owners(admin, prefix, Duration.ofSeconds(10));
            assertEquals(3, none.partitions());
            assertTrue(none.members().isEmpty(), none.toString());
            for (int partition = 0; partition < 3; partition++)
            {
                assertTrue(none.ownerOf(partition).isEmpty(), "partition " + partition + " has no owner: " + none);
            }
            final IllegalStateException noTopic = assertThrows(IllegalStateException.class,
                () -> PartitionOwnership.owners(admin, prefix + "x", Duration.ofSeconds(10)));
            assertTrue(noTopic.getMessage().contains(prefix + "x.log"), "the missing topic is named: " + noTopic.getMessage());
        }
    }

    @Test
    void aMemberKilledWithKillNineIsTakenOverAfterItsSessionTimeout() throws Exception
    {
        final String prefix = newTopic(4);
        final KafkaEventLog.Settings logs = new KafkaEventLog.Settings(brokers.bootstrap(), prefix, Duration.ofSeconds(10),
            Duration.ofMillis(20));
        try (Child killed = Child.start(prefix, "killed", SESSION);
             Recorder survivor = Recorder.start(settings(prefix, "survivor").withSession(SESSION, HEARTBEAT), logs))
        {
            await(() -> survivor.ownership.assigned().size() == 2 && killed.owned().size() == 2
                    && Collections.disjoint(survivor.ownership.assigned(), killed.owned()),
                Duration.ofSeconds(40), () -> "two members own 2 of 4 partitions each: " + survivor.ownership.assigned()
                    + " and " + killed);
            final Set<Integer> orphaned = killed.owned();
            killed.kill();
            final long killedNs = System.nanoTime();
            await(() -> survivor.ownership.assigned().size() == 4, SESSION.plusSeconds(30),
                () -> "the survivor takes every partition over: " + survivor.ownership.assigned());
            System.out.printf("partitions %s of a member killed -9 were taken over %d ms after the kill (session %d ms)%n",
                orphaned, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedNs), SESSION.toMillis());
            for (final int partition : orphaned)
            {
                assertTrue(survivor.events().contains("acquired " + partition), survivor.events().toString());
                await(() -> survivor.logs.containsKey(partition), Duration.ofSeconds(20),
                    () -> "the survivor opened the log of partition " + partition);
            }
            await(() -> viewMatches(survivor, List.of(survivor), 4), Duration.ofSeconds(20),
                () -> "the group's view has the survivor only: " + survivor.ownership.owners(Duration.ofSeconds(5)));
        }
    }

    /**
     * {@link PartitionOwnership#removeMember}: a member killed with kill -9 under a 60 s session is given up as soon as
     * another removes it, far within its session; a second removal does nothing; and a live member removed by mistake
     * joins again by itself (not stopped), after which every partition has one owner again.
     */
    @Test
    void aRemovedMemberIsGivenUpAtOnceAndALiveOneRemovedJoinsAgain() throws Exception
    {
        final Duration longSession = Duration.ofSeconds(60);
        final String prefix = newTopic(4);
        try (Child killed = Child.start(prefix, "dead", longSession);
             Recorder survivor = Recorder.start(settings(prefix, "alive").withSession(longSession, HEARTBEAT), null))
        {
            await(() -> survivor.ownership.assigned().size() == 2 && killed.owned().size() == 2,
                Duration.ofSeconds(40), () -> "two members own 2 of 4 partitions each: " + survivor.ownership.assigned()
                    + " and " + killed);
            killed.kill();
            assertTrue(survivor.ownership.removeMember("dead", Duration.ofSeconds(10)), "the dead member was removed");
            // waited for at most 30 s, so within the dead member's 60 s session: only the removal lets this pass
            await(() -> survivor.ownership.assigned().size() == 4, Duration.ofSeconds(30),
                () -> "the survivor takes every partition over long before the 60 s session: "
                    + survivor.ownership.assigned());
            assertFalse(survivor.ownership.removeMember("dead", Duration.ofSeconds(10)), "a member gone is not removed again");
            assertThrows(IllegalArgumentException.class, () -> survivor.ownership.removeMember("alive", Duration.ofSeconds(1)));

            try (Recorder wronged = Recorder.start(settings(prefix, "wronged").withSession(longSession, HEARTBEAT), null))
            {
                final List<Recorder> both = List.of(survivor, wronged);
                await(() -> splitExactly(both, 4) && wronged.ownership.assigned().size() == 2, Duration.ofSeconds(40),
                    () -> "the partitions split again: " + describe(both));
                assertTrue(survivor.ownership.removeMember("wronged", Duration.ofSeconds(10)), "a live member removed");
                await(() -> wronged.events().stream().anyMatch(e -> e.startsWith("lost") || e.startsWith("released")),
                    Duration.ofSeconds(30), () -> "the removed member learns it: " + wronged.events());
                await(() -> splitExactly(both, 4) && wronged.ownership.assigned().size() == 2, Duration.ofSeconds(60),
                    () -> "the removed member joined again and the partitions split: " + describe(both));
                assertNull(wronged.stopped, "a member removed is not stopped, it joins again: " + wronged.events());
                await(() -> viewMatches(survivor, both, 4), Duration.ofSeconds(20),
                    () -> "the group's view has both: " + survivor.ownership.owners(Duration.ofSeconds(5)));
            }
        }
    }

    @Test
    void aMemberStoppedPastItsSessionIsFencedAndSeesItsPartitionsLost() throws Exception
    {
        final String prefix = newTopic(2);
        final KafkaEventLog.Settings logs = new KafkaEventLog.Settings(brokers.bootstrap(), prefix, Duration.ofSeconds(10),
            Duration.ofMillis(20));
        try (Child stopped = Child.start(prefix, "stopped", SESSION))
        {
            await(() -> stopped.lines().containsAll(List.of("opened 0", "opened 1")), Duration.ofSeconds(40),
                () -> "the first member owns both partitions and opened their logs: " + stopped);
            stopped.send("append 0 100");
            await(() -> stopped.lines().stream().anyMatch(l -> l.startsWith("ok 0 100 ")), Duration.ofSeconds(20),
                () -> "its append is acknowledged: " + stopped);

            stopped.signal("STOP");
            try (Recorder taker = Recorder.start(settings(prefix, "taker").withSession(SESSION, HEARTBEAT), logs))
            {
                await(() -> taker.logs.keySet().containsAll(List.of(0, 1)), SESSION.plusSeconds(40),
                    () -> "the other member takes both partitions and opens their logs: " + taker.events());
                final LogDocumentWriter writer = new LogDocumentWriter(256);
                final KafkaEventLog takersLog = taker.logs.get(0);
                KafkaEventLogTest.appendDocument(takersLog, writer, 200);

                // read first when the stopped member runs again: an append to the partition it no longer owns
                stopped.send("append 0 101");
                stopped.signal("CONT");
                await(() -> stopped.lines().stream().anyMatch(l -> l.startsWith("failed 0 101 ")), Duration.ofSeconds(30),
                    () -> "the resumed member's append fails: " + stopped);
                final String failed = stopped.lines().stream().filter(l -> l.startsWith("failed 0 101 ")).findFirst()
                    .orElseThrow();
                System.out.println("the stopped member, resumed: " + failed);
                assertTrue(failed.contains("fenced by a newer writer"), "Kafka fenced it: " + failed);
                assertTrue(failed.startsWith("failed 0 101 owns=false "), "right after the stall it does not own the "
                    + "partition any more: " + failed);
                await(() -> stopped.lines().containsAll(List.of("lost 0 owns=false", "lost 1 owns=false")),
                    Duration.ofSeconds(30), () -> "the resumed member sees both partitions lost: " + stopped);
                assertFalse(stopped.lines().stream().anyMatch(l -> l.startsWith("released ")),
                    "a lost partition is not a released one: " + stopped);

                final List<String> names = KafkaEventLogTest.readAll(takersLog).stream()
                    .map(read -> new String(read.bytes(), StandardCharsets.ISO_8859_1))
                    .map(PartitionOwnershipTest::docName)
                    .toList();
                assertEquals(List.of("doc-000100", "doc-000200"), names,
                    "a read_committed reader reads the stopped member's acknowledged document and the new owner's, and "
                        + "nothing the stopped member sent after it lost the partition");
            }
        }
    }

    @Test
    void aMemberRestartedWithinItsSessionGetsItsOwnPartitionsBackWithoutARebalance() throws Exception
    {
        final String prefix = newTopic(4);
        final Duration session = Duration.ofSeconds(30);
        try (Recorder stays = Recorder.start(settings(prefix, "stays").withSession(session, Duration.ofSeconds(3)), null))
        {
            final Set<Integer> before;
            try (Child first = Child.start(prefix, "restarts", session))
            {
                await(() -> stays.ownership.assigned().size() == 2 && first.owned().size() == 2
                        && Collections.disjoint(stays.ownership.assigned(), first.owned()),
                    Duration.ofSeconds(40), () -> "two members own 2 of 4 partitions each: " + stays.ownership.assigned()
                        + " and " + first);
                before = first.owned();
                first.kill();
            }
            final List<String> staysBefore = stays.events();
            try (Child again = Child.start(prefix, "restarts", session))
            {
                await(() -> again.lines().containsAll(before.stream().map(p -> "opened " + p).toList()),
                    Duration.ofSeconds(20), () -> "the restarted member opens its partitions " + before + " again: " + again);
                assertEquals(before, again.owned(), again.toString());
                assertEquals(staysBefore, stays.events(), "the other member saw no rebalance");
                assertEquals(2, stays.ownership.assigned().size());
            }
        }
    }

    @Test
    void aSecondProcessWithTheSameNodeIdStopsTheFirst()
    {
        final String prefix = newTopic(2);
        try (Recorder first = Recorder.start(settings(prefix, "twin"), null))
        {
            await(() -> first.ownership.assigned().size() == 2, Duration.ofSeconds(20), () -> "the first owns both");
            try (Recorder second = Recorder.start(settings(prefix, "twin"), null))
            {
                await(() -> first.stopped != null, Duration.ofSeconds(30),
                    () -> "the first member stops when another joins with its node id: " + first.events());
                assertTrue(first.stopped.getMessage().contains("node id twin"), first.stopped.getMessage());
                assertEquals(List.of("lost 0 owns=false", "lost 1 owns=false"),
                    first.events().stream().filter(e -> !e.startsWith("acquired ")).sorted().toList());
                assertTrue(first.ownership.assigned().isEmpty());
                await(() -> second.ownership.assigned().size() == 2, Duration.ofSeconds(20),
                    () -> "the second owns both: " + second.events());
            }
        }
    }

    @Test
    void aMemberCutOffFromTheCoordinatorStopsOwningWithinItsLease() throws Exception
    {
        final String prefix = newTopic(2);
        try (Recorder member = Recorder.start(settings(prefix, "cut").withSession(SESSION, HEARTBEAT), null))
        {
            await(() -> member.ownership.owns(0) && member.ownership.owns(1), Duration.ofSeconds(20),
                () -> "the member owns both partitions: " + member.events());
            final long lease = member.ownership.settings().lease().toMillis();
            for (int i = 0; i < 8; i++)
            {
                Thread.sleep(lease / 4);
                assertTrue(member.ownership.owns(0) && member.ownership.owns(1),
                    "the lease is renewed while the coordinator answers (check " + i + ")");
            }
            signal(brokers.pid(0), "STOP");
            try
            {
                await(() -> !member.ownership.owns(0) && !member.ownership.owns(1), Duration.ofMillis(lease).plusSeconds(10),
                    () -> "the member stops owning while the broker is stopped");
                assertEquals(Set.of(0, 1), member.ownership.assigned(),
                    "the consumer still holds its assignment: owns() is stricter than it");
            }
            finally
            {
                signal(brokers.pid(0), "CONT");
            }
            await(() -> member.ownership.owns(0) && member.ownership.owns(1), Duration.ofSeconds(40),
                () -> "the member owns both partitions again once the coordinator answers: " + member.events());
        }
    }

    /** Sends process {@code pid} SIGSTOP or SIGCONT. */
    private static void signal(final long pid, final String name) throws IOException, InterruptedException
    {
        assertTrue(pid > 0, "a running process");
        final Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(pid)).inheritIO().start();
        assertTrue(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0, "kill -" + name + " " + pid);
    }

    /** @return the "doc-NNNNNN" name a document of {@link KafkaEventLogTest#appendDocument} holds. */
    private static String docName(final String raw)
    {
        final int at = raw.indexOf("doc-");
        return at < 0 ? raw : raw.substring(at, at + 10);
    }

    private static String newTopic(final int partitions)
    {
        final String prefix = "own" + PREFIXES.incrementAndGet();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers.bootstrap())))
        {
            LogTopic.ensure(admin, prefix + ".log", partitions, true, Duration.ofSeconds(30));
        }
        return prefix;
    }

    private static PartitionOwnership.Settings settings(final String prefix, final String nodeId)
    {
        return new PartitionOwnership.Settings(brokers.bootstrap(), prefix, nodeId, url(nodeId));
    }

    private static String url(final String nodeId)
    {
        return "http://" + nodeId + ".nodes.test:8080";
    }

    /** @return whether the members' assignments are disjoint and together cover partitions 0 to {@code partitions - 1}. */
    private static boolean splitExactly(final List<Recorder> members, final int partitions)
    {
        final List<Integer> all = new ArrayList<>();
        for (final Recorder member : members)
        {
            all.addAll(member.ownership.assigned());
        }
        return all.size() == partitions && new HashSet<>(all).equals(
            IntStream.range(0, partitions).boxed().collect(Collectors.toSet()));
    }

    /** @return whether the group's view (asked of {@code asker}) has exactly {@code members}, each owning its assignment. */
    private static boolean viewMatches(final Recorder asker, final List<Recorder> members, final int partitions)
    {
        final PartitionOwnership.Owners view = asker.ownership.owners(Duration.ofSeconds(5));
        if (!view.stable() || view.members().size() != members.size())
        {
            return false;
        }
        for (int partition = 0; partition < partitions; partition++)
        {
            final int p = partition;
            final Recorder owner = members.stream().filter(m -> m.ownership.assigned().contains(p)).findFirst().orElse(null);
            final PartitionOwnership.Member seen = view.ownerOf(partition).orElse(null);
            if (owner == null || seen == null || !seen.nodeId().equals(owner.nodeId) || !seen.url().equals(url(owner.nodeId)))
            {
                return false;
            }
        }
        return true;
    }

    private static String describe(final List<Recorder> members)
    {
        return members.stream().map(m -> m.nodeId + "=" + m.ownership.assigned()).collect(Collectors.joining(", "));
    }

    /** Waits until {@code condition} holds, checking every 50 ms, for at most {@code max}; fails saying what it waited for. */
    private static void await(final BooleanSupplier condition, final Duration max, final Supplier<String> what)
    {
        final long deadlineNs = System.nanoTime() + max.toNanos();
        for (int i = 0; i < 10_000; i++)
        {
            if (condition.getAsBoolean())
            {
                return;
            }
            if (System.nanoTime() > deadlineNs)
            {
                break;
            }
            try
            {
                Thread.sleep(50);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting until " + what.get(), ex);
            }
        }
        throw new AssertionError("not within " + max.toMillis() + " ms: " + what.get());
    }

    /** A member in this JVM that records what its listener is told, and opens each acquired partition's log if asked. */
    private static final class Recorder implements PartitionOwnership.Listener, AutoCloseable
    {
        final String nodeId;
        final KafkaEventLog.Settings logSettings;
        final Map<Integer, KafkaEventLog> logs = new ConcurrentHashMap<>();
        private final List<String> events = Collections.synchronizedList(new ArrayList<>());
        /** Every member's events of one test in the order they happened, "NODE EVENT PARTITION ..."; or null. */
        private final List<String> history;
        private volatile PartitionOwnership ownership;
        private volatile RuntimeException stopped;
        private boolean closed;

        private Recorder(final String nodeId, final KafkaEventLog.Settings logSettings, final List<String> history)
        {
            this.nodeId = nodeId;
            this.logSettings = logSettings;
            this.history = history;
        }

        /** Starts a member; {@code logSettings} null opens no logs. */
        static Recorder start(final PartitionOwnership.Settings settings, final KafkaEventLog.Settings logSettings)
        {
            return start(settings, logSettings, null);
        }

        /**
         * Starts a member that also writes its events to {@code history}, and whose release takes a moment (a drain)
         * that ends with a "released-done" event.
         */
        static Recorder start(final PartitionOwnership.Settings settings, final KafkaEventLog.Settings logSettings,
            final List<String> history)
        {
            final Recorder recorder = new Recorder(settings.nodeId(), logSettings, history);
            recorder.ownership = PartitionOwnership.start(settings, recorder);
            return recorder;
        }

        private void record(final String event)
        {
            events.add(event);
            if (history != null)
            {
                history.add(nodeId + " " + event);
            }
        }

        List<String> events()
        {
            synchronized (events)
            {
                return List.copyOf(events);
            }
        }

        private PartitionOwnership self()
        {
            for (int i = 0; i < 200 && ownership == null; i++)
            {
                try
                {
                    Thread.sleep(10);
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            return ownership;
        }

        @Override
        public void acquired(final int partition)
        {
            record("acquired " + partition);
            if (logSettings != null)
            {
                logs.put(partition, self().openLog(logSettings, partition));
            }
        }

        @Override
        public void released(final int partition)
        {
            record("released " + partition + " owns=" + self().owns(partition));
            closeLog(partition);
            if (history != null)
            {
                try
                {
                    Thread.sleep(200);
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                }
                history.add(nodeId + " released-done " + partition);
            }
        }

        @Override
        public void lost(final int partition)
        {
            record("lost " + partition + " owns=" + self().owns(partition));
            closeLog(partition);
        }

        @Override
        public void stopped(final RuntimeException cause)
        {
            stopped = cause;
        }

        private void closeLog(final int partition)
        {
            final KafkaEventLog log = logs.remove(partition);
            if (log != null)
            {
                log.close();
            }
        }

        @Override
        public void close()
        {
            if (!closed)
            {
                closed = true;
                ownership.close();
            }
        }
    }

    /** An {@link OwnershipMember} in its own JVM, and the lines it printed. */
    private static final class Child implements AutoCloseable
    {
        private final Process process;
        private final Writer in;
        private final List<String> lines = Collections.synchronizedList(new ArrayList<>());
        /** The last lines of its log and standard error, for failure messages. */
        private final List<String> output = new ArrayList<>();

        private Child(final Process process)
        {
            this.process = process;
            this.in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
            final Thread reader = new Thread(this::readLines, "child-" + process.pid());
            reader.setDaemon(true);
            reader.start();
        }

        static Child start(final String prefix, final String nodeId, final Duration session) throws IOException
        {
            final List<String> command = new ArrayList<>();
            command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            for (final String flag : System.getProperty("tokenmeter.test.jvmFlags", "").trim().split("\\s+"))
            {
                if (!flag.isEmpty())
                {
                    command.add(flag);
                }
            }
            command.addAll(List.of("-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
                System.getProperty("java.class.path"), OwnershipMember.class.getName(), brokers.bootstrap(), prefix, nodeId,
                url(nodeId), Long.toString(session.toMillis())));
            final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            return new Child(process);
        }

        private void readLines()
        {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8)))
            {
                for (String line = out.readLine(); line != null; line = out.readLine())
                {
                    if (line.startsWith("@@ "))
                    {
                        lines.add(line.substring(3));
                    }
                    else
                    {
                        synchronized (output)
                        {
                            output.add(line);
                            if (output.size() > 40)
                            {
                                output.remove(0);
                            }
                        }
                    }
                }
            }
            catch (final IOException ex)
            {
                lines.add("read failed: " + ex);
            }
        }

        List<String> lines()
        {
            synchronized (lines)
            {
                return List.copyOf(lines);
            }
        }

        @Override
        public String toString()
        {
            synchronized (output)
            {
                return "member process " + process.pid() + " said " + lines() + " and logged:\n" + String.join("\n", output);
            }
        }

        /** @return the partitions acquired and neither released nor lost since, from the lines printed. */
        Set<Integer> owned()
        {
            final Set<Integer> owned = new TreeSet<>();
            for (final String line : lines())
            {
                final String[] words = line.split(" ");
                if ("acquired".equals(words[0]))
                {
                    owned.add(Integer.parseInt(words[1]));
                }
                else if ("released".equals(words[0]) || "lost".equals(words[0]))
                {
                    owned.remove(Integer.parseInt(words[1]));
                }
            }
            return owned;
        }

        void send(final String command)
        {
            try
            {
                in.write(command + "\n");
                in.flush();
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException("could not write to member process " + process.pid(), ex);
            }
        }

        /** Sends the process SIGSTOP or SIGCONT. */
        void signal(final String name) throws IOException, InterruptedException
        {
            PartitionOwnershipTest.signal(process.pid(), name);
        }

        void kill() throws InterruptedException
        {
            process.destroyForcibly();
            assertTrue(process.waitFor(20, TimeUnit.SECONDS), "member process " + process.pid() + " exits on SIGKILL");
        }

        @Override
        public void close() throws InterruptedException
        {
            if (process.isAlive())
            {
                process.destroyForcibly();
                process.waitFor(20, TimeUnit.SECONDS);
            }
        }
    }
}
