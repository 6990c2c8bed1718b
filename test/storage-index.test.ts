import { expect, it } from 'vitest';
import * as storage from '../src/storage/index.js';

// Every value exported by src/storage/index.ts; adding or removing one is a reviewed diff here.
it('src/storage/index.ts exports exactly this list', () => {
  expect(Object.keys(storage).sort()).toEqual([
    'AtomicWriteBatch',
    'DiskBackend',
    'FileManager',
    'METADATA_FILE',
    'METADATA_LOCK_FILE',
    'MemoryBackend',
    'addMetadataFiles',
    'assertSafeRelativePath',
    'assertSafeSegment',
    'compareNames',
    'decodeTiff',
    'encodeTiff',
    'mergeSubdirectoryFiles',
    'notFound',
    'readMetadata',
    'readTiff',
    'resolveInside',
    'updateMetadata',
    'withFileLock',
    'writeFileAtomic',
    'writeTiff',
  ]);
});
