package io.tokenmeter.server.usage;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.tokenmeter.core.event.TokenClass;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The mapped path allocates nothing: mapping a usage object that maps without a problem, in every format, creates no
 * object (problems are the only thing described with new strings). Measured with the JVM's per-thread allocation
 * counter over many mappings after a warm-up, so one stray allocation per mapping would show as thousands of bytes.
 */
class UsageMapperAllocationTest
{
    private static final int MAPPINGS = 20_000;

    /** A usage object per format, as the docs pages show them (a nested cache breakdown and a served tier included). */
    private static final Map<UsageFormat, String> USAGE = Map.of(
        UsageFormat.OPENAI_CHAT, "{\"prompt_tokens\":2006,\"completion_tokens\":300,\"total_tokens\":2306,\"prompt_tokens_details\":"
            + "{\"cached_tokens\":1920,\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":192}}",
        UsageFormat.OPENAI_RESPONSES, "{\"input_tokens\":10,\"output_tokens\":5,\"input_tokens_details\":{\"cached_tokens\":4}}",
        UsageFormat.ANTHROPIC, "{\"input_tokens\":12,\"cache_creation_input_tokens\":3000,\"cache_read_input_tokens\":45000,"
            + "\"cache_creation\":{\"ephemeral_5m_input_tokens\":1000,\"ephemeral_1h_input_tokens\":2000},\"output_tokens\":812,"
            + "\"service_tier\":\"priority\"}",
        UsageFormat.GEMINI, "{\"promptTokenCount\":12840,\"candidatesTokenCount\":412,\"totalTokenCount\":14052,"
            + "\"cachedContentTokenCount\":8192,\"thoughtsTokenCount\":800}",
        UsageFormat.BEDROCK, "{\"inputTokens\":4,\"outputTokens\":171,\"cacheReadInputTokens\":10,\"cacheWriteInputTokens\":1754,"
            + "\"totalTokens\":1939}",
        UsageFormat.DEEPSEEK, "{\"prompt_tokens\":2386,\"completion_tokens\":152,\"total_tokens\":2538,\"prompt_tokens_details\":"
            + "{\"cached_tokens\":2304},\"prompt_cache_hit_tokens\":2304,\"prompt_cache_miss_tokens\":82}",
        UsageFormat.DASHSCOPE, "{\"prompt_tokens\":29719,\"completion_tokens\":435,\"total_tokens\":30154,\"completion_tokens_details\":"
            + "{\"reasoning_tokens\":382},\"prompt_tokens_details\":{\"cache_creation\":{\"ephemeral_5m_input_tokens\":29713},"
            + "\"cache_creation_input_tokens\":29713,\"cache_type\":\"ephemeral\",\"cached_tokens\":0},\"cached_tokens\":0}",
        UsageFormat.MOONSHOT, "{\"prompt_tokens\":1536,\"completion_tokens\":12,\"total_tokens\":1548,\"cached_tokens\":1280,"
            + "\"prompt_tokens_details\":{\"cached_tokens\":1280}}",
        UsageFormat.ZHIPU, "{\"prompt_tokens\":1520,\"completion_tokens\":310,\"total_tokens\":1830,\"prompt_tokens_details\":"
            + "{\"cached_tokens\":1280}}",
        UsageFormat.VOLCENGINE_ARK, "{\"prompt_tokens\":812,\"completion_tokens\":2304,\"total_tokens\":3116,\"prompt_tokens_details\":"
            + "{\"cached_tokens\":512,\"provisioned_tokens\":812},\"completion_tokens_details\":{\"reasoning_tokens\":1850},"
            + "\"service_tier\":\"scale\"}");

    @Test
    void mappingAUsageObjectAllocatesNothingInAnyFormat() throws Exception
    {
        final com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        assertTrue(threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled(), "the JVM counts allocations");
        final UsageMapper mapper = new UsageMapper();
        final long[] tokens = new long[TokenClass.COUNT];
        final String[] problem = new String[1];
        final UsageMapper.Problems problems = (field, message) -> problem[0] = field + ": " + message;
        assertEquals(UsageFormat.values().length, USAGE.size(), "every format is measured");
        for (final UsageFormat format : UsageFormat.values())
        {
            final UsageFields fields = read(USAGE.get(format));
            for (int i = 0; i < MAPPINGS; i++)
            {
                mapper.map(format, fields, "usage", tokens, problems);
            }
            final long before = threads.getThreadAllocatedBytes(Thread.currentThread().getId());
            boolean mapped = true;
            for (int i = 0; i < MAPPINGS; i++)
            {
                mapped &= mapper.map(format, fields, "usage", tokens, problems);
            }
            final long allocated = threads.getThreadAllocatedBytes(Thread.currentThread().getId()) - before;
            assertTrue(mapped, format + " maps");
            assertNull(problem[0], format + " has no problem");
            assertTrue(allocated < 1_024, format + " allocated " + allocated + " bytes in " + MAPPINGS + " mappings");
        }
    }

    private static UsageFields read(final String json) throws Exception
    {
        try (JsonParser parser = new JsonFactory().createParser(json))
        {
            assertEquals(JsonToken.START_OBJECT, parser.nextToken());
            final UsageFields fields = new UsageFields();
            assertNull(fields.read(parser));
            return fields;
        }
    }
}
