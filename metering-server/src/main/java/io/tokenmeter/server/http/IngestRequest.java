package io.tokenmeter.server.http;

import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.tokenmeter.core.event.StagedEvent;
import io.tokenmeter.core.aggregate.BucketKey;
import io.tokenmeter.core.log.JournalRequest;
import io.tokenmeter.core.partition.Partition;
import io.tokenmeter.core.partition.Partitions;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;

import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;

/**
 * An ingest request on its way through the journals. Validated whole and staged by the event loop, then split by
 * partition into {@link Share}s (one share, and no copy, when all its events are in one partition: the usual case);
 * each share is decided and appended by its partition's journal, and the answer is sent on the event loop once every
 * share is in. The journals' callbacks only record their outcome and count down; the last one schedules {@link #run}.
 *
 * <p>All or nothing holds for validation (the whole request is checked before any share goes out). If a partition
 * cannot append, its share is refused while another's may be in: the answer is then 503 and a retry of the whole
 * request is exact, since the events that went in come back as duplicates.
 *
 * <p>The answer is worded by the request's {@link Reply}: {@code 202} with the counts for {@code /v1/events}
 * ({@link #EVENTS}), an OTLP export response for {@code /v1/traces}.
 */
final class IngestRequest implements Runnable
{
    private static final AtomicIntegerFieldUpdater<IngestRequest> REMAINING =
        AtomicIntegerFieldUpdater.newUpdater(IngestRequest.class, "remaining");

    /** How the answer of an ingest request is worded once its shares are decided. Event loop only. */
    interface Reply
    {
        /** @return the answer when every share was appended, with the counts summed over the shares. */
        FullHttpResponse accepted(ByteBufAllocator alloc, int accepted, int duplicates, int conflicts);

        /** @return the answer for a refusal, given as tokenmeter's JSON error (the reply may re-encode it). */
        FullHttpResponse refused(ByteBufAllocator alloc, FullHttpResponse jsonError);
    }

    /** The answer of {@code /v1/events} and {@code /api/v1/events}: {@code 202 {"accepted","duplicates","conflicts"}}. */
    static final Reply EVENTS = new Reply()
    {
        @Override
        public FullHttpResponse accepted(final ByteBufAllocator alloc, final int accepted, final int duplicates,
            final int conflicts)
        {
            final String body = "{\"accepted\":" + accepted + ",\"duplicates\":" + duplicates + ",\"conflicts\":" + conflicts + "}";
            return Responses.text(alloc, HttpResponseStatus.ACCEPTED, "application/json", body);
        }

        @Override
        public FullHttpResponse refused(final ByteBufAllocator alloc, final FullHttpResponse jsonError)
        {
            return jsonError;
        }
    };

    private final Answers answers;
    private final Reply reply;
    private final ApiRequest request;
    private final ChannelHandlerContext ctx;
    private final Partitions partitions;
    private final Share[] shares;
    /** Shares not yet decided; the journal that takes it to zero schedules the answer. */
    private volatile int remaining;

    private IngestRequest(final Answers answers, final Reply reply, final ApiRequest request, final ChannelHandlerContext ctx,
        final Partitions partitions, final Share[] shares)
    {
        this.remaining = shares.length;
        this.answers = answers;
        this.reply = reply;
        this.request = request;
        this.ctx = ctx;
        this.partitions = partitions;
        this.shares = shares;
        for (final Share share : shares)
        {
            share.request = this;
        }
    }

