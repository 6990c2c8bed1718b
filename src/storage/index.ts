/**
 * What other folders use from storage. Named exports only, so every addition is a visible diff.
 *
 * @module
 */
export { AtomicWriteBatch, writeFileAtomic } from './atomic.js';
export { compareNames, notFound, type BackendKind, type LoadOptions, type StorageBackend } from './backend.js';
export { DiskBackend } from './disk-backend.js';
export { FileManager, type FileManagerOptions } from './file-manager.js';
export { withFileLock, type FileLockOptions } from './lock.js';
export { MemoryBackend } from './memory-backend.js';
export { METADATA_FILE, METADATA_LOCK_FILE, addMetadataFiles, mergeSubdirectoryFiles, readMetadata, updateMetadata } from './metadata.js';
export type { PlateflowMetadata, SubdirectoryFiles, SubdirectoryMetadata } from './metadata-types.js';
export { assertSafeRelativePath, assertSafeSegment, resolveInside } from './safe-path.js';
export { decodeTiff, readTiff, type ReadTiffOptions } from './tiff-read.js';
export { encodeTiff, writeTiff, type EncodeTiffOptions } from './tiff-write.js';
