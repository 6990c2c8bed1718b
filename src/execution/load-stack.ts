/**
 * Reading a step's inputs as stacks: the images of one group, from disk, a zarr array or the
 * task's memory, side by side in one array.
 */
import type { DType, ImageStack, PixelArray, Allocate } from '../image.js';
import { createStack, planeOf } from '../image.js';
import type { PixelDestination, ReadBuffer } from '../storage/backend.js';
import type { FileManager } from '../storage/file-manager.js';
import type { SampleChoice } from '../storage/tiff-samples.js';
import { asDType } from './zarr-step-output.js';

/** An image flowing between steps inside one task: where it lives and what it is. */
export interface FlowImage {
  readonly components: Readonly<Record<string, string>>;
  readonly backend: 'disk' | 'memory' | 'zarr';
  readonly path: string;
  readonly page?: number;
  /** The sample of a colour TIFF input (see `ImageRecord.sample`). */
  readonly sample?: SampleChoice;
  /** A zarr plane stored widened (see zarr-step-output.ts) comes back as this dtype. */
  readonly dtype?: DType;
}

/** What a load needs of its task. */
export interface LoadContext {
  readonly files: FileManager;
  readonly signal: AbortSignal | undefined;
  /** Reused by every disk read of the task (one load is in flight at a time). */
  readonly readBuffer: ReadBuffer;
}

/**
 * A group's members as one contiguous stack, allocated once with `allocate` (the worker's pool:
 * every element is overwritten or cut off). Disk files that need no decoding are read straight into
 * their place in it; others through the task's reusable read buffer and copied into place: a
 * fresh buffer per file would cost more in page faults than the read itself.
 */
export async function loadStack(members: readonly FlowImage[], ctx: LoadContext, allocate: Allocate): Promise<ImageStack> {
  // Memory and zarr loads are already owned by this task: a single one needs no copy.
  if (members.length === 1 && members[0]!.backend !== 'disk') return loadMember(members[0]!, ctx);
  let out: ImageStack | undefined;
  let filled = 0;
  const into: PixelDestination = (dtype, [n, h, w]) => {
    out ??= createStack(dtype, n * members.length, h, w, allocate);
    const fits = dtype === out.dtype && h === out.shape[1] && w === out.shape[2] && filled + n * h * w <= out.data.length;
    return fits ? { data: out.data, offset: filled } : undefined;
  };
  for (const member of members) {
    const part = await loadMember(member, ctx, into);
    const [, h, w] = part.shape;
    out ??= createStack(part.dtype, part.shape[0] * members.length, h, w, allocate);
    if (part.dtype !== out.dtype || h !== out.shape[1] || w !== out.shape[2] || filled + part.data.length > out.data.length) {
      throw new RangeError(`cannot stack ${member.path} (${part.dtype}, ${part.shape.join('×')}) with the first image of its group (${out.dtype}, ${out.shape[1]}×${out.shape[2]})`);
    }
    const inPlace = part.data.buffer === out.data.buffer && part.data.byteOffset === out.data.byteOffset + filled * out.data.BYTES_PER_ELEMENT;
    if (!inPlace) (out.data as PixelArray).set(part.data as never, filled);
    filled += part.data.length;
  }
  const [, h, w] = out!.shape;
  return filled === out!.data.length ? out! : { dtype: out!.dtype, shape: [filled / (h * w), h, w], data: out!.data.subarray(0, filled) } as ImageStack;
}

/** One member; a disk load may be a view of the task's read buffer, valid until the next load. */
async function loadMember(member: FlowImage, ctx: LoadContext, into?: PixelDestination): Promise<ImageStack> {
  if (member.backend === 'zarr') {
    const stack = await ctx.files.load('zarr', member.path, { signal: ctx.signal, ...(member.page !== undefined ? { page: member.page } : {}) });
    return member.dtype === undefined || member.dtype === stack.dtype ? stack : { ...stack, dtype: member.dtype, data: asDType(stack.data, member.dtype) } as ImageStack;
  }
  // A page of a multi-page file is cut from the whole stack below, so it cannot be read in place.
  const direct = into !== undefined && member.page === undefined ? { into } : {};
  const disk = member.backend === 'disk' ? { readBuffer: ctx.readBuffer, ...direct, ...(member.sample !== undefined ? { sample: member.sample } : {}) } : {};
  const stack = await ctx.files.load(member.backend, member.path, { signal: ctx.signal, ...disk });
  return member.page === undefined ? stack : { dtype: stack.dtype, shape: [1, stack.shape[1], stack.shape[2]], data: planeOf(stack, member.page) };
}
