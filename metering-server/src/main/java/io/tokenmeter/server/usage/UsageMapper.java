package io.tokenmeter.server.usage;

import io.tokenmeter.core.event.ServiceTier;
import io.tokenmeter.core.event.TokenClass;

/**
 * Maps a provider's usage object to the token classes, exactly as SPEC section 2's table and section 13 say; the only
 * place that knows how each provider counts (docs/usage/ has one page per format). Every number it uses is checked (a
 * non-negative integer), every relation the provider guarantees is checked (cached tokens inside the prompt, reasoning
 * inside the output, the provider's own total, one count reported in two places agreeing with itself), and a failed
 * check is a problem naming the fields and their values. Fields it does not use are left unmarked in
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

    private static final String PROMPT = "prompt_tokens";
    private static final String COMPLETION = "completion_tokens";
    private static final String PROMPT_DETAILS = "prompt_tokens_details";
    private static final String COMPLETION_DETAILS = "completion_tokens_details";
    private static final String CACHED = "cached_tokens";
    private static final String TIER = "service_tier";

    private UsageFields fields;
    private String prefix;
    private Problems problems;
    private boolean failed;
    private int tierCode;
    /** The counts every Chat Completions-shaped object has, read by {@link #readChat}. */
    private long prompt;
    private long completion;
    private long reasoning;
    private long total;

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
            case DEEPSEEK -> deepseek(tokens);
            case DASHSCOPE -> dashscope(tokens);
            case MOONSHOT -> moonshot(tokens);
            case ZHIPU -> cachedChat(tokens, "Zhipu");
            case VOLCENGINE_ARK -> ark(tokens);
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

    /** @return the service tier code the usage itself names (Anthropic, Volcengine Ark), or -1. */
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
        readChat(promptName, completionName, completionDetails);
        final long cached = number(promptDetails, CACHED, false);
        final long cacheWrite = number(promptDetails, "cache_write_tokens", false);
        final long accepted = number(completionDetails, "accepted_prediction_tokens", false);
        final long rejected = number(completionDetails, "rejected_prediction_tokens", false);
        if (failed)
        {
            return;
        }
        if (cached + cacheWrite > prompt)
        {
            fail(path(promptDetails, cacheWrite == 0 ? CACHED : "cache_write_tokens"),
                (cacheWrite == 0 ? "cached_tokens (" + cached + ")" : "cached_tokens (" + cached + ") + cache_write_tokens ("
                    + cacheWrite + ")") + " is greater than " + promptName + " (" + prompt + "): OpenAI counts them inside "
                    + promptName);
        }
        insideOutput(completionDetails, "reasoning_tokens", reasoning, completionName, "OpenAI");
        insideOutput(completionDetails, "accepted_prediction_tokens", accepted, completionName, "OpenAI");
        insideOutput(completionDetails, "rejected_prediction_tokens", rejected, completionName, "OpenAI");
        totalIsPromptPlusCompletion(promptName, completionName);
        tokens[IN] = prompt - cached - cacheWrite;
        tokens[CACHE_READ] = cached;
        tokens[CACHE_WRITE] = cacheWrite;
        tokens[OUT] = completion;
        tokens[REASONING] = reasoning;
    }

    /** Reads the prompt (required), completion, reasoning and total counts of a Chat Completions-shaped object. */
    private void readChat(final String promptName, final String completionName, final String completionDetails)
    {
        prompt = number(null, promptName, true);
        completion = number(null, completionName, false);
        reasoning = number(completionDetails, "reasoning_tokens", false);
        total = number(null, "total_tokens", false);
    }

    private void insideOutput(final String details, final String field, final long part, final String completionName,
        final String provider)
    {
        if (part > completion)
        {
            fail(path(details, field), field + " (" + part + ") is greater than " + completionName + " (" + completion
                + "): " + provider + " counts them inside " + completionName);
        }
    }

    private void totalIsPromptPlusCompletion(final String promptName, final String completionName)
    {
        if (present(null, "total_tokens") && total != prompt + completion)
        {
            fail(path(null, "total_tokens"), "total_tokens (" + total + ") is not " + promptName + " (" + prompt + ") + "
                + completionName + " (" + completion + ") = " + (prompt + completion));
        }
    }

    /** Fails when the cached part {@code parent.field} is more than the prompt count, which holds it. */
    private void insidePrompt(final String parent, final String field, final long cached, final String promptName,
        final String provider)
    {
        if (cached > prompt)
        {
            fail(path(parent, field), UsageFields.path(parent, field) + " (" + cached + ") is greater than " + promptName
                + " (" + prompt + "): " + provider + " counts cached tokens inside " + promptName);
        }
    }

    /** Fails when a count reported in a second place differs from the one the mapping takes. */
    private void sameCount(final String parent, final String field, final long value, final String takenParent,
        final String takenField, final long taken)
    {
        if (value != taken)
        {
            fail(path(parent, field), UsageFields.path(parent, field) + " (" + value + ") is not "
                + UsageFields.path(takenParent, takenField) + " (" + taken + "): both count the prompt's cache hits, so they "
                + "must agree");
        }
    }

    /**
     * Zhipu and Volcengine Ark, Chat Completions shaped: cached tokens ({@code prompt_tokens_details.cached_tokens}) are
     * inside the prompt count, reasoning inside the completion count, the total is prompt + completion.
     */
    private void cachedChat(final long[] tokens, final String provider)
    {
        container(PROMPT_DETAILS);
        container(COMPLETION_DETAILS);
        readChat(PROMPT, COMPLETION, COMPLETION_DETAILS);
        final long cached = number(PROMPT_DETAILS, CACHED, false);
        if (failed)
        {
            return;
        }
        insidePrompt(PROMPT_DETAILS, CACHED, cached, PROMPT, provider);
        insideOutput(COMPLETION_DETAILS, "reasoning_tokens", reasoning, COMPLETION, provider);
        totalIsPromptPlusCompletion(PROMPT, COMPLETION);
        tokens[IN] = prompt - cached;
        tokens[CACHE_READ] = cached;
        tokens[OUT] = completion;
        tokens[REASONING] = reasoning;
    }

    /**
     * Volcengine Ark: as {@link #cachedChat}, and the tier that served the request, which Ark returns at the top of the
     * response and the gateway copies into the usage object: {@code default} is standard, {@code scale} (the TPM
     * guarantee package) is priority. Its {@code provisioned_tokens} are a quota count, not a class: left unmarked.
     */
    private void ark(final long[] tokens)
    {
        cachedChat(tokens, "Ark");
        final int at = fields.find(null, TIER);
        if (at < 0 || fields.kind[at] == UsageFields.NULL)
        {
            markUsed(at);
            return;
        }
        fields.used[at] = true;
        final String name = fields.kind[at] == UsageFields.STRING ? fields.text[at] : null;
        if ("default".equals(name))
        {
            tierCode = ServiceTier.STANDARD.code();
        }
        else if ("scale".equals(name))
        {
            tierCode = ServiceTier.PRIORITY.code();
        }
        else
        {
            fail(path(null, TIER), "must be default or scale: the tier Ark's response says served the request");
        }
    }

    /**
     * DeepSeek: the prompt is split into {@code prompt_cache_hit_tokens} (cache read) and {@code prompt_cache_miss_tokens}
     * (input), which add up to {@code prompt_tokens}; {@code prompt_tokens_details.cached_tokens} repeats the hits and
     * must agree. Without the split (other hosts of DeepSeek models), the cached tokens are inside the prompt, as at
     * OpenAI. Reasoning ({@code deepseek-reasoner}) is inside the completion count.
     */
    private void deepseek(final long[] tokens)
    {
        container(PROMPT_DETAILS);
        container(COMPLETION_DETAILS);
        readChat(PROMPT, COMPLETION, COMPLETION_DETAILS);
        final long hit = number(null, "prompt_cache_hit_tokens", false);
        final long miss = number(null, "prompt_cache_miss_tokens", false);
        final long cached = number(PROMPT_DETAILS, CACHED, false);
        if (failed)
        {
            return;
        }
        final boolean split = present(null, "prompt_cache_hit_tokens") || present(null, "prompt_cache_miss_tokens");
        if (split)
        {
            if (hit + miss != prompt)
            {
                fail(path(null, "prompt_cache_hit_tokens"), "prompt_cache_hit_tokens (" + hit + ") + prompt_cache_miss_tokens ("
                    + miss + ") = " + (hit + miss) + " is not prompt_tokens (" + prompt + "): DeepSeek splits the prompt into "
                    + "cache hits and misses");
            }
            if (present(PROMPT_DETAILS, CACHED))
            {
                sameCount(PROMPT_DETAILS, CACHED, cached, null, "prompt_cache_hit_tokens", hit);
            }
        }
        else
        {
            insidePrompt(PROMPT_DETAILS, CACHED, cached, PROMPT, "DeepSeek");
        }
        insideOutput(COMPLETION_DETAILS, "reasoning_tokens", reasoning, COMPLETION, "DeepSeek");
        totalIsPromptPlusCompletion(PROMPT, COMPLETION);
        tokens[IN] = split ? miss : prompt - cached;
        tokens[CACHE_READ] = split ? hit : cached;
        tokens[OUT] = completion;
        tokens[REASONING] = reasoning;
    }

    /**
     * Moonshot (Kimi): the cache hits are the top-level {@code cached_tokens}, inside {@code prompt_tokens}; an
     * OpenAI-style {@code prompt_tokens_details.cached_tokens} is taken when the top-level count is absent and must agree
     * with it when both are given. Reasoning is inside the completion count.
     */
    private void moonshot(final long[] tokens)
    {
        container(PROMPT_DETAILS);
        container(COMPLETION_DETAILS);
        readChat(PROMPT, COMPLETION, COMPLETION_DETAILS);
        final long top = number(null, CACHED, false);
        final long details = number(PROMPT_DETAILS, CACHED, false);
        if (failed)
        {
            return;
        }
        final boolean atTop = present(null, CACHED);
        if (atTop && present(PROMPT_DETAILS, CACHED))
        {
            sameCount(PROMPT_DETAILS, CACHED, details, null, CACHED, top);
        }
        final long cached = atTop ? top : details;
        insidePrompt(atTop ? null : PROMPT_DETAILS, CACHED, cached, PROMPT, "Moonshot");
        insideOutput(COMPLETION_DETAILS, "reasoning_tokens", reasoning, COMPLETION, "Moonshot");
        totalIsPromptPlusCompletion(PROMPT, COMPLETION);
        tokens[IN] = prompt - cached;
        tokens[CACHE_READ] = cached;
        tokens[OUT] = completion;
        tokens[REASONING] = reasoning;
    }

    /**
     * DashScope (Alibaba Model Studio), in compatible mode ({@code prompt_tokens}, {@code completion_tokens}) or native
     * mode ({@code input_tokens}, {@code output_tokens}), told apart by which prompt count is given. Cache hits
     * ({@code cached_tokens}) and explicit-cache writes ({@code cache_creation_input_tokens}, split by lifetime in
     * {@code cache_creation}) are inside the prompt count. The hits are read from {@code prompt_tokens_details}, else
     * (native) {@code input_tokens_details}, else the top of the usage (vision models); every place given must agree.
     * Reasoning is inside the output count; the total is prompt + output. {@code cache_type} is left unmarked: explicit
     * hits are priced apart from implicit ones, and the ignored-field count shows how many there are.
     */
    private void dashscope(final long[] tokens)
    {
        final boolean nativeMode = present(null, "input_tokens");
        if (nativeMode && present(null, PROMPT))
        {
            fail(path(null, "input_tokens"), "must not be given with prompt_tokens: DashScope's usage is either compatible "
                + "mode (prompt_tokens, completion_tokens) or native mode (input_tokens, output_tokens)");
            return;
        }
        if (!nativeMode && !present(null, PROMPT))
        {
            markUsed(fields.find(null, PROMPT));
            fail(path(null, PROMPT), "is required in this usage format (input_tokens in DashScope's native mode)");
            return;
        }
        final String promptName = nativeMode ? "input_tokens" : PROMPT;
        final String completionName = nativeMode ? "output_tokens" : COMPLETION;
        final String completionDetails = nativeMode ? "output_tokens_details" : COMPLETION_DETAILS;
        container(PROMPT_DETAILS);
        container(completionDetails);
        if (nativeMode)
        {
            container("input_tokens_details");
        }
        readChat(promptName, completionName, completionDetails);
        final long detailsCached = number(PROMPT_DETAILS, CACHED, false);
        final long inputDetailsCached = nativeMode ? number("input_tokens_details", CACHED, false) : 0;
        final long topCached = number(null, CACHED, false);
        final long creation = number(PROMPT_DETAILS, "cache_creation_input_tokens", false);
        final boolean breakdown = container(PROMPT_DETAILS, "cache_creation");
        final long fiveMinutes = number(PROMPT_DETAILS, "cache_creation", "ephemeral_5m_input_tokens");
        final long oneHour = number(PROMPT_DETAILS, "cache_creation", "ephemeral_1h_input_tokens");
        if (failed)
        {
            return;
        }
        final boolean inDetails = present(PROMPT_DETAILS, CACHED);
        final boolean inInputDetails = nativeMode && present("input_tokens_details", CACHED);
        final long cached = inDetails ? detailsCached : inInputDetails ? inputDetailsCached : topCached;
        final String cachedParent = inDetails ? PROMPT_DETAILS : inInputDetails ? "input_tokens_details" : null;
        if (inDetails && inInputDetails)
        {
            sameCount("input_tokens_details", CACHED, inputDetailsCached, PROMPT_DETAILS, CACHED, cached);
        }
        if ((inDetails || inInputDetails) && present(null, CACHED))
        {
            sameCount(null, CACHED, topCached, cachedParent, CACHED, cached);
        }
        if (breakdown && present(PROMPT_DETAILS, "cache_creation_input_tokens") && creation != fiveMinutes + oneHour)
        {
            fail(path(PROMPT_DETAILS, "cache_creation_input_tokens"), "cache_creation_input_tokens (" + creation + ") is not "
                + "cache_creation.ephemeral_5m_input_tokens (" + fiveMinutes + ") + cache_creation.ephemeral_1h_input_tokens ("
                + oneHour + ") = " + (fiveMinutes + oneHour));
        }
        final long written = breakdown ? fiveMinutes + oneHour : creation;
        if (cached + written > prompt)
        {
            final String writes = written == 0 ? "" : " + cache_creation_input_tokens (" + written + ")";
            fail(written == 0 ? path(cachedParent, CACHED) : path(PROMPT_DETAILS, "cache_creation_input_tokens"),
                UsageFields.path(cachedParent, CACHED) + " (" + cached + ")" + writes + " is greater than " + promptName + " ("
                    + prompt + "): DashScope counts them inside " + promptName);
        }
        insideOutput(completionDetails, "reasoning_tokens", reasoning, completionName, "DashScope");
        totalIsPromptPlusCompletion(promptName, completionName);
        tokens[IN] = prompt - cached - written;
        tokens[CACHE_READ] = cached;
        tokens[CACHE_WRITE] = breakdown ? fiveMinutes : creation;
        tokens[CACHE_WRITE_1H] = breakdown ? oneHour : 0;
        tokens[OUT] = completion;
        tokens[REASONING] = reasoning;
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
        if (at < 0 || fields.kind[at] == UsageFields.NULL)
        {
            markUsed(at);
            if (required)
            {
                fail(path(parent, field), "is required in this usage format");
            }
            return 0;
        }
        return count(at, null, parent, field);
    }

    /** @return the optional count at {@code outer.parent.field}, as {@link #number(String, String, boolean)}. */
    private long number(final String outer, final String parent, final String field)
    {
        final int at = fields.find(outer, parent, field);
        if (at < 0 || fields.kind[at] == UsageFields.NULL)
        {
            markUsed(at);
            return 0;
        }
        return count(at, outer, parent, field);
    }

    /** @return the count of entry {@code at}, marked used; its path is built only to describe a problem. */
    private long count(final int at, final String outer, final String parent, final String field)
    {
        fields.used[at] = true;
        final byte kind = fields.kind[at];
        final long value = fields.value[at];
        if (kind == UsageFields.BIG || kind == UsageFields.INT && value > MAX)
        {
            fail(prefix + "." + UsageFields.path(outer, parent, field), "must be at most " + MAX);
            return 0;
        }
        if (kind != UsageFields.INT || value < 0)
        {
            fail(prefix + "." + UsageFields.path(outer, parent, field), "must be a non-negative integer");
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
        return container(null, field);
    }

    /** Marks the known object {@code parent.field} used; @return true when it is an object (null or absent: false). */
    private boolean container(final String parent, final String field)
    {
        final int at = fields.find(parent, field);
        markUsed(at);
        if (at < 0 || fields.kind[at] == UsageFields.NULL)
        {
            return false;
        }
        if (fields.kind[at] != UsageFields.OBJECT)
        {
            fail(path(parent, field), "must be an object");
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
