package io.tokenmeter.server.auth;

import io.tokenmeter.core.event.TenantName;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads the keys file (YAML, format in docs/access.md):
 *
 * <pre>
 * keys:
 *   - name: gateway-eu        # shown in logs, never the key itself
 *     sha256: 9f86d08...      # hex SHA-256 of the key
 *     role: ingest            # ingest | read | admin
 *     tenants: ["*"]          # tenant names, or ["*"] for every tenant; admin keys act for every tenant
 * </pre>
 *
 * Strict: an unknown field, a missing one or a bad value is an error naming the entry and field, because a typo in
 * a keys file must never widen or silently change access. Problems never quote a hash or a key.
 */
public final class KeysFile
{
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._:@/-]{1,64}");
    private static final Pattern HEX64 = Pattern.compile("[0-9a-fA-F]{64}");
    private static final Set<String> FIELDS = Set.of("name", "sha256", "role", "tenants");
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory())
        .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private KeysFile()
    {
    }

    /**
     * @param source names the file in problems.
     * @return the keys, in file order.
     */
    public static KeyRing parse(final byte[] yaml, final String source) throws KeysFileException
    {
        final JsonNode root;
        try
        {
            root = YAML.readTree(yaml);
        }
        catch (final JsonProcessingException ex)
        {
            // the parser's own message quotes the file's lines; only the position is reported
            final var at = ex.getLocation();
            throw new KeysFileException(source, List.of("not valid YAML" + (at == null ? ""
                : " near line " + at.getLineNr() + ", column " + at.getColumnNr())));
        }
        catch (final java.io.IOException ex)
        {
            throw new KeysFileException(source, List.of("cannot be read: " + ex.getMessage()));
        }
        final List<String> problems = new ArrayList<>();
        if (root == null || !root.isObject() || !root.has("keys"))
        {
            throw new KeysFileException(source, List.of("must be a mapping with a 'keys' list"));
        }
        for (final Iterator<String> names = root.fieldNames(); names.hasNext(); )
        {
            final String field = names.next();
            if (!"keys".equals(field))
            {
                problems.add("'" + field + "' is not a field of the keys file; the only one is 'keys'");
            }
        }
        final JsonNode list = root.get("keys");
        final List<ApiKey> keys = new ArrayList<>();
        if (list.isNull())
        {
            // "keys:" with nothing under it: no key is valid, every guarded request is refused
            if (!problems.isEmpty())
            {
                throw new KeysFileException(source, problems);
            }
            return new KeyRing(keys);
        }
        if (!list.isArray())
        {
            throw new KeysFileException(source, List.of("keys must be a list of entries"));
        }
        final Set<String> names = new HashSet<>();
        final Set<String> hashes = new HashSet<>();
        for (int i = 0; i < list.size(); i++)
        {
            final ApiKey key = entry(list.get(i), "keys[" + i + "]", problems);
            if (key == null)
            {
                continue;
            }
            if (!names.add(key.name()))
            {
                problems.add("keys[" + i + "].name: '" + key.name() + "' is used by an earlier entry; names must be unique");
            }
            if (!hashes.add(HexFormat.of().formatHex(key.sha256())))
            {
                problems.add("keys[" + i + "].sha256: the same key is already given by an earlier entry");
            }
            keys.add(key);
        }
        if (!problems.isEmpty())
        {
            throw new KeysFileException(source, problems);
        }
        return new KeyRing(keys);
    }

    private static ApiKey entry(final JsonNode entry, final String at, final List<String> problems)
    {
        if (!entry.isObject())
        {
            problems.add(at + ": must be a mapping with name, sha256, role and tenants");
            return null;
        }
        final int before = problems.size();
        for (final Iterator<String> fields = entry.fieldNames(); fields.hasNext(); )
        {
            final String field = fields.next();
            if (!FIELDS.contains(field))
            {
                problems.add(at + "." + field + ": not a field of a key; fields are name, sha256, role, tenants");
            }
        }
        final String name = text(entry, "name", at, problems);
        if (name != null && !NAME.matcher(name).matches())
        {
            problems.add(at + ".name: must be 1 to 64 letters, digits or . _ : @ / -");
        }
        final String hash = text(entry, "sha256", at, problems);
        byte[] sha256 = null;
        if (hash != null)
        {
            if (HEX64.matcher(hash).matches())
            {
                sha256 = HexFormat.of().parseHex(hash.toLowerCase(Locale.ROOT));
            }
            else
            {
                problems.add(at + ".sha256: must be the 64 hex digits of the key's SHA-256 (as printed by "
                    + "'tokenmeter keys new'), never the key itself");
            }
        }
        final String roleCode = text(entry, "role", at, problems);
        final Role role = roleCode == null ? null : Role.of(roleCode);
        if (roleCode != null && role == null)
        {
            problems.add(at + ".role: must be ingest, read or admin");
        }
        final List<String> tenants = tenants(entry.get("tenants"), role, at, problems);
        if (problems.size() > before)
        {
            return null;
        }
        return new ApiKey(name, sha256, role, tenants);
    }

    private static List<String> tenants(final JsonNode node, final Role role, final String at, final List<String> problems)
    {
        if (node == null)
        {
            if (role == Role.ADMIN)
            {
                return List.of(ApiKey.ALL_TENANTS);
            }
            problems.add(at + ".tenants: is required: a list of tenant names, or [\"*\"] for every tenant");
            return List.of();
        }
        if (!node.isArray() || node.isEmpty())
        {
            problems.add(at + ".tenants: must be a non-empty list of tenant names, or [\"*\"] for every tenant");
            return List.of();
        }
        final List<String> tenants = new ArrayList<>();
        for (int i = 0; i < node.size(); i++)
        {
            final JsonNode tenant = node.get(i);
            if (!tenant.isTextual() || !(ApiKey.ALL_TENANTS.equals(tenant.asText()) || TenantName.isValid(tenant.asText())))
            {
                problems.add(at + ".tenants[" + i + "]: must be a tenant name (" + TenantName.RULE + ") or \"*\"");
                continue;
            }
            tenants.add(tenant.asText());
        }
        if (tenants.contains(ApiKey.ALL_TENANTS) && node.size() > 1)
        {
            problems.add(at + ".tenants: \"*\" already means every tenant; give it alone");
        }
        if (role == Role.ADMIN && !tenants.equals(List.of(ApiKey.ALL_TENANTS)))
        {
            problems.add(at + ".tenants: an admin key acts for every tenant; give [\"*\"] or leave tenants out "
                + "(for fewer tenants use role read or ingest)");
        }
        return tenants;
    }

    private static String text(final JsonNode entry, final String field, final String at, final List<String> problems)
    {
        final JsonNode node = entry.get(field);
        if (node == null || node.isNull())
        {
            problems.add(at + "." + field + ": is required");
            return null;
        }
        if (!node.isTextual())
        {
            problems.add(at + "." + field + ": must be a string");
            return null;
        }
        return node.asText();
    }
}
