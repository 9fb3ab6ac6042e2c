package io.tokenmeter.server.usage;

import io.tokenmeter.core.event.ServiceTier;
import io.tokenmeter.core.event.TokenClass;

/**
 * Maps a provider's usage object to the token classes, exactly as SPEC section 2's table says; the only place that
 * knows how each provider counts. Every number it uses is checked (a non-negative integer), every relation the provider
 * guarantees is checked (cached tokens inside the prompt, reasoning inside the output, the provider's own total), and
 * a failed check is a problem naming the fields and their values. Fields it does not use are left unmarked in
 * {@link UsageFields} for the caller to count. One instance per parser; allocates only to describe problems.
 */
public final class UsageMapper
{
    /** Receives the problems of one usage object. */
    @FunctionalInterface
    public interface Problems
    {
        void problem(String field, String message);
    }

    private static final long MAX = TokenClass.MAX_TOKENS_PER_EVENT;
    private static final int IN = TokenClass.INPUT.ordinal();
    private static final int CACHE_READ = TokenClass.CACHE_READ.ordinal();
    private static final int CACHE_WRITE = TokenClass.CACHE_WRITE.ordinal();
    private static final int CACHE_WRITE_1H = TokenClass.CACHE_WRITE_1H.ordinal();
    private static final int OUT = TokenClass.OUTPUT.ordinal();
    private static final int REASONING = TokenClass.REASONING.ordinal();

    private UsageFields fields;
    private String prefix;
    private Problems problems;
    private boolean failed;
    private int tierCode;

    /**
     * @param prefix   the path of the usage object in the event, for problems (e.g. {@code usage}).
     * @param tokens   receives the classes, in {@link TokenClass} order; left unspecified when a problem was found.
     * @return true when the usage maps without a problem.
     */
    public boolean map(final UsageFormat format, final UsageFields fields, final String prefix, final long[] tokens,
        final Problems problems)
    {
        this.fields = fields;
        this.prefix = prefix;
        this.problems = problems;
        this.failed = false;
        this.tierCode = -1;
        for (int i = 0; i < TokenClass.COUNT; i++)
        {
            tokens[i] = 0;
        }
        switch (format)
        {
            case OPENAI_CHAT -> openai(tokens, "prompt_tokens", "prompt_tokens_details", "completion_tokens",
                "completion_tokens_details");
            case OPENAI_RESPONSES -> openai(tokens, "input_tokens", "input_tokens_details", "output_tokens",
                "output_tokens_details");
            case ANTHROPIC -> anthropic(tokens);
            case GEMINI -> gemini(tokens);
            case BEDROCK -> bedrock(tokens);
        }
        for (int i = 0; i < TokenClass.COUNT && !failed; i++)
        {
            if (tokens[i] > MAX)
            {
                fail(prefix, "maps to " + tokens[i] + " " + TokenClass.of(i).className() + " tokens, more than " + MAX);
            }
        }
        return !failed;
    }

    /** @return the service tier code the usage itself names (Anthropic), or -1. */
    public int tierCode()
    {
        return tierCode;
    }

