package io.tokenmeter.server.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/** The operators' routes: {@code /health/live}, {@code /health/ready}, {@code /metrics} and {@code /v1/cluster}. */
final class OperatorRoutes
{
    private final ApiContext api;

    OperatorRoutes(final ApiContext api)
    {
        this.api = api;
    }

    void live(final ChannelHandlerContext ctx, final ApiRequest request, final Answers answers)
    {
        answers.answer(request, Responses.text(ctx.alloc(), HttpResponseStatus.OK, "application/json", "{\"status\":\"live\"}"));
    }

    void ready(final ChannelHandlerContext ctx, final ApiRequest request, final Answers answers)
    {
        final List<String> notReady = api.healthReasons();
        final List<String> reasons = notReady.isEmpty() ? api.readinessWarnings() : notReady;
        final HttpResponseStatus status = notReady.isEmpty() ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE;
        final String word = !notReady.isEmpty() ? "not_ready" : reasons.isEmpty() ? "ready" : "degraded";
        answers.answer(request, Responses.json(ctx.alloc(), status, json ->
        {
            json.writeStartObject();
            json.writeStringField("status", word);
            json.writeArrayFieldStart("reasons");
            for (final String reason : reasons)
            {
                json.writeString(reason);
            }
            json.writeEndArray();
            json.writeEndObject();
        }));
    }

    /** {@code GET /v1/cluster}: this node and each partition's owner, from what the node knows now (no call to Kafka). */
    void cluster(final ChannelHandlerContext ctx, final ApiRequest request, final Answers answers)
    {
        answers.answer(request, Responses.json(ctx.alloc(), HttpResponseStatus.OK, api::writeCluster));
    }

    /** A scrape takes milliseconds: it runs on the metrics thread, not on the time of this event loop's other connections. */
    void metrics(final ChannelHandlerContext ctx, final ApiRequest request, final Answers answers)
    {
        final CompletableFuture<String> scrape = api.metrics().scrapeAsync();
        scrape.whenComplete((text, failure) -> ctx.executor().execute(() -> answers.answer(request, failure == null
            ? Responses.text(ctx.alloc(), HttpResponseStatus.OK, "text/plain; version=0.0.4; charset=utf-8", text)
            : Responses.error(ctx.alloc(), HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal_error", "the scrape failed"))));
    }
}
