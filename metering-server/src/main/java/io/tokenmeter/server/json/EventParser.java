package io.tokenmeter.server.json;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import io.tokenmeter.core.event.EventLink;
import io.tokenmeter.core.event.ServiceTier;
import io.tokenmeter.core.event.StagedEvent;
import io.tokenmeter.core.event.StagedEventEncoder;
import io.tokenmeter.core.event.TenantName;
import io.tokenmeter.core.event.TokenClass;
import io.tokenmeter.server.usage.UsageFields;
import io.tokenmeter.server.usage.UsageFormat;
import io.tokenmeter.server.usage.UsageMapper;
import org.agrona.MutableDirectBuffer;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;

/**
 * Parses and validates an ingest body (SPEC section 2) with Jackson's streaming parser and stages each valid event
 * in {@link StagedEvent} layout: tokenmeter's own events ({@link #parse}) or CloudEvents ({@link #parseCloudEvents}),
 * with token fields or a provider's usage object ({@link UsageMapper}). All or nothing: every problem of every event
 * is collected, and nothing is staged once one is found. One instance per thread; scratch buffers are reused, a
 * valid body is read by one Jackson parser kept from body to body ({@link ReusedJsonParser}), and a valid event with
 * token fields allocates nothing.
 */
public final class EventParser implements UsageFields.IgnoredField
{
    /** Most problems listed in one answer; the rest are counted. */
    public static final int MAX_PROBLEMS = ProblemList.MAX_LISTED;

    /** Most distinct ignored usage fields tallied per request; the rest are tallied as {@link #OTHER_FIELD}. */
    public static final int MAX_IGNORED_FIELDS = 32;
    public static final String OTHER_FIELD = "_other";

    /** What a CloudEvents body may be: one event, an array of them (batch), or either ({@code application/json}). */
    public enum CloudEventsBody
    {
        SINGLE, BATCH, EITHER
    }

    private static final String ALLOWED_FIELDS = "id, tenant, model, timestamp, service_tier, input_tokens, "
        + "cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, thinking, usage_format, "
        + "usage, reservation, stream";
    private static final String DATA_FIELDS = "model, service_tier, input_tokens, cache_read_tokens, cache_write_tokens, "
        + "cache_write_1h_tokens, output_tokens, reasoning_tokens, thinking, usage_format, usage, type, tokens, reservation, "
        + "stream";

    private static final String STREAM_ID = "stream.id";
    private static final String STREAM_SEQ = "stream.seq";
    private static final String STREAM_FINAL = "stream.final";
    private static final int F_ID = 0;
    private static final int F_TENANT = 1;
    private static final int F_MODEL = 2;
    private static final int F_TIMESTAMP = 3;
    private static final int F_TIER = 4;
    private static final int F_TOKENS = 5; // F_TOKENS + token class index
    private static final int F_USAGE_FORMAT = F_TOKENS + TokenClass.COUNT;
    private static final int F_USAGE = F_USAGE_FORMAT + 1;
    // CloudEvents only
    private static final int F_SOURCE = F_USAGE + 1;
    private static final int F_SPECVERSION = F_SOURCE + 1;
    private static final int F_CE_TYPE = F_SPECVERSION + 1;
    private static final int F_DATA = F_CE_TYPE + 1;
    private static final int F_DATACONTENTTYPE = F_DATA + 1;
    private static final int F_DATASCHEMA = F_DATACONTENTTYPE + 1;
    private static final int F_ONE_CLASS_TYPE = F_DATASCHEMA + 1;
    private static final int F_ONE_CLASS_TOKENS = F_ONE_CLASS_TYPE + 1;
    private static final int F_THINKING = F_ONE_CLASS_TOKENS + 1;
    private static final int F_RESERVATION = F_THINKING + 1;
    private static final int F_STREAM = F_RESERVATION + 1;
    private static final int F_EXTENSION = -2;
    private static final int TOKEN_FIELDS = ((1 << TokenClass.COUNT) - 1) << F_TOKENS;
    private static final String[] DATA_TOKEN_FIELDS = new String[TokenClass.COUNT];

    static
    {
        for (int c = 0; c < TokenClass.COUNT; c++)
        {
            DATA_TOKEN_FIELDS[c] = "data." + TokenClass.of(c).fieldName();
        }
    }

    private final JsonFactory factory;
    private ReusedJsonParser reused;
    private final FieldOrder eventOrder = new FieldOrder(namesByField(ALLOWED_FIELDS, EventParser::fieldOf));
    private final FieldOrder dataOrder = new FieldOrder(namesByField(DATA_FIELDS, EventParser::dataFieldOf));
    private final StagedEventEncoder encoder = new StagedEventEncoder();
    private final byte[] tenant = new byte[StagedEvent.MAX_TENANT_LENGTH];
    private final byte[] model = new byte[StagedEvent.MAX_MODEL_LENGTH];
    private final byte[] id = new byte[StagedEvent.MAX_ID_LENGTH];
    private final byte[] reservation = new byte[StagedEvent.MAX_ID_LENGTH];
    private final byte[] stream = new byte[StagedEvent.MAX_ID_LENGTH];
    private final long[] tokens = new long[TokenClass.COUNT];
    private final byte[] source = new byte[StagedEvent.MAX_ID_LENGTH];
    private final UsageFields usage = new UsageFields();
    private final UsageMapper mapper = new UsageMapper();
    private final UsageMapper.Problems usageProblems = this::usageProblem;
    private final String[] ignoredFormat = new String[MAX_IGNORED_FIELDS];
    private final String[] ignoredOuter = new String[MAX_IGNORED_FIELDS];
    private final String[] ignoredParent = new String[MAX_IGNORED_FIELDS];
    private final String[] ignoredName = new String[MAX_IGNORED_FIELDS];
    private final int[] ignoredCount = new int[MAX_IGNORED_FIELDS];
    private int ignoredDistinct;
    private int ignoredOther;

