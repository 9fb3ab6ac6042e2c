package io.tokenmeter.server.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.tokenmeter.core.log.JournalRequest;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;

/**
 * An ingest request on its way through the journal. Staged by the event loop, decided and appended by the journal,
 * then answered back on the event loop: the journal's callback only records the outcome and schedules {@link #run}.
 */
final class IngestRequest implements JournalRequest, Runnable
{
    private final ApiHandler handler;
    private final ChannelHandlerContext ctx;
    private final boolean keepAlive;
    private final long receiptNanos;
    private final ExpandableArrayBuffer staged;
    private final int stagedLength;
    private final int eventCount;
    private int accepted;
    private int duplicates;
    private int conflicts;
    private Refusal refusal;

    IngestRequest(final ApiHandler handler, final ChannelHandlerContext ctx, final boolean keepAlive, final long receiptNanos,
        final ExpandableArrayBuffer staged, final int stagedLength, final int eventCount)
    {
        this.handler = handler;
        this.ctx = ctx;
        this.keepAlive = keepAlive;
        this.receiptNanos = receiptNanos;
        this.staged = staged;
        this.stagedLength = stagedLength;
        this.eventCount = eventCount;
    }

    @Override
    public DirectBuffer stagedEvents()
    {
        return staged;
    }

    @Override
    public int stagedLength()
    {
        return stagedLength;
    }

    @Override
    public int eventCount()
    {
        return eventCount;
    }

    @Override
    public void onJournaled(final int accepted, final int duplicates, final int conflicts)
    {
        this.accepted = accepted;
        this.duplicates = duplicates;
        this.conflicts = conflicts;
        ctx.executor().execute(this);
    }

    @Override
    public void onRefused(final Refusal refusal)
    {
        this.refusal = refusal;
        ctx.executor().execute(this);
    }

    /** Answers on the event loop; the journal is done with the staged events, so their buffer goes back for reuse. */
    @Override
    public void run()
    {
        StagingBuffers.giveBack(staged);
        final FullHttpResponse response;
        if (refusal == null)
        {
            final String body = "{\"accepted\":" + accepted + ",\"duplicates\":" + duplicates + ",\"conflicts\":" + conflicts + "}";
            response = Responses.text(ctx.alloc(), HttpResponseStatus.ACCEPTED, "application/json", body);
        }
        else
        {
            response = switch (refusal)
            {
                case LOG_UNWRITABLE -> Responses.retryLater(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE, "log_unwritable",
                    "the event log cannot be written (see /health/ready); nothing was accepted, retry later", 5);
                case TOO_MANY_NAMES -> Responses.error(ctx.alloc(), HttpResponseStatus.BAD_REQUEST, "too_many_names",
                    "the request would define more distinct tenants (16777216) or models (65536) than the log holds; "
                        + "model names must not carry per-request data; nothing was accepted");
                case SHUTTING_DOWN -> Responses.retryLater(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE, "shutting_down",
                    "the server is stopping; nothing was accepted, retry", 1);
            };
        }
        handler.completeAsync(ctx, response, keepAlive, receiptNanos, true);
    }
}
