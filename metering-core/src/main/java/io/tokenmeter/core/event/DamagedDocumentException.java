package io.tokenmeter.core.event;

/**
 * A log document whose bytes are not what was written: its checksum does not match, or its records do not fit
 * together (a file cut short and zero-filled, a torn write). None of its records has been handed to a handler.
 */
public final class DamagedDocumentException extends IllegalStateException
{
    private static final long serialVersionUID = 1L;

    public DamagedDocumentException(final String message)
    {
        super(message);
    }
}
