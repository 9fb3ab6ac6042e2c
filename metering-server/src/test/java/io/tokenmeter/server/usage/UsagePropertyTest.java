package io.tokenmeter.server.usage;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tokenmeter.core.event.TokenClass;
import io.tokenmeter.server.json.ParseOutcome;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Random usage objects shaped as each provider defines its counts: the mapped billable classes always add up to the
 * provider's own total (or, for Anthropic, which gives none, to the sum of its disjoint counts), no class is
 * negative, reasoning stays inside the output; and objects that break a provider's relation are always refused.
 * Seeded; the seed is in every failure message.
 */
class UsagePropertyTest
{
    private static final int CASES = 2_000;
    private final long seed = Long.getLong("usage.seed", System.nanoTime());
    private final Random random = new Random(seed);
    private final UsageEvents events = new UsageEvents();

    private long count(final long max)
    {
        return switch (random.nextInt(4))
        {
            case 0 -> 0;
            case 1 -> random.nextInt(10);
            default -> (long)(random.nextDouble() * max);
        };
    }

    /** Sets the field, or sometimes leaves it out or sends null when it is zero (providers do both). */
    private void put(final ObjectNode node, final String field, final long value)
    {
        if (value == 0 && random.nextInt(3) == 0)
        {
            if (random.nextBoolean())
            {
                node.putNull(field);
            }
            return;
        }
        node.put(field, value);
    }

    private void noise(final ObjectNode node)
    {
        if (random.nextInt(4) == 0)
        {
            node.put("field_from_the_future_" + random.nextInt(3), random.nextInt(100));
        }
    }

    private static long billable(final UsageEvents.Mapped mapped)
    {
        return mapped.get(TokenClass.INPUT) + mapped.get(TokenClass.CACHE_READ) + mapped.get(TokenClass.CACHE_WRITE)
            + mapped.get(TokenClass.CACHE_WRITE_1H) + mapped.get(TokenClass.OUTPUT);
    }

    private UsageEvents.Mapped mapped(final String format, final ObjectNode usage)
    {
        final UsageEvents.Mapped mapped = events.map(format, usage);
        assertEquals(ParseOutcome.OK, mapped.outcome(), () -> "seed " + seed + ": " + usage + " -> " + mapped.problems());
        for (final TokenClass tokenClass : TokenClass.values())
        {
            assertTrue(mapped.get(tokenClass) >= 0, () -> "seed " + seed + ": " + usage);
        }
        assertTrue(mapped.get(TokenClass.REASONING) <= mapped.get(TokenClass.OUTPUT), () -> "seed " + seed + ": " + usage);
        return mapped;
    }

    @Test
    void openaiClassesAddUpToTotalTokens()
    {
        for (int i = 0; i < CASES; i++)
        {
            final boolean responses = random.nextBoolean();
            final long prompt = count(2_000_000);
            final long cached = random.nextInt(3) == 0 ? 0 : (long)(random.nextDouble() * prompt);
            final long cacheWrite = random.nextInt(4) == 0 ? (long)(random.nextDouble() * (prompt - cached)) : 0;
            final long completion = count(100_000);
            final long reasoning = (long)(random.nextDouble() * completion);
            final ObjectNode usage = UsageEvents.JSON.createObjectNode();
            usage.put(responses ? "input_tokens" : "prompt_tokens", prompt);
            put(usage, responses ? "output_tokens" : "completion_tokens", completion);
            final ObjectNode in = usage.putObject(responses ? "input_tokens_details" : "prompt_tokens_details");
            put(in, "cached_tokens", cached);
            put(in, "cache_write_tokens", cacheWrite);
            put(in, "audio_tokens", 0);
            final ObjectNode out = usage.putObject(responses ? "output_tokens_details" : "completion_tokens_details");
            put(out, "reasoning_tokens", reasoning);
            put(out, "rejected_prediction_tokens", (long)(random.nextDouble() * completion));
            final long total = prompt + completion;
            if (random.nextInt(5) > 0)
            {
                usage.put("total_tokens", total);
            }
            noise(usage);
            final UsageEvents.Mapped mapped = mapped(responses ? "openai_responses" : "openai_chat", usage);
            assertEquals(total, billable(mapped), () -> "seed " + seed + ": " + usage);
            assertEquals(reasoning, mapped.get(TokenClass.REASONING));
        }
    }

