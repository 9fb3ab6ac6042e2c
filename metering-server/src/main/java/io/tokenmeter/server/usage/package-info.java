/**
 * Provider usage objects (OpenAI, Anthropic, Gemini, Bedrock) mapped to tokenmeter's token classes, in one place
 * (SPEC section 2, docs/usage/). Scratch state belongs to the event loop that parses the request.
 */
package io.tokenmeter.server.usage;
