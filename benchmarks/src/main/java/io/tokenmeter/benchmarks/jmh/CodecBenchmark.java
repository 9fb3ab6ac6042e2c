package io.tokenmeter.benchmarks.jmh;

import io.tokenmeter.core.event.EventRecord;
import io.tokenmeter.core.event.LogDocumentReader;
import io.tokenmeter.core.event.LogLayout;
import org.agrona.DirectBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.util.concurrent.TimeUnit;

/**
 * The binary log codec per event: a 100-event document written (records and CRC32C) and read back (checksum, fit check,
 * each record decoded), with an empty baseline.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class CodecBenchmark
{
    private static final int EVENTS = 100;

    private Events.Document document;
    private final LogDocumentReader reader = new LogDocumentReader();
    private final Sink sink = new Sink();

    /** Consumes what the reader hands over. */
    static final class Sink implements LogDocumentReader.Handler
    {
        Blackhole blackhole;

        @Override
        public void onName(final byte recordType, final int id, final DirectBuffer buffer, final int offset, final int length)
        {
            blackhole.consume(id);
        }

        @Override
        public void onEvent(final EventRecord event, final long appendTimeMs)
        {
            blackhole.consume(event.tokens(0) + event.timestampMs() + event.tenantId());
        }
    }

    @Setup
    public void setUp()
    {
        document = Events.document(EVENTS, 1000, 20, 11);
    }

    @Benchmark
    @OperationsPerInvocation(EVENTS)
    public int baseline()
    {
        return document.length();
    }

    @Benchmark
    @OperationsPerInvocation(EVENTS)
    public long read(final Blackhole blackhole)
    {
        sink.blackhole = blackhole;
        return reader.read(document.writer().buffer(), 0, document.length(), sink);
    }

    @Benchmark
    @OperationsPerInvocation(EVENTS)
    public int writeChecksum()
    {
        return document.writer().finish(new byte[LogLayout.CHAIN_HASH_LENGTH]);
    }
}
