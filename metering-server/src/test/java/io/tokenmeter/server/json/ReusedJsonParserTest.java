package io.tokenmeter.server.json;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.SerializedString;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.agrona.ExpandableArrayBuffer;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One parser kept across bodies must answer every body exactly as a parser made for that body alone. */
class ReusedJsonParserTest
{
    private static final long NOW = 1_763_892_000_000L;
    private static final long FIVE_MINUTES = 300_000L;

    private static String event(final String id)
    {
        return "{\"id\":\"" + id + "\",\"tenant\":\"acme\",\"model\":\"gpt-4o\",\"input_tokens\":12,\"output_tokens\":3}";
    }

    /** Valid and broken bodies, each with whether it is NDJSON; the broken ones end in every way a body can. */
    private static final List<Object[]> BODIES = List.of(
        new Object[] {event("a"), false},
        new Object[] {"[" + event("b") + "," + event("c") + "]", false},
        new Object[] {"  [" + event("d") + "]  \r\n\t", false},
        new Object[] {event("e") + "\n" + event("f") + "\n", true},
        new Object[] {"\n\n" + event("g") + "\n\n", true},
        new Object[] {"[]", false},
        new Object[] {"[" + event("h") + "] [1]", false},
        new Object[] {"[" + event("i") + "] 12", false},
        new Object[] {"[" + event("j") + "] \"x}", false},
        new Object[] {"[" + event("k") + "] {\"a\":1}", false},
        new Object[] {"[" + event("l") + "] }", false},
        new Object[] {"[" + event("m"), false},
        new Object[] {"[" + event("n") + ",", false},
        new Object[] {event("o") + "\n\"x}", true},
        new Object[] {event("p") + "\n12", true},
        new Object[] {event("q") + "\n[1]", true},
        new Object[] {"   ", false},
        new Object[] {"", false},
        new Object[] {"12", false},
        new Object[] {"\"a string\"", false},
        new Object[] {"nul", false},
        new Object[] {"\uFEFF" + event("r"), false},
        new Object[] {"[{\"id\":\"s\",\"tenant\":\"acme\",\"model\":\"m\",\"input_tokens\":-1}]", false},
        new Object[] {"[{\"id\":\"t\",\"tenant\":\"acme\",\"model\":\"m\",\"input_tokens\":1.5}, 7, \"z\"]", false},
        new Object[] {"[" + event("u") + "," + event("v") + "," + event("w") + "]", false},
        new Object[] {"{\"id\":\"x\",\"tenant\":\"acme\",\"model\":\"m\",\"unknown_" + "field\":[1,{\"a\":[]}]}", false},
        // the field order the parser learns (FieldOrder) changes from body to body: another order, names it cannot match
        // byte for byte (escaped, spaced), a name repeated where the order expects another, names that start like a
        // guessed one, and the guessed name as a value
        new Object[] {"{\"model\":\"gpt-4o\",\"input_tokens\":12,\"tenant\":\"acme\",\"id\":\"y\",\"output_tokens\":3}", false},
        new Object[] {"[{\"id\":\"z1\",\"\\u0074enant\":\"acme\",\"model\":\"gpt-4o\",\"input_tokens\":12}]", false},
        new Object[] {"{ \"id\" : \"z2\" ,\n \"tenant\"\t:\"acme\" , \"model\" :\"gpt-4o\" }", false},
        new Object[] {"[{\"id\":\"z3\",\"tenant\":\"acme\",\"tenant\":\"acme\",\"model\":\"gpt-4o\"}]", false},
        new Object[] {"[{\"id\":\"z4\",\"tenant\":\"acme\",\"model\":\"gpt-4o\",\"input\":1,\"input_tokensX\":2}]", false},
        new Object[] {"[{\"id\":\"tenant\",\"tenant\":\"model\",\"model\":\"input_tokens\",\"input_tokens\":12}]", false},
        new Object[] {"{\"id\":\"z5\",\"tenant\":\"acme\",\"model\":\"gpt-4o\",\"input_tokens\":12,\"output_tokens\":", false},
        new Object[] {"{\"id\":\"z6\",\"tenant\":\"acme\",\"model\":\"gpt-4o\",\"input_tokens\":12,\"output_tokens\"", false},
        new Object[] {"[{\"id\":\"z7\",\"tenant\":\"acme\",\"model\":\"gpt-4o\",\"input_tokens\":12,\"output_tok", false});

