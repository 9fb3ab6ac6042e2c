package io.tokenmeter.core.log;

import io.tokenmeter.core.archive.RetainedDigest;
import io.tokenmeter.core.event.LogLayout;
import org.agrona.DirectBuffer;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The SHA-256 of whole log documents, the links of each partition's hash chain ({@link LogLayout}: a version 3
 * document holds its predecessor's). One instance per thread; no allocation once its scratch array has grown to the
 * largest document.
 */
public final class DocumentSha256
{
    /** The length of a hash, in bytes. */
    public static final int LENGTH = LogLayout.CHAIN_HASH_LENGTH;

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private final MessageDigest digest;
    private byte[] scratch = new byte[8192];

    public DocumentSha256()
    {
        try
        {
            digest = MessageDigest.getInstance("SHA-256");
        }
        catch (final NoSuchAlgorithmException ex)
        {
            throw new IllegalStateException("this JVM has no SHA-256", ex);
        }
    }

    /** Writes the SHA-256 of {@code length} bytes of {@code buffer} from {@code offset} into {@code into[0..32)}. */
    public void hash(final DirectBuffer buffer, final int offset, final int length, final byte[] into)
    {
        if (scratch.length < length)
        {
            scratch = new byte[Math.max(length, scratch.length * 2)];
        }
        buffer.getBytes(offset, scratch, 0, length);
        digest.update(scratch, 0, length);
        try
        {
            digest.digest(into, 0, LENGTH);
        }
        catch (final java.security.DigestException ex)
        {
            throw new IllegalStateException("a SHA-256 did not fit in " + into.length + " bytes", ex);
        }
    }

    /** @return lower-case hex of the 32 bytes of {@code hash} at {@code offset} of {@code buffer}. */
    public static String hex(final DirectBuffer buffer, final int offset)
    {
        final char[] text = new char[LENGTH * 2];
        for (int i = 0; i < LENGTH; i++)
        {
            final int b = buffer.getByte(offset + i) & 0xFF;
            text[2 * i] = HEX[b >>> 4];
            text[2 * i + 1] = HEX[b & 0xF];
        }
        return new String(text);
    }

    /**
     * Reads one document of a log and hashes it, on the calling thread (for the rare questions: a final invoice).
     *
     * @return the hex SHA-256 of the document at {@code index}.
     * @throws IllegalStateException when the log has no document there.
     */
    public static String sha256At(final EventLog log, final long index)
    {
        final byte[] hash = new byte[LENGTH];
        try (EventLog.Reader reader = log.newReader())
        {
            reader.startAt(index);
            final String[] kept = {null};
            final EventLog.RawDocumentListener listener = new EventLog.RawDocumentListener()
            {
                @Override
                public void onDocument(final long i, final DirectBuffer buffer, final int offset, final int length)
                {
                    new DocumentSha256().hash(buffer, offset, length, hash);
                }

                @Override
                public void onRetained(final RetainedDigest digest)
                {
                    kept[0] = digest.sha256At(index);
                }
            };
            final long read = reader.readNextRaw(listener);
            if (kept[0] != null)
            {
                return kept[0];
            }
            if (read != index)
            {
                throw new IllegalStateException("no document at log index " + Long.toHexString(index) + " of " + log.describe());
            }
        }
        return hex(hash);
    }

    /** @return lower-case hex of a 32-byte hash. */
    public static String hex(final byte[] hash)
    {
        return hex(new org.agrona.concurrent.UnsafeBuffer(hash), 0);
    }
}
