package io.tokenmeter.server.json;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import io.tokenmeter.core.event.EventHasher;
import io.tokenmeter.core.event.ServiceTier;
import io.tokenmeter.core.event.StagedEvent;
import io.tokenmeter.core.event.TokenClass;
import org.agrona.MutableDirectBuffer;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Parses and validates an ingest body (SPEC section 2) with Jackson's streaming parser and stages each valid event
 * in {@link StagedEvent} layout. All or nothing: every problem of every event is collected, and nothing is staged
 * once one is found. One instance per thread; scratch buffers are reused, and a valid event allocates nothing.
 */
public final class EventParser
{
    /** Most problems listed in one answer; the rest are counted. */
    public static final int MAX_PROBLEMS = 1000;

    private static final String ALLOWED_FIELDS = "id, tenant, model, timestamp, service_tier, input_tokens, "
        + "cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens";

    private static final int F_ID = 0;
    private static final int F_TENANT = 1;
    private static final int F_MODEL = 2;
    private static final int F_TIMESTAMP = 3;
    private static final int F_TIER = 4;
    private static final int F_TOKENS = 5; // F_TOKENS + token class index

    private final JsonFactory factory;
    private final EventHasher hasher = new EventHasher();
    private final StagedEvent staged = new StagedEvent();
    private final byte[] tenant = new byte[StagedEvent.MAX_TENANT_LENGTH];
    private final byte[] model = new byte[StagedEvent.MAX_MODEL_LENGTH];
    private final byte[] id = new byte[StagedEvent.MAX_ID_LENGTH];
    private final byte[] names = new byte[StagedEvent.MAX_TENANT_LENGTH + StagedEvent.MAX_MODEL_LENGTH + StagedEvent.MAX_ID_LENGTH];
    private final byte[] key = new byte[StagedEvent.MAX_TENANT_LENGTH + 1 + StagedEvent.MAX_ID_LENGTH];
    private final byte[] content = new byte[3 + StagedEvent.MAX_TENANT_LENGTH + StagedEvent.MAX_MODEL_LENGTH
        + StagedEvent.MAX_ID_LENGTH + 2 + 8 + 8 * TokenClass.COUNT];
    private final long[] tokens = new long[TokenClass.COUNT];

    private final List<Problem> problems = new ArrayList<>();
    private int problemCount;
    private String malformedMessage;
    private int tenantLength;
    private int modelLength;
    private int idLength;
    private boolean hasTimestamp;
    private long timestampMs;
    private int tierCode;
    private int eventProblems;
    private int eventsWithProblems;
    private int eventsSeen;

    // per-request inputs and outputs
    private long receiptMs;
    private long maxFutureMs;
    private int maxEvents;
    private MutableDirectBuffer out;
    private int outLength;
    private int eventCount;

