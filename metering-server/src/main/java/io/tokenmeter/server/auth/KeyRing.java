package io.tokenmeter.server.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;

/**
 * An immutable set of keys, as read from one version of the keys file. A presented key is hashed with SHA-256 and its
 * hash compared with every stored hash in constant time (no early exit), so neither the secret nor which stored
 * hash is near it can be learnt from timing.
 */
public final class KeyRing
{
    /** Longest key accepted in a header; longer ones are refused before hashing. */
    public static final int MAX_KEY_LENGTH = 512;

    private static final String BEARER = "bearer ";

    /** Why a request carries no usable key. */
    public enum Refusal
    {
        /** No {@code Authorization} header. */
        MISSING,
        /** A header that is not {@code Bearer KEY}. */
        MALFORMED,
        /** A well-formed key that is not in the keys file (mistyped or revoked). */
        UNKNOWN
    }

    private final List<ApiKey> keys;

    KeyRing(final List<ApiKey> keys)
    {
        this.keys = List.copyOf(keys);
    }

    public List<ApiKey> keys()
    {
        return keys;
    }

    /**
     * @param authorization the {@code Authorization} header, or null.
     * @return the key it carries, or null when it carries none that is known; {@link #refusal} says why.
     */
    public ApiKey authenticate(final String authorization)
    {
        final String secret = bearerToken(authorization);
        if (secret == null)
        {
            return null;
        }
        final byte[] presented = sha256(secret);
        ApiKey found = null;
        for (final ApiKey key : keys)
        {
            if (MessageDigest.isEqual(presented, key.sha256()) && found == null)
            {
                found = key;
            }
        }
        return found;
    }

    /** @return why {@link #authenticate} found no key for this header. */
    public static Refusal refusal(final String authorization)
    {
        if (authorization == null)
        {
            return Refusal.MISSING;
        }
        return bearerToken(authorization) == null ? Refusal.MALFORMED : Refusal.UNKNOWN;
    }

    /** @return the key of a {@code Bearer KEY} header, or null when the header is absent or not of that form. */
    static String bearerToken(final String authorization)
    {
        if (authorization == null || authorization.length() <= BEARER.length()
            || !authorization.regionMatches(true, 0, BEARER, 0, BEARER.length()))
        {
            return null;
        }
        final String secret = authorization.substring(BEARER.length()).trim();
        if (secret.isEmpty() || secret.length() > MAX_KEY_LENGTH)
        {
            return null;
        }
        for (int i = 0; i < secret.length(); i++)
        {
            final char c = secret.charAt(i);
            if (c <= ' ' || c > '~')
            {
                return null;
            }
        }
        return secret;
    }

    /** @return the SHA-256 of the key's UTF-8 bytes. */
    public static byte[] sha256(final String secret)
    {
        try
        {
            return MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8));
        }
        catch (final NoSuchAlgorithmException ex)
        {
            throw new IllegalStateException("every JDK has SHA-256", ex);
        }
    }
}
