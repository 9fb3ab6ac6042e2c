package io.tokenmeter.server.otlp;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufInputStream;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

import java.io.IOException;
import java.io.InputStream;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Decodes the body of {@code POST /v1/traces} into an {@code ExportTraceServiceRequest}: inflated first when it came
 * with {@code Content-Encoding: gzip} (bounded by {@code max-body-bytes} after inflating, as OTLP/HTTP asks of a
 * server), then binary protobuf with the generated OTLP classes, or OTLP/JSON with {@link OtlpJsonReader}. One
 * instance per event loop.
 */
public final class TraceRequestDecoder
{
    /** How decoding ended. */
    public enum Outcome
    {
        OK,
        /** Not a gzip stream, or not an {@code ExportTraceServiceRequest} in its encoding: {@link #problem()}. */
        MALFORMED,
        /** More than the limit once inflated. */
        TOO_LARGE
    }

    private final OtlpJsonReader json = new OtlpJsonReader();
    private ExportTraceServiceRequest request;
    private String problem;

    /**
     * @param gzip     the body is gzip-compressed.
     * @param protobuf binary protobuf, else OTLP/JSON.
     * @param maxBytes most bytes of the body once inflated.
     */
    public Outcome decode(final ByteBuf body, final boolean gzip, final boolean protobuf, final int maxBytes,
        final ByteBufAllocator alloc)
    {
        request = null;
        problem = null;
        ByteBuf plain = body;
        if (gzip)
        {
            plain = alloc.buffer(Math.min(maxBytes, Math.max(1024, body.readableBytes() * 4)));
            final Outcome inflated = inflate(body, plain, maxBytes);
            if (inflated != Outcome.OK)
            {
                plain.release();
                return inflated;
            }
        }
        try
        {
            if (protobuf)
            {
                request = ExportTraceServiceRequest.parseFrom(CodedInputStream.newInstance(
                    (InputStream)new ByteBufInputStream(plain.duplicate())));
            }
            else
            {
                request = json.read(plain);
                problem = json.problem();
            }
        }
        catch (final InvalidProtocolBufferException ex)
        {
            problem = "the body is not a protobuf ExportTraceServiceRequest: " + ex.getMessage();
        }
        catch (final IOException ex)
        {
            problem = "the body could not be read: " + ex.getMessage();
        }
        finally
        {
            if (plain != body)
            {
                plain.release();
            }
        }
        return request != null ? Outcome.OK : Outcome.MALFORMED;
    }

    private Outcome inflate(final ByteBuf body, final ByteBuf into, final int maxBytes)
    {
        try (InputStream in = new GZIPInputStream(new ByteBufInputStream(body.duplicate()), 8192))
        {
            while (true)
            {
                final int room = maxBytes + 1 - into.writerIndex();
                into.ensureWritable(Math.min(room, 64 * 1024));
                final int read = into.writeBytes(in, Math.min(room, into.writableBytes()));
                if (read < 0)
                {
                    return Outcome.OK;
                }
                if (into.writerIndex() > maxBytes)
                {
                    problem = "the body exceeds " + maxBytes + " bytes once inflated; split the batch";
                    return Outcome.TOO_LARGE;
                }
            }
        }
        catch (final ZipException ex)
        {
            problem = "the body is not gzip, as Content-Encoding: gzip says: " + ex.getMessage();
        }
        catch (final IOException ex)
        {
            problem = "the gzip body could not be inflated: " + ex.getMessage();
        }
        return Outcome.MALFORMED;
    }

    /** @return the decoded request; valid after {@link Outcome#OK}. */
    public ExportTraceServiceRequest request()
    {
        return request;
    }

    /** @return why the body was refused. */
    public String problem()
    {
        return problem;
    }
}
