import { AbortError, StorageError } from '../errors.js';
import type { ImageStack } from '../image.js';
import type { BackendKind, LoadOptions, SaveOptions, StorageBackend } from './backend.js';
import { DiskBackend } from './disk-backend.js';
import { MemoryBackend } from './memory-backend.js';
import { ZarrBackend } from './zarr-backend.js';

/**
 * The storage a task sees: one instance per task, never shared, owning its backends.
 *
 * Sharing one FileManager (or one memory backend) between concurrent tasks is how intermediate
 * planes of well A end up in well B, so the defaults are factories that build fresh backends for
 * every FileManager, and `close()` frees everything the task kept in memory.
 *
 * @module
 */

export interface FileManagerOptions {
  /** Aborts every load and save of this manager (in addition to a per-call signal). */
  readonly signal?: AbortSignal;
  /**
   * Factories for the backends; each FileManager calls them once. Use them to wrap a backend
   * (e.g. to record calls in a test), not to pass one shared instance.
   * @defaultValue `{ memory: () => new MemoryBackend(), disk: () => new DiskBackend(), zarr: () => new ZarrBackend() }`
   */
  readonly backends?: { readonly [K in BackendKind]?: () => StorageBackend };
}

export class FileManager {
  readonly #backends: Readonly<Record<BackendKind, StorageBackend>>;
  readonly #signal: AbortSignal | undefined;
  #closing: Promise<void> | undefined;

  constructor(opts: FileManagerOptions = {}) {
    this.#signal = opts.signal;
    this.#backends = {
      memory: (opts.backends?.memory ?? (() => new MemoryBackend()))(),
      disk: (opts.backends?.disk ?? (() => new DiskBackend()))(),
      zarr: (opts.backends?.zarr ?? (() => new ZarrBackend()))(),
    };
  }

  /** The backend of `kind` owned by this manager. */
  backend(kind: BackendKind): StorageBackend {
    this.#assertOpen(kind);
    return this.#backends[kind];
  }

  /**
   * @throws AbortError (`E_ABORTED`) when the manager's or the call's signal is aborted.
   * @throws PlateflowError `E_NOT_FOUND` when nothing is stored at `path`; `E_TIFF_INVALID`,
   *   `E_STORAGE_IO` from the backend.
   */
  async load(kind: BackendKind, path: string, opts: LoadOptions = {}): Promise<ImageStack> {
    const signal = this.#abortCheck(opts.signal);
    return this.backend(kind).load(path, {
      ...(signal ? { signal } : {}),
      ...(opts.page !== undefined ? { page: opts.page } : {}),
      ...(opts.sample !== undefined ? { sample: opts.sample } : {}),
      ...(opts.readBuffer ? { readBuffer: opts.readBuffer } : {}),
      ...(opts.into ? { into: opts.into } : {}),
    });
  }

  /** @throws AbortError (`E_ABORTED`) when aborted; `E_STORAGE_IO`, `E_TIFF_INVALID` from the backend. */
  async save(kind: BackendKind, path: string, stack: ImageStack, opts: SaveOptions = {}): Promise<void> {
    this.#abortCheck(opts.signal);
    await this.backend(kind).save(path, stack, opts.batch ? { batch: opts.batch } : undefined);
  }

  async exists(kind: BackendKind, path: string): Promise<boolean> {
    return this.backend(kind).exists(path);
  }

  async list(kind: BackendKind, dir: string): Promise<string[]> {
    return this.backend(kind).list(dir);
  }

  async delete(kind: BackendKind, path: string): Promise<void> {
    return this.backend(kind).delete(path);
  }

  /**
   * Close every backend (the memory backend drops its entries, the zarr backend its open arrays). Safe to call more than once: later
   * calls return the first call's promise. Every backend is closed even if one fails; the first
   * failure is then rethrown.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const results = await Promise.allSettled([this.#backends.memory.close(), this.#backends.disk.close(), this.#backends.zarr.close()]);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    })();
    return this.#closing;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** One signal that fires when either the manager's or the call's signal does. */
  #abortCheck(callSignal: AbortSignal | undefined): AbortSignal | undefined {
    const signals = [this.#signal, callSignal].filter((s): s is AbortSignal => s !== undefined);
    for (const s of signals) if (s.aborted) throw new AbortError(s.reason);
    return signals.length <= 1 ? signals[0] : AbortSignal.any(signals);
  }

  #assertOpen(kind: BackendKind): void {
    if (this.#closing !== undefined) throw new StorageError(kind, 'file manager is closed');
  }
}