    private static ByteBuf utf8(final String body)
    {
        return Unpooled.wrappedBuffer(body.getBytes(StandardCharsets.UTF_8));
    }

    private record Answer(ParseOutcome outcome, int events, int seen, byte[] staged, List<Problem> problems, int problemCount,
        String malformed)
    {
        static Answer of(final EventParser parser, final ParseOutcome outcome, final ExpandableArrayBuffer out)
        {
            final byte[] staged = new byte[parser.stagedLength()];
            out.getBytes(0, staged);
            return new Answer(outcome, parser.eventCount(), parser.eventsSeen(), staged, new ArrayList<>(parser.problems()),
                parser.problemCount(), parser.malformedMessage());
        }

        void assertSame(final Answer expected, final String body)
        {
            assertEquals(expected.outcome, outcome, body);
            assertEquals(expected.events, events, body);
            assertEquals(expected.seen, seen, body);
            assertArrayEquals(expected.staged, staged, body);
            assertEquals(expected.problems, problems, body);
            assertEquals(expected.problemCount, problemCount, body);
            assertEquals(expected.malformed, malformed, body);
        }
    }

    private static Answer parseAlone(final String body, final boolean ndjson)
    {
        final EventParser parser = new EventParser();
        final ExpandableArrayBuffer out = new ExpandableArrayBuffer(256);
        return Answer.of(parser, parser.parse(utf8(body), ndjson, NOW, FIVE_MINUTES, 2, out), out);
    }

    @Test
    void everyBodyInAnyOrderGetsTheAnswerOfAParserOfItsOwn()
    {
        final List<Answer> alone = new ArrayList<>();
        for (final Object[] body : BODIES)
        {
            alone.add(parseAlone((String)body[0], (Boolean)body[1]));
        }
        assertEquals(ParseOutcome.OK, alone.get(1).outcome());
        assertEquals(ParseOutcome.MALFORMED, alone.get(8).outcome());
        assertEquals(ParseOutcome.TOO_MANY_EVENTS, alone.get(24).outcome());

        final EventParser shared = new EventParser();
        final ExpandableArrayBuffer out = new ExpandableArrayBuffer(256);
        final Random random = new Random(42);
        for (int i = 0; i < 3_000; i++)
        {
            final int pick = i < BODIES.size() ? i : random.nextInt(BODIES.size());
            final String body = (String)BODIES.get(pick)[0];
            final Answer answer = Answer.of(shared, shared.parse(utf8(body), (Boolean)BODIES.get(pick)[1], NOW, FIVE_MINUTES, 2, out), out);
            answer.assertSame(alone.get(pick), "body " + pick + " at " + i + ": " + body);
        }
    }

    @Test
    void readsBodyAfterBodyWithOneParserAndStopsAtEachBodysEnd() throws IOException
    {
        final JsonFactory factory = new JsonFactory();
        final ReusedJsonParser parser = ReusedJsonParser.open(factory, utf8("[1, {\"a\": 2}]  \n"));
        assertNotNull(parser);
        assertEquals(List.of(JsonToken.START_ARRAY, JsonToken.VALUE_NUMBER_INT, JsonToken.START_OBJECT, JsonToken.FIELD_NAME,
            JsonToken.VALUE_NUMBER_INT, JsonToken.END_OBJECT, JsonToken.END_ARRAY), tokens(parser));
        assertTrue(parser.reusable());

        parser.next(utf8("{\"b\":true}\n{\"c\":null}"));
        assertEquals(List.of(JsonToken.START_OBJECT, JsonToken.FIELD_NAME, JsonToken.VALUE_TRUE, JsonToken.END_OBJECT,
            JsonToken.START_OBJECT, JsonToken.FIELD_NAME, JsonToken.VALUE_NULL, JsonToken.END_OBJECT), tokens(parser));
        assertTrue(parser.reusable(), "the parser never read past a body");

        parser.next(utf8("[true] 12"));
        tokens(parser);
        assertFalse(parser.reusable(), "a trailing number made Jackson read to the end of the stream");
        parser.close();
    }

