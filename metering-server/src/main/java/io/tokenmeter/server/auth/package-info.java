/**
 * API keys, roles and tenant scopes: the keys file, its reloading, and the access decisions every route asks for.
 * A {@link io.tokenmeter.server.auth.KeyRing} is immutable; the reload thread swaps the current one in {@link io.tokenmeter.server.auth.Keys}.
 */
package io.tokenmeter.server.auth;
