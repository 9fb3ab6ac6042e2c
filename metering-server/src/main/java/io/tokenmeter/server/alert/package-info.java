/**
 * Budget alerts (SPEC section 12): the signed webhook posts of a tenant's threshold crossings, retried with backoff,
 * and the record of what was sent. All delivery state is owned by the {@code alert-sender} thread of
 * {@link io.tokenmeter.server.alert.AlertSender}; other threads only queue alerts and read published snapshots.
 */
package io.tokenmeter.server.alert;
