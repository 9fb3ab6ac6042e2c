package io.tokenmeter.server.usage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tokenmeter.core.event.TokenClass;
import io.tokenmeter.server.json.ParseOutcome;
import io.tokenmeter.server.json.Problem;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static io.tokenmeter.core.event.TokenClass.CACHE_READ;
import static io.tokenmeter.core.event.TokenClass.CACHE_WRITE;
import static io.tokenmeter.core.event.TokenClass.CACHE_WRITE_1H;
import static io.tokenmeter.core.event.TokenClass.INPUT;
import static io.tokenmeter.core.event.TokenClass.OUTPUT;
import static io.tokenmeter.core.event.TokenClass.REASONING;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The traps of each provider's counting, each as its own test, and the rules every format shares. */
class UsageMappingTest
{
    private final UsageEvents events = new UsageEvents();

    private static JsonNode json(final String text)
    {
        try
        {
            return UsageEvents.JSON.readTree(text);
        }
        catch (final Exception ex)
        {
            throw new AssertionError(text, ex);
        }
    }

    private UsageEvents.Mapped ok(final String format, final String usage)
    {
        final UsageEvents.Mapped mapped = events.map(format, json(usage));
        assertEquals(ParseOutcome.OK, mapped.outcome(), () -> mapped.problems().toString());
        return mapped;
    }

    private Problem refused(final String format, final String usage)
    {
        final UsageEvents.Mapped mapped = events.map(format, json(usage));
        assertEquals(ParseOutcome.INVALID_EVENTS, mapped.outcome(), usage);
        return mapped.problems().get(0);
    }

    private static void assertClasses(final UsageEvents.Mapped mapped, final long input, final long cacheRead, final long cacheWrite,
        final long cacheWrite1h, final long output, final long reasoning)
    {
        assertEquals(List.of(input, cacheRead, cacheWrite, cacheWrite1h, output, reasoning),
            List.of(mapped.get(INPUT), mapped.get(CACHE_READ), mapped.get(CACHE_WRITE), mapped.get(CACHE_WRITE_1H),
                mapped.get(OUTPUT), mapped.get(REASONING)));
    }

    @Test
    void openaiCachedTokensAreInsidePromptTokensAndNotBilledTwice()
    {
        assertClasses(ok("openai_chat", "{\"prompt_tokens\":1000,\"completion_tokens\":10,"
            + "\"prompt_tokens_details\":{\"cached_tokens\":900}}"), 100, 900, 0, 0, 10, 0);
        assertClasses(ok("openai_responses", "{\"input_tokens\":1000,\"output_tokens\":10,"
            + "\"input_tokens_details\":{\"cached_tokens\":900}}"), 100, 900, 0, 0, 10, 0);
    }

    @Test
    void openaiReasoningIsInsideCompletionTokensAndBilledAsOutput()
    {
        assertClasses(ok("openai_chat", "{\"prompt_tokens\":5,\"completion_tokens\":300,"
            + "\"completion_tokens_details\":{\"reasoning_tokens\":250,\"rejected_prediction_tokens\":20}}"), 5, 0, 0, 0, 300, 250);
    }

    @Test
    void anthropicCacheTokensAreOutsideInputTokens()
    {
        assertClasses(ok("anthropic", "{\"input_tokens\":10,\"output_tokens\":1,\"cache_read_input_tokens\":5000,"
            + "\"cache_creation_input_tokens\":300}"), 10, 5000, 300, 0, 1, 0);
    }

    @Test
    void anthropicOneHourCacheWritesAreAClassApart()
    {
        assertClasses(ok("anthropic", "{\"input_tokens\":10,\"output_tokens\":1,\"cache_creation_input_tokens\":300,"
            + "\"cache_creation\":{\"ephemeral_5m_input_tokens\":100,\"ephemeral_1h_input_tokens\":200}}"), 10, 0, 100, 200, 1, 0);
    }

    @Test
    void anthropicServiceTierComesFromTheUsageAndMustAgreeWithTheEvent()
    {
        assertEquals("batch", ok("anthropic", "{\"input_tokens\":1,\"output_tokens\":1,\"service_tier\":\"batch\"}").tier());
        final ObjectNode event = UsageEvents.event("anthropic", json("{\"input_tokens\":1,\"output_tokens\":1,\"service_tier\":\"priority\"}"));
        event.put("service_tier", "priority");
        assertEquals("priority", events.parse(event.toString()).tier());
        event.put("service_tier", "standard");
        final UsageEvents.Mapped disagree = events.parse(event.toString());
        assertEquals(new Problem(0, "service_tier", "is standard but usage.service_tier says priority"), disagree.problems().get(0));
        assertEquals("usage.service_tier", refused("anthropic", "{\"input_tokens\":1,\"output_tokens\":1,\"service_tier\":\"scale\"}").field());
    }

