package io.tokenmeter.kafka;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/** The test brokers: a KRaft node starts, keeps its topics across a kill -9 and a restart on the same directory. */
class KafkaBrokersTest
{
    @TempDir
    Path dir;

    @Test
    void aKilledBrokerRestartsOnItsDirectoryWithItsTopics() throws Exception
    {
        try (KafkaBrokers brokers = KafkaBrokers.start(dir, 1))
        {
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers.bootstrap())))
            {
                admin.createTopics(List.of(new NewTopic("kept", 2, (short)1))).all().get(30, TimeUnit.SECONDS);
            }
            final long pid = brokers.pid(0);
            brokers.kill(0);
            assertEquals(-1, brokers.pid(0));
            brokers.restart(0);
            assertNotEquals(pid, brokers.pid(0));
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers.bootstrap())))
            {
                assertEquals(Set.of("kept"), admin.listTopics().names().get(30, TimeUnit.SECONDS));
            }
        }
    }
}
