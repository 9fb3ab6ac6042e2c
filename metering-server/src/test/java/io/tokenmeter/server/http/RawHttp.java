package io.tokenmeter.server.http;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;

/** Reading answers off a raw socket, for the tests that speak HTTP byte by byte. Bound by the socket's read timeout. */
final class RawHttp
{
    private RawHttp()
    {
    }

    /** @return the status line and headers, through the blank line (or what came before the connection closed). */
    static String readHead(final InputStream in) throws IOException
    {
        final StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n"))
        {
            final int b = in.read();
            if (b < 0)
            {
                return head.toString();
            }
            head.append((char)b);
        }
        return head.toString();
    }

    /** @return one answer: its head and its {@code Content-Length} bytes of body. */
    static String readAnswer(final InputStream in) throws IOException
    {
        final String head = readHead(in);
        final int at = head.toLowerCase().indexOf("content-length:");
        if (at < 0)
        {
            return head;
        }
        final int length = Integer.parseInt(head.substring(at + 15, head.indexOf("\r\n", at)).trim());
        return head + new String(in.readNBytes(length), StandardCharsets.UTF_8);
    }

    /**
     * @return what the server sent before it closed the connection. A server that closes with some of the client's
     * bytes still unread makes the kernel reset the connection instead of ending it, which is a close too.
     * @throws AssertionError when the connection stays open past the socket's read timeout.
     */
    static String readUntilClosed(final InputStream in) throws IOException
    {
        final ByteArrayOutputStream received = new ByteArrayOutputStream();
        final byte[] chunk = new byte[4096];
        try
        {
            for (int n; (n = in.read(chunk)) != -1; )
            {
                received.write(chunk, 0, n);
            }
        }
        catch (final SocketException reset)
        {
            if (!String.valueOf(reset.getMessage()).contains("reset"))
            {
                throw reset;
            }
        }
        catch (final SocketTimeoutException timeout)
        {
            throw new AssertionError("the connection was not closed within the read timeout", timeout);
        }
        return received.toString(StandardCharsets.ISO_8859_1);
    }
}