    @Test
    void anthropicClassesAddUpToItsDisjointCounts()
    {
        for (int i = 0; i < CASES; i++)
        {
            final long input = count(200_000);
            final long output = count(64_000);
            final long cacheRead = count(1_000_000);
            final long fiveMinutes = count(100_000);
            final long oneHour = random.nextBoolean() ? count(100_000) : 0;
            final ObjectNode usage = UsageEvents.JSON.createObjectNode();
            usage.put("input_tokens", input);
            usage.put("output_tokens", output);
            put(usage, "cache_read_input_tokens", cacheRead);
            final boolean breakdown = oneHour > 0 || random.nextBoolean();
            if (breakdown)
            {
                final ObjectNode creation = usage.putObject("cache_creation");
                creation.put("ephemeral_5m_input_tokens", fiveMinutes);
                creation.put("ephemeral_1h_input_tokens", oneHour);
            }
            if (!breakdown || random.nextBoolean())
            {
                usage.put("cache_creation_input_tokens", fiveMinutes + oneHour);
            }
            noise(usage);
            final UsageEvents.Mapped mapped = mapped("anthropic", usage);
            assertEquals(input + output + cacheRead + fiveMinutes + oneHour, billable(mapped), () -> "seed " + seed + ": " + usage);
            assertEquals(oneHour, mapped.get(TokenClass.CACHE_WRITE_1H));
        }
    }

    @Test
    void geminiClassesAddUpToTotalTokenCount()
    {
        for (int i = 0; i < CASES; i++)
        {
            final long prompt = count(2_000_000);
            final long cached = random.nextBoolean() ? 0 : (long)(random.nextDouble() * prompt);
            final long candidates = count(65_000);
            final long thoughts = count(32_000);
            final long toolUse = random.nextInt(4) == 0 ? count(5_000) : 0;
            final ObjectNode usage = UsageEvents.JSON.createObjectNode();
            usage.put("promptTokenCount", prompt);
            put(usage, "cachedContentTokenCount", cached);
            put(usage, "candidatesTokenCount", candidates);
            put(usage, "thoughtsTokenCount", thoughts);
            put(usage, "toolUsePromptTokenCount", toolUse);
            final long total = prompt + candidates + thoughts + toolUse;
            if (random.nextInt(5) > 0)
            {
                usage.put("totalTokenCount", total);
            }
            usage.putArray("promptTokensDetails").addObject().put("modality", "TEXT").put("tokenCount", prompt);
            noise(usage);
            final UsageEvents.Mapped mapped = mapped("gemini", usage);
            assertEquals(total, billable(mapped), () -> "seed " + seed + ": " + usage);
            assertEquals(thoughts, mapped.get(TokenClass.REASONING));
        }
    }

    @Test
    void bedrockClassesAddUpToTotalTokens()
    {
        for (int i = 0; i < CASES; i++)
        {
            final long input = count(200_000);
            final long output = count(64_000);
            final long cacheRead = count(1_000_000);
            final long cacheWrite = count(100_000);
            final ObjectNode usage = UsageEvents.JSON.createObjectNode();
            usage.put("inputTokens", input);
            usage.put("outputTokens", output);
            put(usage, "cacheReadInputTokens", cacheRead);
            put(usage, "cacheWriteInputTokens", cacheWrite);
            final long total = input + output + cacheRead + cacheWrite;
            usage.put("totalTokens", total);
            noise(usage);
            assertEquals(total, billable(mapped("bedrock", usage)), () -> "seed " + seed + ": " + usage);
        }
    }

    /** Adds {@code completion_tokens}, its reasoning and usually the total, as every Chat Completions-shaped object has. */
    private long completion(final ObjectNode usage, final String completionName, final String detailsName, final long prompt,
        final long reasoning, final long completion)
    {
        put(usage, completionName, completion);
        if (random.nextBoolean())
        {
            put(usage.putObject(detailsName), "reasoning_tokens", reasoning);
        }
        else if (reasoning > 0)
        {
            usage.putObject(detailsName).put("reasoning_tokens", reasoning);
        }
        if (random.nextInt(5) > 0)
        {
            usage.put("total_tokens", prompt + completion);
        }
        return prompt + completion;
    }

    @Test
    void deepseekClassesAddUpToTotalTokensAndTheHitsAreCacheReads()
    {
        for (int i = 0; i < CASES; i++)
        {
            final long prompt = count(1_000_000);
            final long hit = random.nextInt(3) == 0 ? 0 : (long)(random.nextDouble() * prompt);
            final long output = count(64_000);
            final long reasoning = (long)(random.nextDouble() * output);
            final ObjectNode usage = UsageEvents.JSON.createObjectNode();
            usage.put("prompt_tokens", prompt);
            final boolean split = random.nextInt(4) > 0;
            if (split)
            {
                usage.put("prompt_cache_hit_tokens", hit).put("prompt_cache_miss_tokens", prompt - hit);
            }
            if (!split || random.nextBoolean())
            {
                put(usage.putObject("prompt_tokens_details"), "cached_tokens", hit);
            }
            final long total = completion(usage, "completion_tokens", "completion_tokens_details", prompt, reasoning, output);
            noise(usage);
            final UsageEvents.Mapped mapped = mapped("deepseek", usage);
            assertEquals(total, billable(mapped), () -> "seed " + seed + ": " + usage);
            assertEquals(hit, mapped.get(TokenClass.CACHE_READ), () -> "seed " + seed + ": " + usage);
            assertEquals(reasoning, mapped.get(TokenClass.REASONING));
        }
    }

