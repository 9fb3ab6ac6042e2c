package io.tokenmeter.server.usage;

/** The provider usage schemas an event may carry as {@code usage_format} + {@code usage}. */
public enum UsageFormat
{
    OPENAI_CHAT("openai_chat"),
    OPENAI_RESPONSES("openai_responses"),
    ANTHROPIC("anthropic"),
    GEMINI("gemini"),
    BEDROCK("bedrock"),
    DEEPSEEK("deepseek"),
    DASHSCOPE("dashscope"),
    MOONSHOT("moonshot"),
    ZHIPU("zhipu"),
    VOLCENGINE_ARK("volcengine_ark");

    /** The accepted values, for error messages. */
    public static final String NAMES = "openai_chat, openai_responses, anthropic, gemini, bedrock, deepseek, dashscope, "
        + "moonshot, zhipu, volcengine_ark";

    private static final UsageFormat[] ALL = values();

    private final String jsonName;

    UsageFormat(final String jsonName)
    {
        this.jsonName = jsonName;
    }

    /** @return the name as written in {@code usage_format}. */
    public String jsonName()
    {
        return jsonName;
    }

    /** @return the format named by the characters, or null. */
    public static UsageFormat fromJson(final char[] text, final int offset, final int length)
    {
        for (final UsageFormat format : ALL)
        {
            final String name = format.jsonName;
            if (name.length() == length)
            {
                boolean same = true;
                for (int i = 0; i < length && same; i++)
                {
                    same = name.charAt(i) == text[offset + i];
                }
                if (same)
                {
                    return format;
                }
            }
        }
        return null;
    }
}
