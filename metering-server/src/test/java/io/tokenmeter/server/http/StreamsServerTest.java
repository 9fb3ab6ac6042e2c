package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.server.TokenmeterServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Stream checkpoints (SPEC section 12) through the whole server over real HTTP: cumulative counts counted once per
 * (stream, seq), out of order, repeated, decreasing, a stream that never finishes, and a stream across a restart.
 */
class StreamsServerTest
{
    @TempDir
    Path dataDir;

    private TokenmeterServer server;
    private Client client;

    private void start() throws Exception
    {
        server = TestServer.start(dataDir, new HashMap<>(Map.of("stream-timeout", "2s")));
        client = new Client(server.port());
    }

    @AfterEach
    void stop()
    {
        if (server != null)
        {
            server.close();
        }
    }

    /** Posts one checkpoint; @return "accepted/duplicates/conflicts". */
    private String checkpoint(final String id, final String stream, final long seq, final boolean last, final long in,
        final long out)
    {
        final Client.Answer answer = client.post("/v1/events", "application/json", "{\"id\":\"" + id + "\",\"tenant\":\"acme\","
            + "\"model\":\"gpt-4o\",\"input_tokens\":" + in + ",\"output_tokens\":" + out + ",\"stream\":{\"id\":\"" + stream
            + "\",\"seq\":" + seq + ",\"final\":" + last + "}}");
        assertEquals(202, answer.status(), answer.body());
        final JsonNode j = answer.json();
        return j.get("accepted").asInt() + "/" + j.get("duplicates").asInt() + "/" + j.get("conflicts").asInt();
    }

    /** @return the tenant's counted "requests input output" this month, as of every acknowledged event. */
    private String usage()
    {
        final String from = java.time.YearMonth.now(java.time.ZoneOffset.UTC).atDay(1) + "T00:00:00Z";
        final Client.Answer answer = client.get("/v1/usage?tenant=acme&from=" + from + "&to=2100-01-01T00:00:00Z&consistent=true");
        assertEquals(200, answer.status(), answer.body());
        final JsonNode rows = answer.json().get("rows");
        if (rows.isEmpty())
        {
            return "0 0 0";
        }
        final JsonNode row = rows.get(0);
        return row.get("requests").asLong() + " " + row.get("input_tokens").asLong() + " " + row.get("output_tokens").asLong();
    }

    @Test
    void checkpointsCountTheirIncreaseOnceInAnyOrderAndADecreaseIsAConflict() throws Exception
    {
        start();
        assertEquals("1/0/0", checkpoint("c1", "s-1", 1, false, 500, 10));
        assertEquals("1 500 10", usage());
        assertEquals("1/0/0", checkpoint("c3", "s-1", 3, false, 500, 40), "a gap: seq 3 before 2");
        assertEquals("1 500 40", usage(), "one request: its tokens are the highest checkpoint's");
        assertEquals("1/0/0", checkpoint("c2", "s-1", 2, false, 500, 25), "seq 2 late, below seq 3: counts nothing");
        assertEquals("1 500 40", usage());
        assertEquals("0/1/0", checkpoint("c3", "s-1", 3, false, 500, 40), "a retry of an event is a duplicate");
        assertEquals("1/0/0", checkpoint("c3-again", "s-1", 3, false, 500, 40), "seq 3 again under a new id counts nothing");
        assertEquals("1 500 40", usage());
        assertEquals("0/0/1", checkpoint("c4-down", "s-1", 4, false, 500, 30), "a later checkpoint with a lower count");
        assertEquals("0/0/1", checkpoint("c2-up", "s-1", 2, false, 500, 60), "an earlier checkpoint above a later one");
        assertEquals("0/0/1", checkpoint("c3-other", "s-1", 3, false, 500, 41), "the same seq with other counts");
        assertEquals("1 500 40", usage(), "conflicts count nothing");
        assertEquals("1/0/0", checkpoint("c4-down", "s-1", 4, false, 500, 45), "a conflicting id stays free for a corrected retry");
        assertEquals("1/0/0", checkpoint("c5", "s-1", 5, true, 600, 90));
        assertEquals("1 600 90", usage(), "the final checkpoint's counts, once");
        assertEquals("0/0/1", checkpoint("c6", "s-1", 6, false, 600, 95), "nothing after the final checkpoint");
        assertEquals("1/0/0", checkpoint("other-1", "s-2", 0, true, 100, 1), "another stream is another request");
        assertEquals("2 700 91", usage());
    }

    @Test
    void aStreamThatNeverFinishesIsBilledAtItsLastCheckpointAndClosed() throws Exception
    {
        start();
        assertEquals("1/0/0", checkpoint("a1", "aborted", 1, false, 1000, 100));
        assertEquals("1/0/0", checkpoint("a2", "aborted", 2, false, 1000, 300));
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2500));
        assertEquals("0/0/1", checkpoint("a3", "aborted", 3, false, 1000, 400), "closed at stream-timeout");
        assertEquals("1 1000 300", usage(), "billed at its last checkpoint, never at zero");
    }

    @Test
    void aStreamGoesOnAcrossARestart() throws Exception
    {
        start();
        assertEquals("1/0/0", checkpoint("r1", "restarted", 1, false, 200, 20));
        // two checkpoints of one stream in one request: one log document
        final Client.Answer both = client.post("/v1/events", "application/x-ndjson", "{\"id\":\"t1\",\"tenant\":\"acme\","
            + "\"model\":\"gpt-4o\",\"output_tokens\":5,\"stream\":{\"id\":\"two\",\"seq\":1}}\n{\"id\":\"t2\",\"tenant\":"
            + "\"acme\",\"model\":\"gpt-4o\",\"output_tokens\":8,\"stream\":{\"id\":\"two\",\"seq\":2}}\n");
        assertEquals(2, both.json().get("accepted").asInt(), both.body());
        assertEquals("2 200 28", usage());
        server.close();
        server = null;
        start();
        assertEquals("0/1/0", checkpoint("r1", "restarted", 1, false, 200, 20), "the checkpoint's id is remembered");
        assertEquals("1/0/0", checkpoint("r2", "restarted", 2, true, 200, 50));
        assertEquals("2 200 58", usage(), "the increase over the checkpoint before the restart, once");
        assertEquals("0/0/1", checkpoint("r0", "restarted", 0, false, 200, 60), "the stream's state came back too");
        assertEquals("1/0/0", checkpoint("t3", "two", 3, true, 0, 12), "both checkpoints of one document came back");
        assertEquals("2 200 62", usage());
    }
}
