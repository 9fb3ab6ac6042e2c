/**
 * The event schema and its binary layouts: staged events (HTTP edge to journal) and log records.
 * Flyweights here hold no state of their own; the thread that owns the buffer owns the data.
 */
package io.tokenmeter.core.event;
