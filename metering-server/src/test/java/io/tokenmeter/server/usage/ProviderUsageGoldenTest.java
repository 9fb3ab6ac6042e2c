package io.tokenmeter.server.usage;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.core.event.TokenClass;
import io.tokenmeter.server.json.ParseOutcome;
import io.tokenmeter.server.json.Problem;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The examples of docs/usage/FORMAT.md are the golden tests: each marked provider response's usage object goes through
 * the parser as an event of that format, and must become the classes (or the refusal) the page shows under it. The
 * marker's {@code usage=} path may step into arrays by index ({@code choices.0.usage}).
 */
class ProviderUsageGoldenTest
{
    private static final Path DOCS = Path.of("..", "docs", "usage");

    /** One marked example of a docs page. */
    record Golden(String format, String name, String usagePath, boolean refused, JsonNode response, JsonNode expected)
    {
    }

    @TestFactory
    Stream<DynamicTest> everyDocumentedExampleMapsAsShown() throws IOException
    {
        final List<Golden> goldens = new ArrayList<>();
        for (final UsageFormat format : UsageFormat.values())
        {
            final List<Golden> page = read(format.jsonName());
            assertTrue(page.stream().filter(g -> !g.refused()).count() >= 2, format + " has at least two mapped examples");
            assertTrue(page.stream().anyMatch(Golden::refused), format + " has a refused example");
            goldens.addAll(page);
        }
        final UsageEvents events = new UsageEvents();
        return goldens.stream().map(golden -> DynamicTest.dynamicTest(golden.format() + " " + golden.name(), () ->
        {
            JsonNode usage = golden.response();
            for (final String step : golden.usagePath().split("\\."))
            {
                usage = usage.isArray() && step.chars().allMatch(Character::isDigit) ? usage.get(Integer.parseInt(step)) : usage.get(step);
                assertTrue(usage != null && (usage.isObject() || usage.isArray()), "the response has " + golden.usagePath());
            }
            assertTrue(usage.isObject(), "the response's " + golden.usagePath() + " is an object");
            final UsageEvents.Mapped mapped = events.map(golden.format(), usage);
            if (golden.refused())
            {
                assertEquals(ParseOutcome.INVALID_EVENTS, mapped.outcome());
                final Problem problem = mapped.problems().get(0);
                assertEquals(golden.expected().get("field").asText(), problem.field());
                assertEquals(golden.expected().get("message").asText(), problem.message());
                return;
            }
            assertEquals(ParseOutcome.OK, mapped.outcome(), () -> mapped.problems().toString());
            for (final TokenClass tokenClass : TokenClass.values())
            {
                assertEquals(golden.expected().get(tokenClass.fieldName()).asLong(), mapped.get(tokenClass), tokenClass.fieldName());
            }
            assertEquals(golden.expected().path("service_tier").asText("standard"), mapped.tier());
        }));
    }

    private static List<Golden> read(final String format) throws IOException
    {
        final List<String> lines = Files.readAllLines(DOCS.resolve(format + ".md"));
        final List<Golden> goldens = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++)
        {
            final String line = lines.get(i);
            final boolean refused = line.startsWith("<!-- golden-refused: ");
            if (!refused && !line.startsWith("<!-- golden: "))
            {
                continue;
            }
            final String[] words = line.replace("<!--", "").replace("-->", "").trim().split("\\s+");
            final String name = words[1];
            final String usagePath = words[2].substring("usage=".length());
            final int responseAt = nextJsonBlock(lines, i);
            final int marker = indexOf(lines, refused ? "<!-- refused -->" : "<!-- becomes -->", responseAt);
            final int expectedAt = nextJsonBlock(lines, marker);
            goldens.add(new Golden(format, name, usagePath, refused, block(lines, responseAt), block(lines, expectedAt)));
            i = expectedAt;
        }
        return goldens;
    }

    private static int nextJsonBlock(final List<String> lines, final int from)
    {
        return indexOf(lines, "```json", from) + 1;
    }

    private static int indexOf(final List<String> lines, final String line, final int from)
    {
        for (int i = from; i < lines.size(); i++)
        {
            if (lines.get(i).trim().equals(line))
            {
                return i;
            }
        }
        throw new AssertionError("'" + line + "' after line " + from);
    }

    private static JsonNode block(final List<String> lines, final int start) throws IOException
    {
        final StringBuilder json = new StringBuilder();
        for (int i = start; !lines.get(i).trim().equals("```"); i++)
        {
            json.append(lines.get(i)).append('\n');
        }
        return UsageEvents.JSON.readTree(json.toString());
    }
}