    /**
     * Splits staged events by partition. Event loop only. The request owns {@code staged} from here on: it is either
     * the one share's buffer or copied out and given back at once.
     *
     * @param partitionOfEvent scratch of at least {@code eventCount} ints, owned by the calling event loop.
     */
    static IngestRequest split(final Answers answers, final Reply reply, final ApiRequest request, final ChannelHandlerContext ctx,
        final ExpandableArrayBuffer staged, final int stagedLength, final int eventCount,
        final Partitions partitions, final StagedEvent event, final int[] partitionOfEvent)
    {
        if (partitions.count() == 1)
        {
            return new IngestRequest(answers, reply, request, ctx, partitions,
                new Share[] {new Share(0, staged, stagedLength, eventCount)});
        }
        final int[] eventsIn = new int[partitions.count()];
        int shareCount = 0;
        for (int e = 0, offset = 0; e < eventCount; e++)
        {
            event.wrap(staged, offset);
            final int p = partitions.indexOf(staged, event.tenantOffset(), event.tenantLength());
            partitionOfEvent[e] = p;
            if (eventsIn[p]++ == 0)
            {
                shareCount++;
            }
            offset += event.encodedLength();
        }
        if (shareCount == 1)
        {
            return new IngestRequest(answers, reply, request, ctx, partitions,
                new Share[] {new Share(partitionOfEvent[0], staged, stagedLength, eventCount)});
        }
        final Share[] shares = new Share[shareCount];
        final Share[] byPartition = new Share[partitions.count()];
        for (int p = 0, s = 0; p < eventsIn.length; p++)
        {
            if (eventsIn[p] > 0)
            {
                shares[s] = new Share(p, StagingBuffers.take(), 0, eventsIn[p]);
                byPartition[p] = shares[s++];
            }
        }
        for (int e = 0, offset = 0; e < eventCount; e++)
        {
            final int length = event.wrap(staged, offset).encodedLength();
            final Share share = byPartition[partitionOfEvent[e]];
            share.staged.putBytes(share.stagedLength, staged, offset, length);
            share.stagedLength += length;
            offset += length;
        }
        StagingBuffers.giveBack(staged);
        return new IngestRequest(answers, reply, request, ctx, partitions, shares);
    }

    /**
     * Hands every share to its partition's journal; a share of a partition this node has lost (cluster mode: another
     * writer fenced it) is refused here and never reaches its journal, so nothing of it is acknowledged or counted.
     * Event loop only.
     *
     * @return false when no journal took any share (every queue was full): nothing was offered, the buffers are given
     *     back, and the caller answers 503; true when the request will be answered by {@link #run}.
     */
    boolean offer(final ApiContext api)
    {
        final Partitions partitions = api.partitions();
        // null: every share is this node's to take (not a request another node forwarded for some partitions only)
        final java.util.BitSet askedFor = api.forwarder() != null ? Forwarder.askedPartitions(request) : null;
        java.util.Map<String, java.util.List<Share>> forwards = null;
        int notOffered = 0;
        for (int i = 0; i < shares.length; i++)
        {
            final Partition partition = partitions.get(shares[i].partition);
            if (askedFor != null && !askedFor.get(shares[i].partition))
            {
                // a forwarding node sent this whole request for its other shares: this one is another node's
                shares[i].skipped = true;
                notOffered++;
                continue;
            }
            // one volatile read of the partition's state per share (always OWNED on a single node)
            if (!partition.served())
            {
                final String ownerUrl = api.forwarder() != null && !Forwarder.forwarded(request)
                    ? api.forwardUrl(partition) : null;
                if (ownerUrl != null)
                {
                    if (forwards == null)
                    {
                        forwards = new java.util.HashMap<>();
                    }
                    forwards.computeIfAbsent(ownerUrl, url -> new java.util.ArrayList<>()).add(shares[i]);
                    continue;
                }
                shares[i].lost = true;
                shares[i].unavailable = api.unavailable(partition);
                notOffered++;
                continue;
            }
            if (partition.log().lostReason() != null)
            {
                shares[i].lost = true;
                notOffered++;
                continue;
            }
            if (!partition.journal().offer(shares[i]))
            {
                for (int j = i; j < shares.length; j++)
                {
                    shares[j].queueFull = true;
                }
                if (i == 0)
                {
                    giveBackBuffers();
                    return false;
                }
                notOffered += shares.length - i;
                break;
            }
        }
        if (forwards != null)
        {
            forward(api.forwarder(), forwards);
        }
        if (notOffered > 0 && REMAINING.addAndGet(this, -notOffered) == 0)
        {
            ctx.executor().execute(this);
        }
        return true;
    }

