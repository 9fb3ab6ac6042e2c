package io.tokenmeter.server.json;

/** Encodes UTF-16 text to UTF-8 into a bounded array without allocating. */
final class Utf8
{
    static final int INVALID = -1;
    static final int TOO_LONG = -2;

    private Utf8()
    {
    }

    /**
     * @return the position in the text (0-based, in UTF-16 units) of its first control character, -1 when it has none.
     *     Control characters are C0 (U+0000 to U+001F), DEL (U+007F) and C1 (U+0080 to U+009F): the ones CloudEvents 1.0
     *     forbids in every String attribute ("Type System").
     */
    static int firstControl(final char[] chars, final int offset, final int length)
    {
        for (int i = 0; i < length; i++)
        {
            final char c = chars[offset + i];
            if (c < 0x20 || (c >= 0x7F && c <= 0x9F))
            {
                return i;
            }
        }
        return -1;
    }

    /** @return the encoded length, {@link #INVALID} for a lone surrogate, or {@link #TOO_LONG} when it does not fit. */
    static int encode(final char[] chars, final int offset, final int length, final byte[] out)
    {
        int at = 0;
        final int limit = out.length;
        for (int i = offset, end = offset + length; i < end; i++)
        {
            final char c = chars[i];
            if (c < 0x80)
            {
                if (at >= limit)
                {
                    return TOO_LONG;
                }
                out[at++] = (byte)c;
            }
            else if (c < 0x800)
            {
                if (at + 2 > limit)
                {
                    return TOO_LONG;
                }
                out[at++] = (byte)(0xC0 | (c >> 6));
                out[at++] = (byte)(0x80 | (c & 0x3F));
            }
            else if (Character.isHighSurrogate(c))
            {
                if (i + 1 >= end || !Character.isLowSurrogate(chars[i + 1]))
                {
                    return INVALID;
                }
                final int cp = Character.toCodePoint(c, chars[++i]);
                if (at + 4 > limit)
                {
                    return TOO_LONG;
                }
                out[at++] = (byte)(0xF0 | (cp >> 18));
                out[at++] = (byte)(0x80 | ((cp >> 12) & 0x3F));
                out[at++] = (byte)(0x80 | ((cp >> 6) & 0x3F));
                out[at++] = (byte)(0x80 | (cp & 0x3F));
            }
            else if (Character.isLowSurrogate(c))
            {
                return INVALID;
            }
            else
            {
                if (at + 3 > limit)
                {
                    return TOO_LONG;
                }
                out[at++] = (byte)(0xE0 | (c >> 12));
                out[at++] = (byte)(0x80 | ((c >> 6) & 0x3F));
                out[at++] = (byte)(0x80 | (c & 0x3F));
            }
        }
        return at;
    }
}
