import path from 'node:path';
import { AbortError, StorageError } from '../errors.js';
import type { ImageStack } from '../image.js';
import { compareNames, notFound, type LoadOptions, type StorageBackend } from './backend.js';

/**
 * Intermediate images of one task, kept in memory between steps.
 *
 * Stacks are stored as given and returned as stored (no copy): the step that saved a stack hands
 * it over and must not mutate it afterwards. The map belongs to this instance only — a shared
 * module-level map would let concurrent tasks in one thread read each other's planes.
 */
export class MemoryBackend implements StorageBackend {
  readonly kind = 'memory' as const;
  #entries: Map<string, ImageStack> | undefined = new Map();

  async load(p: string, opts: LoadOptions = {}): Promise<ImageStack> {
    if (opts.signal?.aborted) throw new AbortError(opts.signal.reason);
    const key = normalize(p);
    const stack = this.#open(p).get(key);
    if (stack === undefined) throw notFound(key);
    return stack;
  }

  async save(p: string, stack: ImageStack): Promise<void> {
    this.#open(p).set(normalize(p), stack);
  }

  async exists(p: string): Promise<boolean> {
    const key = normalize(p);
    const entries = this.#open(p);
    if (entries.has(key)) return true;
    const prefix = dirPrefix(key);
    for (const k of entries.keys()) if (k.startsWith(prefix)) return true;
    return false;
  }

  async list(dir: string): Promise<string[]> {
    const prefix = dirPrefix(normalize(dir));
    const names = new Set<string>();
    for (const k of this.#open(dir).keys()) {
      if (!k.startsWith(prefix)) continue;
      const rest = k.slice(prefix.length);
      const slash = rest.indexOf('/');
      names.add(slash === -1 ? rest : rest.slice(0, slash));
    }
    return [...names].sort(compareNames);
  }

  async delete(p: string): Promise<void> {
    this.#open(p).delete(normalize(p));
  }

  async close(): Promise<void> {
    this.#entries?.clear();
    this.#entries = undefined;
  }

  /** Number of stored stacks (0 after close); for tests and memory accounting. */
  get size(): number {
    return this.#entries?.size ?? 0;
  }

  #open(p: string): Map<string, ImageStack> {
    if (this.#entries === undefined) throw new StorageError(p, 'memory backend is closed');
    return this.#entries;
  }
}

/** `a//b/./c/` and `a/b/c` name the same entry. */
function normalize(p: string): string {
  if (p.length === 0) throw new StorageError(p, 'empty path');
  const n = path.posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

function dirPrefix(dir: string): string {
  if (dir === '.') return '';
  return dir.endsWith('/') ? dir : `${dir}/`;
}
