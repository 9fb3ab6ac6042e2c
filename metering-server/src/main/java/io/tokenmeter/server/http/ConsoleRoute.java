package io.tokenmeter.server.http;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;

/**
 * Serves the web console's static files ({@code GET /console/...}) from {@link ConsoleFiles}: no key, since they hold
 * no data; the console fetches the data from the API with the user's key. Every answer forbids content from anywhere
 * but this server (a content security policy of {@code default-src 'self'}, so no inline script runs) and type
 * sniffing; files are revalidated on each use ({@code no-cache}) against a strong {@code ETag}, answered 304 when
 * unchanged. Answers at once, on the connection's event loop.
 */
final class ConsoleRoute
{
    /** Nothing from elsewhere, no inline script or style, no plugins, no framing, forms only to this server. */
    static final String CONTENT_SECURITY_POLICY = "default-src 'self'; object-src 'none'; base-uri 'none'; "
        + "frame-ancestors 'none'; form-action 'self'";

    private final ConsoleFiles files;

    ConsoleRoute(final ConsoleFiles files)
    {
        this.files = files;
    }

    void handle(final ChannelHandlerContext ctx, final ApiRequest request, final Answers answers)
    {
        final String path = Router.rawPath(request.http.uri());
        if (path.equals("/console"))
        {
            final FullHttpResponse moved = secured(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                HttpResponseStatus.MOVED_PERMANENTLY, Unpooled.EMPTY_BUFFER));
            moved.headers().set(HttpHeaderNames.LOCATION, ConsoleFiles.ROOT).setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
            answers.answer(request, moved);
            return;
        }
        final ConsoleFiles.Asset asset = files.find(path);
        if (asset == null)
        {
            answers.answer(request, secured(Responses.error(ctx.alloc(), HttpResponseStatus.NOT_FOUND, "not_found",
                "no console file " + path + "; the console starts at " + ConsoleFiles.ROOT)));
            return;
        }
        final boolean unchanged = ConsoleFiles.matches(request.http.headers().get(HttpHeaderNames.IF_NONE_MATCH), asset.etag());
        final FullHttpResponse response = unchanged
            ? new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NOT_MODIFIED, Unpooled.EMPTY_BUFFER)
            : new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, Unpooled.wrappedBuffer(asset.body()));
        final HttpHeaders headers = secured(response).headers();
        headers.set(HttpHeaderNames.ETAG, asset.etag())
            .set(HttpHeaderNames.CACHE_CONTROL, "no-cache");
        if (!unchanged)
        {
            headers.set(HttpHeaderNames.CONTENT_TYPE, asset.contentType())
                .setInt(HttpHeaderNames.CONTENT_LENGTH, asset.body().length);
        }
        answers.answer(request, response);
    }

    /** Adds the headers every console answer carries. */
    private static FullHttpResponse secured(final FullHttpResponse response)
    {
        response.headers()
            .set("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            .set("X-Content-Type-Options", "nosniff")
            .set("X-Frame-Options", "DENY")
            .set("Referrer-Policy", "no-referrer");
        return response;
    }
}
