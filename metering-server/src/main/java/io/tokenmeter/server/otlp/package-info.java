/**
 * OpenTelemetry traces ingest ({@code POST /v1/traces}, SPEC section 13): OTLP/HTTP bodies decoded (protobuf, JSON,
 * gzip), GenAI spans mapped to staged events, and OTLP's answers. Each HTTP event loop owns its own decoder and mapper.
 */
package io.tokenmeter.server.otlp;
