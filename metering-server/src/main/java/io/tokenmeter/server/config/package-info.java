/** Settings: one definition per setting (name, default, check), resolved once at start. Immutable after. */
package io.tokenmeter.server.config;
