package io.tokenmeter.server.http;

import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponse;

/**
 * Where a route sends its answer: at once, or later from the connection's event loop. Exactly once per request: either
 * {@link #answer}, or a streamed answer begun with {@link #startStream} and closed with {@link #endStream}.
 */
interface Answers
{
    void answer(ApiRequest request, FullHttpResponse response);

    /**
     * Event loop only: writes the head of a streamed answer (chunked: its body's chunks follow from the route's producer,
     * written straight to the channel, see {@link ChunkWriter}); the request stays the one being answered until
     * {@link #endStream}.
     */
    void startStream(ApiRequest request, HttpResponse head);

    /**
     * Event loop only: ends the streamed answer. {@code whole}: its last chunk is written and the connection kept as
     * the request asked; otherwise the body is cut off by closing the connection, so a client never takes a part for
     * the whole.
     */
    void endStream(ApiRequest request, boolean whole);
}
