/**
 * Loads `build/kernels.wasm` (compiled from `assembly/kernels.ts` by `scripts/build-wasm.mjs`) once per
 * thread, synchronously, and runs kernels in its linear memory.
 *
 * The file is resolved from this module's URL: `dist/processing/wasm.js` and `src/processing/wasm.ts`
 * both sit two levels below the package root, so `../../build/kernels.wasm` names the same file.
 * When it is missing or cannot be compiled (no WebAssembly SIMD), kernels silently use their JS
 * versions, which give bit-identical results; `kernelBackend()` tells which one runs. Setting
 * `PLATEFLOW_KERNELS=js` forces the JS kernels (for comparisons and debugging).
 */
import { readFileSync } from 'node:fs';

/** The slice of the WebAssembly JS API used here (the project's lib settings do not declare it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: unknown };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

export interface KernelExports {
  readonly memory: WasmMemory;
  heapBase(): number;
  gaussian2d(src: number, tmp: number, dst: number, h: number, w: number, wts: number, r: number, scratch: number): void;
  gaussian2dF32(src: number, tmp: number, dst: number, h: number, w: number, wts32: number, r: number, scratch: number): void;
  minMaxF32(src: number, n: number, out: number): void;
  histF32(src: number, n: number, edges: number, nbins: number, lo: number, norm: number, counts: number, sub: number): void;
  maskGtF32(src: number, n: number, t: number, dst: number): void;
  maxIntoU16(dst: number, src: number, size: number): void;
  maxIntoU8(dst: number, src: number, size: number): void;
  labelU8(mask: number, h: number, w: number, eight: number, out: number, start: number, end: number, parent: number, rowFirst: number): number;
  labelSizesU32(labels: number, n: number, sizes: number, cap: number): number;
}

export type KernelBackend = 'wasm' | 'js';

const WASM_URL = new URL('../../build/kernels.wasm', import.meta.url);

let loaded: KernelExports | null | undefined;

/**
 * Compiles and instantiates the kernels at `url`, or returns null when the file is absent or the
 * engine cannot compile it. Exported for tests; use `wasmKernels()`.
 */
export function loadKernelsFrom(url: URL): KernelExports | null {
  let bytes: Buffer;
  try {
    bytes = readFileSync(url);
  } catch {
    return null; // not built: the JS kernels are the documented fallback
  }
  try {
    const instance = new WA.Instance(new WA.Module(bytes), {
      env: {
        abort: () => {
          throw new Error('plateflow kernels.wasm aborted');
        },
      },
    });
    const exports = instance.exports as unknown as KernelExports;
    return typeof exports.gaussian2d === 'function' ? exports : null;
  } catch {
    return null; // e.g. an engine without SIMD
  }
}

function load(): KernelExports | null {
  if (process.env.PLATEFLOW_KERNELS === 'js') return null;
  return loadKernelsFrom(WASM_URL);
}

let forcedJs = false;

/** The loaded kernels of this thread, or null when the JS kernels must be used. */
export function wasmKernels(): KernelExports | null {
  if (forcedJs) return null;
  if (loaded === undefined) loaded = load();
  return loaded;
}

/**
 * Makes this thread use the JS kernels (true) or the WASM ones when available (false), for tests and
 * benchmarks that compare the two; returns the previous setting. Not part of the public API.
 */
export function forceJsKernels(on: boolean): boolean {
  const was = forcedJs;
  forcedJs = on;
  return was;
}

/** Which implementation the hot kernels use in this thread. */
export function kernelBackend(): KernelBackend {
  return wasmKernels() ? 'wasm' : 'js';
}

/** Kernel memory is never grown past this; bigger jobs run in JS (the memory never shrinks). */
const MAX_WASM_BYTES = 1024 * 1024 * 1024;

/**
 * Byte offsets into the kernel memory for regions of the given byte sizes (each 16-byte aligned),
 * growing the memory when needed, or null when that would pass MAX_WASM_BYTES or the engine refuses
 * to grow (the caller then uses its JS kernel). Offsets are only valid until the next call, and views
 * on `memory.buffer` must be created after it (growing detaches the old buffer).
 */
export function wasmRegions(k: KernelExports, sizes: readonly number[]): number[] | null {
  let at = k.heapBase();
  const offsets: number[] = [];
  for (const s of sizes) {
    offsets.push(at);
    at += (s + 15) & ~15;
  }
  if (at > MAX_WASM_BYTES) return null;
  const have = k.memory.buffer.byteLength;
  if (at > have) {
    try {
      k.memory.grow(Math.ceil((at - have) / 65536));
    } catch {
      return null;
    }
  }
  return offsets;
}