    private final ProblemList problems = new ProblemList();
    private String malformedMessage;
    private int tenantLength;
    private int modelLength;
    private int idLength;
    private boolean hasTimestamp;
    private boolean thinking;
    /** The event's {@link EventLink} bits: the reservation it settles, the stream checkpoint it is. */
    private int linkBits;
    private int reservationLength;
    private int streamLength;
    private long streamSeq;
    private long timestampMs;
    private int tierCode;
    private int sourceLength;
    private UsageFormat usageFormat;
    private boolean usageRead;
    private int oneClass;
    private long oneClassTokens;
    private int problemIndex;
    private String usagePrefix;
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
     * Parses a body of tokenmeter events and stages them into {@code out} from offset 0.
     *
     * @param ndjson      one event per line instead of a JSON object or array.
     * @param receiptMs   the time of receipt: the timestamp of events without one.
     * @param maxFutureMs how far past {@code receiptMs} an event's timestamp may lie.
     */
    public ParseOutcome parse(
        final ByteBuf body,
        final boolean ndjson,
        final long receiptMs,
        final long maxFutureMs,
        final int maxEvents,
        final MutableDirectBuffer out)
    {
        return read(body, ndjson, null, receiptMs, maxFutureMs, maxEvents, out);
    }

    /**
     * Parses a body of CloudEvents 1.0 (structured mode, JSON) and stages them into {@code out} from offset 0:
     * {@code subject} is the tenant, {@code source} + {@code id} the id, {@code time} the timestamp, {@code data} the
     * model and the usage.
     */
    public ParseOutcome parseCloudEvents(
        final ByteBuf body,
        final CloudEventsBody shape,
        final long receiptMs,
        final long maxFutureMs,
        final int maxEvents,
        final MutableDirectBuffer out)
    {
        return read(body, false, shape, receiptMs, maxFutureMs, maxEvents, out);
    }

