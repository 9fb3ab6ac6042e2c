/**
 * The durable log (Chronicle Queue) and the journal: the single thread that decides, dedups and appends.
 * The journal thread owns the appender, the dedup index and its name dictionaries; readers own their tailers.
 */
package io.tokenmeter.core.log;
