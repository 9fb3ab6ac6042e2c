package io.tokenmeter.billing.price;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
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

    @Test
    void shippedBookLoadsAndPricesWellKnownModels()
    {
        final PriceBook book = PriceBookLoader.shipped();
        assertEquals("USD", book.currency());
        final long hour = java.time.Instant.parse("2025-10-01T00:00:00Z").getEpochSecond() / 3600;
        for (final String model : List.of("gpt-4o-2024-08-06", "gpt-4o-mini", "gpt-5", "o3", "claude-sonnet-4-5-20250929",
            "claude-opus-4-1-20250805", "gemini-2.5-pro", "gemini-2.5-flash", "deepseek-chat", "llama-3.3-70b-versatile"))
        {
            assertNotNull(book.resolve("anyone", model, hour), model);
        }
        assertEquals("gpt-4o-mini*", book.resolve("t", "gpt-4o-mini-2024-07-18", hour).entryKey(), "longer pattern wins");
        assertEquals("0.15", book.resolve("t", "gpt-4o-mini-2024-07-18", hour).version().rate(0, false).toPlainString());
        assertEquals("2.00", book.resolve("t", "o3-2025-04-16", hour).version().rate(0, false).toPlainString(), "o3 after the June 2025 cut");
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