    @Test
    void dashscopeClassesAddUpToTotalTokensInBothModes()
    {
        for (int i = 0; i < CASES; i++)
        {
            final boolean nativeMode = random.nextBoolean();
            final long prompt = count(1_000_000);
            final long cached = random.nextInt(3) == 0 ? 0 : (long)(random.nextDouble() * prompt);
            final long written = random.nextInt(3) == 0 ? (long)(random.nextDouble() * (prompt - cached)) : 0;
            final long oneHour = random.nextInt(4) == 0 ? (long)(random.nextDouble() * written) : 0;
            final long output = count(32_000);
            final long reasoning = (long)(random.nextDouble() * output);
            final ObjectNode usage = UsageEvents.JSON.createObjectNode();
            usage.put(nativeMode ? "input_tokens" : "prompt_tokens", prompt);
            final ObjectNode details = usage.putObject("prompt_tokens_details");
            put(details, "text_tokens", prompt - cached);
            switch (random.nextInt(nativeMode ? 4 : 3))
            {
                case 0 -> put(details, "cached_tokens", cached);
                case 1 -> put(usage, "cached_tokens", cached);
                case 2 ->
                {
                    details.put("cached_tokens", cached);
                    usage.put("cached_tokens", cached);
                }
                default -> usage.putObject("input_tokens_details").put("cached_tokens", cached).put("image_tokens", prompt / 2);
            }
            if (written > 0 || random.nextBoolean())
            {
                final boolean breakdown = oneHour > 0 || random.nextBoolean();
                if (breakdown)
                {
                    details.putObject("cache_creation").put("ephemeral_5m_input_tokens", written - oneHour)
                        .put("ephemeral_1h_input_tokens", oneHour);
                }
                if (!breakdown || random.nextBoolean())
                {
                    details.put("cache_creation_input_tokens", written);
                }
                details.put("cache_type", "ephemeral");
            }
            final long total = completion(usage, nativeMode ? "output_tokens" : "completion_tokens",
                nativeMode ? "output_tokens_details" : "completion_tokens_details", prompt, reasoning, output);
            noise(usage);
            final UsageEvents.Mapped mapped = mapped("dashscope", usage);
            assertEquals(total, billable(mapped), () -> "seed " + seed + ": " + usage);
            assertEquals(cached, mapped.get(TokenClass.CACHE_READ), () -> "seed " + seed + ": " + usage);
            assertEquals(written, mapped.get(TokenClass.CACHE_WRITE) + mapped.get(TokenClass.CACHE_WRITE_1H), () -> "seed " + seed + ": " + usage);
            assertEquals(oneHour, mapped.get(TokenClass.CACHE_WRITE_1H));
            assertEquals(reasoning, mapped.get(TokenClass.REASONING));
        }
    }

    @Test
    void moonshotZhipuAndArkClassesAddUpToTotalTokens()
    {
        final String[] formats = {"moonshot", "zhipu", "volcengine_ark"};
        for (int i = 0; i < CASES; i++)
        {
            final String format = formats[random.nextInt(formats.length)];
            final long prompt = count(256_000);
            final long cached = random.nextInt(3) == 0 ? 0 : (long)(random.nextDouble() * prompt);
            final long output = count(32_000);
            final long reasoning = (long)(random.nextDouble() * output);
            final ObjectNode usage = UsageEvents.JSON.createObjectNode();
            usage.put("prompt_tokens", prompt);
            final boolean top = "moonshot".equals(format) && random.nextBoolean();
            if (top)
            {
                put(usage, "cached_tokens", cached);
            }
            if (!top || random.nextBoolean())
            {
                put(usage.putObject("prompt_tokens_details"), "cached_tokens", cached);
            }
            final long total = completion(usage, "completion_tokens", "completion_tokens_details", prompt, reasoning, output);
            String tier = "standard";
            if ("volcengine_ark".equals(format) && random.nextBoolean())
            {
                final boolean scale = random.nextBoolean();
                usage.put("service_tier", scale ? "scale" : "default");
                tier = scale ? "priority" : "standard";
                ((ObjectNode)usage.get("prompt_tokens_details")).put("provisioned_tokens", scale ? prompt : 0);
            }
            noise(usage);
            final UsageEvents.Mapped mapped = mapped(format, usage);
            assertEquals(total, billable(mapped), () -> "seed " + seed + ": " + format + " " + usage);
            assertEquals(cached, mapped.get(TokenClass.CACHE_READ), () -> "seed " + seed + ": " + format + " " + usage);
            assertEquals(tier, mapped.tier(), () -> "seed " + seed + ": " + usage);
        }
    }

