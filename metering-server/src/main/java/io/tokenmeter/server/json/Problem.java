package io.tokenmeter.server.json;

/**
 * One thing wrong with one event of a request.
 *
 * @param index   the event's position in the request (0-based; the line for NDJSON, counting non-blank lines).
 * @param field   the field at fault, or null for the event as a whole.
 * @param message what is wrong, in words that say what to fix.
 */
public record Problem(int index, String field, String message)
{
}
