/**
 * Streaming JSON parsing and validation of ingest bodies into staged events (Jackson core, no object trees).
 * Each HTTP event loop thread owns its own parser instance and scratch buffers.
 */
package io.tokenmeter.server.json;
