package io.tokenmeter.server.auth;

import java.util.List;

/** A keys file that cannot be used, with every problem found; no problem quotes a key or a hash. */
public final class KeysFileException extends Exception
{
    private static final long serialVersionUID = 1L;

    private final List<String> problems;

    public KeysFileException(final String source, final List<String> problems)
    {
        super("keys file " + source + " is not valid: " + String.join("; ", problems));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems()
    {
        return problems;
    }
}
