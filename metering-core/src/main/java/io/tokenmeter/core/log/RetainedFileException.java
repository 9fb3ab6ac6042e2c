package io.tokenmeter.core.log;

import io.tokenmeter.core.archive.RetainedDigest;

/**
 * A reader of a log's documents as they are reached a file that retention deleted: only its digest is kept (its
 * names, control records, totals and chain hashes), not its events' documents.
 */
public final class RetainedFileException extends IllegalStateException
{
    private static final long serialVersionUID = 1L;

    private final transient RetainedDigest digest;

    public RetainedFileException(final RetainedDigest digest)
    {
        super("log positions " + Long.toHexString(digest.firstIndex()) + " to " + Long.toHexString(digest.lastIndex())
            + " (file " + digest.file() + ") were deleted by retention (log-retention): only their digest is kept, "
            + "which proves their totals but holds no single event");
        this.digest = digest;
    }

    /** @return the digest of the deleted file. */
    public RetainedDigest digest()
    {
        return digest;
    }
}
