/**
 * The Python bridge on its own: a real /usr/bin/python3 process, real shared memory, real signals.
 * What a function may return and how each case reads; where the pixels go; how calls end.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPlateflowError } from '../dist/errors.js';
import type { ImageStack } from '../dist/image.js';
import { probePython } from '../dist/python/probe.js';
import { parsePythonRef } from '../dist/python/target.js';
import { PythonWorker } from '../dist/python/worker.js';
import { REPO, isRunning, tempDir, waitUntilGone } from './helpers.js';

const PYTHON = '/usr/bin/python3';
const HAS_NUMPY = spawnSync(PYTHON, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
const FIXTURES = path.join(REPO, 'test', 'fixtures', 'python');
const fn = (name: string, file = 'bridge_cases.py') => parsePythonRef(`py:${path.join(FIXTURES, file)}:${name}`, '/');

const stack: ImageStack = { dtype: 'uint16', shape: [3, 4, 5], data: Uint16Array.from({ length: 60 }, (_, i) => i * 1000) };

/** This process's arenas with a name in /dev/shm: there must never be one (each is unlinked as it is opened). */
const shmArenas = () => readdirSync('/dev/shm').filter((f) => f.startsWith(`plateflow-py-${process.pid}-`));

async function waitForFile(file: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${file} did not appear`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to fail');
}

describe.skipIf(!HAS_NUMPY)('Python bridge', () => {
  let worker: PythonWorker;
  beforeAll(() => {
    worker = new PythonWorker({ executable: PYTHON, forwardOutput: false });
  });
  afterAll(async () => worker.close());

  it('the stack arrives as (Z, Y, X) in its dtype; returned arrays come back as they were, views of the input included', async () => {
    const same = await worker.call(fn('identity'), stack, {});
    expect(same.stack).toEqual(stack);
    const tail = await worker.call(fn('tail_planes'), stack, {});
    expect(tail.stack.shape).toEqual([2, 4, 5]);
    expect([...tail.stack.data]).toEqual([...stack.data.subarray(20)]);
    const plane = await worker.call(fn('first_plane_2d'), stack, {});
    expect(plane.stack.shape).toEqual([1, 4, 5]);
  });

  it.each([
    ['float64', 'float32'],
    ['int64', 'int32'],
    ['int8', 'int8'],
    ['int16', 'int16'],
    ['uint32', 'uint32'],
    ['float32', 'float32'],
  ] as const)('returned %s is stored as %s', async (returned, stored) => {
    const r = await worker.call(fn('as_dtype'), stack, { dtype: returned, add: 1 });
    expect(r.stack.dtype).toBe(stored);
    // numpy's astype wraps into the signed range; +1 is added after the cast.
    const wrap = (v: number, bits: number) => ((((v + 2 ** (bits - 1)) % 2 ** bits) + 2 ** bits) % 2 ** bits) - 2 ** (bits - 1);
    const expected = [...stack.data].map((v) => (returned === 'int8' ? wrap(v, 8) : returned === 'int16' ? wrap(v, 16) : v) + 1);
    expect([...r.stack.data]).toEqual(expected);
  });

  it('booleans are stored as uint8 0/1', async () => {
    const r = await worker.call(fn('as_bool'), stack, {});
    expect(r.stack.dtype).toBe('uint8');
    expect([...r.stack.data]).toEqual([...stack.data].map((v) => (v > 0 ? 1 : 0)));
  });

  it('measurements per plane, NaN and infinities included', async () => {
    const r = await worker.call(fn('per_plane'), stack, {});
    expect(r.measurements).toHaveLength(3);
    expect(r.measurements![0]!.mean).toBeCloseTo(9500);
    expect(r.measurements![0]!.nan).toBeNaN();
    expect(r.measurements![0]!.inf).toBe(Infinity);
  });

  it.each([
    ['as_dtype', { dtype: 'int64', add: 2 ** 40 }, /beyond int32/],
    ['wrong_rows', {}, /4 measurement rows for 3 output planes/],
    ['not_a_number', {}, /measurement 'label' is str, not a number/],
    ['not_an_array', {}, /returned str; expected a numpy array/],
    ['complex_values', {}, /dtype complex64/],
  ] as const)('%s: a clear error naming the function, and the process lives on', async (name, kwargs, message) => {
    const before = worker.pid;
    const err = await rejection(worker.call(fn(name), stack, kwargs));
    expect(isPlateflowError(err, 'E_PYTHON_RESULT')).toBe(true);
    expect(err.message).toContain(`bridge_cases.py:${name}`);
    expect(err.message).toMatch(message);
    expect(worker.pid).toBe(before);
  });

  it('a chain crosses once: each function sees the previous output as plateflow stores it, each reports its own measurements', async () => {
    const r = await worker.callChain(
      [
        { target: fn('as_dtype'), kwargs: { dtype: 'float64' } },
        { target: fn('report_dtype'), kwargs: {} },
        { target: fn('first_plane_2d'), kwargs: {} },
        { target: fn('report_dtype'), kwargs: {} },
      ],
      stack,
    );
    expect(r.stack.dtype).toBe('float32');
    expect(r.stack.shape).toEqual([1, 4, 5]);
    expect(r.steps.map((s) => s.planes)).toEqual([3, 3, 1, 1]);
    expect(r.steps[1]!.measurements).toEqual([0, 1, 2].map(() => ({ itemsize: 4, is_float: 1, planes: 3 })));
    expect(r.steps[3]!.measurements).toEqual([{ itemsize: 4, is_float: 1, planes: 1 }]);
    expect(r.steps[0]!.measurements).toBeUndefined();
  });

  it('an error in a chain names the function that failed', async () => {
    const err = await rejection(worker.callChain([{ target: fn('identity'), kwargs: {} }, { target: fn('fail'), kwargs: {} }, { target: fn('identity'), kwargs: {} }], stack));
    expect(isPlateflowError(err, 'E_PYTHON_RAISED')).toBe(true);
    expect((err as unknown as { context: { fn: string } }).context.fn).toMatch(/bridge_cases\.py:fail$/);
  });

  it('a chain whose output nobody reads: measurements come back, pixels do not, and a bad result is still an error', async () => {
    const arena = () => statSync(`/proc/${worker.pid}/fd/5`).size;
    await worker.call(fn('identity'), stack, {});
    const before = arena();
    const calls = [
      { target: fn('as_dtype'), kwargs: { dtype: 'float64' } },
      { target: fn('report_dtype'), kwargs: {} },
      { target: fn('make_big'), kwargs: { planes: 40_000 } },
    ];
    const r = await worker.callChain(calls, stack, { discardOutput: true });
    expect(r.stack).toBeUndefined();
    expect(r.steps.map((s) => s.planes)).toEqual([3, 3, 40_000]);
    expect(r.steps[1]!.measurements).toEqual([0, 1, 2].map(() => ({ itemsize: 4, is_float: 1, planes: 3 })));
    // 40,000 float32 planes of 4×5 are 3.2 MB: had they been placed, the arena would have grown.
    expect(arena()).toBe(before);
    const kept = await worker.callChain(calls, stack);
    expect(kept.stack.shape).toEqual([40_000, 4, 5]);
    expect(arena()).toBeGreaterThan(before);
    const err = await rejection(worker.callChain([{ target: fn('identity'), kwargs: {} }, { target: fn('complex_values'), kwargs: {} }], stack, { discardOutput: true }));
    expect(isPlateflowError(err, 'E_PYTHON_RESULT')).toBe(true);
    expect(err.message).toMatch(/bridge_cases\.py:complex_values.*dtype complex64/s);
  });

  it('freed memory is kept for the next call, unless the user tuned malloc themselves', async () => {
    const faults = async (env: Record<string, string>) => {
      const own = new PythonWorker({ executable: PYTHON, forwardOutput: false, env });
      try {
        return (await own.call(fn('refill_faults'), stack, { mib: 16 })).measurements![0]!.faults!;
      } finally {
        await own.close();
      }
    };
    // 16 MiB is 4096 pages: refilled from kept memory, a handful of faults at most.
    expect(await faults({})).toBeLessThan(200);
    // The user's setting wins: every block of 16 MiB is mapped afresh and faulted in page by page
    // (by 2 MiB pages where the kernel gives huge pages to every mapping).
    const hugeAlways = readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8').includes('[always]');
    expect(await faults({ MALLOC_MMAP_THRESHOLD_: String(128 * 1024) })).toBeGreaterThan(hugeAlways ? 7 : 3000);
  });

  it('an exception carries the traceback with the file and line', async () => {
    const err = await rejection(worker.call(fn('as_dtype'), stack, { dtype: 'no_such_dtype' }));
    expect(isPlateflowError(err, 'E_PYTHON_RAISED')).toBe(true);
    expect(err.message).toMatch(/raised TypeError: .*no_such_dtype/);
    const traceback = (err as unknown as { context: { traceback: string } }).context.traceback;
    expect(traceback).toMatch(/bridge_cases\.py", line 18, in as_dtype/);
  });

  it('user output on stdout and stderr does not disturb the replies', async () => {
    const r = await worker.call(fn('chatty'), stack, { lines: 2000 });
    expect(r.stack).toEqual(stack);
  });

  it('pixels cross through one unlinked shared-memory file, never a named one', async () => {
    await worker.call(fn('identity'), stack, {});
    const pid = worker.pid!;
    const links = readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return '';
      }
    });
    // The inherited descriptor and mmap's own duplicate of it: one file.
    const arenas = new Set(links.filter((l) => l.startsWith('/dev/shm/plateflow-py-')));
    expect([...arenas]).toHaveLength(1);
    expect([...arenas][0]).toMatch(/ \(deleted\)$/);
    expect(shmArenas()).toEqual([]);
  });

  it('an arena file left by a process killed between creating and unlinking it is removed by the next one', async () => {
    const folder = await tempDir('plateflow-arena-sweep-');
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)']).stdout.toString().trim();
    await writeFile(path.join(folder, `plateflow-py-${dead}-aaaaaaaaaaaa`), 'stale');
    await writeFile(path.join(folder, `plateflow-py-${process.pid}-bbbbbbbbbbbb`), 'live');
    const own = new PythonWorker({ executable: PYTHON, forwardOutput: false, arenaDirs: [folder] });
    try {
      await own.call(fn('identity'), stack, {});
      expect(readdirSync(folder)).toEqual([`plateflow-py-${process.pid}-bbbbbbbbbbbb`]);
    } finally {
      await own.close();
    }
  });

  it('an abort kills the Python process at once; the next call starts a fresh one', async () => {
    const own = new PythonWorker({ executable: PYTHON, forwardOutput: false });
    try {
      await own.call(fn('identity'), stack, {});
      const first = own.pid!;
      const controller = new AbortController();
      const started = path.join(await tempDir('plateflow-abort-'), 'started');
      const call = own.call(fn('sleepy'), stack, { seconds: 3600, started }, { signal: controller.signal });
      await waitForFile(started);
      controller.abort(new Error('stop'));
      const err = await rejection(call);
      expect(isPlateflowError(err, 'E_ABORTED')).toBe(true);
      await waitUntilGone([first]);
      expect((await own.call(fn('identity'), stack, {})).stack).toEqual(stack);
      expect(own.pid).not.toBe(first);
    } finally {
      await own.close();
    }
  });

  it('close() ends the process', async () => {
    const own = new PythonWorker({ executable: PYTHON, forwardOutput: false });
    await own.call(fn('identity'), stack, {});
    const pid = own.pid!;
    expect(isRunning(pid)).toBe(true);
    await own.close();
    await waitUntilGone([pid]);
  });

  describe('the probe', () => {
    it('names the file and line of a syntax error, and every failing target at once', async () => {
      const err = await rejection(probePython(PYTHON, [fn('ok', 'broken_syntax.py'), fn('missing'), parsePythonRef('py:no_such_module_qq:f', '/')]));
      expect(isPlateflowError(err, 'E_MODULE_LOAD')).toBe(true);
      expect(err.message).toMatch(/broken_syntax\.py:ok: SyntaxError: .*line 5/);
      expect(err.message).toMatch(/bridge_cases\.py:missing: AttributeError/);
      expect(err.message).toMatch(/no_such_module_qq:f: ModuleNotFoundError/);
    });

    it('a module whose import never ends fails the probe at its deadline, and its process is gone', async () => {
      const err = await rejection(probePython(PYTHON, [fn('never', 'slow_import.py')], 1500));
      expect(isPlateflowError(err, 'E_PYTHON_UNAVAILABLE')).toBe(true);
      expect(err.message).toMatch(/did not answer within/);
      expect(execFileSync('ps', ['-eo', 'args']).toString()).not.toMatch(/plateflow_bridge\.py --parent-pid \d+\n/);
    });

    it('an interpreter without numpy, or none at all', async () => {
      const missing = await rejection(probePython('/nonexistent/bin/python3', []));
      expect(isPlateflowError(missing, 'E_PYTHON_UNAVAILABLE')).toBe(true);
      expect(missing.message).toMatch(/cannot start the Python interpreter "\/nonexistent\/bin\/python3" \(spawn .* ENOENT\); give another with --python/);
      const sandbox = await tempDir('plateflow-nonumpy-');
      await mkdir(path.join(sandbox, 'numpy'));
      await writeFile(path.join(sandbox, 'numpy', '__init__.py'), 'raise ImportError("numpy is broken here")\n');
      const broken = await rejection(probePython(PYTHON, [fn('identity')], undefined, { PYTHONPATH: sandbox }));
      expect(isPlateflowError(broken, 'E_PYTHON_UNAVAILABLE')).toBe(true);
      expect(broken.message).toMatch(/numpy does not import .*numpy is broken here/);
      await rm(sandbox, { recursive: true, force: true });
    });
  });
});

/** A tmpfs of 1 MiB stands in for a full /dev/shm (root only; CI runs as root). */
const CAN_MOUNT = process.getuid?.() === 0;

describe.skipIf(!HAS_NUMPY || !CAN_MOUNT)('Python bridge on a full shared-memory folder', () => {
  let small: string;
  beforeAll(async () => {
    small = await tempDir('plateflow-small-shm-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small]);
  });
  afterAll(() => {
    execFileSync('umount', [small]);
  });

  it('an input or a result that does not fit is a clear error, and the worker goes on', async () => {
    const own = new PythonWorker({ executable: PYTHON, forwardOutput: false, arenaDirs: [small] });
    try {
      const big: ImageStack = { dtype: 'uint16', shape: [1, 1024, 1024], data: new Uint16Array(1024 * 1024) };
      const input = await rejection(own.call(fn('identity'), big, {}));
      expect(isPlateflowError(input, 'E_PYTHON_UNAVAILABLE')).toBe(true);
      expect(input.message).toMatch(/cannot write 2097152 bytes to the shared-memory file in .*plateflow-small-shm-.*: ENOSPC/);
      const result = await rejection(own.call(fn('make_big'), stack, { planes: 20000 }));
      expect(result.message).toMatch(/cannot grow the shared-memory arena/);
      expect((await own.call(fn('identity'), stack, {})).stack).toEqual(stack);
    } finally {
      await own.close();
    }
  });
});
