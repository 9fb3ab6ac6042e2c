package io.tokenmeter.server.json;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.base.ParserBase;
import com.fasterxml.jackson.core.json.UTF8StreamJsonParser;
import com.fasterxml.jackson.core.util.JsonParserDelegate;
import io.netty.buffer.ByteBuf;

import java.io.IOException;
import java.io.InputStream;

/**
 * One Jackson parser for many request bodies, so that a body costs no parser objects: Jackson's blocking parser has
 * no reset for a new input, and a new one per request allocated about 770 bytes (7.7 B per event of a 100-event
 * batch, issue 4 asks for under 1). It reads one endless stream instead, in which each body follows the one before
 * as the next root-level JSON value. Jackson's non-blocking parser could be fed that way too, but reads 25 to 30 %
 * slower (BENCHMARKS.md).
 *
 * <p>The parser must never read past the end of a body (the next one is not there yet), so {@link #nextToken()}
 * answers "end of input" itself, without asking Jackson, when the parser stands between root values and the rest of
 * the body is whitespace: the byte offset of the last root value's closing bracket, from Jackson, tells where that
 * rest starts. Anything else (a truncated body, trailing content, a root scalar) makes Jackson read on; the stream
 * then reports end of input, which closes this parser for good ({@link #reusable()} turns false).
 *
 * <p>{@link EventParser} keeps a body's answer only when the body parsed cleanly; otherwise it drops this parser and
 * parses the body again with a new one, so error messages and their line numbers are exactly those of a fresh parser.
 * Owned by the thread of its {@link EventParser}.
 */
final class ReusedJsonParser extends JsonParserDelegate
{
    /** Bodies per parser: field names it has not seen grow its symbol table, so it is renewed now and then. */
    static final int MAX_BODIES = 10_000;

    private final BodyStream stream;
    private final ParserBase base;
    private int bodies;
    private long valueEnd;

    private ReusedJsonParser(final JsonParser parser, final BodyStream stream)
    {
        super(parser);
        this.stream = stream;
        this.base = (ParserBase)parser;
    }

    /**
     * @return a parser reading {@code body} first, or null when Jackson chose another parser than its UTF-8 byte
     * parser for it (a body that looks like UTF-16 or UTF-32): such a body is parsed the ordinary way.
     */
    static ReusedJsonParser open(final JsonFactory factory, final ByteBuf body) throws IOException
    {
        final BodyStream stream = new BodyStream();
        stream.next(body);
        final JsonParser parser = factory.createParser(stream);
        if (!(parser instanceof UTF8StreamJsonParser))
        {
            parser.close();
            return null;
        }
        final ReusedJsonParser reused = new ReusedJsonParser(parser, stream);
        reused.valueEnd = 0;
        reused.bodies = 1;
        return reused;
    }

    /** @return whether {@code body} can be read by this parser: its next body must start as a JSON object or array may. */
    static boolean accepts(final ByteBuf body)
    {
        if (!body.isReadable())
        {
            return false;
        }
        final byte first = body.getByte(body.readerIndex());
        return first == '{' || first == '[' || isWhitespace(first);
    }

    /** Starts the next body; call only while {@link #reusable()}. */
    void next(final ByteBuf body)
    {
        valueEnd = stream.served;
        stream.next(body);
        bodies++;
    }

    /** @return whether the parser may read another body: it never reached the end of a stream, and is not old. */
    boolean reusable()
    {
        return !stream.ended && bodies < MAX_BODIES && !delegate.isClosed();
    }

    @Override
    public JsonToken nextToken() throws IOException
    {
        if (delegate.getParsingContext().inRoot() && restIsWhitespace())
        {
            return null;
        }
        final JsonToken token = delegate.nextToken();
        if ((token == JsonToken.END_OBJECT || token == JsonToken.END_ARRAY) && delegate.getParsingContext().inRoot())
        {
            valueEnd = base.getTokenCharacterOffset() + 1;
        }
        return token;
    }

    /**
     * Jackson's comparison of the next name with a guess ({@link FieldOrder}), keeping the end-of-body bookkeeping of
     * {@link #nextToken()}: at the root, where no name can come, it is {@link #nextToken()} itself.
     */
    @Override
    public boolean nextFieldName(final SerializableString name) throws IOException
    {
        if (delegate.getParsingContext().inRoot())
        {
            nextToken();
            return false;
        }
        if (delegate.nextFieldName(name))
        {
            return true;
        }
        final JsonToken token = delegate.currentToken();
        if ((token == JsonToken.END_OBJECT || token == JsonToken.END_ARRAY) && delegate.getParsingContext().inRoot())
        {
            valueEnd = base.getTokenCharacterOffset() + 1;
        }
        return false;
    }

    private boolean restIsWhitespace()
    {
        final ByteBuf body = stream.body;
        final long from = valueEnd - stream.bodyStart;
        if (from < 0)
        {
            return false;
        }
        for (int i = body.readerIndex() + (int)from, end = body.writerIndex(); i < end; i++)
        {
            if (!isWhitespace(body.getByte(i)))
            {
                return false;
            }
        }
        return true;
    }

    private static boolean isWhitespace(final byte b)
    {
        return b == ' ' || b == '\n' || b == '\r' || b == '\t';
    }

    /** The bodies, one after another, as one stream; the body's reader index is left as it is. */
    private static final class BodyStream extends InputStream
    {
        private ByteBuf body;
        private int index;
        private int end;
        private long bodyStart;
        private long served;
        private boolean ended;

        void next(final ByteBuf body)
        {
            this.body = body;
            this.index = body.readerIndex();
            this.end = body.writerIndex();
            this.bodyStart = served;
        }

        @Override
        public int read()
        {
            if (index >= end)
            {
                ended = true;
                return -1;
            }
            served++;
            return body.getByte(index++) & 0xFF;
        }

        @Override
        public int read(final byte[] target, final int offset, final int length)
        {
            if (length == 0)
            {
                return 0;
            }
            final int count = Math.min(length, end - index);
            if (count <= 0)
            {
                ended = true;
                return -1;
            }
            body.getBytes(index, target, offset, count);
            index += count;
            served += count;
            return count;
        }

        @Override
        public int available()
        {
            return end - index;
        }
    }
}
