package io.tokenmeter.server.json;

/** How parsing a request body ended. */
public enum ParseOutcome
{
    /** Every event is valid and staged. */
    OK,
    /** The body is JSON, but at least one event is invalid; see the problems. Nothing is staged. */
    INVALID_EVENTS,
    /** The body is not well-formed JSON (or NDJSON). */
    MALFORMED,
    /** More events than one request may carry. */
    TOO_MANY_EVENTS
}
