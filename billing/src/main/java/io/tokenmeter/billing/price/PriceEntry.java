package io.tokenmeter.billing.price;

import java.util.List;

/**
 * The versions of one model key of a book: an exact model name, or a pattern ending in {@code *} that matches by
 * prefix. Versions are sorted by {@code effective_from}. Immutable.
 */
public record PriceEntry(String key, List<PriceVersion> versions)
{
    public boolean isPattern()
    {
        return key.endsWith("*");
    }

    /** @return the prefix a pattern matches, or the exact name. */
    public String prefix()
    {
        return isPattern() ? key.substring(0, key.length() - 1) : key;
    }

    public boolean matches(final String model)
    {
        return isPattern() ? model.startsWith(prefix()) : model.equals(key);
    }

    /** @return the version in effect at the start of {@code hour}, or null when the first one starts later. */
    public PriceVersion versionAt(final long hour)
    {
        PriceVersion found = null;
        for (final PriceVersion version : versions)
        {
            if (version.fromHour() > hour)
            {
                break;
            }
            found = version;
        }
        return found;
    }
}
