package io.tokenmeter.server.auth;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;

/** Makes new keys and the keys-file entries that name them ({@code tokenmeter keys new}). */
public final class KeyTool
{
    /** Prefix of every key made here, so that a leaked key is recognisable by secret scanners. */
    public static final String PREFIX = "tm_";
    private static final int RANDOM_BYTES = 32;
    private static final SecureRandom RANDOM = new SecureRandom();

    private KeyTool()
    {
    }

    /** A new key made for the keys file: the secret (shown once) and the entry to add. */
    public record NewKey(String secret, String yamlEntry)
    {
        @Override
        public String toString()
        {
            return "NewKey[secret hidden]";
        }
    }

    /** @return 256 random bits as {@code tm_} + 43 base64url characters. */
    public static String newSecret()
    {
        final byte[] bytes = new byte[RANDOM_BYTES];
        RANDOM.nextBytes(bytes);
        return PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /** @return the hex SHA-256 of a key, as the keys file wants it. */
    public static String sha256Hex(final String secret)
    {
        return HexFormat.of().formatHex(KeyRing.sha256(secret));
    }

    /**
     * Makes a new key and its entry, checked by the same rules as the keys file.
     *
     * @throws KeysFileException when the name, role or tenants are not valid.
     */
    public static NewKey create(final String name, final String role, final List<String> tenants) throws KeysFileException
    {
        final String secret = newSecret();
        final String entry = entry(name, role, tenants, sha256Hex(secret));
        KeysFile.parse(("keys:\n" + entry).getBytes(StandardCharsets.UTF_8), "entry for " + name);
        return new NewKey(secret, entry);
    }

    /** @return the YAML list entry for one key, indented to sit under {@code keys:}. */
    public static String entry(final String name, final String role, final List<String> tenants, final String sha256Hex)
    {
        final StringBuilder sb = new StringBuilder()
            .append("  - name: \"").append(escape(name)).append("\"\n")
            .append("    sha256: \"").append(sha256Hex).append("\"\n")
            .append("    role: \"").append(escape(role)).append("\"\n");
        if (tenants != null && !tenants.isEmpty())
        {
            sb.append("    tenants: [");
            for (int i = 0; i < tenants.size(); i++)
            {
                sb.append(i == 0 ? "" : ", ").append('"').append(escape(tenants.get(i))).append('"');
            }
            sb.append("]\n");
        }
        return sb.toString();
    }

    private static String escape(final String text)
    {
        return text.replace("\\", "\\\\").replace("\"", "\\\"");
    }
}
