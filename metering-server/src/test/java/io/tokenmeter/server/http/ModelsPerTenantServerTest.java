package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.core.aggregate.BucketKey;
import io.tokenmeter.server.TokenmeterServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bound on distinct models per tenant ({@code max-models-per-tenant}, default 1000) through the whole server: a
 * gateway key of one tenant sending per-request data as model names is refused, and the model names its partition
 * shares with other tenants stay available to them.
 */
class ModelsPerTenantServerTest
{
    private static final String HOUR = "2026-10-05T10:00:00Z";
    private static final int DEFAULT_LIMIT = 1000;

    @TempDir
    Path dir;

    private final KeyFixture keys = new KeyFixture().add("acme-gateway", "ingest", "acme").add("gateway", "ingest", "*")
        .add("finance", "read", "*");
    private TokenmeterServer server;

    @AfterEach
    void stop()
    {
        if (server != null)
        {
            server.close();
        }
    }

    private void start() throws Exception
    {
        server = TestServer.start(dir, Map.of("data-dir", dir.resolve("data").toString(),
            "keys", keys.write(dir.resolve("keys.yaml")).toString()));
    }

    private Client as(final String key)
    {
        return new Client(server.port()).withKey(keys.secret(key));
    }

    /** @return a tenant that lives in acme's partition, so that it shares acme's model names table. */
    private String neighbourOfAcme()
    {
        final int acme = server.partitions().of("acme").index();
        for (int i = 0; ; i++)
        {
            if (server.partitions().of("neighbour-" + i).index() == acme)
            {
                return "neighbour-" + i;
            }
        }
    }

    /** @return a JSON array of events of the tenant, one per model {@code prefix + i} for i in [first, last). */
    private static String events(final String tenant, final String prefix, final int first, final int last)
    {
        final StringBuilder body = new StringBuilder("[");
        for (int i = first; i < last; i++)
        {
            body.append(i == first ? "" : ",").append("{\"id\":\"").append(prefix).append(i).append("\",\"tenant\":\"")
                .append(tenant).append("\",\"model\":\"").append(prefix).append(i).append("\",\"timestamp\":\"").append(HOUR)
                .append("\",\"input_tokens\":1}");
        }
        return body.append(']').toString();
    }

    private static void assertAccepted(final Client.Answer answer, final int accepted)
    {
        assertEquals(202, answer.status(), answer.body());
        assertEquals(accepted, answer.json().get("accepted").asInt(), answer.body());
    }

    private static void assertTooManyModels(final Client.Answer answer, final String tenant)
    {
        assertEquals(400, answer.status(), answer.body());
        final JsonNode error = answer.json();
        assertEquals("too_many_models", error.get("error").asText(), answer.body());
        final String message = error.get("message").asText();
        assertTrue(message.contains("tenant " + tenant + " ") && message.contains("(" + DEFAULT_LIMIT + " distinct models)")
            && message.contains("max-models-per-tenant"), message);
    }

    private JsonNode usage(final String tenant)
    {
        final Client.Answer answer = as("finance").get("/v1/usage?tenant=" + tenant + "&from=2026-10-05T10:00:00Z"
            + "&to=2026-10-05T11:00:00Z&granularity=total&group_by=&consistent=true");
        assertEquals(200, answer.status(), answer.body());
        return answer.json().get("rows");
    }

    @Test
    void oneTenantsModelFloodLeavesOtherTenantsNewModelsAccepted() throws Exception
    {
        start();
        final String neighbour = neighbourOfAcme();
        final Client acme = as("acme-gateway");
        assertAccepted(acme.post("/v1/events", "application/json", events("acme", "model-", 0, DEFAULT_LIMIT)), DEFAULT_LIMIT);

        // more distinct names than the whole shared table holds, 10,000 a request: each request is refused whole
        for (int r = 0; r * 10_000 <= BucketKey.MAX_MODELS; r++)
        {
            final Client.Answer flood = acme.post("/v1/events", "application/json", events("acme", "flood-" + r + "-", 0, 10_000));
            assertTooManyModels(flood, "acme");
            assertTrue(flood.json().get("message").asText().contains("(flood-" + r + "-0)"), flood.body());
        }
        assertAccepted(acme.post("/v1/events", "application/json",
            "{\"id\":\"again\",\"tenant\":\"acme\",\"model\":\"model-7\",\"timestamp\":\"" + HOUR + "\",\"input_tokens\":1}"), 1);

        final Client gateway = as("gateway");
        assertAccepted(gateway.post("/v1/events", "application/json", events(neighbour, "other-", 0, 50)), 50);
        assertAccepted(gateway.post("/v1/events", "application/json", events(neighbour, "flood-0-", 0, 50)), 50);
        assertEquals(DEFAULT_LIMIT + 1, usage("acme").get(0).get("requests").asInt(), "acme's refused requests counted nothing");
        assertEquals(100, usage(neighbour).get(0).get("requests").asInt());

        // the bound holds across a restart: acme's models are remembered, the neighbour still adds its own
        server.close();
        start();
        assertTooManyModels(as("acme-gateway").post("/v1/events", "application/json", events("acme", "late-", 0, 1)), "acme");
        assertAccepted(as("gateway").post("/v1/events", "application/json", events(neighbour, "late-", 0, 1)), 1);
    }
}
