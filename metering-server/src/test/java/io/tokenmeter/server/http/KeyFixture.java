package io.tokenmeter.server.http;

import io.tokenmeter.server.auth.KeyTool;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Test keys: fresh secrets and the keys file that names them, written the way an operator would. */
final class KeyFixture
{
    /** One key: name, role, tenants and its secret. */
    record TestKey(String name, String role, List<String> tenants, String secret)
    {
        @Override
        public String toString()
        {
            return name;
        }
    }

    private final Map<String, TestKey> keys = new LinkedHashMap<>();

    KeyFixture add(final String name, final String role, final String... tenants)
    {
        keys.put(name, new TestKey(name, role, List.of(tenants), KeyTool.newSecret()));
        return this;
    }

    String secret(final String name)
    {
        return keys.get(name).secret();
    }

    List<TestKey> all()
    {
        return new ArrayList<>(keys.values());
    }

    /** Writes the keys file atomically (as a config manager would) with the named keys, or all when none are named. */
    Path write(final Path file, final String... names) throws IOException
    {
        final StringBuilder yaml = new StringBuilder("keys:\n");
        for (final TestKey key : keys.values())
        {
            if (names.length == 0 || List.of(names).contains(key.name()))
            {
                yaml.append(KeyTool.entry(key.name(), key.role(), key.tenants(), KeyTool.sha256Hex(key.secret())));
            }
        }
        return writeText(file, yaml.toString());
    }

    static Path writeText(final Path file, final String text) throws IOException
    {
        final Path temp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(temp, text, StandardCharsets.UTF_8);
        return Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * @return the places in {@code text} where key material appears (a whole secret or 16 characters of its random
     *     part), empty when there is none.
     */
    List<String> keyMaterialIn(final String text)
    {
        final List<String> found = new ArrayList<>();
        for (final TestKey key : keys.values())
        {
            final String random = key.secret().substring(KeyTool.PREFIX.length());
            for (int i = 0; i + 16 <= random.length(); i += 8)
            {
                if (text.contains(random.substring(i, i + 16)))
                {
                    found.add("key " + key.name() + " at " + text.indexOf(random.substring(i, i + 16)));
                    break;
                }
            }
        }
        return found;
    }
}
