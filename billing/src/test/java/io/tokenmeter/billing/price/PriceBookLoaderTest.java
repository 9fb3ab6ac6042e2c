package io.tokenmeter.billing.price;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PriceBookLoaderTest
{
    static PriceBook json(final String text) throws PriceBookException
    {
        return PriceBookLoader.parse(text.getBytes(StandardCharsets.UTF_8), PriceBookLoader.Format.JSON);
    }

    private static List<String> problems(final String text)
    {
        return assertThrows(PriceBookException.class, () -> json(text)).problems();
    }

    private static void assertProblem(final List<String> problems, final String expected)
    {
        assertTrue(problems.stream().anyMatch(p -> p.startsWith(expected)), () -> "no problem starting '" + expected + "' in " + problems);
    }

    /** Every Chinese model the shipped book prices in yuan: each must resolve from the CNY section for a CNY tenant. */
    private static final List<String> CHINESE_MODELS = List.of("deepseek-chat", "deepseek-reasoner", "deepseek-v4-flash*",
        "deepseek-flash*", "deepseek-v4-pro*", "qwen-max*", "qwen-plus*", "qwen-turbo*", "qwen-flash*", "qwen3-max*",
        "qwen3-235b-a22b*", "qwen3-235b-a22b-thinking-2507", "qwen3-32b*", "qwen3-30b-a3b*", "qwen3-30b-a3b-thinking-2507",
        "qwen3-coder-plus*", "qwen3-coder-flash*", "kimi-k2-0711-preview", "kimi-k2-0905-preview", "kimi-k2-thinking",
        "kimi-k2-turbo-preview", "kimi-k2-thinking-turbo", "glm-4.5", "glm-4.5-air", "glm-4.5-flash", "glm-4.6", "glm-4.7",
        "doubao-seed-1-6*", "doubao-seed-1-6-thinking*", "doubao-seed-1-6-vision*", "doubao-seed-1-6-flash*",
        "doubao-seed-1-6-lite*");

    /** @return the shipped book with a tenant billed in {@code currency} added to it, as an operator's own book would. */
    static PriceBook shippedWithTenant(final String tenant, final String currency) throws Exception
    {
        final ObjectNode root = (ObjectNode) shippedTree();
        root.putObject("tenants").putObject(tenant).put("currency", currency);
        return json(new ObjectMapper().writeValueAsString(root));
    }

    /** @return the shipped YAML as a tree, to read what the file says independently of the loader. */
    static JsonNode shippedTree() throws Exception
    {
        try (InputStream in = PriceBookLoader.class.getResourceAsStream(PriceBookLoader.SHIPPED_RESOURCE))
        {
            return new YAMLMapper().readTree(in);
        }
    }

    @Test
    void shippedBookLoadsAndPricesWellKnownModels()
    {
        final PriceBook book = PriceBookLoader.shipped();
        assertEquals("USD", book.currency(), "USD first: the default of a tenant whose terms name no currency");
        assertEquals(Set.of("USD", "CNY"), book.currencies());
        final long hour = java.time.Instant.parse("2025-10-01T00:00:00Z").getEpochSecond() / 3600;
        for (final String model : List.of("gpt-4o-2024-08-06", "gpt-4o-mini", "gpt-5", "o3", "claude-sonnet-4-5-20250929",
            "claude-opus-4-1-20250805", "gemini-2.5-pro", "gemini-2.5-flash", "deepseek-chat", "llama-3.3-70b-versatile"))
        {
            assertNotNull(book.resolve("anyone", model, hour), model);
        }
        assertEquals("gpt-4o-mini*", book.resolve("t", "gpt-4o-mini-2024-07-18", hour).entryKey(), "longer pattern wins");
        assertEquals("0.15", book.resolve("t", "gpt-4o-mini-2024-07-18", hour).version().rate(0, false).toPlainString());
        assertEquals("2.00", book.resolve("t", "o3-2025-04-16", hour).version().rate(0, false).toPlainString(), "o3 after the June 2025 cut");
        assertEquals("0.28", book.resolve("t", "deepseek-chat", hour).version().rate(0, false).toPlainString(), "V3.2 in 2025-10");
    }

    @Test
    void shippedBookNoLongerPricesNewerModelsAtAnOlderFamilysRates()
    {
        final PriceBook book = PriceBookLoader.shipped();
        final long hour = java.time.Instant.parse("2026-11-20T08:00:00Z").getEpochSecond() / 3600;
        assertEquals("5.00", book.resolve("t", "claude-opus-4-5-20251101", hour).version().rate(0, false).toPlainString(),
            "Opus 4.5 costs $5, not Opus 4's $15");
        assertEquals("15.00", book.resolve("t", "claude-opus-4-1-20250805", hour).version().rate(0, false).toPlainString());
        assertEquals("20.00", book.resolve("t", "o3-pro-2025-06-10", hour).version().rate(0, false).toPlainString());
        assertEquals("gpt-5-*", book.resolve("t", "gpt-5-2025-08-07", hour).entryKey());
        assertEquals("15.00", book.resolve("t", "gpt-5-pro", hour).version().rate(0, false).toPlainString());
        assertNull(book.resolve("t", "gpt-5.5", hour), "gpt-5.5 is not GPT-5: unpriced (with a warning) until priced");
        assertEquals("0.14", book.resolve("t", "deepseek-chat", java.time.Instant.parse("2026-05-01T00:00:00Z")
            .getEpochSecond() / 3600).version().rate(0, false).toPlainString(), "deepseek-chat is V4-Flash from 2026-04-24");
    }

    @Test
    void aCnyTenantResolvesEveryChineseModelFromTheCnySection() throws Exception
    {
        final PriceBook book = shippedWithTenant("hangzhou", "CNY");
        final JsonNode cny = shippedTree().get("currencies").get("CNY").get("models");
        final JsonNode usd = shippedTree().get("currencies").get("USD").get("models");
        final List<String> keys = new java.util.ArrayList<>();
        cny.fieldNames().forEachRemaining(keys::add);
        assertEquals(CHINESE_MODELS, keys, "the CNY section's entries, in the order written");
        for (final String key : CHINESE_MODELS)
        {
            final String model = key.endsWith("*") ? key.substring(0, key.length() - 1) + "-test" : key;
            final JsonNode versions = cny.get(key);
            for (final JsonNode written : versions)
            {
                final long hour = java.time.Instant.parse(written.get("effective_from").asText()).getEpochSecond() / 3600;
                final PriceBook.Resolved resolved = book.resolve("hangzhou", model, hour);
                assertNotNull(resolved, model + " at " + written.get("effective_from").asText());
                assertEquals(PriceBook.Resolved.GLOBAL, resolved.scope(), model);
                assertEquals(key, resolved.entryKey(), model);
                assertEquals(written.get("per_million").get("input").asText(), resolved.version().rate(0, false).toPlainString(),
                    model + " priced from the CNY section at " + written.get("effective_from").asText());
                assertEquals(written.get("per_million").get("output").asText(), resolved.version().rate(4, false).toPlainString(),
                    model);
                final PriceBook.Resolved usdResolved = book.resolve("acme", model, hour);
                if (usd.has(key))
                {
                    assertNotNull(usdResolved, model + " has a USD price too");
                }
                else
                {
                    assertTrue(usdResolved == null || !usdResolved.entryKey().equals(key), model + " has no USD price");
                }
            }
        }
        final long nov = java.time.Instant.parse("2026-11-20T08:00:00Z").getEpochSecond() / 3600;
        assertEquals("0.80", book.resolve("hangzhou", "qwen-plus", nov).version().rate(0, false).toPlainString());
        assertEquals("2.40", book.resolve("hangzhou", "qwen-plus", nov).version().rate(0, true).toPlainString(),
            "qwen-plus above 128K");
        assertEquals("0.40", book.resolve("acme", "qwen-plus", nov).version().rate(0, false).toPlainString(),
            "a USD tenant gets the international price, never a conversion");
        assertEquals("4.50", book.resolve("hangzhou", "deepseek-v4-pro", nov).version().rate(0, false).toPlainString(),
            "off-peak since 2026-08-16");
        assertEquals("doubao-seed-1-6-flash*", book.resolve("hangzhou", "doubao-seed-1-6-flash-250828", nov).entryKey());
        assertNull(book.resolve("acme", "doubao-seed-1-6-251015", nov), "Doubao has no USD price in the book");
        assertNull(book.resolve("hangzhou", "gpt-4o", nov), "gpt-4o has no CNY price: never converted");
    }

    @Test
    void yamlAndJsonOfTheSameBookRecordTheSameJson() throws Exception
    {
        final PriceBook fromJson = json("{\"currency\":\"USD\",\"models\":{\"m\":[{\"effective_from\":\"2025-01-01T00:00:00Z\","
            + "\"per_million\":{\"input\":\"1.00\",\"output\":\"2.00\"}}]}}");
        final PriceBook fromYaml = PriceBookLoader.parse(("currency: USD\nmodels:\n  m:\n    - effective_from: \"2025-01-01T00:00:00Z\"\n"
            + "      per_million: {input: \"1.00\", output: \"2.00\"}\n").getBytes(StandardCharsets.UTF_8), PriceBookLoader.Format.YAML);
        assertArrayEquals(fromJson.recordedJson(), fromYaml.recordedJson());
        assertEquals(fromJson.sha256(), fromYaml.sha256());
        assertEquals(fromJson.sha256(), json(fromJson.recordedJsonText()).sha256(), "the recorded form reloads to the same book");
    }

    @Test
    void everyProblemNamesModelVersionAndField()
    {
        final List<String> problems = problems("{\"currency\":\"USD\",\"colour\":\"red\",\"models\":{"
            + "\"gpt-4o*\":[{\"effective_from\":\"2025-01-01T00:00:00Z\",\"per_million\":{\"input\":\"2.50\",\"output\":\"10\"}},"
            + "{\"effective_from\":\"2025-02-01T00:30:00Z\",\"per_million\":{\"input\":2.5,\"output\":\"x\",\"reasoning\":\"1\"},"
            + "\"service_tier_multiplier\":{\"turbo\":\"2\"},\"notes\":\"?\"}],"
            + "\"gpt*4\":[{\"effective_from\":\"2025-01-01T00:00:00Z\",\"per_million\":{\"output\":\"1\"}}]}}");
        assertProblem(problems, "colour: is not a known field");
        assertProblem(problems, "models.\"gpt-4o*\"[1].effective_from: '2025-02-01T00:30:00Z' is not on a whole hour");
        assertProblem(problems, "models.\"gpt-4o*\"[1].per_million.input: must be a decimal string");
        assertProblem(problems, "models.\"gpt-4o*\"[1].per_million.output: 'x' is not a non-negative decimal");
        assertProblem(problems, "models.\"gpt-4o*\"[1].per_million.reasoning: reasoning tokens are part of output");
        assertProblem(problems, "models.\"gpt-4o*\"[1].service_tier_multiplier.turbo: is not a service tier");
        assertProblem(problems, "models.\"gpt-4o*\"[1].notes: is not a known field");
        assertProblem(problems, "models.\"gpt*4\": is not a model name");
        assertProblem(problems, "models.\"gpt*4\"[0].per_million.input: is required");
        assertEquals(9, problems.size(), problems.toString());
    }

    @Test
    void refusesBadCurrencyDuplicateVersionsAndDiscountsAboveHundred()
    {
        final List<String> problems = problems("{\"currency\":\"XYZ\",\"models\":{\"m\":["
            + "{\"effective_from\":\"2025-01-01T00:00:00Z\",\"per_million\":{\"input\":\"1\",\"output\":\"1\"}},"
            + "{\"effective_from\":\"2025-01-01T01:00:00+01:00\",\"per_million\":{\"input\":\"1\",\"output\":\"1\"}}]},"
            + "\"tenants\":{\"acme\":{\"discount_percent\":\"101\"},\"bad tenant\":{}}}");
        assertProblem(problems, "currency: 'XYZ' is not an ISO 4217 currency code");
        assertProblem(problems, "models.\"m\"[1].effective_from: 2025-01-01T00:00:00Z is used by another version");
        assertProblem(problems, "tenants.\"acme\".discount_percent: must be between 0 and 100");
        assertProblem(problems, "tenants.\"bad tenant\": is not a tenant name");
    }

    @Test
    void refusesMissingPartsAndMalformedDocuments()
    {
        assertProblem(problems("{}"), "currency: is required");
        assertProblem(problems("{\"currency\":\"USD\"}"), "models: is required");
        assertProblem(problems("{\"currency\":\"USD\",\"models\":{\"m\":[]}}"), "models.\"m\": must be a non-empty list");
        assertProblem(problems("{\"currency\":\"USD\",\"models\":{\"m\":[{\"per_million\":{\"input\":\"1\",\"output\":\"1\"}}]}}"),
            "models.\"m\"[0].effective_from: is required");
        assertProblem(problems("{\"currency\":\"USD\",\"models\":{\"m\":[{\"effective_from\":\"2025-01-01T00:00:00Z\","
            + "\"per_million\":{\"input\":\"1\",\"output\":\"1\"},\"long_context\":{\"per_million\":{}}}]}}"),
            "models.\"m\"[0].long_context.above_input_tokens: is required");
        assertProblem(problems("{\"currency\":\"USD\",\"models\":{},\"currency\":\"EUR\"}"), "not valid JSON");
        assertProblem(problems("[1,2]"), "the book must be an object");
        assertProblem(problems("{\"currency\":\"USD\",\"models\":{\"m\":[{\"effective_from\":\"2025-01-01T00:00:00Z\","
            + "\"per_million\":{\"input\":\"-1\",\"output\":\"1e3\"}}]}}"), "models.\"m\"[0].per_million.input: '-1' is not");
    }
}
