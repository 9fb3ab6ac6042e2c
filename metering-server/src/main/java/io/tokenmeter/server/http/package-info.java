/**
 * The Netty HTTP pipeline and routes. Each connection's handler runs on its channel's event loop thread; requests
 * reach the journal and the aggregator only through their bounded queues, and answers come back on the event loop.
 */
package io.tokenmeter.server.http;