    @Test
    void aGuessedNameKeepsTheEndOfEachBody() throws IOException
    {
        final SerializedString a = new SerializedString("a");
        final SerializedString b = new SerializedString("b");
        final ReusedJsonParser parser = ReusedJsonParser.open(new JsonFactory(), utf8("{\"a\":1} \n"));
        assertNotNull(parser);
        assertFalse(parser.nextFieldName(a), "no name at the root");
        assertEquals(JsonToken.START_OBJECT, parser.currentToken());
        assertTrue(parser.nextFieldName(a));
        assertEquals("a", parser.currentName());
        assertEquals(JsonToken.VALUE_NUMBER_INT, parser.nextToken());
        assertFalse(parser.nextFieldName(b));
        assertEquals(JsonToken.END_OBJECT, parser.currentToken(), "the body's last token, read by a guess");
        assertNull(parser.nextToken(), "the end of the body, without reading on");
        assertTrue(parser.reusable());

        parser.next(utf8("{\"b\":2,\"a\":3}"));
        assertEquals(JsonToken.START_OBJECT, parser.nextToken());
        assertFalse(parser.nextFieldName(a), "a wrong guess");
        assertEquals(JsonToken.FIELD_NAME, parser.currentToken());
        assertEquals("b", parser.currentName());
        assertEquals(2, parser.nextIntValue(-1));
        assertTrue(parser.nextFieldName(a));
        assertEquals(3, parser.nextIntValue(-1));
        assertFalse(parser.nextFieldName(a));
        assertEquals(JsonToken.END_OBJECT, parser.currentToken());
        assertNull(parser.nextToken());
        assertTrue(parser.reusable(), "the parser never read past a body");
        parser.close();
    }

    @Test
    void aBodyJacksonReadsAsUtf16IsLeftToAParserOfItsOwn() throws IOException
    {
        final ByteBuf utf16 = Unpooled.wrappedBuffer("{\"a\":1}".getBytes(StandardCharsets.UTF_16LE));
        assertTrue(ReusedJsonParser.accepts(utf16), "it starts with '{'");
        assertNull(ReusedJsonParser.open(new JsonFactory(), utf16));
        assertFalse(ReusedJsonParser.accepts(utf8("\uFEFF{}")));
        assertFalse(ReusedJsonParser.accepts(utf8("")));
    }

    @Test
    void aParserIsRenewedAfterItsBodies() throws IOException
    {
        final ReusedJsonParser parser = ReusedJsonParser.open(new JsonFactory(), utf8("{}    "));
        assertNotNull(parser);
        for (int i = 1; i < ReusedJsonParser.MAX_BODIES; i++)
        {
            assertEquals(List.of(JsonToken.START_OBJECT, JsonToken.END_OBJECT), tokens(parser), "body " + i);
            assertTrue(parser.reusable(), "body " + i);
            parser.next(utf8(" {} "));
        }
        tokens(parser);
        assertFalse(parser.reusable());
        parser.close();
    }

    private static List<JsonToken> tokens(final ReusedJsonParser parser) throws IOException
    {
        final List<JsonToken> tokens = new ArrayList<>();
        JsonToken token;
        while ((token = parser.nextToken()) != null && tokens.size() < 1_000)
        {
            tokens.add(token);
        }
        return tokens;
    }
}
