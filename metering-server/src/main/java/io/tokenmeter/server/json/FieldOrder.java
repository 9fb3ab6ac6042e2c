package io.tokenmeter.server.json;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.io.SerializedString;

import java.io.IOException;
import java.util.Arrays;

/**
 * Reads an object's next field name by guessing it: a sender writes its events' fields in one order, so the field
 * that followed this one last time most likely follows it again. Jackson compares a guess with the input's bytes
 * ({@link JsonParser#nextFieldName(com.fasterxml.jackson.core.SerializableString)}), which costs far less than
 * reading a name the ordinary way (hash its quads, probe the symbol table): in a profile of the whole server under
 * 100-event batches, reading names took a fifth of the event loops' samples (BENCHMARKS.md). A wrong guess costs one
 * short comparison more, then the name is read as before and the order learnt for next time.
 *
 * <p>One per kind of object per {@link EventParser} (owned by its thread, like the parser); allocates nothing after
 * construction.
 */
final class FieldOrder
{
    /** The {@code previous} field of an object's first name. */
    static final int START = -1;
    /** {@link #next} found no field name matching its guess: read the current token and name as Jackson left them. */
    static final int NOT_GUESSED = -1;

    private final SerializedString[] names;
    /** By previous field + 1 (0 is the object's start): the field that followed it last time, or -1. */
    private final int[] followers;

    /** @param namesByField the JSON name of each field number; null where a field has no fixed name. */
    FieldOrder(final String[] namesByField)
    {
        names = new SerializedString[namesByField.length];
        for (int field = 0; field < namesByField.length; field++)
        {
            names[field] = namesByField[field] == null ? null : new SerializedString(namesByField[field]);
        }
        followers = new int[namesByField.length + 1];
        Arrays.fill(followers, NOT_GUESSED);
    }

    /**
     * Moves the parser to the next token of the object, guessing it is the name of the field that followed
     * {@code previous} last time.
     *
     * @return that field's number when the guess was right (the parser then stands on its name), else
     * {@link #NOT_GUESSED}: the parser stands on whatever token came (another name, the object's end, or anything
     * the caller must refuse), exactly as {@link JsonParser#nextToken()} would have left it.
     */
    int next(final JsonParser parser, final int previous) throws IOException
    {
        final int guess = followers[previous + 1];
        if (guess == NOT_GUESSED)
        {
            parser.nextToken();
            return NOT_GUESSED;
        }
        return parser.nextFieldName(names[guess]) ? guess : NOT_GUESSED;
    }

    /** Remembers that {@code field} followed {@code previous}; a field without a fixed name is not guessed. */
    void learn(final int previous, final int field)
    {
        if (field >= 0 && field < names.length && names[field] != null)
        {
            followers[previous + 1] = field;
        }
    }

    /** @return the JSON name of {@code field}. */
    String name(final int field)
    {
        return names[field].getValue();
    }
}