    public EventParser()
    {
        factory = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                .maxNestingDepth(32)
                .maxNumberLength(40)
                .maxNameLength(256)
                .build())
            .build();
        factory.disable(JsonParser.Feature.AUTO_CLOSE_SOURCE);
    }

    /**
     * Parses a body and stages its events into {@code out} from offset 0.
     *
     * @param ndjson      one event per line instead of a JSON object or array.
     * @param receiptMs   the time of receipt: the timestamp of events without one.
     * @param maxFutureMs how far past {@code receiptMs} an event's timestamp may lie.
     */
    public ParseOutcome parse(
        final InputStream body,
        final boolean ndjson,
        final long receiptMs,
        final long maxFutureMs,
        final int maxEvents,
        final MutableDirectBuffer out)
    {
        reset(receiptMs, maxFutureMs, maxEvents, out);
        try (JsonParser parser = factory.createParser(body))
        {
            return ndjson ? parseLines(parser) : parseDocument(parser);
        }
        catch (final TooManyEvents ex)
        {
            return ParseOutcome.TOO_MANY_EVENTS;
        }
        catch (final JsonProcessingException ex)
        {
            malformedMessage = describe(ex);
            return ParseOutcome.MALFORMED;
        }
        catch (final IOException ex)
        {
            malformedMessage = "the body could not be read: " + ex.getMessage();
            return ParseOutcome.MALFORMED;
        }
    }

    private ParseOutcome parseDocument(final JsonParser parser) throws IOException
    {
        final JsonToken first = parser.nextToken();
        if (first == JsonToken.START_OBJECT)
        {
            parseEvent(parser, 0);
        }
        else if (first == JsonToken.START_ARRAY)
        {
            int index = 0;
            JsonToken token;
            while ((token = parser.nextToken()) != JsonToken.END_ARRAY)
            {
                element(parser, token, index++, "each element of the array must be an event object");
            }
        }
        else if (first == null)
        {
            malformedMessage = "the body is empty: send an event object, an array of them, or NDJSON";
            return ParseOutcome.MALFORMED;
        }
        else
        {
            malformedMessage = "the body must be an event object or an array of event objects";
            return ParseOutcome.MALFORMED;
        }
        if (parser.nextToken() != null)
        {
            malformedMessage = "unexpected content after the JSON value at line " + parser.currentLocation().getLineNr()
                + "; for one event per line use Content-Type: application/x-ndjson";
            return ParseOutcome.MALFORMED;
        }
        return finish();
    }

    private ParseOutcome parseLines(final JsonParser parser) throws IOException
    {
        int index = 0;
        JsonToken token;
        while ((token = parser.nextToken()) != null)
        {
            element(parser, token, index++, "each line must be one event object");
        }
        if (index == 0)
        {
            malformedMessage = "the body is empty: send one event object per line";
            return ParseOutcome.MALFORMED;
        }
        return finish();
    }

    private void element(final JsonParser parser, final JsonToken token, final int index, final String notAnObject)
        throws IOException
    {
        if (index >= maxEvents)
        {
            throw TooManyEvents.INSTANCE;
        }
        if (token == JsonToken.START_OBJECT)
        {
            parseEvent(parser, index);
        }
        else
        {
            eventsSeen++;
            eventsWithProblems++;
            eventProblems = 0;
            problem(index, null, notAnObject);
            parser.skipChildren();
        }
    }

    private ParseOutcome finish()
    {
        if (problemCount == 0)
        {
            return ParseOutcome.OK;
        }
        outLength = 0;
        eventCount = 0;
        return ParseOutcome.INVALID_EVENTS;
    }

    private void parseEvent(final JsonParser parser, final int index) throws IOException
    {
        tenantLength = -1;
        modelLength = -1;
        idLength = -1;
        hasTimestamp = false;
        tierCode = ServiceTier.STANDARD.code();
        eventProblems = 0;
        for (int i = 0; i < TokenClass.COUNT; i++)
        {
            tokens[i] = 0;
        }
        int seen = 0;
        JsonToken token;
        while ((token = parser.nextToken()) != JsonToken.END_OBJECT)
        {
            if (token != JsonToken.FIELD_NAME)
            {
                throw new com.fasterxml.jackson.core.JsonParseException(parser, "expected a field name or '}'");
            }
            final String name = parser.currentName();
            final JsonToken value = parser.nextToken();
            final int field = fieldOf(name);
            if (field < 0)
            {
                problem(index, clip(name), "unknown field; allowed fields are: " + ALLOWED_FIELDS);
                parser.skipChildren();
                continue;
            }
            if ((seen & (1 << field)) != 0)
            {
                problem(index, name, "appears more than once in the event");
                parser.skipChildren();
                continue;
            }
            seen |= 1 << field;
            switch (field)
            {
                case F_ID:
                    idLength = readId(parser, value, index);
                    break;
                case F_TENANT:
                    tenantLength = readTenant(parser, value, index);
                    break;
                case F_MODEL:
                    modelLength = readModel(parser, value, index);
                    break;
                case F_TIMESTAMP:
                    readTimestamp(parser, value, index);
                    break;
                case F_TIER:
                    readTier(parser, value, index);
                    break;
                default:
                    readTokens(parser, value, index, field - F_TOKENS);
                    break;
            }
        }
        if ((seen & (1 << F_ID)) == 0)
        {
            problem(index, "id", "is required: the event's unique id, used to count retries once");
        }
        if ((seen & (1 << F_TENANT)) == 0)
        {
            problem(index, "tenant", "is required");
        }
        if ((seen & (1 << F_MODEL)) == 0)
        {
            problem(index, "model", "is required");
        }
        final int reasoning = TokenClass.REASONING.ordinal();
        final int output = TokenClass.OUTPUT.ordinal();
        if (tokens[reasoning] > tokens[output])
        {
            problem(index, "reasoning_tokens", "must not exceed output_tokens (" + tokens[output]
                + "): reasoning tokens are a part of the output");
        }
        eventsSeen++;
        if (eventProblems > 0)
        {
            eventsWithProblems++;
        }
        else if (problemCount == 0)
        {
            stage();
        }
    }

    private static int fieldOf(final String name)
    {
        switch (name)
        {
            case "id": return F_ID;
            case "tenant": return F_TENANT;
            case "model": return F_MODEL;
            case "timestamp": return F_TIMESTAMP;
            case "service_tier": return F_TIER;
            case "input_tokens": return F_TOKENS;
            case "cache_read_tokens": return F_TOKENS + 1;
            case "cache_write_tokens": return F_TOKENS + 2;
            case "cache_write_1h_tokens": return F_TOKENS + 3;
            case "output_tokens": return F_TOKENS + 4;
            case "reasoning_tokens": return F_TOKENS + 5;
            default: return -1;
        }
    }

    private int readId(final JsonParser parser, final JsonToken value, final int index) throws IOException
    {
        if (value != JsonToken.VALUE_STRING)
        {
            wrongType(parser, value, index, "id", "must be a string of 1 to 128 bytes");
            return -1;
        }
        final int length = Utf8.encode(parser.getTextCharacters(), parser.getTextOffset(), parser.getTextLength(), id);
        if (length == Utf8.INVALID)
        {
            problem(index, "id", "must be valid Unicode text");
            return -1;
        }
        if (length == Utf8.TOO_LONG || length == 0)
        {
            problem(index, "id", "must be 1 to 128 bytes long (UTF-8)");
            return -1;
        }
        return length;
    }

    private int readTenant(final JsonParser parser, final JsonToken value, final int index) throws IOException
    {
        if (value != JsonToken.VALUE_STRING)
        {
            wrongType(parser, value, index, "tenant", "must be a string matching [A-Za-z0-9._:-]{1,64}");
            return -1;
        }
        final char[] chars = parser.getTextCharacters();
        final int offset = parser.getTextOffset();
        final int length = parser.getTextLength();
        if (length < 1 || length > StagedEvent.MAX_TENANT_LENGTH)
        {
            problem(index, "tenant", "must be 1 to 64 characters long");
            return -1;
        }
        for (int i = 0; i < length; i++)
        {
            final char c = chars[offset + i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || c == '.' || c == '_' || c == ':' || c == '-'))
            {
                problem(index, "tenant", "may contain only letters, digits and . _ : -");
                return -1;
            }
            tenant[i] = (byte)c;
        }
        return length;
    }

    private int readModel(final JsonParser parser, final JsonToken value, final int index) throws IOException
    {
        if (value != JsonToken.VALUE_STRING)
        {
            wrongType(parser, value, index, "model", "must be a string of 1 to 128 printable ASCII characters");
            return -1;
        }
        final char[] chars = parser.getTextCharacters();
        final int offset = parser.getTextOffset();
        final int length = parser.getTextLength();
        if (length < 1 || length > StagedEvent.MAX_MODEL_LENGTH)
        {
            problem(index, "model", "must be 1 to 128 characters long");
            return -1;
        }
        for (int i = 0; i < length; i++)
        {
            final char c = chars[offset + i];
            if (c < 0x21 || c > 0x7E)
            {
                problem(index, "model", "must be printable ASCII without spaces");
                return -1;
            }
            model[i] = (byte)c;
        }
        return length;
    }

    private void readTimestamp(final JsonParser parser, final JsonToken value, final int index) throws IOException
    {
        final long millis;
        if (value == JsonToken.VALUE_STRING)
        {
            millis = Rfc3339.parseMillis(parser.getTextCharacters(), parser.getTextOffset(), parser.getTextLength());
            if (millis == Rfc3339.INVALID)
            {
                problem(index, "timestamp", "must be RFC 3339 with an offset, e.g. 2026-11-23T10:00:00.123Z, "
                    + "or integer epoch milliseconds");
                return;
            }
        }
        else if (value == JsonToken.VALUE_NUMBER_INT && parser.getNumberType() != JsonParser.NumberType.BIG_INTEGER)
        {
            millis = parser.getLongValue();
        }
        else
        {
            wrongType(parser, value, index, "timestamp",
                "must be an RFC 3339 string with an offset or integer epoch milliseconds");
            return;
        }
        if (millis < 0)
        {
            problem(index, "timestamp", "must not be before 1970-01-01T00:00:00Z");
            return;
        }
        if (millis > receiptMs + maxFutureMs)
        {
            problem(index, "timestamp", "is more than " + (maxFutureMs / 1000) + " seconds in the future; "
                + "check the sender's clock and that the value is in milliseconds");
            return;
        }
        hasTimestamp = true;
        timestampMs = millis;
    }

    private void readTier(final JsonParser parser, final JsonToken value, final int index) throws IOException
    {
        final ServiceTier tier = value == JsonToken.VALUE_STRING
            ? ServiceTier.fromJson(parser.getTextCharacters(), parser.getTextOffset(), parser.getTextLength())
            : null;
        if (tier == null)
        {
            if (value != JsonToken.VALUE_STRING)
            {
                parser.skipChildren();
            }
            problem(index, "service_tier", "must be one of standard, batch, flex, priority");
            return;
        }
        tierCode = tier.code();
    }

    private void readTokens(final JsonParser parser, final JsonToken value, final int index, final int tokenClass)
        throws IOException
    {
        final String field = TokenClass.of(tokenClass).fieldName();
        if (value != JsonToken.VALUE_NUMBER_INT)
        {
            wrongType(parser, value, index, field, "must be a non-negative integer");
            return;
        }
        if (parser.getNumberType() == JsonParser.NumberType.BIG_INTEGER)
        {
            problem(index, field, "must be at most 1000000000000");
            return;
        }
        final long count = parser.getLongValue();
        if (count < 0)
        {
            problem(index, field, "must be a non-negative integer");
        }
        else if (count > TokenClass.MAX_TOKENS_PER_EVENT)
        {
            problem(index, field, "must be at most 1000000000000");
        }
        else
        {
            tokens[tokenClass] = count;
        }
    }

    private void wrongType(final JsonParser parser, final JsonToken value, final int index, final String field,
        final String expectation) throws IOException
    {
        parser.skipChildren();
        problem(index, field, expectation + (value == JsonToken.VALUE_NULL ? " (null is not allowed)" : ""));
    }

    private void stage()
    {
        System.arraycopy(tenant, 0, key, 0, tenantLength);
        key[tenantLength] = 0;
        System.arraycopy(id, 0, key, tenantLength + 1, idLength);
        hasher.hashId(key, 0, tenantLength + 1 + idLength);

        int at = 0;
        content[at++] = (byte)tenantLength;
        System.arraycopy(tenant, 0, content, at, tenantLength);
        at += tenantLength;
        content[at++] = (byte)idLength;
        System.arraycopy(id, 0, content, at, idLength);
        at += idLength;
        content[at++] = (byte)modelLength;
        System.arraycopy(model, 0, content, at, modelLength);
        at += modelLength;
        content[at++] = (byte)tierCode;
        content[at++] = (byte)(hasTimestamp ? 1 : 0);
        at = putLong(content, at, hasTimestamp ? timestampMs : 0);
        for (int i = 0; i < TokenClass.COUNT; i++)
        {
            at = putLong(content, at, tokens[i]);
        }
        final long contentHash = EventHasher.contentHash(content, 0, at);

        System.arraycopy(tenant, 0, names, 0, tenantLength);
        System.arraycopy(model, 0, names, tenantLength, modelLength);
        System.arraycopy(id, 0, names, tenantLength + modelLength, idLength);
        if (out.capacity() < outLength + StagedEvent.MAX_LENGTH)
        {
            out.checkLimit(outLength + StagedEvent.MAX_LENGTH);
        }
        outLength += staged.wrap(out, outLength).encode(
            hasher.idHashHi(), hasher.idHashLo(), contentHash,
            hasTimestamp ? timestampMs : receiptMs,
            tokens, tierCode, hasTimestamp ? 0 : StagedEvent.FLAG_STAMPED_AT_RECEIPT,
            names, tenantLength, modelLength, idLength);
        eventCount++;
    }

    private static int putLong(final byte[] target, final int at, final long value)
    {
        for (int i = 0; i < 8; i++)
        {
            target[at + i] = (byte)(value >>> (i * 8));
        }
        return at + 8;
    }

    private void problem(final int index, final String field, final String message)
    {
        eventProblems++;
        problemCount++;
        if (problems.size() < MAX_PROBLEMS)
        {
            problems.add(new Problem(index, field, message));
        }
    }

    private static String clip(final String name)
    {
        return name.length() <= 64 ? name : name.substring(0, 64) + "...";
    }

    private static String describe(final JsonProcessingException ex)
    {
        final com.fasterxml.jackson.core.JsonLocation location = ex.getLocation();
        final String where = location == null ? "" : " at line " + location.getLineNr() + ", column " + location.getColumnNr();
        String message = ex.getOriginalMessage();
        final int newline = message.indexOf('\n');
        if (newline > 0)
        {
            message = message.substring(0, newline);
        }
        if (message.length() > 200)
        {
            message = message.substring(0, 200) + "...";
        }
        return "the body is not valid JSON" + where + ": " + message;
    }

    private void reset(final long receiptMs, final long maxFutureMs, final int maxEvents, final MutableDirectBuffer out)
    {
        this.receiptMs = receiptMs;
        this.maxFutureMs = maxFutureMs;
        this.maxEvents = maxEvents;
        this.out = out;
        this.outLength = 0;
        this.eventCount = 0;
        this.problems.clear();
        this.problemCount = 0;
        this.malformedMessage = null;
        this.eventsWithProblems = 0;
        this.eventsSeen = 0;
    }

    /** @return the problems found (at most {@link #MAX_PROBLEMS}); valid until the next parse. */
    public List<Problem> problems()
    {
        return problems;
    }

    /** @return how many problems were found, listed or not. */
    public int problemCount()
    {
        return problemCount;
    }

    /** @return how many events had at least one problem. */
    public int eventsWithProblems()
    {
        return eventsWithProblems;
    }

    /** @return how many events the body held (as far as it was read). */
    public int eventsSeen()
    {
        return eventsSeen;
    }

    public String malformedMessage()
    {
        return malformedMessage;
    }

    public int eventCount()
    {
        return eventCount;
    }

    public int stagedLength()
    {
        return outLength;
    }

    /** Thrown, without a stack trace, to stop reading at the event limit. */
    private static final class TooManyEvents extends RuntimeException
    {
        private static final long serialVersionUID = 1L;
        static final TooManyEvents INSTANCE = new TooManyEvents();

        private TooManyEvents()
        {
            super("too many events", null, false, false);
        }
    }
}
