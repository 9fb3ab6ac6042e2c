package io.tokenmeter.server.config;

/** A setting that cannot be used; the message names the setting, where it came from and what is allowed. */
public final class SettingsException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    public SettingsException(final String message)
    {
        super(message);
    }
}
