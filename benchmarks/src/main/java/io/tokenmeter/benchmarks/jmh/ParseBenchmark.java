package io.tokenmeter.benchmarks.jmh;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.async.ByteArrayFeeder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.tokenmeter.benchmarks.load.Traffic;
import io.tokenmeter.server.json.EventParser;
import io.tokenmeter.server.json.ParseOutcome;
import org.agrona.ExpandableArrayBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.util.concurrent.TimeUnit;

/**
 * JSON parse and validate of an ingest body, per event: tokenmeter's {@link EventParser} (validation, hashing,
 * staging) against Jackson reading the same tokens and nothing else, and an empty baseline. Run with
 * {@code -prof gc} for the bytes allocated per event.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class ParseBenchmark
{
    @Param({"1", "100"})
    public int eventsPerRequest;

    private final EventParser parser = new EventParser();
    private final ExpandableArrayBuffer staged = new ExpandableArrayBuffer(1 << 16);
    private final JsonFactory jackson = new JsonFactory();
    private byte[][] bodies;
    private ByteBuf[] wrapped;
    private JsonParser asyncParser;
    private int next;

    @Setup
    public void setUp()
    {
        final Traffic traffic = new Traffic("jmh", eventsPerRequest, 10_000, 1.1, 7);
        bodies = new byte[64][];
        for (int i = 0; i < bodies.length; i++)
        {
            bodies[i] = new byte[traffic.length(i)];
            traffic.write(i, bodies[i], 0);
        }
        wrapped = new ByteBuf[bodies.length];
        for (int i = 0; i < bodies.length; i++)
        {
            wrapped[i] = Unpooled.wrappedBuffer(bodies[i]);
        }
    }

    private byte[] body()
    {
        return bodies[next++ & 63];
    }

    /** Requests per second; multiply by eventsPerRequest for events. */
    @Benchmark
    public int baseline()
    {
        return body().length;
    }

    @Benchmark
    public int jacksonTokensOnly() throws IOException
    {
        int tokens = 0;
        try (JsonParser json = jackson.createParser(body()))
        {
            JsonToken token;
            while ((token = json.nextToken()) != null)
            {
                if (token == JsonToken.VALUE_NUMBER_INT)
                {
                    tokens += (int)json.getLongValue();
                }
                else if (token == JsonToken.VALUE_STRING)
                {
                    tokens += json.getTextLength();
                }
            }
        }
        return tokens;
    }

    /** Jackson's non-blocking parser, one for the whole run, fed one body after another as successive root values. */
    @Benchmark
    public int jacksonTokensOnlyFedParser() throws IOException
    {
        if (asyncParser == null)
        {
            asyncParser = jackson.createNonBlockingByteArrayParser();
        }
        final byte[] body = body();
        ((ByteArrayFeeder)asyncParser.getNonBlockingInputFeeder()).feedInput(body, 0, body.length);
        int tokens = 0;
        JsonToken token;
        while ((token = asyncParser.nextToken()) != JsonToken.NOT_AVAILABLE)
        {
            if (token == JsonToken.VALUE_NUMBER_INT)
            {
                tokens += (int)asyncParser.getLongValue();
            }
            else if (token == JsonToken.VALUE_STRING)
            {
                tokens += asyncParser.getTextLength();
            }
        }
        return tokens;
    }

    @Benchmark
    public int parseAndValidate()
    {
        final ParseOutcome outcome = parser.parse(wrapped[next++ & 63], false, 1_790_000_000_000L, 300_000, 10_000, staged);
        if (outcome != ParseOutcome.OK)
        {
            throw new IllegalStateException(outcome + ": " + parser.problems());
        }
        return parser.stagedLength();
    }
}