    /**
     * OpenAI: cached and cache-write tokens are inside the prompt count; reasoning and predicted-output tokens are inside
     * the completion count; the total is prompt + completion.
     */
    private void openai(final long[] tokens, final String promptName, final String promptDetails, final String completionName,
        final String completionDetails)
    {
        container(promptDetails);
        container(completionDetails);
        final long prompt = number(null, promptName, true);
        final long cached = number(promptDetails, "cached_tokens", false);
        final long cacheWrite = number(promptDetails, "cache_write_tokens", false);
        final long completion = number(null, completionName, false);
        final long reasoning = number(completionDetails, "reasoning_tokens", false);
        final long accepted = number(completionDetails, "accepted_prediction_tokens", false);
        final long rejected = number(completionDetails, "rejected_prediction_tokens", false);
        final long total = number(null, "total_tokens", false);
        if (failed)
        {
            return;
        }
        if (cached + cacheWrite > prompt)
        {
            fail(path(promptDetails, cacheWrite == 0 ? "cached_tokens" : "cache_write_tokens"),
                (cacheWrite == 0 ? "cached_tokens (" + cached + ")" : "cached_tokens (" + cached + ") + cache_write_tokens ("
                    + cacheWrite + ")") + " is greater than " + promptName + " (" + prompt + "): OpenAI counts them inside "
                    + promptName);
        }
        insideOutput(completionDetails, "reasoning_tokens", reasoning, completionName, completion);
        insideOutput(completionDetails, "accepted_prediction_tokens", accepted, completionName, completion);
        insideOutput(completionDetails, "rejected_prediction_tokens", rejected, completionName, completion);
        if (present(null, "total_tokens") && total != prompt + completion)
        {
            fail(path(null, "total_tokens"), "total_tokens (" + total + ") is not " + promptName + " (" + prompt + ") + "
                + completionName + " (" + completion + ") = " + (prompt + completion));
        }
        tokens[IN] = prompt - cached - cacheWrite;
        tokens[CACHE_READ] = cached;
        tokens[CACHE_WRITE] = cacheWrite;
        tokens[OUT] = completion;
        tokens[REASONING] = reasoning;
    }

    private void insideOutput(final String details, final String field, final long part, final String completionName,
        final long completion)
    {
        if (part > completion)
        {
            fail(path(details, field), field + " (" + part + ") is greater than " + completionName + " (" + completion
                + "): OpenAI counts them inside " + completionName);
        }
    }

    /**
     * Anthropic: {@code input_tokens} excludes cache reads and writes; cache writes split by lifetime in
     * {@code cache_creation} (all five-minute when it is absent); thinking is inside {@code output_tokens}; no total.
     */
    private void anthropic(final long[] tokens)
    {
        final long input = number(null, "input_tokens", true);
        final long output = number(null, "output_tokens", true);
        final long cacheRead = number(null, "cache_read_input_tokens", false);
        final long cacheCreation = number(null, "cache_creation_input_tokens", false);
        final boolean breakdown = container("cache_creation");
        final long fiveMinutes = number("cache_creation", "ephemeral_5m_input_tokens", false);
        final long oneHour = number("cache_creation", "ephemeral_1h_input_tokens", false);
        tier();
        if (failed)
        {
            return;
        }
        if (breakdown && present(null, "cache_creation_input_tokens") && cacheCreation != fiveMinutes + oneHour)
        {
            fail(path(null, "cache_creation_input_tokens"), "cache_creation_input_tokens (" + cacheCreation + ") is not "
                + "cache_creation.ephemeral_5m_input_tokens (" + fiveMinutes + ") + cache_creation.ephemeral_1h_input_tokens ("
                + oneHour + ") = " + (fiveMinutes + oneHour));
        }
        tokens[IN] = input;
        tokens[CACHE_READ] = cacheRead;
        tokens[CACHE_WRITE] = breakdown ? fiveMinutes : cacheCreation;
        tokens[CACHE_WRITE_1H] = breakdown ? oneHour : 0;
        tokens[OUT] = output;
    }

    private void tier()
    {
        final int at = fields.find(null, "service_tier");
        if (at < 0 || fields.kind[at] == UsageFields.NULL)
        {
            markUsed(at);
            return;
        }
        fields.used[at] = true;
        final String name = fields.kind[at] == UsageFields.STRING ? fields.text[at] : null;
        if ("standard".equals(name))
        {
            tierCode = ServiceTier.STANDARD.code();
        }
        else if ("priority".equals(name))
        {
            tierCode = ServiceTier.PRIORITY.code();
        }
        else if ("batch".equals(name))
        {
            tierCode = ServiceTier.BATCH.code();
        }
        else
        {
            fail(path(null, "service_tier"), "must be standard, priority or batch (Anthropic's tiers)");
        }
    }

