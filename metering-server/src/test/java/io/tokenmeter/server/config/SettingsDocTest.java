package io.tokenmeter.server.config;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** docs/operations.md has a row for every setting the server takes, with the default the code applies. */
class SettingsDocTest
{
    private static final Pattern ROW = Pattern.compile("^\\| `([a-z0-9-]+)` \\| ([^|]*) \\|", Pattern.MULTILINE);

    @Test
    void everySettingIsDocumentedWithItsDefault() throws Exception
    {
        final Map<String, String> documented = new HashMap<>();
        final Matcher row = ROW.matcher(Files.readString(Path.of("..", "docs", "operations.md")));
        while (row.find())
        {
            documented.putIfAbsent(row.group(1), row.group(2).trim());
        }
        for (final Settings.Definition setting : Settings.DEFINITIONS)
        {
            assertTrue(documented.containsKey(setting.name()), "docs/operations.md has no row for " + setting.name());
            final String written = documented.get(setting.name()).replace("`", "");
            assertEquals(setting.defaultValue(), written, "the default of " + setting.name() + " in docs/operations.md");
        }
    }
}
