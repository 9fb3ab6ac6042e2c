package io.tokenmeter.server.usage;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.io.IOException;

/**
 * A usage object read as it arrived, flattened to three levels ({@code prompt_tokens},
 * {@code prompt_tokens_details.cached_tokens}, {@code prompt_tokens_details.cache_creation.ephemeral_5m_input_tokens}),
 * before its format is known: an event may name its {@code usage_format} after its {@code usage}. Deeper values and
 * arrays are kept as one entry of their kind. Each entry names its parent and its parent's parent ({@code outer}), null
 * above the top. Field names are the parser's canonical strings, so reading allocates nothing but the text of string
 * values. Reused; one instance per parser.
 */
public final class UsageFields
{
    /** Most entries kept from one usage object; providers send about ten. */
    public static final int MAX_FIELDS = 64;

    static final byte INT = 1;
    static final byte BIG = 2;
    static final byte FLOAT = 3;
    static final byte STRING = 4;
    static final byte BOOL = 5;
    static final byte NULL = 6;
    static final byte OBJECT = 7;
    static final byte ARRAY = 8;

    final String[] outer = new String[MAX_FIELDS];
    final String[] parent = new String[MAX_FIELDS];
    final String[] name = new String[MAX_FIELDS];
    final byte[] kind = new byte[MAX_FIELDS];
    final long[] value = new long[MAX_FIELDS];
    final String[] text = new String[MAX_FIELDS];
    final boolean[] used = new boolean[MAX_FIELDS];
    int count;

    public void clear()
    {
        for (int i = 0; i < count; i++)
        {
            outer[i] = null;
            parent[i] = null;
            name[i] = null;
            text[i] = null;
            used[i] = false;
        }
        count = 0;
    }

    /**
     * Reads the object whose {@code START_OBJECT} the parser has just returned, to its {@code END_OBJECT}.
     *
     * @return null, or what is wrong with the object as a whole (a repeated field, too many fields).
     */
    public String read(final JsonParser parser) throws IOException
    {
        clear();
        String problem = null;
        while (parser.nextToken() != JsonToken.END_OBJECT)
        {
            final String field = parser.currentName();
            final JsonToken value = parser.nextToken();
            if (value == JsonToken.START_OBJECT)
            {
                problem = first(problem, add(null, null, field, OBJECT, 0, null));
                problem = first(problem, readObject(parser, field));
            }
            else
            {
                problem = first(problem, scalar(parser, null, null, field, value));
            }
        }
        return problem;
    }

    /** Reads the fields of the top-level object {@code parentName}, and those of its objects, to its end. */
    private String readObject(final JsonParser parser, final String parentName) throws IOException
    {
        String problem = null;
        while (parser.nextToken() != JsonToken.END_OBJECT)
        {
            final String field = parser.currentName();
            final JsonToken value = parser.nextToken();
            if (value == JsonToken.START_OBJECT)
            {
                problem = first(problem, add(null, parentName, field, OBJECT, 0, null));
                while (parser.nextToken() != JsonToken.END_OBJECT)
                {
                    final String child = parser.currentName();
                    problem = first(problem, scalar(parser, parentName, field, child, parser.nextToken()));
                }
            }
            else
            {
                problem = first(problem, scalar(parser, null, parentName, field, value));
            }
        }
        return problem;
    }

    private String scalar(final JsonParser parser, final String outerName, final String parentName, final String field,
        final JsonToken token) throws IOException
    {
        switch (token)
        {
            case VALUE_NUMBER_INT:
                return parser.getNumberType() == JsonParser.NumberType.BIG_INTEGER
                    ? add(outerName, parentName, field, BIG, 0, null)
                    : add(outerName, parentName, field, INT, parser.getLongValue(), null);
            case VALUE_NUMBER_FLOAT:
                return add(outerName, parentName, field, FLOAT, 0, null);
            case VALUE_STRING:
                return add(outerName, parentName, field, STRING, 0, parser.getText());
            case VALUE_TRUE:
            case VALUE_FALSE:
                return add(outerName, parentName, field, BOOL, 0, null);
            case VALUE_NULL:
                return add(outerName, parentName, field, NULL, 0, null);
            case START_OBJECT:
                parser.skipChildren();
                return add(outerName, parentName, field, OBJECT, 0, null);
            default:
                parser.skipChildren();
                return add(outerName, parentName, field, ARRAY, 0, null);
        }
    }

    private String add(final String outerName, final String parentName, final String field, final byte kind, final long number,
        final String string)
    {
        if (find(outerName, parentName, field) >= 0)
        {
            return path(outerName, parentName, field) + " appears more than once";
        }
        if (count == MAX_FIELDS)
        {
            return "has more than " + MAX_FIELDS + " fields";
        }
        outer[count] = outerName;
        parent[count] = parentName;
        name[count] = field;
        this.kind[count] = kind;
        value[count] = number;
        text[count] = string;
        used[count] = false;
        count++;
        return null;
    }

    /** Receives a field the mapping did not use. */
    @FunctionalInterface
    public interface IgnoredField
    {
        /**
         * @param outerName  the enclosing object's own parent, or null.
         * @param parentName the enclosing object's name, or null at the top of the usage object.
         */
        void onIgnored(String outerName, String parentName, String field);
    }

    /**
     * Reports every field the mapping left unused that carries something: scalars, arrays and the deepest objects by
     * their path; an unused object by its fields, or by its own name when it is empty. A zero or null count carries
     * nothing to bill (OpenAI sends {@code audio_tokens: 0} on every response), so it is not reported.
     */
    public void forEachIgnored(final IgnoredField consumer)
    {
        for (int i = 0; i < count; i++)
        {
            final boolean empty = kind[i] == NULL || kind[i] == INT && value[i] == 0;
            if (!used[i] && !empty && !(kind[i] == OBJECT && hasChildren(i)))
            {
                consumer.onIgnored(outer[i], parent[i], name[i]);
            }
        }
    }

    /** @return the entry of {@code parent.name} ({@code parent} null at the top), or -1. */
    int find(final String parentName, final String field)
    {
        return find(null, parentName, field);
    }

    /** @return the entry of {@code outer.parent.name} (null where a level is absent), or -1. */
    int find(final String outerName, final String parentName, final String field)
    {
        for (int i = 0; i < count; i++)
        {
            if (field.equals(name[i]) && same(parentName, parent[i]) && same(outerName, outer[i]))
            {
                return i;
            }
        }
        return -1;
    }

    /** @return true if entry {@code i} is an object whose fields were read (one at the top or one level down). */
    boolean hasChildren(final int i)
    {
        for (int j = i + 1; j < count; j++)
        {
            if (name[i].equals(parent[j]) && same(parent[i], outer[j]))
            {
                return true;
            }
        }
        return false;
    }

    private static boolean same(final String a, final String b)
    {
        return a == null ? b == null : a.equals(b);
    }

    /** @return {@code parent.field}, or {@code field} at the top. */
    public static String path(final String parentName, final String field)
    {
        return parentName == null ? field : parentName + "." + field;
    }

    /** @return {@code outer.parent.field}, without the levels that are null. */
    public static String path(final String outerName, final String parentName, final String field)
    {
        return outerName == null ? path(parentName, field) : outerName + "." + parentName + "." + field;
    }

    private static String first(final String current, final String next)
    {
        return current != null ? current : next;
    }
}
