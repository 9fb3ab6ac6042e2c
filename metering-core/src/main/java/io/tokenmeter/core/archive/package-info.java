/**
 * Archives of sealed log files: each day file of a partition's log compressed whole with zstd, with a manifest written
 * once the archive read back whole ({@link io.tokenmeter.core.archive.LogArchive},
 * {@link io.tokenmeter.core.archive.ArchiveManifest}). The log reads them transparently
 * ({@link io.tokenmeter.core.log.ChronicleEventLog}); {@link io.tokenmeter.core.log.LogArchiver} decides what is archived.
 */
package io.tokenmeter.core.archive;