    @Test
    void newProviderUsageThatBreaksARelationIsAlwaysRefusedNamingBothNumbers()
    {
        for (int i = 0; i < CASES; i++)
        {
            final long small = random.nextInt(1_000);
            final long larger = small + 1 + random.nextInt(1_000_000);
            final ObjectNode usage = UsageEvents.JSON.createObjectNode();
            final String format;
            switch (random.nextInt(7))
            {
                case 0 ->
                {
                    format = "deepseek";
                    usage.put("prompt_tokens", small).put("prompt_cache_hit_tokens", larger).put("prompt_cache_miss_tokens", 0);
                }
                case 1 ->
                {
                    format = "deepseek";
                    usage.put("prompt_tokens", larger).put("prompt_cache_hit_tokens", larger).put("prompt_cache_miss_tokens", 0)
                        .putObject("prompt_tokens_details").put("cached_tokens", small);
                }
                case 2 ->
                {
                    format = "dashscope";
                    usage.put(random.nextBoolean() ? "prompt_tokens" : "input_tokens", small).putObject("prompt_tokens_details")
                        .put("cache_creation_input_tokens", larger);
                }
                case 3 ->
                {
                    format = "dashscope";
                    usage.put("input_tokens", larger).put("cached_tokens", small).putObject("prompt_tokens_details")
                        .put("cached_tokens", larger);
                }
                case 4 ->
                {
                    format = "moonshot";
                    usage.put("prompt_tokens", larger).put("cached_tokens", larger).putObject("prompt_tokens_details")
                        .put("cached_tokens", small);
                }
                case 5 ->
                {
                    format = "zhipu";
                    usage.put("prompt_tokens", small).putObject("prompt_tokens_details").put("cached_tokens", larger);
                }
                default ->
                {
                    format = "volcengine_ark";
                    usage.put("prompt_tokens", 1).put("completion_tokens", small).putObject("completion_tokens_details")
                        .put("reasoning_tokens", larger);
                }
            }
            final UsageEvents.Mapped mapped = events.map(format, usage);
            assertEquals(ParseOutcome.INVALID_EVENTS, mapped.outcome(), () -> "seed " + seed + ": " + format + " " + usage);
            final String message = mapped.problems().get(0).message();
            assertTrue(message.contains("(" + small + ")") && message.contains("(" + larger + ")"),
                () -> "seed " + seed + ": the problem names both numbers: " + mapped.problems());
        }
    }

    @Test
    void usageThatBreaksAProviderRelationIsAlwaysRefused()
    {
        for (int i = 0; i < CASES; i++)
        {
            final long small = random.nextInt(1_000);
            final long larger = small + 1 + random.nextInt(1_000_000);
            final ObjectNode usage = UsageEvents.JSON.createObjectNode();
            final String format;
            switch (random.nextInt(5))
            {
                case 0 ->
                {
                    format = "openai_chat";
                    usage.put("prompt_tokens", small).putObject("prompt_tokens_details").put("cached_tokens", larger);
                }
                case 1 ->
                {
                    format = "openai_responses";
                    usage.put("input_tokens", 1).put("output_tokens", small).putObject("output_tokens_details")
                        .put("reasoning_tokens", larger);
                }
                case 2 ->
                {
                    format = "gemini";
                    usage.put("promptTokenCount", small).put("cachedContentTokenCount", larger);
                }
                case 3 ->
                {
                    format = "bedrock";
                    usage.put("inputTokens", small).put("outputTokens", small).put("totalTokens", larger);
                    if (larger == 2 * small)
                    {
                        usage.put("totalTokens", larger + 1);
                    }
                }
                default ->
                {
                    format = "anthropic";
                    usage.put("input_tokens", 1).put("output_tokens", 1).put("cache_creation_input_tokens", larger)
                        .putObject("cache_creation").put("ephemeral_5m_input_tokens", small);
                }
            }
            final UsageEvents.Mapped mapped = events.map(format, usage);
            assertEquals(ParseOutcome.INVALID_EVENTS, mapped.outcome(), () -> "seed " + seed + ": " + format + " " + usage);
            final long named = usage.path("totalTokens").asLong(larger);
            assertTrue(mapped.problems().get(0).message().contains("(" + named + ")"),
                () -> "seed " + seed + ": the problem names the numbers: " + mapped.problems());
        }
    }
}
