package io.tokenmeter.server.otlp;

import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.common.v1.AnyValue;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.trace.v1.ResourceSpans;
import io.opentelemetry.proto.trace.v1.ScopeSpans;
import io.opentelemetry.proto.trace.v1.Span;
import io.tokenmeter.core.event.ServiceTier;
import io.tokenmeter.core.event.StagedEvent;
import io.tokenmeter.core.event.StagedEventEncoder;
import io.tokenmeter.core.event.TokenClass;
import io.tokenmeter.server.json.EventRules;
import org.agrona.MutableDirectBuffer;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Maps the spans of an OTLP traces request to events (SPEC section 13) and stages them, in {@link StagedEvent}
 * layout, with the same rules as every other ingest format ({@link EventRules}). A span carrying any GenAI usage
 * attribute of the semantic conventions is one event:
 *
 * <pre>
 *   id          trace id + span id, 32 + 16 lower-case hex digits
 *   tenant      the tenant attribute (setting otlp-tenant-attribute, default tenant.id): the span's, else its resource's
 *   model       gen_ai.response.model, else gen_ai.request.model
 *   timestamp   the span's end (endTimeUnixNano), in milliseconds
 *   input       gen_ai.usage.input_tokens (required) - cache_read - cache_write: the conventions count cached tokens inside it
 *   cache_read  gen_ai.usage.cache_read.input_tokens
 *   cache_write gen_ai.usage.cache_creation.input_tokens
 *   output      gen_ai.usage.output_tokens (reasoning included)
 *   reasoning   gen_ai.usage.reasoning.output_tokens, at most output
 *   tier        standard
 * </pre>
 *
 * Every other span is skipped and counted. So is the span of a local agent or workflow ({@code gen_ai.operation.name}
 * {@code invoke_agent} or {@code invoke_workflow}, kind other than CLIENT): the conventions give it the usage of the
 * model calls under it, which are spans of their own, so billing it too would count every token twice; it is counted as
 * a summary ({@link #summaries()}). A remote agent's span (kind CLIENT: OpenAI Assistants, Bedrock Agents) is the only
 * record of its model calls and is an event. A span with usage that breaks a rule (a count that is not a non-negative
 * integer attribute, cached tokens beyond the input, no tenant, no model, no end time, a bad id) is rejected whole and
 * named in {@link #rejections()}, while the request's other spans go on: OTLP's partial success. A span with only the
 * names the conventions replaced ({@code gen_ai.usage.prompt_tokens}, {@code gen_ai.usage.completion_tokens}) is
 * rejected rather than skipped, since skipping it would drop billable tokens without a word. Other
 * {@code gen_ai.usage.*} attributes are not billed: they are tallied by name ({@link #forEachIgnored}).
 *
 * <p>One instance per event loop; its scratch is reused from request to request.
 */
public final class SpanUsageMapper
{
    public static final String INPUT_TOKENS = "gen_ai.usage.input_tokens";
    public static final String CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens";
    public static final String CACHE_CREATION_TOKENS = "gen_ai.usage.cache_creation.input_tokens";
    public static final String OUTPUT_TOKENS = "gen_ai.usage.output_tokens";
    public static final String REASONING_TOKENS = "gen_ai.usage.reasoning.output_tokens";
    public static final String RESPONSE_MODEL = "gen_ai.response.model";
    public static final String REQUEST_MODEL = "gen_ai.request.model";
    public static final String OPERATION = "gen_ai.operation.name";
    /** The prefix of usage attributes; those not mapped are tallied by the rest of their name. */
    public static final String USAGE_PREFIX = "gen_ai.usage.";
    /** The format name of the ignored-field tally. */
    public static final String FORMAT = "otlp";
    /** Most distinct unmapped usage attributes tallied per request; the rest as {@link #OTHER_FIELD}. */
    public static final int MAX_IGNORED_FIELDS = 32;
    public static final String OTHER_FIELD = "_other";
    /** Most rejected spans named in {@link #rejections()}; the rest are counted. */
    public static final int MAX_NAMED = 10;

    private static final String[] USAGE = {INPUT_TOKENS, CACHE_READ_TOKENS, CACHE_CREATION_TOKENS, OUTPUT_TOKENS, REASONING_TOKENS};
    private static final int U_INPUT = 0;
    private static final int U_CACHE_READ = 1;
    private static final int U_CACHE_CREATION = 2;
    private static final int U_OUTPUT = 3;
    private static final int U_REASONING = 4;
    private static final String DEPRECATED_PROMPT = "gen_ai.usage.prompt_tokens";
    private static final String DEPRECATED_COMPLETION = "gen_ai.usage.completion_tokens";
    private static final int ID_LENGTH = 48;
    private static final int MAX_IGNORED_PER_SPAN = 16;
    private static final int MAX_PROBLEM_CHARS = 2000;
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    /** How mapping a request ended. */
    public enum Outcome
    {
        /** Every span was looked at; the events are staged. */
        OK,
        /** More spans with usage than one request may carry: nothing is staged. */
        TOO_MANY_EVENTS
    }

    private final StagedEventEncoder encoder = new StagedEventEncoder();
    private final byte[] tenant = new byte[StagedEvent.MAX_TENANT_LENGTH];
    private final byte[] model = new byte[StagedEvent.MAX_MODEL_LENGTH];
    private final byte[] id = new byte[ID_LENGTH];
    private final char[] scratch = new char[StagedEvent.MAX_MODEL_LENGTH];
    private final long[] usage = new long[USAGE.length];
    private final long[] tokens = new long[TokenClass.COUNT];
    private final String[] ignoredOfSpan = new String[MAX_IGNORED_PER_SPAN];
    private final StringBuilder problemsOfSpan = new StringBuilder();
    private boolean problemsCut;
    private final StringBuilder rejections = new StringBuilder();
    private final Map<String, Integer> ignored = new LinkedHashMap<>();

    private long receiptMs;
    private long maxFutureMs;
    private String tenantKey;
    private MutableDirectBuffer out;
    private int stagedLength;
    private int eventCount;
    private int skipped;
    private int summaries;
    private int rejected;
    private int ignoredCount;

    /**
     * Maps every span of {@code request} and stages its events into {@code out} from offset 0.
     *
     * @param tenantKey   the attribute that names the tenant.
     * @param receiptMs   the time of receipt, against which the spans' end times are checked.
     * @param maxFutureMs how far past {@code receiptMs} a span may end.
     * @param maxEvents   most spans with usage one request may carry.
     */
    public Outcome map(final ExportTraceServiceRequest request, final String tenantKey, final long receiptMs,
        final long maxFutureMs, final int maxEvents, final MutableDirectBuffer out)
    {
        this.tenantKey = tenantKey;
        this.receiptMs = receiptMs;
        this.maxFutureMs = maxFutureMs;
        this.out = out;
        stagedLength = 0;
        eventCount = 0;
        skipped = 0;
        summaries = 0;
        rejected = 0;
        rejections.setLength(0);
        ignored.clear();
        for (final ResourceSpans resourceSpans : request.getResourceSpansList())
        {
            final List<KeyValue> resource = resourceSpans.getResource().getAttributesList();
            for (final ScopeSpans scopeSpans : resourceSpans.getScopeSpansList())
            {
                for (final Span span : scopeSpans.getSpansList())
                {
                    map(span, resource);
                    if (eventCount + rejected > maxEvents)
                    {
                        stagedLength = 0;
                        eventCount = 0;
                        return Outcome.TOO_MANY_EVENTS;
                    }
                }
            }
        }
        return Outcome.OK;
    }

    private void map(final Span span, final List<KeyValue> resource)
    {
        problemsOfSpan.setLength(0);
        problemsCut = false;
        ignoredCount = 0;
        int present = 0;
        boolean deprecated = false;
        AnyValue tenantValue = null;
        AnyValue responseModel = null;
        AnyValue requestModel = null;
        AnyValue operation = null;
        for (final KeyValue attribute : span.getAttributesList())
        {
            final String key = attribute.getKey();
            if (key.equals(tenantKey))
            {
                tenantValue = once(tenantValue, attribute);
                continue;
            }
            if (!key.startsWith("gen_ai."))
            {
                continue;
            }
            final int u = usageIndex(key);
            if (u >= 0)
            {
                if ((present & 1 << u) != 0)
                {
                    problem(key + " appears more than once on the span");
                }
                present |= 1 << u;
                usage[u] = count(key, attribute.getValue());
            }
            else if (key.equals(RESPONSE_MODEL))
            {
                responseModel = once(responseModel, attribute);
            }
            else if (key.equals(REQUEST_MODEL))
            {
                requestModel = once(requestModel, attribute);
            }
            else if (key.equals(OPERATION))
            {
                operation = attribute.getValue();
            }
            else if (key.startsWith(USAGE_PREFIX))
            {
                deprecated |= key.equals(DEPRECATED_PROMPT) || key.equals(DEPRECATED_COMPLETION);
                if (carries(attribute.getValue()) && ignoredCount < MAX_IGNORED_PER_SPAN)
                {
                    ignoredOfSpan[ignoredCount++] = key.substring(USAGE_PREFIX.length());
                }
            }
        }
        if (present == 0)
        {
            if (deprecated)
            {
                problem("carries " + DEPRECATED_PROMPT + " or " + DEPRECATED_COMPLETION + ", which the GenAI conventions "
                    + "replaced: send " + INPUT_TOKENS + " (cached tokens included) and " + OUTPUT_TOKENS);
                reject(span);
            }
            else
            {
                skipped++;
            }
            return;
        }
        if (isSummary(operation, span.getKind()))
        {
            summaries++;
            return;
        }
        for (int u = 0; u < USAGE.length; u++)
        {
            if ((present & 1 << u) == 0)
            {
                usage[u] = 0;
            }
        }
        checkUsage(present);
        final int modelLength = model(responseModel, requestModel);
        final int tenantLength = tenant(tenantValue != null ? tenantValue : resourceTenant(resource));
        final boolean idsValid = ids(span);
        final long endMs = endMs(span);
        if (problemsOfSpan.length() > 0)
        {
            reject(span);
            return;
        }
        tokens[TokenClass.INPUT.ordinal()] = usage[U_INPUT] - usage[U_CACHE_READ] - usage[U_CACHE_CREATION];
        tokens[TokenClass.CACHE_READ.ordinal()] = usage[U_CACHE_READ];
        tokens[TokenClass.CACHE_WRITE.ordinal()] = usage[U_CACHE_CREATION];
        tokens[TokenClass.CACHE_WRITE_1H.ordinal()] = 0;
        tokens[TokenClass.OUTPUT.ordinal()] = usage[U_OUTPUT];
        tokens[TokenClass.REASONING.ordinal()] = usage[U_REASONING];
        assert idsValid && modelLength > 0 && tenantLength > 0 : "a span without problems has ids, a model and a tenant";
        if (out.capacity() < stagedLength + StagedEvent.MAX_LENGTH)
        {
            out.checkLimit(stagedLength + StagedEvent.MAX_LENGTH);
        }
        stagedLength += encoder.encode(out, stagedLength, tenant, tenantLength, id, ID_LENGTH, model, modelLength,
            ServiceTier.STANDARD.code(), true, endMs, receiptMs, tokens);
        eventCount++;
        for (int i = 0; i < ignoredCount; i++)
        {
            final String field = ignored.size() < MAX_IGNORED_FIELDS || ignored.containsKey(ignoredOfSpan[i])
                ? ignoredOfSpan[i] : OTHER_FIELD;
            ignored.merge(field, 1, Integer::sum);
        }
    }

    /**
     * @return true for the span of a local agent or workflow, whose usage is that of the model-call spans under it
     *     (the conventions' "invoke agent internal span" and "invoke workflow span").
     */
    private static boolean isSummary(final AnyValue operation, final Span.SpanKind kind)
    {
        if (operation == null || operation.getValueCase() != AnyValue.ValueCase.STRING_VALUE)
        {
            return false;
        }
        final String name = operation.getStringValue();
        return (name.equals("invoke_agent") || name.equals("invoke_workflow")) && kind != Span.SpanKind.SPAN_KIND_CLIENT;
    }

    private static int usageIndex(final String key)
    {
        for (int u = 0; u < USAGE.length; u++)
        {
            if (USAGE[u].equals(key))
            {
                return u;
            }
        }
        return -1;
    }

    /** @return the value of an attribute that must appear once on the span (a second one is a problem). */
    private AnyValue once(final AnyValue earlier, final KeyValue attribute)
    {
        if (earlier != null)
        {
            problem(attribute.getKey() + " appears more than once on the span");
        }
        return attribute.getValue();
    }

    /** @return the token count of a usage attribute, or 0 after a problem. */
    private long count(final String key, final AnyValue value)
    {
        if (value.getValueCase() != AnyValue.ValueCase.INT_VALUE)
        {
            problem(key + " must be an integer attribute (intValue), not " + kind(value));
            return 0;
        }
        final String problem = EventRules.tokens(value.getIntValue());
        if (problem != null)
        {
            problem(key + " " + problem + ", not " + value.getIntValue());
            return 0;
        }
        return value.getIntValue();
    }

    private void checkUsage(final int present)
    {
        if ((present & 1 << U_INPUT) == 0)
        {
            problem(INPUT_TOKENS + " is required with the other gen_ai.usage attributes (0 if the request had no input)");
        }
        else if (usage[U_CACHE_READ] + usage[U_CACHE_CREATION] > usage[U_INPUT])
        {
            problem(CACHE_READ_TOKENS + " (" + usage[U_CACHE_READ] + ") + " + CACHE_CREATION_TOKENS + " ("
                + usage[U_CACHE_CREATION] + ") is greater than " + INPUT_TOKENS + " (" + usage[U_INPUT] + "): the GenAI "
                + "conventions count cached tokens inside input_tokens");
        }
        if (usage[U_REASONING] > usage[U_OUTPUT])
        {
            problem(REASONING_TOKENS + " (" + usage[U_REASONING] + ") is greater than " + OUTPUT_TOKENS + " ("
                + usage[U_OUTPUT] + "): reasoning tokens are a part of the output");
        }
    }

    /** Stages the model name; @return its length, or -1 after a problem. */
    private int model(final AnyValue responseModel, final AnyValue requestModel)
    {
        final boolean response = isGiven(responseModel);
        final AnyValue value = response ? responseModel : requestModel;
        final String key = response ? RESPONSE_MODEL : REQUEST_MODEL;
        if (!isGiven(value))
        {
            problem("has no model: " + RESPONSE_MODEL + " or " + REQUEST_MODEL + " is required");
            return -1;
        }
        if (value.getValueCase() != AnyValue.ValueCase.STRING_VALUE)
        {
            problem(key + " must be a string attribute, not " + kind(value));
            return -1;
        }
        final String problem = EventRules.model(value.getStringValue(), scratch, model);
        if (problem != null)
        {
            problem(key + " " + problem);
            return -1;
        }
        return value.getStringValue().length();
    }

    /** @return true when a model attribute is there and says something (an empty string is taken as absent). */
    private static boolean isGiven(final AnyValue value)
    {
        return value != null && !(value.getValueCase() == AnyValue.ValueCase.STRING_VALUE && value.getStringValue().isEmpty());
    }

    private AnyValue resourceTenant(final List<KeyValue> resource)
    {
        AnyValue found = null;
        for (final KeyValue attribute : resource)
        {
            if (attribute.getKey().equals(tenantKey))
            {
                if (found != null)
                {
                    problem(tenantKey + " appears more than once on the span's resource");
                }
                found = attribute.getValue();
            }
        }
        return found;
    }

    /** Stages the tenant name; @return its length, or -1 after a problem. */
    private int tenant(final AnyValue value)
    {
        if (value == null)
        {
            problem("has no tenant: the attribute " + tenantKey + " is required on the span or its resource (setting "
                + "otlp-tenant-attribute)");
            return -1;
        }
        if (value.getValueCase() != AnyValue.ValueCase.STRING_VALUE)
        {
            problem(tenantKey + " must be a string attribute, not " + kind(value));
            return -1;
        }
        final String problem = EventRules.tenant(value.getStringValue(), scratch, tenant);
        if (problem != null)
        {
            problem(tenantKey + " " + problem);
            return -1;
        }
        return value.getStringValue().length();
    }

    /** Writes the event id (trace id + span id in hex); @return false after a problem. */
    private boolean ids(final Span span)
    {
        final boolean trace = span.getTraceId().size() == 16 && !allZero(span.getTraceId());
        final boolean spanId = span.getSpanId().size() == 8 && !allZero(span.getSpanId());
        if (!trace)
        {
            problem("the trace id must be 16 bytes, not all zero (it has " + span.getTraceId().size() + ")");
        }
        if (!spanId)
        {
            problem("the span id must be 8 bytes, not all zero (it has " + span.getSpanId().size() + ")");
        }
        if (!trace || !spanId)
        {
            return false;
        }
        for (int i = 0; i < 16; i++)
        {
            putHex(span.getTraceId().byteAt(i), 2 * i);
        }
        for (int i = 0; i < 8; i++)
        {
            putHex(span.getSpanId().byteAt(i), 32 + 2 * i);
        }
        return true;
    }

    private void putHex(final byte b, final int at)
    {
        id[at] = (byte)HEX[(b >> 4) & 0xF];
        id[at + 1] = (byte)HEX[b & 0xF];
    }

    private static boolean allZero(final com.google.protobuf.ByteString bytes)
    {
        for (int i = 0; i < bytes.size(); i++)
        {
            if (bytes.byteAt(i) != 0)
            {
                return false;
            }
        }
        return true;
    }

    /** @return the span's end in epoch milliseconds, or -1 after a problem. */
    private long endMs(final Span span)
    {
        final long nanos = span.getEndTimeUnixNano();
        if (nanos == 0)
        {
            problem("has no end time (endTimeUnixNano): the event's time is the span's end");
            return -1;
        }
        // fixed64: unsigned
        final long millis = Long.divideUnsigned(nanos, 1_000_000L);
        final String problem = EventRules.timestamp(millis, receiptMs, maxFutureMs, "that endTimeUnixNano is in nanoseconds");
        if (problem != null)
        {
            problem("endTimeUnixNano " + problem);
            return -1;
        }
        return millis;
    }

    /** @return true when an unmapped usage attribute carries something worth tallying (not 0, not empty). */
    private static boolean carries(final AnyValue value)
    {
        return switch (value.getValueCase())
        {
            case INT_VALUE -> value.getIntValue() != 0;
            case DOUBLE_VALUE -> value.getDoubleValue() != 0;
            case VALUE_NOT_SET -> false;
            case STRING_VALUE -> !value.getStringValue().isEmpty();
            default -> true;
        };
    }

    private static String kind(final AnyValue value)
    {
        return switch (value.getValueCase())
        {
            case STRING_VALUE -> "a string";
            case BOOL_VALUE -> "a bool";
            case INT_VALUE -> "an integer";
            case DOUBLE_VALUE -> "a double";
            case ARRAY_VALUE -> "an array";
            case KVLIST_VALUE -> "a key-value list";
            case BYTES_VALUE -> "bytes";
            case STRING_VALUE_STRINDEX -> "a string index";
            case VALUE_NOT_SET -> "empty";
        };
    }

    private void problem(final String message)
    {
        if (problemsOfSpan.length() >= MAX_PROBLEM_CHARS)
        {
            // a span's problems are a bounded part of the answer (OTLP bounds a response to 4 MiB)
            if (!problemsCut)
            {
                problemsOfSpan.append("; and more");
                problemsCut = true;
            }
            return;
        }
        if (problemsOfSpan.length() > 0)
        {
            problemsOfSpan.append("; ");
        }
        problemsOfSpan.append(message);
    }

    private void reject(final Span span)
    {
        rejected++;
        if (rejected > MAX_NAMED)
        {
            return;
        }
        if (rejections.length() > 0)
        {
            rejections.append(" | ");
        }
        rejections.append("span ");
        appendHex(span.getTraceId());
        rejections.append('/');
        appendHex(span.getSpanId());
        final String name = span.getName();
        rejections.append(" \"").append(name.length() <= 64 ? name : name.substring(0, 64) + "...").append("\": ")
            .append(problemsOfSpan);
    }

    private void appendHex(final com.google.protobuf.ByteString bytes)
    {
        if (bytes.isEmpty())
        {
            rejections.append('-');
        }
        for (int i = 0; i < Math.min(bytes.size(), 32); i++)
        {
            rejections.append(HEX[(bytes.byteAt(i) >> 4) & 0xF]).append(HEX[bytes.byteAt(i) & 0xF]);
        }
    }

    /** @return the spans with usage that became staged events. */
    public int eventCount()
    {
        return eventCount;
    }

    public int stagedLength()
    {
        return stagedLength;
    }

    /** @return the spans without GenAI usage. */
    public int skipped()
    {
        return skipped;
    }

    /** @return the spans of local agents and workflows, whose usage repeats that of the spans under them. */
    public int summaries()
    {
        return summaries;
    }

    /** @return the spans with usage refused for a problem of their own. */
    public int rejected()
    {
        return rejected;
    }

    /**
     * @return the rejected spans, each with its ids, name and problems (the first {@link #MAX_NAMED}, then how many
     *     more), or "" when none was rejected.
     */
    public String rejections()
    {
        if (rejected == 0)
        {
            return "";
        }
        return rejected > MAX_NAMED ? rejections + " | and " + (rejected - MAX_NAMED) + " more" : rejections.toString();
    }

    /** Receives the unmapped usage attributes of the staged events. */
    @FunctionalInterface
    public interface IgnoredAttributes
    {
        /** @param field the attribute's name after {@code gen_ai.usage.}, e.g. {@code audio.input_tokens}. */
        void onIgnored(String format, String field, int events);
    }

    /** Reports the unmapped {@code gen_ai.usage.*} attributes of the last request's events, with how many had each. */
    public void forEachIgnored(final IgnoredAttributes consumer)
    {
        ignored.forEach((field, events) -> consumer.onIgnored(FORMAT, field, events));
    }
}
