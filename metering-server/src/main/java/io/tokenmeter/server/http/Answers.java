package io.tokenmeter.server.http;

import io.netty.handler.codec.http.FullHttpResponse;

/** Where a route sends its answer: at once, or later from the connection's event loop. Exactly once per request. */
interface Answers
{
    void answer(ApiRequest request, FullHttpResponse response);
}