    /**
     * Sends the whole request once to each owner of shares this node does not serve, asking it for those partitions'
     * shares only; each owner's counts come back into its first share. Event loop; the answers on any thread.
     */
    private void forward(final Forwarder forwarder, final java.util.Map<String, java.util.List<Share>> byOwner)
    {
        final byte[] body = io.netty.buffer.ByteBufUtil.getBytes(request.http.content());
        for (final java.util.Map.Entry<String, java.util.List<Share>> owner : byOwner.entrySet())
        {
            final java.util.List<Share> owned = owner.getValue();
            final java.util.BitSet asked = new java.util.BitSet();
            for (final Share share : owned)
            {
                asked.set(share.partition);
            }
            forwarder.forwardEvents(request, body, owner.getKey(), asked).thenAccept(answer ->
            {
                for (int i = 0; i < owned.size(); i++)
                {
                    final Share share = owned.get(i);
                    if (answer.refusal() == null)
                    {
                        share.accepted = i == 0 ? answer.accepted() : 0;
                        share.duplicates = i == 0 ? answer.duplicates() : 0;
                        share.conflicts = i == 0 ? answer.conflicts() : 0;
                    }
                    else
                    {
                        share.forwardRefusal = answer.refusal();
                    }
                    onShareDone();
                }
            });
        }
    }

    private void onShareDone()
    {
        if (REMAINING.decrementAndGet(this) == 0)
        {
            ctx.executor().execute(this);
        }
    }

    private void giveBackBuffers()
    {
        for (final Share share : shares)
        {
            StagingBuffers.giveBack(share.staged);
        }
    }

    /**
     * Answers on the event loop; the journals are done with the staged events, so their buffers go back for reuse once
     * the answer is made (a refusal may name the event that caused it).
     */
    @Override
    public void run()
    {
        int accepted = 0;
        int duplicates = 0;
        int conflicts = 0;
        Share refused = null;
        for (final Share share : shares)
        {
            if (share.skipped)
            {
                continue;
            }
            if (share.lost || share.queueFull || share.refusal != null || share.forwardRefusal != null)
            {
                if (refused == null || severity(share) > severity(refused))
                {
                    refused = share;
                }
            }
            else
            {
                accepted += share.accepted;
                duplicates += share.duplicates;
                conflicts += share.conflicts;
            }
        }
        final FullHttpResponse response = refused == null ? reply.accepted(ctx.alloc(), accepted, duplicates, conflicts)
            : reply.refused(ctx.alloc(), refusal(refused, accepted > 0));
        giveBackBuffers();
        answers.answer(request, response);
    }

    /** @return which refusal the answer names when several shares were refused: the one a client must act on first. */
    private static int severity(final Share share)
    {
        if (share.lost || share.forwardRefusal != null)
        {
            return 3;
        }
        if (share.queueFull)
        {
            return 1;
        }
        return switch (share.refusal)
        {
            case TOO_MANY_NAMES, TOO_MANY_MODELS -> 0;
            case LOG_UNWRITABLE -> 2;
            case SHUTTING_DOWN -> 4;
            case STALE_REVISION, UNKNOWN_CONTROL, ALREADY_RECORDED -> 5;
        };
    }

