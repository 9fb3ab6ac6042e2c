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
    void anthropicServedTierComesFromTheUsageAndIsBilledOverTheRequestedOne()
    {
        assertEquals("batch", ok("anthropic", "{\"input_tokens\":1,\"output_tokens\":1,\"service_tier\":\"batch\"}").tier());
        final ObjectNode event = UsageEvents.event("anthropic", json("{\"input_tokens\":1,\"output_tokens\":1,\"service_tier\":\"standard\"}"));
        event.put("service_tier", "priority");
        final UsageEvents.Mapped served = events.parse(event.toString());
        assertEquals(List.of(), served.problems(), "asked for priority, served standard: no problem");
        assertEquals("standard", served.tier(), "the served tier is billed (SPEC section 11)");
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
    void deepseekCacheHitIsNotBilledAsInput()
    {
        assertClasses(ok("deepseek", "{\"prompt_tokens\":2386,\"completion_tokens\":152,\"total_tokens\":2538,"
            + "\"prompt_tokens_details\":{\"cached_tokens\":2304},\"prompt_cache_hit_tokens\":2304,\"prompt_cache_miss_tokens\":82}"),
            82, 2304, 0, 0, 152, 0);
    }

    @Test
    void deepseekObjectSentAsOpenaiChatStillMapsAsOpenAiDoesAndItsSplitIsCountedAsIgnored()
    {
        final String usage = "{\"prompt_tokens\":2386,\"completion_tokens\":152,\"prompt_tokens_details\":{\"cached_tokens\":2304},"
            + "\"prompt_cache_hit_tokens\":2304,\"prompt_cache_miss_tokens\":82}";
        assertEquals(ok("deepseek", usage).classes(), ok("openai_chat", usage).classes());
        assertEquals(Map.of("openai_chat prompt_cache_hit_tokens", 1, "openai_chat prompt_cache_miss_tokens", 1), events.ignored());
        ok("deepseek", usage);
        assertEquals(Map.of(), events.ignored(), "the deepseek mapping uses both");
    }

    @Test
    void deepseekHitsReportedTwiceMustAgree()
    {
        assertEquals(new Problem(0, "usage.prompt_tokens_details.cached_tokens",
                "prompt_tokens_details.cached_tokens (100) is not prompt_cache_hit_tokens (2304): both count the prompt's cache hits, "
                    + "so they must agree"),
            refused("deepseek", "{\"prompt_tokens\":2386,\"prompt_tokens_details\":{\"cached_tokens\":100},"
                + "\"prompt_cache_hit_tokens\":2304,\"prompt_cache_miss_tokens\":82}"));
    }

    @Test
    void deepseekSplitMustAddUpToThePromptEvenWhenHalfOfItIsMissing()
    {
        assertEquals("prompt_cache_hit_tokens (2304) + prompt_cache_miss_tokens (0) = 2304 is not prompt_tokens (2386): DeepSeek "
            + "splits the prompt into cache hits and misses", refused("deepseek", "{\"prompt_tokens\":2386,\"prompt_cache_hit_tokens\":2304}").message());
        assertClasses(ok("deepseek", "{\"prompt_tokens\":90,\"prompt_cache_miss_tokens\":90}"), 90, 0, 0, 0, 0, 0);
    }

    @Test
    void deepseekReasonerReasoningIsInsideCompletionTokens()
    {
        assertClasses(ok("deepseek", "{\"prompt_tokens\":31,\"completion_tokens\":1288,\"total_tokens\":1319,"
            + "\"completion_tokens_details\":{\"reasoning_tokens\":1102},\"prompt_cache_hit_tokens\":0,\"prompt_cache_miss_tokens\":31}"),
            31, 0, 0, 0, 1288, 1102);
        assertEquals("reasoning_tokens (1289) is greater than completion_tokens (1288): DeepSeek counts them inside completion_tokens",
            refused("deepseek", "{\"prompt_tokens\":31,\"completion_tokens\":1288,\"completion_tokens_details\":"
                + "{\"reasoning_tokens\":1289}}").message());
    }

    @Test
    void dashscopeCacheHitsAndWritesAreInsideThePromptCount()
    {
        assertClasses(ok("dashscope", "{\"prompt_tokens\":3000,\"completion_tokens\":10,\"total_tokens\":3010,"
            + "\"prompt_tokens_details\":{\"cached_tokens\":1200,\"cache_creation_input_tokens\":300,\"cache_type\":\"ephemeral\","
            + "\"cache_creation\":{\"ephemeral_5m_input_tokens\":300}}}"), 1500, 1200, 300, 0, 10, 0);
    }

    @Test
    void dashscopeCacheCreationWithoutItsBreakdownIsAFiveMinuteWriteAndAOneHourPartIsAClassApart()
    {
        assertClasses(ok("dashscope", "{\"prompt_tokens\":1613,\"completion_tokens\":5,\"prompt_tokens_details\":"
            + "{\"cache_creation_input_tokens\":1605,\"cached_tokens\":0}}"), 8, 0, 1605, 0, 5, 0);
        assertClasses(ok("dashscope", "{\"prompt_tokens\":1000,\"prompt_tokens_details\":{\"cache_creation_input_tokens\":900,"
            + "\"cache_creation\":{\"ephemeral_5m_input_tokens\":400,\"ephemeral_1h_input_tokens\":500}}}"), 100, 0, 400, 500, 0, 0);
        assertEquals(new Problem(0, "usage.prompt_tokens_details.cache_creation_input_tokens",
                "cache_creation_input_tokens (900) is not cache_creation.ephemeral_5m_input_tokens (400) + "
                    + "cache_creation.ephemeral_1h_input_tokens (0) = 400"),
            refused("dashscope", "{\"prompt_tokens\":1000,\"prompt_tokens_details\":{\"cache_creation_input_tokens\":900,"
                + "\"cache_creation\":{\"ephemeral_5m_input_tokens\":400}}}"));
        assertEquals(new Problem(0, "usage.prompt_tokens_details.cache_creation.ephemeral_5m_input_tokens", "must be a non-negative integer"),
            refused("dashscope", "{\"prompt_tokens\":1000,\"prompt_tokens_details\":{\"cache_creation\":{\"ephemeral_5m_input_tokens\":\"4\"}}}"));
        assertEquals(new Problem(0, "usage.prompt_tokens_details.cache_creation", "must be an object"),
            refused("dashscope", "{\"prompt_tokens\":1000,\"prompt_tokens_details\":{\"cache_creation\":400}}"));
    }

    @Test
    void dashscopeNativeModeTakesInputAndOutputTokensWithReasoningInsideTheOutput()
    {
        assertClasses(ok("dashscope", "{\"input_tokens\":3019,\"output_tokens\":101,\"total_tokens\":3120,"
            + "\"prompt_tokens_details\":{\"cached_tokens\":2048},\"output_tokens_details\":{\"reasoning_tokens\":60}}"),
            971, 2048, 0, 0, 101, 60);
        assertEquals("usage.total_tokens", refused("dashscope", "{\"input_tokens\":28,\"output_tokens\":3,\"total_tokens\":32}").field());
    }

    @Test
    void dashscopeCachedTokensAtTheTopOfAVisionUsageAreReadAndMustAgreeWithTheDetails()
    {
        assertClasses(ok("dashscope", "{\"input_tokens\":1292,\"output_tokens\":87,\"total_tokens\":1379,\"image_tokens\":1249,"
            + "\"cached_tokens\":1152}"), 140, 1152, 0, 0, 87, 0);
        assertClasses(ok("dashscope", "{\"input_tokens\":1524,\"output_tokens\":10,\"input_tokens_details\":{\"cached_tokens\":1305}}"),
            219, 1305, 0, 0, 10, 0);
        assertEquals(new Problem(0, "usage.cached_tokens", "cached_tokens (1152) is not prompt_tokens_details.cached_tokens (0): both count "
                + "the prompt's cache hits, so they must agree"),
            refused("dashscope", "{\"input_tokens\":1292,\"cached_tokens\":1152,\"prompt_tokens_details\":{\"cached_tokens\":0}}"));
        assertEquals("usage.input_tokens_details.cached_tokens", refused("dashscope", "{\"input_tokens\":1292,"
            + "\"input_tokens_details\":{\"cached_tokens\":5},\"prompt_tokens_details\":{\"cached_tokens\":6}}").field());
        assertEquals("cached_tokens (1300) is greater than input_tokens (1292): DashScope counts them inside input_tokens",
            refused("dashscope", "{\"input_tokens\":1292,\"cached_tokens\":1300}").message());
    }

    @Test
    void dashscopeModalityPartsAreInsideThePromptAndCountedAsIgnoredNotBilledAgain()
    {
        final UsageEvents.Mapped mapped = ok("dashscope", "{\"input_tokens\":1292,\"output_tokens\":87,\"input_tokens_details\":"
            + "{\"text_tokens\":43,\"image_tokens\":1249},\"output_tokens_details\":{\"text_tokens\":87},\"image_tokens\":1249,"
            + "\"characters\":0}");
        assertClasses(mapped, 1292, 0, 0, 0, 87, 0);
        assertEquals(Map.of("dashscope input_tokens_details.text_tokens", 1, "dashscope input_tokens_details.image_tokens", 1,
            "dashscope output_tokens_details.text_tokens", 1, "dashscope image_tokens", 1), events.ignored());
    }

    @Test
    void dashscopeExplicitCacheTypeIsCountedAsIgnoredBecauseItsHitsArePricedApartFromImplicitOnes()
    {
        assertClasses(ok("dashscope", "{\"prompt_tokens\":1620,\"prompt_tokens_details\":{\"cache_creation_input_tokens\":0,"
            + "\"cache_type\":\"ephemeral\",\"cached_tokens\":1605}}"), 15, 1605, 0, 0, 0, 0);
        assertEquals(Map.of("dashscope prompt_tokens_details.cache_type", 1), events.ignored());
        ok("dashscope", "{\"prompt_tokens\":1620,\"prompt_tokens_details\":{\"cached_tokens\":1605}}");
        assertEquals(Map.of(), events.ignored(), "an implicit hit has no cache_type");
    }

    @Test
    void dashscopeIsEitherCompatibleOrNativeMode()
    {
        assertEquals("usage.input_tokens", refused("dashscope", "{\"prompt_tokens\":1,\"input_tokens\":1}").field());
        assertEquals(new Problem(0, "usage.prompt_tokens", "is required in this usage format (input_tokens in DashScope's native mode)"),
            refused("dashscope", "{\"output_tokens\":5}"));
        assertEquals("usage.prompt_tokens", refused("dashscope", "{\"prompt_tokens\":null,\"completion_tokens\":5}").field());
    }

    @Test
    void moonshotTopLevelCachedTokensAreCacheReadsInsideThePrompt()
    {
        final String usage = "{\"prompt_tokens\":2187,\"completion_tokens\":96,\"total_tokens\":2283,\"cached_tokens\":2048}";
        assertClasses(ok("moonshot", usage), 139, 2048, 0, 0, 96, 0);
        assertClasses(ok("openai_chat", usage), 2187, 0, 0, 0, 96, 0);
        assertEquals(Map.of("openai_chat cached_tokens", 1), events.ignored(), "sent as openai_chat, the hits show as ignored");
        assertClasses(ok("moonshot", "{\"prompt_tokens\":2187,\"prompt_tokens_details\":{\"cached_tokens\":2048}}"), 139, 2048, 0, 0, 0, 0);
    }

    @Test
    void moonshotCacheHitsReportedInBothPlacesMustAgree()
    {
        assertClasses(ok("moonshot", "{\"prompt_tokens\":1536,\"cached_tokens\":1280,\"prompt_tokens_details\":{\"cached_tokens\":1280}}"),
            256, 1280, 0, 0, 0, 0);
        assertEquals("usage.prompt_tokens_details.cached_tokens",
            refused("moonshot", "{\"prompt_tokens\":1536,\"cached_tokens\":1280,\"prompt_tokens_details\":{\"cached_tokens\":1279}}").field());
        assertEquals("usage.cached_tokens", refused("moonshot", "{\"prompt_tokens\":10,\"cached_tokens\":11}").field());
    }

    @Test
    void zhipuCachedTokensAreInsidePromptTokensAndTotalCallsIsNotBilled()
    {
        assertClasses(ok("zhipu", "{\"prompt_tokens\":1520,\"completion_tokens\":310,\"total_tokens\":1830,\"total_calls\":1,"
            + "\"prompt_tokens_details\":{\"cached_tokens\":1280},\"completion_tokens_details\":{\"reasoning_tokens\":200}}"),
            240, 1280, 0, 0, 310, 200);
        assertEquals(Map.of("zhipu total_calls", 1), events.ignored());
        assertEquals("usage.total_tokens", refused("zhipu", "{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":3}").field());
    }

    @Test
    void arkScaleTierIsBilledAsPriorityAndDefaultAsStandard()
    {
        assertEquals("priority", ok("volcengine_ark", "{\"prompt_tokens\":1,\"completion_tokens\":1,\"service_tier\":\"scale\"}").tier());
        assertEquals("standard", ok("volcengine_ark", "{\"prompt_tokens\":1,\"completion_tokens\":1,\"service_tier\":\"default\"}").tier());
        assertEquals("standard", ok("volcengine_ark", "{\"prompt_tokens\":1,\"service_tier\":null}").tier());
        assertEquals(new Problem(0, "usage.service_tier", "must be default or scale: the tier Ark's response says served the request"),
            refused("volcengine_ark", "{\"prompt_tokens\":1,\"service_tier\":\"auto\"}"));
        assertEquals("usage.service_tier", refused("volcengine_ark", "{\"prompt_tokens\":1,\"service_tier\":2}").field());
    }

    @Test
    void arkServedTierIsBilledOverTheEventsOwnTier()
    {
        final ObjectNode event = UsageEvents.event("volcengine_ark", json("{\"prompt_tokens\":1,\"service_tier\":\"default\"}"));
        event.put("service_tier", "priority");
        assertEquals("standard", events.parse(event.toString()).tier(), "asked for scale (priority), served default");
        final ObjectNode withoutTier = UsageEvents.event("volcengine_ark", json("{\"prompt_tokens\":1}"));
        withoutTier.put("service_tier", "flex");
        assertEquals("flex", events.parse(withoutTier.toString()).tier(), "without a served tier, the event's own is billed");
    }

    @Test
    void arkProvisionedTokensAreNotBilledTwiceAndShowAsIgnored()
    {
        assertClasses(ok("volcengine_ark", "{\"prompt_tokens\":812,\"completion_tokens\":2304,\"total_tokens\":3116,"
            + "\"prompt_tokens_details\":{\"cached_tokens\":512,\"provisioned_tokens\":812},"
            + "\"completion_tokens_details\":{\"reasoning_tokens\":1850,\"provisioned_tokens\":2304},\"service_tier\":\"scale\"}"),
            300, 512, 0, 0, 2304, 1850);
        assertEquals(Map.of("volcengine_ark prompt_tokens_details.provisioned_tokens", 1,
            "volcengine_ark completion_tokens_details.provisioned_tokens", 1), events.ignored());
    }

    @Test
    void fieldsThreeLevelsDownAreReadAndTalliedByTheirWholePath()
    {
        ok("openai_chat", "{\"prompt_tokens\":5,\"prompt_tokens_details\":{\"cache_creation\":{\"ephemeral_5m_input_tokens\":3,"
            + "\"deeper\":{\"x\":1}},\"empty\":{}}}");
        assertEquals(Map.of("openai_chat prompt_tokens_details.cache_creation.ephemeral_5m_input_tokens", 1,
            "openai_chat prompt_tokens_details.cache_creation.deeper", 1, "openai_chat prompt_tokens_details.empty", 1), events.ignored());
        assertEquals(new Problem(0, "usage", "prompt_tokens_details.cache_creation.ephemeral_5m_input_tokens appears more than once"),
            events.parse("{\"id\":\"a\",\"tenant\":\"t\",\"model\":\"m\",\"usage_format\":\"dashscope\",\"usage\":{\"prompt_tokens\":1,"
                + "\"prompt_tokens_details\":{\"cache_creation\":{\"ephemeral_5m_input_tokens\":1,\"ephemeral_5m_input_tokens\":2}}}}")
                .problems().get(0));
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
