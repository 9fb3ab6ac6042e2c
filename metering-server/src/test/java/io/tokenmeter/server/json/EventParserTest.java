package io.tokenmeter.server.json;

import io.tokenmeter.core.event.ServiceTier;
import io.tokenmeter.core.event.StagedEvent;
import io.tokenmeter.core.event.TokenClass;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.junit.jupiter.api.Test;

import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EventParserTest
{
    private static final long NOW = 1_763_892_000_000L; // 2025-11-23T10:00:00Z
    private static final long FIVE_MINUTES = 300_000L;

    private final EventParser parser = new EventParser();
    private final ExpandableArrayBuffer out = new ExpandableArrayBuffer(256);

    private ParseOutcome parse(final String body)
    {
        return parse(body, false);
    }

    private ParseOutcome parse(final String body, final boolean ndjson)
    {
        return parser.parse(Unpooled.wrappedBuffer(body.getBytes(StandardCharsets.UTF_8)), ndjson, NOW, FIVE_MINUTES, 10_000, out);
    }

    private static String event(final String extra)
    {
        return "{\"id\":\"e1\",\"tenant\":\"acme\",\"model\":\"gpt-4o\"" + (extra.isEmpty() ? "" : "," + extra) + "}";
    }

    private void assertOnlyProblem(final String body, final String field, final String messagePart)
    {
        assertEquals(ParseOutcome.INVALID_EVENTS, parse(body), body);
        final List<Problem> problems = parser.problems();
        assertEquals(1, problems.size(), problems.toString());
        assertEquals(field, problems.get(0).field());
        assertTrue(problems.get(0).message().contains(messagePart), problems.get(0).message());
    }

    private StagedEvent staged(final int index)
    {
        final StagedEvent event = new StagedEvent();
        int offset = 0;
        for (int i = 0; i < index; i++)
        {
            offset += event.wrap((DirectBuffer)out, offset).encodedLength();
        }
        return event.wrap((DirectBuffer)out, offset);
    }

    /** The parser guesses each name from the order it last saw (FieldOrder): every order must stage the same values. */
    @Test
    void stagesTheSameValuesWhateverOrderTheFieldsComeIn()
    {
        final String[] fields = {"\"id\":\"e%d\"", "\"tenant\":\"t%d\"", "\"model\":\"m%d\"", "\"input_tokens\":%d",
            "\"cache_read_tokens\":%d", "\"reasoning_tokens\":%d", "\"output_tokens\":%d"};
        final java.util.Random random = new java.util.Random(7);
        for (int body = 0; body < 200; body++)
        {
            final StringBuilder json = new StringBuilder("[");
            final List<Integer> order = new java.util.ArrayList<>(List.of(0, 1, 2, 3, 4, 5, 6));
            final int events = 1 + random.nextInt(4);
            for (int e = 0; e < events; e++)
            {
                if (random.nextInt(3) == 0)
                {
                    java.util.Collections.shuffle(order, random); // a new order, kept by the next events of the body
                }
                final int n = body * 10 + e;
                json.append(e == 0 ? "{" : ",{");
                for (int f = 0; f < order.size(); f++)
                {
                    json.append(f == 0 ? "" : ",").append(String.format(fields[order.get(f)], n + order.get(f)));
                }
                json.append('}');
            }
            final String text = json.append(']').toString();
            assertEquals(ParseOutcome.OK, parse(text), text);
            for (int e = 0; e < events; e++)
            {
                final int n = body * 10 + e;
                final StagedEvent staged = staged(e);
                assertEquals("e" + n, out.getStringWithoutLengthAscii(staged.idOffset(), staged.idLength()), text);
                assertEquals("t" + (n + 1), out.getStringWithoutLengthAscii(staged.tenantOffset(), staged.tenantLength()), text);
                assertEquals("m" + (n + 2), out.getStringWithoutLengthAscii(staged.modelOffset(), staged.modelLength()), text);
                assertEquals(n + 3, staged.tokens(TokenClass.INPUT.ordinal()), text);
                assertEquals(n + 4, staged.tokens(TokenClass.CACHE_READ.ordinal()), text);
                assertEquals(n + 5, staged.tokens(TokenClass.REASONING.ordinal()), text);
                assertEquals(n + 6, staged.tokens(TokenClass.OUTPUT.ordinal()), text);
            }
        }
    }

    @Test
    void refusesARepeatedFieldWhereTheLearntOrderExpectsAnother()
    {
        assertEquals(ParseOutcome.OK, parse("[" + event("\"input_tokens\":1") + "," + event("\"input_tokens\":2") + "]"));
        assertOnlyProblem("{\"id\":\"e1\",\"tenant\":\"acme\",\"tenant\":\"acme\",\"model\":\"gpt-4o\"}", "tenant",
            "appears more than once");
        assertOnlyProblem("{\"id\":\"e1\",\"tenant\":\"acme\",\"model\":\"gpt-4o\",\"input\":1}", "input",
            "unknown field");
    }

    @Test
    void stagesEveryFieldOfAValidEvent()
    {
        assertEquals(ParseOutcome.OK, parse(event("\"timestamp\":\"2025-11-23T09:59:59.250Z\",\"service_tier\":\"batch\","
            + "\"input_tokens\":1200,\"cache_read_tokens\":1000,\"cache_write_tokens\":3,\"cache_write_1h_tokens\":4,"
            + "\"output_tokens\":350,\"reasoning_tokens\":100")));
        final StagedEvent e = staged(0);
        assertEquals(NOW - 750, e.timestampMs());
        assertEquals(ServiceTier.BATCH.code(), e.tierCode());
        assertEquals(1200, e.tokens(TokenClass.INPUT.ordinal()));
        assertEquals(1000, e.tokens(TokenClass.CACHE_READ.ordinal()));
        assertEquals(3, e.tokens(TokenClass.CACHE_WRITE.ordinal()));
        assertEquals(4, e.tokens(TokenClass.CACHE_WRITE_1H.ordinal()));
        assertEquals(350, e.tokens(TokenClass.OUTPUT.ordinal()));
        assertEquals(100, e.tokens(TokenClass.REASONING.ordinal()));
        assertEquals(StagedEvent.FLAG_THINKING, e.flags(), "reasoning tokens: thinking mode; a timestamp was given");
        assertEquals("acme", out.getStringWithoutLengthAscii(e.tenantOffset(), e.tenantLength()));
        assertEquals("gpt-4o", out.getStringWithoutLengthAscii(e.modelOffset(), e.modelLength()));
        assertEquals("e1", out.getStringWithoutLengthAscii(e.idOffset(), e.idLength()));
    }

    @Test
    void missingTimestampMeansReceiptAndTokensDefaultToZero()
    {
        assertEquals(ParseOutcome.OK, parse(event("")));
        final StagedEvent e = staged(0);
        assertEquals(NOW, e.timestampMs());
        assertEquals(StagedEvent.FLAG_STAMPED_AT_RECEIPT, e.flags());
        assertEquals(ServiceTier.STANDARD.code(), e.tierCode());
        for (int i = 0; i < TokenClass.COUNT; i++)
        {
            assertEquals(0, e.tokens(i));
        }
    }

    @Test
    void acceptsAnArrayAndNdjson()
    {
        assertEquals(ParseOutcome.OK, parse("[" + event("") + "," + event("\"output_tokens\":2").replace("e1", "e2") + "]"));
        assertEquals(2, parser.eventCount());
        assertEquals(ParseOutcome.OK, parse(event("") + "\n\n" + event("").replace("e1", "e2") + "\n", true));
        assertEquals(2, parser.eventCount());
    }

    @Test
    void contentHashIgnoresTheReceiptTimeButNotTheTokens()
    {
        parse(event(""));
        final long first = staged(0).contentHash();
        parser.parse(Unpooled.wrappedBuffer(event("").getBytes(StandardCharsets.UTF_8)), false, NOW + 60_000, FIVE_MINUTES, 10, out);
        assertEquals(first, staged(0).contentHash(), "a retry without timestamp is the same content");
        parse(event("\"output_tokens\":1"));
        assertNotEquals(first, staged(0).contentHash());
        parse(event("\"timestamp\":" + NOW));
        assertNotEquals(first, staged(0).contentHash(), "an explicit timestamp is content");
    }

    @Test
    void epochMillisAndRfc3339MeanTheSameInstant()
    {
        parse(event("\"timestamp\":\"2025-11-23T11:00:00+01:00\""));
        final long fromText = staged(0).timestampMs();
        parse(event("\"timestamp\":" + NOW));
        assertEquals(fromText, staged(0).timestampMs());
    }

    @Test
    void rejectsUnknownField()
    {
        assertOnlyProblem(event("\"outptu_tokens\":5"), "outptu_tokens", "unknown field");
    }

    @Test
    void rejectsMissingId()
    {
        assertOnlyProblem("{\"tenant\":\"acme\",\"model\":\"m\"}", "id", "required");
    }

    @Test
    void rejectsMissingTenant()
    {
        assertOnlyProblem("{\"id\":\"x\",\"model\":\"m\"}", "tenant", "required");
    }

    @Test
    void rejectsMissingModel()
    {
        assertOnlyProblem("{\"id\":\"x\",\"tenant\":\"acme\"}", "model", "required");
    }

    @Test
    void rejectsEmptyId()
    {
        assertOnlyProblem(event("").replace("\"e1\"", "\"\""), "id", "1 to 128 bytes");
    }

    @Test
    void acceptsIdOf128BytesAndRejects129()
    {
        assertEquals(ParseOutcome.OK, parse(event("").replace("\"e1\"", "\"" + "x".repeat(128) + "\"")));
        assertOnlyProblem(event("").replace("\"e1\"", "\"" + "x".repeat(129) + "\""), "id", "1 to 128 bytes");
    }

    @Test
    void countsIdLengthInUtf8Bytes()
    {
        assertOnlyProblem(event("").replace("\"e1\"", "\"" + "é".repeat(65) + "\""), "id", "1 to 128 bytes");
    }

    @Test
    void rejectsControlCharactersInAnIdAndSaysWhichAndWhere()
    {
        // as JSON escapes: NUL, tab, unit separator, DEL and the C1 NEL
        for (final String control : List.of("\\u0000", "\\t", "\\u001f", "\\u007f", "\\u0085"))
        {
            assertOnlyProblem(event("").replace("\"e1\"", "\"e" + control + "1\""), "id", "must not contain control characters");
        }
        assertOnlyProblem(event("").replace("\"e1\"", "\"e\\u00001\""), "id", "found U+0000 at character 2");
        assertOnlyProblem(event("").replace("\"e1\"", "\"e\\u00851\""), "id", "found U+0085 at character 2");
    }

    @Test
    void acceptsPrintableNonAsciiAroundTheControlRanges()
    {
        // U+0020 (space), U+007E (~) and U+00A0 (no-break space) border the refused ranges
        assertEquals(ParseOutcome.OK, parse(event("").replace("\"e1\"", "\" ~\\u00a0\"")));
        assertEquals(" ~\u00a0", staged(0).buffer().getStringWithoutLengthUtf8(staged(0).idOffset(), staged(0).idLength()));
    }

    @Test
    void rejectsIdThatIsNotAString()
    {
        assertOnlyProblem(event("").replace("\"e1\"", "17"), "id", "must be a string");
    }

    @Test
    void rejectsTenantWithForbiddenCharacters()
    {
        assertOnlyProblem(event("").replace("acme", "ac me"), "tenant", "only letters");
    }

    @Test
    void acceptsTenantOf64AndRejects65()
    {
        assertEquals(ParseOutcome.OK, parse(event("").replace("acme", "a".repeat(64))));
        assertOnlyProblem(event("").replace("acme", "a".repeat(65)), "tenant", "1 to 64");
    }

    @Test
    void acceptsAllTenantPunctuation()
    {
        assertEquals(ParseOutcome.OK, parse(event("").replace("acme", "a.b_c:d-E9")));
    }

    @Test
    void rejectsModelWithSpace()
    {
        assertOnlyProblem(event("").replace("gpt-4o", "gpt 4o"), "model", "printable ASCII");
    }

    @Test
    void acceptsModelOf128AndRejects129()
    {
        assertEquals(ParseOutcome.OK, parse(event("").replace("gpt-4o", "m".repeat(128))));
        assertOnlyProblem(event("").replace("gpt-4o", "m".repeat(129)), "model", "1 to 128");
    }

    @Test
    void rejectsNegativeTokens()
    {
        assertOnlyProblem(event("\"input_tokens\":-1"), "input_tokens", "non-negative integer");
    }

    @Test
    void acceptsTokensUpToATrillionAndRejectsMore()
    {
        assertEquals(ParseOutcome.OK, parse(event("\"output_tokens\":1000000000000")));
        assertOnlyProblem(event("\"output_tokens\":1000000000001"), "output_tokens", "at most 1000000000000");
    }

    @Test
    void rejectsOverflowingTokens()
    {
        assertOnlyProblem(event("\"cache_read_tokens\":99999999999999999999999"), "cache_read_tokens", "at most");
    }

    @Test
    void rejectsFractionalTokens()
    {
        assertOnlyProblem(event("\"output_tokens\":1.5"), "output_tokens", "non-negative integer");
    }

    @Test
    void rejectsTokensAsStrings()
    {
        assertOnlyProblem(event("\"cache_write_tokens\":\"12\""), "cache_write_tokens", "non-negative integer");
    }

    @Test
    void rejectsNullTokens()
    {
        assertOnlyProblem(event("\"cache_write_1h_tokens\":null"), "cache_write_1h_tokens", "null is not allowed");
    }

    @Test
    void rejectsReasoningAboveOutput()
    {
        assertOnlyProblem(event("\"output_tokens\":10,\"reasoning_tokens\":11"), "reasoning_tokens", "must not exceed output_tokens");
        assertEquals(ParseOutcome.OK, parse(event("\"output_tokens\":10,\"reasoning_tokens\":10")));
    }

    @Test
    void rejectsUnknownServiceTier()
    {
        assertOnlyProblem(event("\"service_tier\":\"premium\""), "service_tier", "standard, batch, flex, priority");
    }

    @Test
    void rejectsTimestampTooFarInTheFuture()
    {
        assertEquals(ParseOutcome.OK, parse(event("\"timestamp\":" + (NOW + FIVE_MINUTES))));
        assertOnlyProblem(event("\"timestamp\":" + (NOW + FIVE_MINUTES + 1)), "timestamp", "in the future");
    }

    @Test
    void acceptsAnyPastTimestampSince1970()
    {
        assertEquals(ParseOutcome.OK, parse(event("\"timestamp\":\"1970-01-01T00:00:00Z\"")));
        assertOnlyProblem(event("\"timestamp\":-1"), "timestamp", "before 1970");
    }

    @Test
    void rejectsTimestampWithoutOffset()
    {
        assertOnlyProblem(event("\"timestamp\":\"2025-11-23T10:00:00\""), "timestamp", "RFC 3339");
    }

    @Test
    void rejectsDuplicateField()
    {
        assertOnlyProblem(event("\"output_tokens\":1,\"output_tokens\":2"), "output_tokens", "more than once");
    }

    @Test
    void rejectsNestedValueForKnownField()
    {
        assertOnlyProblem(event("\"input_tokens\":{\"a\":[1,2]}"), "input_tokens", "non-negative integer");
    }

    @Test
    void listsEveryProblemByIndexAndStagesNothing()
    {
        final String body = "[" + event("") + ",{\"tenant\":\"a b\",\"model\":\"m\",\"input_tokens\":-1}," + event("") + ",7]";
        assertEquals(ParseOutcome.INVALID_EVENTS, parse(body));
        final List<Problem> problems = parser.problems();
        assertEquals(List.of(1, 1, 1, 3), problems.stream().map(Problem::index).toList());
        assertEquals(2, parser.eventsWithProblems());
        assertEquals(4, parser.eventsSeen());
        assertEquals(0, parser.stagedLength(), "all or nothing");
    }

    @Test
    void malformedJsonSaysWhere()
    {
        assertEquals(ParseOutcome.MALFORMED, parse("{\"id\":\"x\",\n\"tenant\":}"));
        assertTrue(parser.malformedMessage().contains("line 2"), parser.malformedMessage());
    }

    @Test
    void truncatedBodyIsMalformed()
    {
        assertEquals(ParseOutcome.MALFORMED, parse("[" + event("")));
    }

    @Test
    void emptyBodyIsMalformed()
    {
        assertEquals(ParseOutcome.MALFORMED, parse(""));
        assertEquals(ParseOutcome.MALFORMED, parse("  \n", true));
    }

    @Test
    void trailingContentAfterTheDocumentIsMalformed()
    {
        assertEquals(ParseOutcome.MALFORMED, parse(event("") + event("")));
        assertTrue(parser.malformedMessage().contains("application/x-ndjson"));
    }

    @Test
    void scalarBodyIsMalformed()
    {
        assertEquals(ParseOutcome.MALFORMED, parse("42"));
    }

    @Test
    void deepNestingIsRefused()
    {
        assertEquals(ParseOutcome.MALFORMED, parse("[" + "[".repeat(100) + "]".repeat(100) + "]"));
    }

    @Test
    void invalidUtf8IsMalformed()
    {
        final byte[] body = event("").getBytes(StandardCharsets.UTF_8);
        body[8] = (byte)0xC3; // a lead byte followed by an ASCII byte
        assertEquals(ParseOutcome.MALFORMED, parser.parse(Unpooled.wrappedBuffer(body), false, NOW, FIVE_MINUTES, 10, out));
    }

    @Test
    void moreEventsThanTheLimitIsTooMany()
    {
        final String body = "[" + event("") + "," + event("") + "," + event("") + "]";
        assertEquals(ParseOutcome.TOO_MANY_EVENTS,
            parser.parse(Unpooled.wrappedBuffer(body.getBytes(StandardCharsets.UTF_8)), false, NOW, FIVE_MINUTES, 2, out));
    }

    private ParseOutcome parseCloudEvents(final String body)
    {
        return parser.parseCloudEvents(Unpooled.wrappedBuffer(body.getBytes(StandardCharsets.UTF_8)),
            EventParser.CloudEventsBody.EITHER, NOW, FIVE_MINUTES, 10_000, out);
    }

    /** A CloudEvent whose source and id are given as JSON string contents (escapes allowed). */
    private static String cloudEvent(final String source, final String id)
    {
        return "{\"specversion\":\"1.0\",\"id\":\"" + id + "\",\"source\":\"" + source + "\",\"type\":\"llm.usage\","
            + "\"subject\":\"acme\",\"data\":{\"model\":\"gpt-4o\",\"input_tokens\":5}}";
    }

    private String stagedId(final int index)
    {
        final StagedEvent event = staged(index);
        return event.buffer().getStringWithoutLengthUtf8(event.idOffset(), event.idLength());
    }

    @Test
    void cloudEventsWhoseSourceAndIdWouldMeetAtANulAreRefused()
    {
        // source "s" NUL "X" with id "a", and source "s" with id "X" NUL "a": both would be stored as "s NUL X NUL a"
        final String body = "[" + cloudEvent("s\\u0000X", "a") + "," + cloudEvent("s", "X\\u0000a") + "]";
        assertEquals(ParseOutcome.INVALID_EVENTS, parseCloudEvents(body));
        final List<Problem> problems = parser.problems();
        assertEquals(2, problems.size(), problems.toString());
        assertEquals(0, problems.get(0).index());
        assertEquals("source", problems.get(0).field());
        assertTrue(problems.get(0).message().contains("found U+0000 at character 2"), problems.get(0).message());
        assertEquals(1, problems.get(1).index());
        assertEquals("id", problems.get(1).field());
        assertTrue(problems.get(1).message().contains("found U+0000 at character 2"), problems.get(1).message());
        assertEquals(ParseOutcome.INVALID_EVENTS, parseCloudEvents(cloudEvent("//gw", "req\\u009f1")), "C1 too");
        assertEquals("id", parser.problems().get(0).field());
    }

    @Test
    void aCloudEventsIdIsStoredAsSourceNulIdAsBeforeSoRetriesAcrossTheUpgradeMatch()
    {
        assertEquals(ParseOutcome.OK, parseCloudEvents(cloudEvent("//gateway/eu", "req-1")));
        assertEquals("//gateway/eu\u0000req-1", stagedId(0));
        // the dedup key is a hash of tenant NUL id: the same bytes give the same key, so a stored id that is unchanged
        // finds the copy acknowledged before the upgrade
        assertEquals(staged(0).idHashHi(), idHashOf("acme", "//gateway/eu\u0000req-1")[0]);
        assertEquals(staged(0).idHashLo(), idHashOf("acme", "//gateway/eu\u0000req-1")[1]);
    }

    private static long[] idHashOf(final String tenant, final String id)
    {
        final io.tokenmeter.core.event.EventHasher hasher = new io.tokenmeter.core.event.EventHasher();
        final byte[] key = (tenant + "\0" + id).getBytes(StandardCharsets.UTF_8);
        hasher.hashId(key, 0, key.length);
        return new long[] {hasher.idHashHi(), hasher.idHashLo()};
    }

    @Test
    void noTwoDistinctSourceAndIdPairsStageTheSameId()
    {
        final long seed = System.nanoTime();
        final java.util.Random random = new java.util.Random(seed);
        // a small alphabet with NUL, another control character and the letters of the colliding example
        final String[] alphabet = {"s", "X", "a", "\\u0000", "\\u001f", "/"};
        final java.util.Map<String, String> pairByStagedId = new java.util.HashMap<>();
        int accepted = 0;
        for (int n = 0; n < 3000; n++)
        {
            final String source = randomText(random, alphabet);
            final String id = randomText(random, alphabet);
            final boolean hasControl = (source + id).contains("\\u");
            final ParseOutcome outcome = parseCloudEvents(cloudEvent(source, id));
            assertEquals(hasControl ? ParseOutcome.INVALID_EVENTS : ParseOutcome.OK, outcome, source + " / " + id + ", seed " + seed);
            if (outcome == ParseOutcome.OK)
            {
                accepted++;
                final String pair = source + " / " + id;
                final String before = pairByStagedId.putIfAbsent(stagedId(0), pair);
                assertTrue(before == null || before.equals(pair), before + " and " + pair + " stage one id, seed " + seed);
            }
        }
        assertTrue(accepted > 100, "enough pairs without control characters were tried, seed " + seed);
    }

    private static String randomText(final java.util.Random random, final String[] alphabet)
    {
        final StringBuilder text = new StringBuilder();
        for (int i = 0, n = 1 + random.nextInt(4); i < n; i++)
        {
            text.append(alphabet[random.nextInt(alphabet.length)]);
        }
        return text.toString();
    }

    @Test
    void emptyArrayIsValidAndStagesNothing()
    {
        assertEquals(ParseOutcome.OK, parse("[]"));
        assertEquals(0, parser.eventCount());
    }
}
