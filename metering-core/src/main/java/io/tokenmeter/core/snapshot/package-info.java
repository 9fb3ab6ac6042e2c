/**
 * Snapshot files: atomic (temp, fsync, rename), checksummed, the last two kept per kind.
 * Cold path; whichever thread calls the store owns the write (in the server, one background writer thread).
 */
package io.tokenmeter.core.snapshot;