    /**
     * Gemini: cached tokens are inside {@code promptTokenCount}; tool-use prompt tokens and thoughts are outside it and
     * outside {@code candidatesTokenCount}; thoughts are billed as output; the total is the sum of the four counts.
     */
    private void gemini(final long[] tokens)
    {
        final long prompt = number(null, "promptTokenCount", true);
        final long cached = number(null, "cachedContentTokenCount", false);
        final long candidates = number(null, "candidatesTokenCount", false);
        final long thoughts = number(null, "thoughtsTokenCount", false);
        final long toolUse = number(null, "toolUsePromptTokenCount", false);
        final long total = number(null, "totalTokenCount", false);
        if (failed)
        {
            return;
        }
        if (cached > prompt)
        {
            fail(path(null, "cachedContentTokenCount"), "cachedContentTokenCount (" + cached + ") is greater than "
                + "promptTokenCount (" + prompt + "): Gemini counts cached tokens inside promptTokenCount");
        }
        final long sum = prompt + candidates + thoughts + toolUse;
        if (present(null, "totalTokenCount") && total != sum)
        {
            fail(path(null, "totalTokenCount"), "totalTokenCount (" + total + ") is not promptTokenCount (" + prompt
                + ") + candidatesTokenCount (" + candidates + ") + thoughtsTokenCount (" + thoughts
                + ") + toolUsePromptTokenCount (" + toolUse + ") = " + sum);
        }
        tokens[IN] = prompt - cached + toolUse;
        tokens[CACHE_READ] = cached;
        tokens[OUT] = candidates + thoughts;
        tokens[REASONING] = thoughts;
    }

    /** Bedrock Converse: four disjoint counts; the total is their sum. */
    private void bedrock(final long[] tokens)
    {
        final long input = number(null, "inputTokens", true);
        final long output = number(null, "outputTokens", true);
        final long cacheRead = number(null, "cacheReadInputTokens", false);
        final long cacheWrite = number(null, "cacheWriteInputTokens", false);
        final long total = number(null, "totalTokens", false);
        if (failed)
        {
            return;
        }
        final long sum = input + output + cacheRead + cacheWrite;
        if (present(null, "totalTokens") && total != sum)
        {
            fail(path(null, "totalTokens"), "totalTokens (" + total + ") is not inputTokens (" + input + ") + outputTokens ("
                + output + ") + cacheReadInputTokens (" + cacheRead + ") + cacheWriteInputTokens (" + cacheWrite + ") = " + sum);
        }
        tokens[IN] = input;
        tokens[CACHE_READ] = cacheRead;
        tokens[CACHE_WRITE] = cacheWrite;
        tokens[OUT] = output;
    }

    /**
     * @return the count at {@code parent.field}, 0 when absent or null; marks it used. A value that is not an integer
     *     in 0..10^12 is a problem.
     */
    private long number(final String parent, final String field, final boolean required)
    {
        final int at = fields.find(parent, field);
        markUsed(at);
        if (at < 0 || fields.kind[at] == UsageFields.NULL)
        {
            if (required)
            {
                fail(path(parent, field), "is required in this usage format");
            }
            return 0;
        }
        final byte kind = fields.kind[at];
        final long value = fields.value[at];
        if (kind == UsageFields.BIG || kind == UsageFields.INT && value > MAX)
        {
            fail(path(parent, field), "must be at most " + MAX);
            return 0;
        }
        if (kind != UsageFields.INT || value < 0)
        {
            fail(path(parent, field), "must be a non-negative integer");
            return 0;
        }
        return value;
    }

    private boolean present(final String parent, final String field)
    {
        final int at = fields.find(parent, field);
        return at >= 0 && fields.kind[at] != UsageFields.NULL;
    }

    /** Marks a known nested object used; @return true when it is an object (null or absent: false). */
    private boolean container(final String field)
    {
        final int at = fields.find(null, field);
        markUsed(at);
        if (at < 0 || fields.kind[at] == UsageFields.NULL)
        {
            return false;
        }
        if (fields.kind[at] != UsageFields.OBJECT)
        {
            fail(path(null, field), "must be an object");
            return false;
        }
        return true;
    }

    private void markUsed(final int at)
    {
        if (at >= 0)
        {
            fields.used[at] = true;
        }
    }

    private String path(final String parent, final String field)
    {
        return prefix + "." + UsageFields.path(parent, field);
    }

    private void fail(final String field, final String message)
    {
        failed = true;
        problems.problem(field, message);
    }
}