    @Test
    void geminiThoughtsAreOutsideCandidatesAndBilledAsOutput()
    {
        assertClasses(ok("gemini", "{\"promptTokenCount\":50,\"candidatesTokenCount\":100,\"thoughtsTokenCount\":900,"
            + "\"totalTokenCount\":1050}"), 50, 0, 0, 0, 1000, 900);
    }

    @Test
    void geminiCachedTokensAreInsidePromptAndToolUseTokensOutside()
    {
        assertClasses(ok("gemini", "{\"promptTokenCount\":1000,\"cachedContentTokenCount\":600,\"toolUsePromptTokenCount\":70,"
            + "\"candidatesTokenCount\":5}"), 470, 600, 0, 0, 5, 0);
    }

    @Test
    void bedrockCacheCountsAreOutsideInputTokens()
    {
        assertClasses(ok("bedrock", "{\"inputTokens\":4,\"outputTokens\":171,\"cacheReadInputTokens\":10,"
            + "\"cacheWriteInputTokens\":1754,\"totalTokens\":1939}"), 4, 10, 1754, 0, 171, 0);
    }

    @Test
    void cachedTokensBeyondThePromptAreRefusedNamingBothNumbers()
    {
        assertEquals(new Problem(0, "usage.prompt_tokens_details.cache_write_tokens",
                "cached_tokens (60) + cache_write_tokens (50) is greater than prompt_tokens (100): OpenAI counts them inside prompt_tokens"),
            refused("openai_chat", "{\"prompt_tokens\":100,\"prompt_tokens_details\":{\"cached_tokens\":60,\"cache_write_tokens\":50}}"));
        assertEquals("usage.cachedContentTokenCount",
            refused("gemini", "{\"promptTokenCount\":10,\"cachedContentTokenCount\":11}").field());
    }

    @Test
    void reasoningBeyondTheOutputIsRefusedNamingBothNumbers()
    {
        assertEquals(new Problem(0, "usage.completion_tokens_details.reasoning_tokens",
                "reasoning_tokens (11) is greater than completion_tokens (10): OpenAI counts them inside completion_tokens"),
            refused("openai_chat", "{\"prompt_tokens\":1,\"completion_tokens\":10,\"completion_tokens_details\":{\"reasoning_tokens\":11}}"));
        assertEquals("usage.completion_tokens_details.rejected_prediction_tokens", refused("openai_chat",
            "{\"prompt_tokens\":1,\"completion_tokens\":10,\"completion_tokens_details\":{\"rejected_prediction_tokens\":11}}").field());
    }

    @Test
    void aTotalThatDisagreesWithItsPartsIsRefused()
    {
        assertEquals(new Problem(0, "usage.total_tokens", "total_tokens (12) is not prompt_tokens (1) + completion_tokens (10) = 11"),
            refused("openai_chat", "{\"prompt_tokens\":1,\"completion_tokens\":10,\"total_tokens\":12}"));
        assertEquals("usage.totalTokens", refused("bedrock", "{\"inputTokens\":1,\"outputTokens\":1,\"totalTokens\":3}").field());
    }

    @Test
    void wrongTypesAndRangesAreRefusedByField()
    {
        assertEquals(new Problem(0, "usage.prompt_tokens", "must be a non-negative integer"),
            refused("openai_chat", "{\"prompt_tokens\":\"100\"}"));
        assertEquals("must be a non-negative integer", refused("openai_chat", "{\"prompt_tokens\":100.0}").message());
        assertEquals("must be a non-negative integer", refused("anthropic", "{\"input_tokens\":-1,\"output_tokens\":1}").message());
        assertEquals("must be a non-negative integer", refused("bedrock", "{\"inputTokens\":true,\"outputTokens\":1}").message());
        assertEquals("must be at most 1000000000000", refused("gemini", "{\"promptTokenCount\":1000000000001}").message());
        assertEquals("must be at most 1000000000000", refused("gemini", "{\"promptTokenCount\":123456789012345678901234567890}").message());
        assertEquals(new Problem(0, "usage.prompt_tokens_details", "must be an object"),
            refused("openai_chat", "{\"prompt_tokens\":1,\"prompt_tokens_details\":5}"));
        assertEquals(new Problem(0, "usage.prompt_tokens", "is required in this usage format"), refused("openai_chat", "{\"completion_tokens\":1}"));
        assertEquals(new Problem(0, "usage", "prompt_tokens appears more than once"), events.parse("{\"id\":\"a\",\"tenant\":\"t\","
            + "\"model\":\"m\",\"usage_format\":\"openai_chat\",\"usage\":{\"prompt_tokens\":1,\"prompt_tokens\":2}}").problems().get(0));
        assertEquals(new Problem(0, "usage", "must be the provider's usage object, as its API returned it"),
            events.parse("{\"id\":\"a\",\"tenant\":\"t\",\"model\":\"m\",\"usage_format\":\"gemini\",\"usage\":[1]}").problems().get(0));
    }