    private FullHttpResponse refusal(final Share share, final boolean othersAccepted)
    {
        final String what = shares.length == 1 ? "nothing was accepted"
            : "partition " + share.partition + "'s share of this request was not accepted" + (othersAccepted
                ? " (other partitions' shares were: a retry of the whole request counts their events as duplicates)" : "");
        if (share.forwardRefusal != null)
        {
            return share.forwardRefusal.answer(ctx.alloc(), what);
        }
        if (share.unavailable != null)
        {
            return Responses.retryLater(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE, "partition_unavailable",
                share.unavailable + "; " + what, 1);
        }
        final String lost = partitions.get(share.partition).log().lostReason();
        if (share.lost || (share.refusal == JournalRequest.Refusal.LOG_UNWRITABLE && lost != null))
        {
            return Responses.retryLater(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE, "partition_unavailable",
                "partition " + share.partition + " is not written by this node (" + lost + "); " + what + ", retry later",
                5);
        }
        if (share.queueFull)
        {
            return Responses.retryLater(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE, "overloaded",
                "the journal queue is full; " + what + ", retry after a pause", 1);
        }
        return switch (share.refusal)
        {
            case LOG_UNWRITABLE -> Responses.retryLater(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE, "log_unwritable",
                "the event log cannot be written (see /health/ready); " + what + ", retry later", 5);
            case TOO_MANY_NAMES -> Responses.error(ctx.alloc(), HttpResponseStatus.BAD_REQUEST, "too_many_names",
                "the request would define more distinct tenants (" + BucketKey.MAX_TENANTS + ") or models ("
                    + BucketKey.MAX_MODELS + ") than a partition's log holds; model names must not carry per-request "
                    + "data; " + what);
            case TOO_MANY_MODELS -> tooManyModels(share, what);
            case SHUTTING_DOWN -> Responses.retryLater(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE,
                "shutting_down", "the server is stopping; " + what + ", retry", 1);
            case STALE_REVISION, UNKNOWN_CONTROL, ALREADY_RECORDED -> Responses.error(ctx.alloc(), HttpResponseStatus.INTERNAL_SERVER_ERROR,
                "internal_error", "the journal refused events as a control record (" + share.refusal + "); " + what);
        };
    }

    /** The tenant of the refused event has used as many distinct models as the journal allows it: say who and what. */
    private FullHttpResponse tooManyModels(final Share share, final String what)
    {
        String tenant = "of this request";
        String model = "";
        if (share.refusedEvent >= 0)
        {
            final StagedEvent event = new StagedEvent();
            int offset = 0;
            for (int e = 0; e < share.refusedEvent; e++)
            {
                offset += event.wrap(share.staged, offset).encodedLength();
            }
            event.wrap(share.staged, offset);
            tenant = share.staged.getStringWithoutLengthAscii(event.tenantOffset(), event.tenantLength());
            model = " (" + share.staged.getStringWithoutLengthAscii(event.modelOffset(), event.modelLength()) + ")";
        }
        final int limit = partitions.get(share.partition).journal().maxModelsPerTenant();
        return Responses.error(ctx.alloc(), HttpResponseStatus.BAD_REQUEST, "too_many_models", "tenant " + tenant
            + " has reached the setting max-models-per-tenant (" + limit + " distinct models) and the request adds another"
            + model + "; model names must not carry per-request data (if the tenant really uses more models, the operator "
            + "raises max-models-per-tenant); " + what);
    }

    /** One partition's part of a request: its events, staged back to back, and the journal's outcome for them. */
    static final class Share implements JournalRequest
    {
        private final int partition;
        private final ExpandableArrayBuffer staged;
        private int stagedLength;
        private final int eventCount;
        private IngestRequest request;
        private int accepted;
        private int duplicates;
        private int conflicts;
        private Refusal refusal;
        /** The index in {@link #staged} of the event that caused {@link #refusal}, -1 when none was named. */
        private int refusedEvent = -1;
        private boolean queueFull;
        /** True when the share's partition was lost before it was offered: its journal never saw it. */
        private boolean lost;
        /** Why this node does not serve the share's partition (cluster mode: owned elsewhere, recovering), or null. */
        private String unavailable;
        /** The owner's refusal of this share, forwarded to it (cluster mode), or null. */
        private Forwarder.Refusal forwardRefusal;
        /** True when a forwarding node asked this node for other partitions' shares only: this one is not answered. */
        private boolean skipped;

        Share(final int partition, final ExpandableArrayBuffer staged, final int stagedLength, final int eventCount)
        {
            this.partition = partition;
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

        /** Journal thread: the outcome is written before the count-down that publishes it. */
        @Override
        public void onJournaled(final int accepted, final int duplicates, final int conflicts)
        {
            this.accepted = accepted;
            this.duplicates = duplicates;
            this.conflicts = conflicts;
            request.onShareDone();
        }

        @Override
        public void onRefused(final Refusal refusal)
        {
            this.refusal = refusal;
            request.onShareDone();
        }

        @Override
        public void onRefused(final Refusal refusal, final int eventIndex)
        {
            this.refusedEvent = eventIndex;
            onRefused(refusal);
        }
    }
}
