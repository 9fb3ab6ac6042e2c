/**
 * Provider usage objects (OpenAI, Anthropic, Gemini, Bedrock, DeepSeek, DashScope, Moonshot, Zhipu, Volcengine Ark)
 * mapped to tokenmeter's token classes, in one place (SPEC sections 2 and 13, docs/usage/). Scratch state belongs to
 * the event loop that parses the request.
 */
package io.tokenmeter.server.usage;
