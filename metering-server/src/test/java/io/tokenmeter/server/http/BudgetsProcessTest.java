package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Budgets, holds and streams across a kill -9 of the server's own process: the log replayed (from the snapshot written
 * before the kill, and the records after it) decides every hold the same, expiry included.
 */
class BudgetsProcessTest
{
    private static final String BOOK = "{\"currency\":\"USD\",\"models\":{"
        + "\"gpt-x*\":[{\"effective_from\":\"2025-01-01T00:00:00Z\",\"per_million\":{\"input\":\"2.50\",\"output\":\"10.00\"}}]}}";

    @TempDir
    Path dir;

    private ServerProcess server;

    @AfterEach
    void stop() throws InterruptedException
    {
        if (server != null)
        {
            server.close();
        }
    }

    private static Client.Answer reserve(final Client client, final String id, final long in, final long out, final String ttl)
    {
        return client.post("/v1/reservations", "application/json", "{\"id\":\"" + id + "\",\"tenant\":\"acme\","
            + "\"model\":\"gpt-x\",\"max_input_tokens\":" + in + ",\"max_output_tokens\":" + out + ",\"ttl\":\"" + ttl + "\"}");
    }

    private static String post(final Client client, final String body)
    {
        final Client.Answer answer = client.post("/v1/events", "application/json", body);
        assertEquals(202, answer.status(), answer.body());
        final JsonNode j = answer.json();
        return j.get("accepted").asInt() + "/" + j.get("duplicates").asInt() + "/" + j.get("conflicts").asInt();
    }

    /** @return the budget and each reservation as the server answers them now. */
    private static Map<String, String> state(final Client client, final List<String> reservations)
    {
        final Map<String, String> state = new LinkedHashMap<>();
        state.put("budget", client.get("/v1/budgets/acme").body());
        for (final String id : reservations)
        {
            state.put(id, client.get("/v1/reservations/acme/" + id).body());
        }
        return state;
    }

    @Test
    void holdsExpiryAndStreamsAreDecidedTheSameAfterAKillNine() throws Exception
    {
        final Path prices = Files.writeString(dir.resolve("prices.json"), BOOK);
        final Path config = Files.writeString(dir.resolve("config.yaml"), "snapshot-interval: 200ms\n");
        server = new ServerProcess(dir, List.of("--data-dir", dir.resolve("data").toString(), "--prices", prices.toString(),
            "--config", config.toString()));
        server.start();
        Client client = new Client(server.port());

        // before a snapshot
        assertEquals(200, client.put("/v1/budgets/acme", "application/json", "{\"limit\":\"2.00\",\"mode\":\"hard\"}").status());
        assertEquals(201, reserve(client, "a-open", 100_000, 10_000, "1h").status());
        assertEquals(201, reserve(client, "a-settle", 100_000, 10_000, "1h").status());
        assertEquals("1/0/0", post(client, "{\"id\":\"e1\",\"tenant\":\"acme\",\"model\":\"gpt-x\",\"input_tokens\":40000,"
            + "\"output_tokens\":1000,\"reservation\":\"a-settle\"}"));
        assertEquals(201, reserve(client, "a-expire", 100_000, 10_000, "2s").status());
        assertEquals("1/0/0", post(client, "{\"id\":\"s1\",\"tenant\":\"acme\",\"model\":\"gpt-x\",\"input_tokens\":200,"
            + "\"output_tokens\":20,\"stream\":{\"id\":\"st\",\"seq\":1}}"));
        // the aggregator snapshots (with the ledger's holds) and the journal checkpoints (with the stream) every 200 ms
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1000));
        // after it: replayed from the log on top of the snapshot
        assertEquals(201, reserve(client, "b-open", 100_000, 10_000, "1h").status());
        final Client.Answer refused = reserve(client, "b-refused", 1_000_000, 100_000, "1h");
        assertEquals(402, refused.status(), refused.body());
        final List<String> ids = List.of("a-open", "a-settle", "a-expire", "b-open", "b-refused");
        final Map<String, String> before = state(client, ids);
        final JsonNode budget = Client.JSON.readTree(before.get("budget"));
        // 40,200 input and 1,020 output tokens: 0.1005 and 0.0102, each line rounded to the cent
        assertEquals("0.11", budget.get("spent").asText());
        assertEquals("1.05", budget.get("reserved").asText(), "a-open, a-expire and b-open");

        server.killNine();
        server.start();
        client = new Client(server.port());
        assertEquals(before, state(client, ids), "replay decides every hold the same; a-expire waits for the log's clock");
        assertEquals(200, reserve(client, "b-open", 100_000, 10_000, "1h").status(), "a retry after the crash");
        assertEquals(402, reserve(client, "b-refused", 1_000_000, 100_000, "1h").status());

        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2200));
        // the stream goes on: its state came back with the journal
        assertEquals("1/0/0", post(client, "{\"id\":\"s2\",\"tenant\":\"acme\",\"model\":\"gpt-x\",\"input_tokens\":200,"
            + "\"output_tokens\":50,\"stream\":{\"id\":\"st\",\"seq\":2,\"final\":true}}"));
        assertEquals("0/0/1", post(client, "{\"id\":\"s0\",\"tenant\":\"acme\",\"model\":\"gpt-x\",\"input_tokens\":200,"
            + "\"output_tokens\":60,\"stream\":{\"id\":\"st\",\"seq\":0}}"));
        final JsonNode after = client.get("/v1/budgets/acme").json();
        assertEquals("expired", client.get("/v1/reservations/acme/a-expire").json().get("state").asText(),
            "the first document after its expiry expired it");
        assertEquals("0.70", after.get("reserved").asText());
        // the stream's final checkpoint added its 30 output tokens once: 1,050 output tokens, 0.0105, still 0.01
        assertEquals("0.11", after.get("spent").asText(), after.toString());
        final String from = java.time.YearMonth.now(java.time.ZoneOffset.UTC).atDay(1) + "T00:00:00Z";
        final JsonNode usage = client.get("/v1/usage?tenant=acme&from=" + from + "&to=2100-01-01T00:00:00Z&consistent=true")
            .json().get("rows").get(0);
        assertEquals(1050, usage.get("output_tokens").asLong(), usage.toString());
        assertEquals(2, usage.get("requests").asLong(), "e1 and the stream");

        server.killNine();
        server.start();
        client = new Client(server.port());
        assertEquals(after.toString(), client.get("/v1/budgets/acme").body(), "and again after a second kill");
    }
}