    @Test
    void nullOrMissingOptionalCountsAreZero()
    {
        assertClasses(ok("openai_chat", "{\"prompt_tokens\":7,\"completion_tokens\":null,\"prompt_tokens_details\":null,"
            + "\"completion_tokens_details\":null,\"total_tokens\":7}"), 7, 0, 0, 0, 0, 0);
    }

    @Test
    void aMappedClassBeyondTheLimitIsRefused()
    {
        assertEquals("usage", refused("gemini", "{\"promptTokenCount\":1000000000000,\"toolUsePromptTokenCount\":1}").field());
    }

    @Test
    void usageTogetherWithTokenFieldsOrWithoutItsFormatIsRefused()
    {
        final List<Problem> both = events.parse("{\"id\":\"a\",\"tenant\":\"t\",\"model\":\"m\",\"output_tokens\":5,"
            + "\"usage_format\":\"bedrock\",\"usage\":{\"inputTokens\":1,\"outputTokens\":5}}").problems();
        assertEquals(List.of(new Problem(0, "output_tokens",
            "must not be given with usage: the token classes come from the usage object; send one or the other")), both);
        assertEquals("usage_format", events.parse("{\"id\":\"a\",\"tenant\":\"t\",\"model\":\"m\",\"usage\":{}}").problems().get(0).field());
        assertEquals("usage", events.parse("{\"id\":\"a\",\"tenant\":\"t\",\"model\":\"m\",\"usage_format\":\"gemini\"}").problems().get(0).field());
        assertEquals(new Problem(0, "usage_format", "must be one of " + UsageFormat.NAMES),
            events.parse("{\"id\":\"a\",\"tenant\":\"t\",\"model\":\"m\",\"usage_format\":\"openai\",\"usage\":{}}").problems().get(0));
    }

    @Test
    void fieldsTheMappingDoesNotUseAreTalliedByName()
    {
        final String body = "[" + UsageEvents.event("openai_chat", json("{\"prompt_tokens\":5,\"prompt_tokens_details\":"
            + "{\"cached_tokens\":0,\"audio_tokens\":3},\"new_billable_tokens\":9}")) + ","
            + UsageEvents.event("openai_chat", json("{\"prompt_tokens\":5,\"prompt_tokens_details\":{\"audio_tokens\":1},"
                + "\"completion_tokens_details\":{\"audio_tokens\":0,\"image_tokens\":null}}")).put("id", "e-2") + ","
            + UsageEvents.event("anthropic", json("{\"input_tokens\":1,\"output_tokens\":1,\"server_tool_use\":"
                + "{\"web_search_requests\":2},\"cache_creation\":{},\"experimental\":{}}")).put("id", "e-3") + ","
            + UsageEvents.event("gemini", json("{\"promptTokenCount\":1,\"promptTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":1}],"
                + "\"trafficType\":\"ON_DEMAND\"}")).put("id", "e-4") + "]";
        assertEquals(ParseOutcome.OK, events.parse(body).outcome());
        assertEquals(Map.of("openai_chat prompt_tokens_details.audio_tokens", 2, "openai_chat new_billable_tokens", 1,
            "anthropic server_tool_use.web_search_requests", 1, "anthropic experimental", 1,
            "gemini promptTokensDetails", 1, "gemini trafficType", 1), events.ignored());
    }

    @Test
    void mappedEventsAreStagedLikeEventsWithTheSameClasses()
    {
        final UsageEvents.Mapped viaUsage = ok("anthropic", "{\"input_tokens\":10,\"output_tokens\":3,\"cache_read_input_tokens\":7}");
        final UsageEvents.Mapped viaFields = events.parse("{\"id\":\"e-1\",\"tenant\":\"t\",\"model\":\"m\",\"input_tokens\":10,"
            + "\"cache_read_tokens\":7,\"output_tokens\":3}");
        assertEquals(viaFields.classes(), viaUsage.classes());
        for (final TokenClass tokenClass : TokenClass.values())
        {
            assertTrue(viaUsage.get(tokenClass) >= 0);
        }
    }
}
