package io.tokenmeter.server.usage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tokenmeter.core.event.ServiceTier;
import io.tokenmeter.core.event.StagedEvent;
import io.tokenmeter.core.event.TokenClass;
import io.tokenmeter.server.json.EventParser;
import io.tokenmeter.server.json.ParseOutcome;
import io.tokenmeter.server.json.Problem;
import org.agrona.ExpandableArrayBuffer;

import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;


/** Sends usage objects through the real {@link EventParser} as events and reads back what it staged. */
final class UsageEvents
{
    static final ObjectMapper JSON = new ObjectMapper();
    private static final long NOW = 1_790_000_000_000L;

    private final EventParser parser = new EventParser();
    private final ExpandableArrayBuffer out = new ExpandableArrayBuffer(1024);

    /** What the parser made of one event: its classes and tier, or its problems. */
    record Mapped(ParseOutcome outcome, Map<String, Long> classes, String tier, List<Problem> problems)
    {
        long get(final TokenClass tokenClass)
        {
            return classes.get(tokenClass.fieldName());
        }
    }

    static ObjectNode event(final String format, final JsonNode usage)
    {
        final ObjectNode event = JSON.createObjectNode();
        event.put("id", "e-1").put("tenant", "t").put("model", "m").put("usage_format", format);
        event.set("usage", usage);
        return event;
    }

    Mapped map(final String format, final JsonNode usage)
    {
        return parse(event(format, usage).toString());
    }

    Mapped parse(final String body)
    {
        final ParseOutcome outcome = parser.parse(Unpooled.wrappedBuffer(body.getBytes(StandardCharsets.UTF_8)), false, NOW,
            300_000, 10_000, out);
        final Map<String, Long> classes = new LinkedHashMap<>();
        String tier = null;
        if (outcome == ParseOutcome.OK && parser.eventCount() == 1)
        {
            final StagedEvent staged = new StagedEvent().wrap(out, 0);
            for (int c = 0; c < TokenClass.COUNT; c++)
            {
                classes.put(TokenClass.of(c).fieldName(), staged.tokens(c));
            }
            tier = ServiceTier.fromCode(staged.tierCode()).jsonName();
        }
        return new Mapped(outcome, classes, tier, List.copyOf(parser.problems()));
    }

    /** @return the ignored usage fields of the last parse, as "format field" -> events. */
    Map<String, Integer> ignored()
    {
        final Map<String, Integer> ignored = new LinkedHashMap<>();
        parser.forEachIgnoredField((format, field, events) -> ignored.put(format + " " + field, events));
        return ignored;
    }
}
