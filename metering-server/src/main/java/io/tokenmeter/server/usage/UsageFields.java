package io.tokenmeter.server.usage;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.io.IOException;

/**
 * A usage object read as it arrived, flattened to two levels ({@code prompt_tokens},
 * {@code prompt_tokens_details.cached_tokens}), before its format is known: an event may name its
 * {@code usage_format} after its {@code usage}. Deeper values and arrays are kept as one entry of their kind. Field
 * names are the parser's canonical strings, so reading allocates nothing but the text of string values. Reused; one
 * instance per parser.
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
        JsonToken token;
        while ((token = parser.nextToken()) != JsonToken.END_OBJECT)
        {
            final String field = parser.currentName();
            final JsonToken value = parser.nextToken();
            if (value == JsonToken.START_OBJECT)
            {
                problem = first(problem, add(null, field, OBJECT, 0, null));
                JsonToken inner;
                while ((inner = parser.nextToken()) != JsonToken.END_OBJECT)
                {
                    final String child = parser.currentName();
                    problem = first(problem, scalar(parser, field, child, parser.nextToken()));
                }
            }
            else
            {
                problem = first(problem, scalar(parser, null, field, value));
            }
        }
        return problem;
    }

    private String scalar(final JsonParser parser, final String parentName, final String field, final JsonToken token)
        throws IOException
    {
        switch (token)
        {
            case VALUE_NUMBER_INT:
                return parser.getNumberType() == JsonParser.NumberType.BIG_INTEGER
                    ? add(parentName, field, BIG, 0, null)
                    : add(parentName, field, INT, parser.getLongValue(), null);
            case VALUE_NUMBER_FLOAT:
                return add(parentName, field, FLOAT, 0, null);
            case VALUE_STRING:
                return add(parentName, field, STRING, 0, parser.getText());
            case VALUE_TRUE:
            case VALUE_FALSE:
                return add(parentName, field, BOOL, 0, null);
            case VALUE_NULL:
                return add(parentName, field, NULL, 0, null);
            case START_OBJECT:
                parser.skipChildren();
                return add(parentName, field, OBJECT, 0, null);
            default:
                parser.skipChildren();
                return add(parentName, field, ARRAY, 0, null);
        }
    }

    private String add(final String parentName, final String field, final byte kind, final long number, final String string)
    {
        if (find(parentName, field) >= 0)
        {
            return path(parentName, field) + " appears more than once";
        }
        if (count == MAX_FIELDS)
        {
            return "has more than " + MAX_FIELDS + " fields";
        }
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
        /** @param parentName the enclosing object's name, or null at the top of the usage object. */
        void onIgnored(String parentName, String field);
    }

    /**
     * Reports every field the mapping left unused that carries something: scalars, arrays and deeper objects by their
     * path; an unused object by its fields, or by its own name when it is empty. A zero or null count carries nothing
     * to bill (OpenAI sends {@code audio_tokens: 0} on every response), so it is not reported.
     */
    public void forEachIgnored(final IgnoredField consumer)
    {
        for (int i = 0; i < count; i++)
        {
            final boolean empty = kind[i] == NULL || kind[i] == INT && value[i] == 0;
            if (!used[i] && !empty && !(parent[i] == null && kind[i] == OBJECT && hasChildren(i)))
            {
                consumer.onIgnored(parent[i], name[i]);
            }
        }
    }

    /** @return the entry of {@code parent.name} ({@code parent} null at the top), or -1. */
    int find(final String parentName, final String field)
    {
        for (int i = 0; i < count; i++)
        {
            if (field.equals(name[i]) && (parentName == null ? parent[i] == null : parentName.equals(parent[i])))
            {
                return i;
            }
        }
        return -1;
    }

    /** @return true if the top-level entry {@code i} is an object with at least one field. */
    boolean hasChildren(final int i)
    {
        for (int j = i + 1; j < count; j++)
        {
            if (name[i].equals(parent[j]))
            {
                return true;
            }
        }
        return false;
    }

    /** @return {@code parent.field}, or {@code field} at the top. */
    public static String path(final String parentName, final String field)
    {
        return parentName == null ? field : parentName + "." + field;
    }

    private static String first(final String current, final String next)
    {
        return current != null ? current : next;
    }
}