    private ParseOutcome read(
        final ByteBuf body,
        final boolean ndjson,
        final CloudEventsBody cloudEvents,
        final long receiptMs,
        final long maxFutureMs,
        final int maxEvents,
        final MutableDirectBuffer out)
    {
        reset(receiptMs, maxFutureMs, maxEvents, out);
        final ParseOutcome outcome = readReused(body, ndjson, cloudEvents);
        if (outcome != null)
        {
            return outcome;
        }
        reset(receiptMs, maxFutureMs, maxEvents, out);
        try (JsonParser parser = factory.createParser((InputStream)new ByteBufInputStream(body.duplicate())))
        {
            return run(parser, ndjson, cloudEvents);
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

    /**
     * Parses the body with the parser kept from the bodies before ({@link ReusedJsonParser}), the path of every valid
     * body, which allocates no parser.
     *
     * @return the outcome, or null when the body must be parsed again by a new parser: it was malformed (the
     * message and its line number come from a parser that read this body alone) or could not be read this way.
     */
    private ParseOutcome readReused(final ByteBuf body, final boolean ndjson, final CloudEventsBody cloudEvents)
    {
        if (!ReusedJsonParser.accepts(body))
        {
            return null;
        }
        ParseOutcome outcome = null;
        boolean keep = false;
        try
        {
            if (reused == null)
            {
                reused = ReusedJsonParser.open(factory, body);
                if (reused == null)
                {
                    return null;
                }
            }
            else
            {
                reused.next(body);
            }
            outcome = run(reused, ndjson, cloudEvents);
            keep = outcome == ParseOutcome.OK && reused.reusable();
        }
        catch (final TooManyEvents ex)
        {
            outcome = ParseOutcome.TOO_MANY_EVENTS;
        }
        catch (final IOException ex)
        {
            // outcome stays null: the body is parsed again by a new parser, which words the error
        }
        finally
        {
            if (!keep)
            {
                // a parser left inside a body (an error, anything thrown) must not read the next one
                closeReused();
            }
        }
        return outcome == ParseOutcome.MALFORMED ? null : outcome;
    }

    private void closeReused()
    {
        if (reused != null)
        {
            try
            {
                reused.close();
            }
            catch (final IOException ignored)
            {
                // nothing was written and the stream is ours: closing only hands Jackson's buffers back
            }
            reused = null;
        }
    }

    private ParseOutcome run(final JsonParser parser, final boolean ndjson, final CloudEventsBody cloudEvents)
        throws IOException
    {
        return ndjson ? parseLines(parser) : parseDocument(parser, cloudEvents);
    }

    private ParseOutcome parseDocument(final JsonParser parser, final CloudEventsBody cloudEvents) throws IOException
    {
        final boolean ce = cloudEvents != null;
        final JsonToken first = parser.nextToken();
        if (first == JsonToken.START_OBJECT && cloudEvents != CloudEventsBody.BATCH)
        {
            if (ce)
            {
                parseCloudEvent(parser, 0);
            }
            else
            {
                parseEvent(parser, 0);
            }
        }
        else if (first == JsonToken.START_ARRAY && cloudEvents != CloudEventsBody.SINGLE)
        {
            int index = 0;
            JsonToken token;
            while ((token = parser.nextToken()) != JsonToken.END_ARRAY)
            {
                element(parser, token, index++, ce, ce ? "each element of the batch must be a CloudEvent object"
                    : "each element of the array must be an event object");
            }
        }
        else if (first == null)
        {
            malformedMessage = ce ? "the body is empty: send a CloudEvent, or an array of them as "
                + "application/cloudevents-batch+json" : "the body is empty: send an event object, an array of them, or NDJSON";
            return ParseOutcome.MALFORMED;
        }
        else
        {
            malformedMessage = cloudEvents == null ? "the body must be an event object or an array of event objects"
                : switch (cloudEvents)
                {
                    case SINGLE -> "application/cloudevents+json takes one CloudEvent object; send an array as "
                        + "application/cloudevents-batch+json";
                    case BATCH -> "application/cloudevents-batch+json takes a JSON array of CloudEvent objects";
                    case EITHER -> "the body must be a CloudEvent object or an array of them";
                };
            return ParseOutcome.MALFORMED;
        }
        if (parser.nextToken() != null)
        {
            malformedMessage = "unexpected content after the JSON value at line " + parser.currentLocation().getLineNr()
                + (ce ? "" : "; for one event per line use Content-Type: application/x-ndjson");
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
            element(parser, token, index++, false, "each line must be one event object");
        }
        if (index == 0)
        {
            malformedMessage = "the body is empty: send one event object per line";
            return ParseOutcome.MALFORMED;
        }
        return finish();
    }

    private void element(final JsonParser parser, final JsonToken token, final int index, final boolean cloudEvent,
        final String notAnObject) throws IOException
    {
        if (index >= maxEvents)
        {
            throw TooManyEvents.INSTANCE;
        }
        if (token == JsonToken.START_OBJECT)
        {
            if (cloudEvent)
            {
                parseCloudEvent(parser, index);
            }
            else
            {
                parseEvent(parser, index);
            }
        }
        else
        {
            eventsSeen++;
            problems.beginEvent();
            problem(index, null, notAnObject);
            problems.endEvent();
            parser.skipChildren();
        }
    }

    private ParseOutcome finish()
    {
        if (problems.count() == 0)
        {
            return ParseOutcome.OK;
        }
        outLength = 0;
        eventCount = 0;
        return ParseOutcome.INVALID_EVENTS;
    }

    private void beginEvent(final int index)
    {
        tenantLength = -1;
        modelLength = -1;
        idLength = -1;
        sourceLength = -1;
        hasTimestamp = false;
        thinking = false;
        linkBits = 0;
        reservationLength = 0;
        streamLength = 0;
        streamSeq = 0;
        tierCode = ServiceTier.STANDARD.code();
        usageFormat = null;
        usageRead = false;
        oneClass = -1;
        oneClassTokens = -1;
        problemIndex = index;
        problems.beginEvent();
        for (int i = 0; i < TokenClass.COUNT; i++)
        {
            tokens[i] = 0;
        }
    }

    private void parseEvent(final JsonParser parser, final int index) throws IOException
    {
        beginEvent(index);
        int seen = 0;
        int previous = FieldOrder.START;
        while (true)
        {
            int field = eventOrder.next(parser, previous);
            final String name;
            if (field != FieldOrder.NOT_GUESSED)
            {
                name = eventOrder.name(field);
            }
            else
            {
                final JsonToken token = parser.currentToken();
                if (token == JsonToken.END_OBJECT)
                {
                    break;
                }
                if (token != JsonToken.FIELD_NAME)
                {
                    throw new com.fasterxml.jackson.core.JsonParseException(parser, "expected a field name or '}'");
                }
                name = parser.currentName();
                field = fieldOf(name);
                eventOrder.learn(previous, field);
            }
            final JsonToken value = parser.nextToken();
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
            previous = field;
            switch (field)
            {
                case F_ID:
                    idLength = readUtf8(parser, value, index, "id", id);
                    break;
                case F_TENANT:
                    tenantLength = readTenant(parser, value, index, "tenant");
                    break;
                case F_TIMESTAMP:
                    readTimestamp(parser, value, index, "timestamp");
                    break;
                default:
                    readEventField(parser, value, index, field, "");
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
        endEvent(index, seen, "");
    }

    /** Reads one of the fields an event and a CloudEvent's data share: model, tier, tokens, usage, the one-class form. */
    private void readEventField(final JsonParser parser, final JsonToken value, final int index, final int field,
        final String prefix) throws IOException
    {
        switch (field)
        {
            case F_MODEL -> modelLength = readModel(parser, value, index, prefix.isEmpty() ? "model" : "data.model");
            case F_TIER -> readTier(parser, value, index, prefix.isEmpty() ? "service_tier" : "data.service_tier");
            case F_USAGE_FORMAT -> readUsageFormat(parser, value, index, prefix.isEmpty() ? "usage_format" : "data.usage_format");
            case F_USAGE -> readUsage(parser, value, index, prefix.isEmpty() ? "usage" : "data.usage");
            case F_ONE_CLASS_TYPE -> readOneClassType(parser, value, index, "data.type");
            case F_ONE_CLASS_TOKENS -> readOneClassTokens(parser, value, index, "data.tokens");
            case F_THINKING -> readThinking(parser, value, index, prefix.isEmpty() ? "thinking" : "data.thinking");
            case F_RESERVATION -> readReservation(parser, value, index, prefix.isEmpty() ? "reservation" : "data.reservation");
            case F_STREAM -> readStream(parser, value, index, prefix.isEmpty() ? "stream" : "data.stream");
            default -> readTokens(parser, value, index, field - F_TOKENS, prefix);
        }
    }

    /**
     * Checks what an event's fields say together and stages the event if it and the request so far have no problem.
     *
     * @param seen   the fields given, as bits of the F_ constants (an event's, or a CloudEvent's data's).
     * @param prefix where those fields sit ({@code ""} or {@code "data."}), for problems.
     */
    private void endEvent(final int index, final int seen, final String prefix)
    {
        if ((seen & (1 << F_MODEL)) == 0)
        {
            problem(index, prefix + "model", "is required");
        }
        final boolean hasUsage = (seen & (1 << F_USAGE)) != 0;
        final boolean hasFormat = (seen & (1 << F_USAGE_FORMAT)) != 0;
        final boolean oneClassForm = (seen & (1 << F_ONE_CLASS_TYPE | 1 << F_ONE_CLASS_TOKENS)) != 0;
        if (hasUsage || hasFormat)
        {
            usageEvent(index, seen, prefix, hasUsage, hasFormat, oneClassForm);
        }
        else if (oneClassForm)
        {
            oneClassEvent(index, seen, prefix);
        }
        else
        {
            final int reasoning = TokenClass.REASONING.ordinal();
            final int output = TokenClass.OUTPUT.ordinal();
            if (tokens[reasoning] > tokens[output])
            {
                problem(index, prefix + "reasoning_tokens", "must not exceed output_tokens (" + tokens[output]
                    + "): reasoning tokens are a part of the output");
            }
        }
        eventsSeen++;
        final boolean valid = problems.ofEvent() == 0;
        problems.endEvent();
        if (valid && problems.count() == 0)
        {
            stage();
        }
    }

    private void usageEvent(final int index, final int seen, final String prefix, final boolean hasUsage, final boolean hasFormat,
        final boolean oneClassForm)
    {
        final int problemsBefore = problems.ofEvent();
        if (!hasUsage)
        {
            problem(index, prefix + "usage", "is required with usage_format: the provider's usage object as it returned it");
        }
        if (!hasFormat)
        {
            problem(index, prefix + "usage_format", "is required with usage: one of " + UsageFormat.NAMES);
        }
        for (int c = 0; c < TokenClass.COUNT; c++)
        {
            if ((seen & (1 << (F_TOKENS + c))) != 0)
            {
                problem(index, prefix + TokenClass.of(c).fieldName(), "must not be given with usage: the token classes "
                    + "come from the usage object; send one or the other");
            }
        }
        if (oneClassForm)
        {
            problem(index, prefix + "type", "the one-class form (type + tokens) must not be given with usage");
        }
        if (usageFormat == null || !usageRead || problems.ofEvent() > problemsBefore)
        {
            return;
        }
        usagePrefix = prefix.isEmpty() ? "usage" : "data.usage";
        if (mapper.map(usageFormat, usage, usagePrefix, tokens, usageProblems))
        {
            final int usageTier = mapper.tierCode();
            if (usageTier >= 0)
            {
                // the tier the provider says it served is billed, not the one the event says was asked for (SPEC 11)
                tierCode = usageTier;
            }
            if (problems.ofEvent() == 0)
            {
                usage.forEachIgnored(this);
            }
        }
    }

    private void oneClassEvent(final int index, final int seen, final String prefix)
    {
        if ((seen & (1 << F_ONE_CLASS_TYPE)) == 0)
        {
            problem(index, prefix + "type", "is required with tokens: the token class, e.g. input or output");
        }
        if ((seen & (1 << F_ONE_CLASS_TOKENS)) == 0)
        {
            problem(index, prefix + "tokens", "is required with type: the number of tokens");
        }
        if ((seen & TOKEN_FIELDS) != 0)
        {
            problem(index, prefix + "tokens", "the one-class form (type + tokens) must not be given with token fields");
        }
        if (oneClass >= 0 && oneClassTokens >= 0)
        {
            tokens[oneClass] = oneClassTokens;
        }
    }

    private void usageProblem(final String field, final String message)
    {
        problem(problemIndex, field, message);
    }

    /** Tallies a usage field the mapping ignored (called by {@link UsageFields#forEachIgnored}). */
    @Override
    public void onIgnored(final String outerName, final String parentName, final String field)
    {
        final String format = usageFormat.jsonName();
        for (int i = 0; i < ignoredDistinct; i++)
        {
            if (ignoredFormat[i] == format && field.equals(ignoredName[i]) && same(parentName, ignoredParent[i])
                && same(outerName, ignoredOuter[i]))
            {
                ignoredCount[i]++;
                return;
            }
        }
        if (ignoredDistinct == MAX_IGNORED_FIELDS)
        {
            ignoredOther++;
            return;
        }
        ignoredFormat[ignoredDistinct] = format;
        ignoredOuter[ignoredDistinct] = outerName;
        ignoredParent[ignoredDistinct] = parentName;
        ignoredName[ignoredDistinct] = field;
        ignoredCount[ignoredDistinct] = 1;
        ignoredDistinct++;
    }

    private static boolean same(final String a, final String b)
    {
        return a == null ? b == null : a.equals(b);
    }

    /** Receives the tally of ignored usage fields of the last request. */
    @FunctionalInterface
    public interface IgnoredFields
    {
        /** @param field the field's path in the usage object, e.g. {@code prompt_tokens_details.audio_tokens}. */
        void onIgnored(String format, String field, int events);
    }

    /** Reports the usage fields the mappings of the last request's events ignored, with how many events had each. */
    public void forEachIgnoredField(final IgnoredFields consumer)
    {
        for (int i = 0; i < ignoredDistinct; i++)
        {
            consumer.onIgnored(ignoredFormat[i], UsageFields.path(ignoredOuter[i], ignoredParent[i], ignoredName[i]),
                ignoredCount[i]);
        }
        if (ignoredOther > 0)
        {
            consumer.onIgnored(OTHER_FIELD, OTHER_FIELD, ignoredOther);
        }
    }

    /** @return true if the last request's events had usage fields their mapping ignored. */
    public boolean ignoredFields()
    {
        return ignoredDistinct > 0 || ignoredOther > 0;
    }

    private void parseCloudEvent(final JsonParser parser, final int index) throws IOException
    {
        beginEvent(index);
        int seen = 0;
        int dataSeen = 0;
        JsonToken token;
        while ((token = parser.nextToken()) != JsonToken.END_OBJECT)
        {
            if (token != JsonToken.FIELD_NAME)
            {
                throw new com.fasterxml.jackson.core.JsonParseException(parser, "expected a field name or '}'");
            }
            final String name = parser.currentName();
            final JsonToken value = parser.nextToken();
            final int field = cloudEventFieldOf(name);
            if (field == F_EXTENSION)
            {
                parser.skipChildren();
                continue;
            }
            if (field < 0)
            {
                problem(index, clip(name), field == -3 ? "data_base64 is not taken: send data as a JSON object"
                    : "is not a CloudEvents attribute: attributes are specversion, id, source, type, subject, time, "
                        + "datacontenttype, dataschema, data, and extensions named [a-z0-9]{1,20}");
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
                case F_ID -> idLength = readUtf8(parser, value, index, "id", id);
                case F_SOURCE -> sourceLength = readUtf8(parser, value, index, "source", source);
                case F_TENANT -> tenantLength = readTenant(parser, value, index, "subject");
                case F_TIMESTAMP ->
                {
                    if (value == JsonToken.VALUE_STRING)
                    {
                        readTimestamp(parser, value, index, "time");
                    }
                    else
                    {
                        wrongType(parser, value, index, "time", "must be an RFC 3339 string with an offset");
                    }
                }
                case F_SPECVERSION -> requireText(parser, value, index, "specversion", "1.0");
                case F_DATACONTENTTYPE -> requireText(parser, value, index, "datacontenttype", "application/json");
                case F_CE_TYPE, F_DATASCHEMA ->
                {
                    if (value != JsonToken.VALUE_STRING || parser.getTextLength() == 0)
                    {
                        wrongType(parser, value, index, name, "must be a non-empty string");
                    }
                }
                default ->
                {
                    if (value == JsonToken.START_OBJECT)
                    {
                        dataSeen = parseData(parser, index);
                    }
                    else
                    {
                        wrongType(parser, value, index, "data", "must be an object: model, and token fields, usage_format + "
                            + "usage, or type + tokens");
                    }
                }
            }
        }
        requireAttribute(index, seen, F_SPECVERSION, "specversion", "is required: \"1.0\"");
        requireAttribute(index, seen, F_ID, "id", "is required: with source, it is the event's unique id");
        requireAttribute(index, seen, F_SOURCE, "source", "is required: with id, it is the event's unique id");
        requireAttribute(index, seen, F_CE_TYPE, "type", "is required by CloudEvents");
        requireAttribute(index, seen, F_TENANT, "subject", "is required: the tenant");
        if ((seen & (1 << F_DATA)) == 0)
        {
            problem(index, "data", "is required: the model and its usage");
            dataSeen = 1 << F_MODEL; // one problem for a missing data, not one per data field
        }
        if (idLength > 0 && sourceLength > 0)
        {
            combineSourceAndId(index);
        }
        endEvent(index, dataSeen, "data.");
    }

    private int parseData(final JsonParser parser, final int index) throws IOException
    {
        int seen = 0;
        int previous = FieldOrder.START;
        while (true)
        {
            int field = dataOrder.next(parser, previous);
            final String name;
            if (field != FieldOrder.NOT_GUESSED)
            {
                name = dataOrder.name(field);
            }
            else
            {
                if (parser.currentToken() == JsonToken.END_OBJECT)
                {
                    break;
                }
                name = parser.currentName();
                field = dataFieldOf(name);
                dataOrder.learn(previous, field);
            }
            final JsonToken value = parser.nextToken();
            if (field < 0)
            {
                problem(index, "data." + clip(name), "unknown field; allowed fields of data are: " + DATA_FIELDS);
                parser.skipChildren();
                continue;
            }
            if ((seen & (1 << field)) != 0)
            {
                problem(index, "data." + name, "appears more than once in data");
                parser.skipChildren();
                continue;
            }
            seen |= 1 << field;
            previous = field;
            readEventField(parser, value, index, field, "data.");
        }
        return seen;
    }

    /**
     * The id of a CloudEvent is {@code source 0x00 id}: unique per source, as CloudEvents defines it. Neither part may
     * hold a control character ({@link #readUtf8}), so the one NUL marks where the source ends and no two (source, id)
     * pairs meet; nor may an id of {@code /v1/events}, which therefore never equals a CloudEvent's (decision 63).
     */
    private void combineSourceAndId(final int index)
    {
        if (sourceLength + 1 + idLength > StagedEvent.MAX_ID_LENGTH)
        {
            problem(index, "id", "source and id together must be at most " + (StagedEvent.MAX_ID_LENGTH - 1)
                + " bytes: they form the event's id");
            idLength = -1;
            return;
        }
        assert noNul(source, sourceLength) && noNul(id, idLength) : "source and id were checked for control characters";
        System.arraycopy(id, 0, id, sourceLength + 1, idLength);
        System.arraycopy(source, 0, id, 0, sourceLength);
        id[sourceLength] = 0;
        idLength += sourceLength + 1;
    }

    private static boolean noNul(final byte[] bytes, final int length)
    {
        for (int i = 0; i < length; i++)
        {
            if (bytes[i] == 0)
            {
                return false;
            }
        }
        return true;
    }

    private void requireAttribute(final int index, final int seen, final int field, final String name, final String message)
    {
        if ((seen & (1 << field)) == 0)
        {
            problem(index, name, message);
        }
    }

    private void requireText(final JsonParser parser, final JsonToken value, final int index, final String field,
        final String expected) throws IOException
    {
        if (value != JsonToken.VALUE_STRING)
        {
            wrongType(parser, value, index, field, "must be \"" + expected + "\"");
            return;
        }
        final String text = parser.getText();
        final int semicolon = text.indexOf(';');
        final String media = field.equals("datacontenttype") && semicolon >= 0 ? text.substring(0, semicolon).trim() : text;
        if (!media.equalsIgnoreCase(expected))
        {
            problem(index, field, "must be \"" + expected + "\", not \"" + clip(text) + "\"");
        }
    }

    private static int cloudEventFieldOf(final String name)
    {
        switch (name)
        {
            case "specversion": return F_SPECVERSION;
            case "id": return F_ID;
            case "source": return F_SOURCE;
            case "type": return F_CE_TYPE;
            case "subject": return F_TENANT;
            case "time": return F_TIMESTAMP;
            case "datacontenttype": return F_DATACONTENTTYPE;
            case "dataschema": return F_DATASCHEMA;
            case "data": return F_DATA;
            case "data_base64": return -3;
            default: return isExtensionName(name) ? F_EXTENSION : -1;
        }
    }

    /** CloudEvents extension attribute names: lower-case letters and digits, at most 20 (the spec's advice). */
    private static boolean isExtensionName(final String name)
    {
        if (name.isEmpty() || name.length() > 20)
        {
            return false;
        }
        for (int i = 0; i < name.length(); i++)
        {
            final char c = name.charAt(i);
            if (!(c >= 'a' && c <= 'z' || c >= '0' && c <= '9'))
            {
                return false;
            }
        }
        return true;
    }

    private static int dataFieldOf(final String name)
    {
        switch (name)
        {
            case "model": return F_MODEL;
            case "service_tier": return F_TIER;
            case "input_tokens": return F_TOKENS;
            case "cache_read_tokens": return F_TOKENS + 1;
            case "cache_write_tokens": return F_TOKENS + 2;
            case "cache_write_1h_tokens": return F_TOKENS + 3;
            case "output_tokens": return F_TOKENS + 4;
            case "reasoning_tokens": return F_TOKENS + 5;
            case "usage_format": return F_USAGE_FORMAT;
            case "usage": return F_USAGE;
            case "type": return F_ONE_CLASS_TYPE;
            case "tokens": return F_ONE_CLASS_TOKENS;
            case "thinking": return F_THINKING;
            case "reservation": return F_RESERVATION;
            case "stream": return F_STREAM;
            default: return -1;
        }
    }

    /** @return each field number's name, from a comma-separated list of the names {@code fieldOf} knows. */
    private static String[] namesByField(final String names, final java.util.function.ToIntFunction<String> fieldOf)
    {
        final String[] byField = new String[F_STREAM + 1];
        for (final String name : names.split(", "))
        {
            byField[fieldOf.applyAsInt(name)] = name;
        }
        return byField;
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
            case "thinking": return F_THINKING;
            case "usage_format": return F_USAGE_FORMAT;
            case "usage": return F_USAGE;
            case "reservation": return F_RESERVATION;
            case "stream": return F_STREAM;
            default: return -1;
        }
    }

    /**
     * Reads an id (or a CloudEvent's source): a string of 1 to 128 UTF-8 bytes without control characters, into
     * {@code target}; @return its length, or -1 after a problem.
     */
    private int readUtf8(final JsonParser parser, final JsonToken value, final int index, final String field, final byte[] target)
        throws IOException
    {
        if (value != JsonToken.VALUE_STRING)
        {
            wrongType(parser, value, index, field, "must be a string of 1 to 128 bytes");
            return -1;
        }
        final int length = Utf8.encode(parser.getTextCharacters(), parser.getTextOffset(), parser.getTextLength(), target);
        if (length == Utf8.INVALID)
        {
            problem(index, field, "must be valid Unicode text");
            return -1;
        }
        if (length == Utf8.TOO_LONG || length == 0)
        {
            problem(index, field, "must be 1 to 128 bytes long (UTF-8)");
            return -1;
        }
        final int control = Utf8.firstControl(parser.getTextCharacters(), parser.getTextOffset(), parser.getTextLength());
        if (control >= 0)
        {
            problem(index, field, String.format("must not contain control characters (U+0000 to U+001F, U+007F to U+009F); "
                + "found U+%04X at character %d", (int)parser.getTextCharacters()[parser.getTextOffset() + control], control + 1));
            return -1;
        }
        return length;
    }

    private void readUsageFormat(final JsonParser parser, final JsonToken value, final int index, final String field)
        throws IOException
    {
        final UsageFormat format = value == JsonToken.VALUE_STRING
            ? UsageFormat.fromJson(parser.getTextCharacters(), parser.getTextOffset(), parser.getTextLength())
            : null;
        if (format == null)
        {
            parser.skipChildren();
            problem(index, field, "must be one of " + UsageFormat.NAMES);
            return;
        }
        usageFormat = format;
    }

    private void readUsage(final JsonParser parser, final JsonToken value, final int index, final String field) throws IOException
    {
        if (value != JsonToken.START_OBJECT)
        {
            wrongType(parser, value, index, field, "must be the provider's usage object, as its API returned it");
            return;
        }
        final String problem = usage.read(parser);
        if (problem != null)
        {
            problem(index, field, problem);
            return;
        }
        usageRead = true;
    }

    private void readOneClassType(final JsonParser parser, final JsonToken value, final int index, final String field)
        throws IOException
    {
        final String name = value == JsonToken.VALUE_STRING ? parser.getText() : null;
        if (name == null)
        {
            parser.skipChildren();
        }
        for (int c = 0; c < TokenClass.COUNT; c++)
        {
            if (TokenClass.of(c).className().equals(name) && c != TokenClass.REASONING.ordinal())
            {
                oneClass = c;
                return;
            }
        }
        problem(index, field, "reasoning".equals(name)
            ? "reasoning is a part of output: send it with output_tokens, not as a class of its own"
            : "must name a token class: input, cache_read, cache_write, cache_write_1h or output");
    }

    private void readOneClassTokens(final JsonParser parser, final JsonToken value, final int index, final String field)
        throws IOException
    {
        long count = -1;
        if (value == JsonToken.VALUE_NUMBER_INT && parser.getNumberType() != JsonParser.NumberType.BIG_INTEGER)
        {
            count = parser.getLongValue();
        }
        else if (value == JsonToken.VALUE_STRING)
        {
            count = digits(parser.getTextCharacters(), parser.getTextOffset(), parser.getTextLength());
        }
        else
        {
            parser.skipChildren();
        }
        if (count < 0 || count > TokenClass.MAX_TOKENS_PER_EVENT)
        {
            problem(index, field, "must be an integer 0.." + TokenClass.MAX_TOKENS_PER_EVENT + ", or a string of its digits");
            return;
        }
        oneClassTokens = count;
    }

    /** @return the value of 1 to 13 decimal digits, or -1. */
    private static long digits(final char[] text, final int offset, final int length)
    {
        if (length < 1 || length > 13)
        {
            return -1;
        }
        long value = 0;
        for (int i = 0; i < length; i++)
        {
            final char c = text[offset + i];
            if (c < '0' || c > '9')
            {
                return -1;
            }
            value = value * 10 + (c - '0');
        }
        return value;
    }

    private int readTenant(final JsonParser parser, final JsonToken value, final int index, final String field) throws IOException
    {
        if (value != JsonToken.VALUE_STRING)
        {
            wrongType(parser, value, index, field, "must be a string matching " + TenantName.RULE);
            return -1;
        }
        final int length = parser.getTextLength();
        final String problem = EventRules.tenant(parser.getTextCharacters(), parser.getTextOffset(), length, tenant);
        if (problem != null)
        {
            problem(index, field, problem);
            return -1;
        }
        return length;
    }

    private int readModel(final JsonParser parser, final JsonToken value, final int index, final String field) throws IOException
    {
        if (value != JsonToken.VALUE_STRING)
        {
            wrongType(parser, value, index, field, "must be a string of 1 to 128 printable ASCII characters");
            return -1;
        }
        final int length = parser.getTextLength();
        final String problem = EventRules.model(parser.getTextCharacters(), parser.getTextOffset(), length, model);
        if (problem != null)
        {
            problem(index, field, problem);
            return -1;
        }
        return length;
    }

    private void readTimestamp(final JsonParser parser, final JsonToken value, final int index, final String field)
        throws IOException
    {
        final long millis;
        if (value == JsonToken.VALUE_STRING)
        {
            millis = Rfc3339.parseMillis(parser.getTextCharacters(), parser.getTextOffset(), parser.getTextLength());
            if (millis == Rfc3339.INVALID)
            {
                problem(index, field, "must be RFC 3339 with an offset, e.g. 2026-11-23T10:00:00.123Z, "
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
            wrongType(parser, value, index, field,
                "must be an RFC 3339 string with an offset or integer epoch milliseconds");
            return;
        }
        final String problem = EventRules.timestamp(millis, receiptMs, maxFutureMs, "that the value is in milliseconds");
        if (problem != null)
        {
            problem(index, field, problem);
            return;
        }
        hasTimestamp = true;
        timestampMs = millis;
    }

    private void readTier(final JsonParser parser, final JsonToken value, final int index, final String field) throws IOException
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
            problem(index, field, "must be one of standard, batch, flex, priority");
            return;
        }
        tierCode = tier.code();
    }

    /** {@code "thinking": true} says the request was made in thinking mode (reasoning tokens above 0 say so too). */
    private void readThinking(final JsonParser parser, final JsonToken value, final int index, final String field)
        throws IOException
    {
        if (value != JsonToken.VALUE_TRUE && value != JsonToken.VALUE_FALSE)
        {
            wrongType(parser, value, index, field, "must be true or false");
            return;
        }
        thinking = value == JsonToken.VALUE_TRUE;
    }

    /** {@code "reservation": "req-123"}: the event settles that reservation's hold (SPEC section 12). */
    private void readReservation(final JsonParser parser, final JsonToken value, final int index, final String field)
        throws IOException
    {
        final int length = readUtf8(parser, value, index, field, reservation);
        if (length > 0)
        {
            reservationLength = length;
            linkBits |= EventLink.RESERVATION;
        }
    }

    /**
     * {@code "stream": {"id": "s-1", "seq": 3, "final": false}}: the event is a checkpoint of a streamed response, with
     * the stream's cumulative counts (SPEC section 12).
     */
    private void readStream(final JsonParser parser, final JsonToken value, final int index, final String field)
        throws IOException
    {
        if (value != JsonToken.START_OBJECT)
        {
            wrongType(parser, value, index, field, "must be an object: {\"id\": \"s-1\", \"seq\": 3, \"final\": false}");
            return;
        }
        boolean hasSeq = false;
        boolean isFinal = false;
        int length = -1;
        JsonToken token;
        while ((token = parser.nextToken()) != JsonToken.END_OBJECT)
        {
            if (token != JsonToken.FIELD_NAME)
            {
                throw new com.fasterxml.jackson.core.JsonParseException(parser, "expected a field name or '}'");
            }
            final String name = parser.currentName();
            final JsonToken v = parser.nextToken();
            switch (name)
            {
                case "id" -> length = readUtf8(parser, v, index, STREAM_ID, stream);
                case "seq" ->
                {
                    if (v != JsonToken.VALUE_NUMBER_INT || parser.getNumberType() == JsonParser.NumberType.BIG_INTEGER
                        || parser.getLongValue() < 0)
                    {
                        wrongType(parser, v, index, STREAM_SEQ, "must be a whole number from 0 (the checkpoint's place in "
                            + "the stream)");
                    }
                    else
                    {
                        streamSeq = parser.getLongValue();
                        hasSeq = true;
                    }
                }
                case "final" ->
                {
                    if (v != JsonToken.VALUE_TRUE && v != JsonToken.VALUE_FALSE)
                    {
                        wrongType(parser, v, index, STREAM_FINAL, "must be true or false");
                    }
                    else
                    {
                        isFinal = v == JsonToken.VALUE_TRUE;
                    }
                }
                default ->
                {
                    problem(index, field, "holds the unknown field '" + clip(name) + "'; a stream has id, seq and final");
                    parser.skipChildren();
                }
            }
        }
        if (length < 0 && problems.ofEvent() == 0)
        {
            problem(index, STREAM_ID, "is required: the stream's id, the same in every checkpoint of the stream");
        }
        if (!hasSeq && problems.ofEvent() == 0)
        {
            problem(index, STREAM_SEQ, "is required: the checkpoint's sequence number in the stream");
        }
        if (length > 0 && hasSeq)
        {
            streamLength = length;
            linkBits |= EventLink.STREAM | (isFinal ? EventLink.FINAL : 0);
        }
    }

    private void readTokens(final JsonParser parser, final JsonToken value, final int index, final int tokenClass,
        final String prefix) throws IOException
    {
        // constant names: a concatenation here would allocate for every token field of every event
        final String field = prefix.isEmpty() ? TokenClass.of(tokenClass).fieldName() : DATA_TOKEN_FIELDS[tokenClass];
        if (value != JsonToken.VALUE_NUMBER_INT)
        {
            wrongType(parser, value, index, field, "must be a non-negative integer");
            return;
        }
        if (parser.getNumberType() == JsonParser.NumberType.BIG_INTEGER)
        {
            problem(index, field, EventRules.TOKENS_TOO_LARGE);
            return;
        }
        final long count = parser.getLongValue();
        final String problem = EventRules.tokens(count);
        if (problem != null)
        {
            problem(index, field, problem);
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
        if (out.capacity() < outLength + StagedEvent.MAX_LENGTH)
        {
            out.checkLimit(outLength + StagedEvent.MAX_LENGTH);
        }
        outLength += encoder.encode(out, outLength, tenant, tenantLength, id, idLength, model, modelLength, tierCode,
            hasTimestamp, timestampMs, receiptMs, tokens, thinking, linkBits, reservation, reservationLength, stream,
            streamLength, streamSeq);
        eventCount++;
    }

    private void problem(final int index, final String field, final String message)
    {
        problems.add(index, field, message);
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
        this.malformedMessage = null;
        this.eventsSeen = 0;
        for (int i = 0; i < ignoredDistinct; i++)
        {
            ignoredFormat[i] = null;
            ignoredOuter[i] = null;
            ignoredParent[i] = null;
            ignoredName[i] = null;
        }
        this.ignoredDistinct = 0;
        this.ignoredOther = 0;
    }

    /** @return the problems found (at most {@link #MAX_PROBLEMS}); valid until the next parse. */
    public List<Problem> problems()
    {
        return problems.listed();
    }

    /** @return how many problems were found, listed or not. */
    public int problemCount()
    {
        return problems.count();
    }

    /** @return how many events had at least one problem. */
    public int eventsWithProblems()
    {
        return problems.eventsWithProblems();
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
