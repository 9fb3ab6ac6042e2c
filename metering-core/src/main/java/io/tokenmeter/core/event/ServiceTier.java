package io.tokenmeter.core.event;

/** Service tiers as the SPEC names them; the code is what the log stores (2 bits). */
public enum ServiceTier
{
    STANDARD("standard"),
    BATCH("batch"),
    FLEX("flex"),
    PRIORITY("priority");

    private static final ServiceTier[] BY_CODE = values();

    private final String jsonName;

    ServiceTier(final String jsonName)
    {
        this.jsonName = jsonName;
    }

    public String jsonName()
    {
        return jsonName;
    }

    public int code()
    {
        return ordinal();
    }

    public static ServiceTier fromCode(final int code)
    {
        return BY_CODE[code];
    }

    /**
     * Looks a tier up by its JSON name without allocating.
     *
     * @return the tier, or {@code null} when the text names none.
     */
    public static ServiceTier fromJson(final char[] text, final int offset, final int length)
    {
        for (final ServiceTier tier : BY_CODE)
        {
            if (equalsAscii(tier.jsonName, text, offset, length))
            {
                return tier;
            }
        }
        return null;
    }

    private static boolean equalsAscii(final String name, final char[] text, final int offset, final int length)
    {
        if (name.length() != length)
        {
            return false;
        }
        for (int i = 0; i < length; i++)
        {
            if (name.charAt(i) != text[offset + i])
            {
                return false;
            }
        }
        return true;
    }
}
