/**
 * The parts of distributed runs that need no Redis: the job codec and schema the worker checks
 * before running anything, the --roots confinement, Redis URLs (passwords never printed), names.
 */
import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../src/compiler/compile.js';
import type { TaskPlan } from '../src/compiler/plan.js';
import { isPlateflowError } from '../src/errors.js';
import { parseRedisUrl, redactRedisUrl } from '../src/distributed/connection.js';
import { decodeJobReturn, decodeTaskJob, encodePlan, encodeResult, JOB_FORMAT_VERSION, type TaskJobData } from '../src/distributed/job-schema.js';
import { decodeJson, encodeJson } from '../src/distributed/json-codec.js';
import { assertRunId, jobIdOf, newRunId, taskKeyOf } from '../src/distributed/names.js';
import { resolveBullmqOptions } from '../src/distributed/options.js';
import { assertPlanInsideRoots, resolveRoots } from '../src/distributed/roots.js';
import type { TaskResult } from '../src/execution/result.js';
import { fakePlate } from './plans.js';
import { tempDir } from './helpers.js';

async function plansFor(root: string, out: string, modules: string[] = []): Promise<TaskPlan[]> {
  const run = await compile(
    {
      steps: [
        { name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'disk' },
        { name: 'count', func: { '1': [['gaussian_blur', { sigma: 2 }], 'otsu_threshold', 'label', ['count_objects', { min_size: 20 }]] } },
      ],
    },
    fakePlate(['A01', 'B02'], 2, 2, 2, root),
    { out },
  );
  // Modules are resolved and loaded at compile time; for the schema they are only strings.
  return [...run.tasks.values()].map((p) => ({ ...p, modules }));
}

function jobFor(plan: TaskPlan, overrides: Partial<TaskJobData> = {}): TaskJobData {
  const { text, hash } = encodePlan(plan);
  return { v: JOB_FORMAT_VERSION, runId: 'run-1', taskKey: taskKeyOf(plan.outputRoot, plan.taskId), taskId: plan.taskId, planHash: hash, plan: text, timeoutMs: null, retryOn: ['killed', 'timeout'], ...overrides };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isPlateflowError(err) ? err.code : `not a PlateflowError: ${String(err)}`;
  }
  return undefined;
}

describe('job codec', () => {
  it('round-trips any JSON-like value, keeping NaN, ±Infinity and -0', () => {
    fc.assert(
      // Keys that could reach a prototype are refused by design (next test), so none are generated here.
      fc.property(fc.jsonValue().filter((v) => !/__proto__|constructor|prototype/.test(JSON.stringify(v))), fc.constantFrom(Number.NaN, Infinity, -Infinity, -0, 1.5), (value, special) => {
        const wrapped = { value, special, list: [special, value] };
        expect(decodeJson(encodeJson(wrapped))).toEqual(wrapped);
      }),
      { numRuns: 200 },
    );
    expect(Object.is((decodeJson(encodeJson({ z: -0 })) as { z: number }).z, -0)).toBe(true);
  });

  it('refuses prototype keys and unknown number tags', () => {
    expect(() => decodeJson('{"__proto__": {"polluted": true}}')).toThrow(/refusing key "__proto__"/);
    expect(() => decodeJson('{"a": {"$pf:num": "42"}}')).toThrow(/bad number tag/);
    expect(() => decodeJson('{"constructor": {"prototype": 1}}')).toThrow(/refusing key/);
    expect(decodeJson('{"a": "constructor"}')).toEqual({ a: 'constructor' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('job schema (what a worker checks before running anything)', () => {
  it('a compiled plan survives the job and comes back deep-frozen and equal', async () => {
    for (const plan of await plansFor('/data/plate', '/data/out')) {
      const { plan: back } = decodeTaskJob(JSON.parse(JSON.stringify(jobFor(plan))));
      expect(back).toEqual(plan);
      expect(JSON.stringify(back)).toBe(JSON.stringify(plan));
      expect(Object.isFrozen(back.steps[1]!.pattern.byGroup['1']![0]!.kwargs)).toBe(true);
    }
  });

  it('kwargs that plain JSON would turn into null come back as numbers', async () => {
    const [plan] = await plansFor('/data/plate', '/data/out');
    const odd = { ...plan!, steps: plan!.steps.map((s, i) => (i === 0 ? { ...s, pattern: { default: [{ fn: 'f', kwargs: { lo: -Infinity, hi: Infinity, nan: Number.NaN } }], byGroup: {} } } : s)) };
    const { plan: back } = decodeTaskJob(jobFor(odd));
    expect(back.steps[0]!.pattern.default![0]!.kwargs).toEqual({ lo: -Infinity, hi: Infinity, nan: Number.NaN });
  });

  it('refuses a plan altered in Redis, malformed fields, unsafe paths and unknown keys, naming the field', async () => {
    const [plan] = await plansFor('/data/plate', '/data/out');
    const good = jobFor(plan!);
    const tampered = { ...good, plan: good.plan.replace('"A01"', '"A99"') };
    expect(() => decodeTaskJob(tampered)).toThrow(/does not match its planHash/);
    const variants: [string, (p: Record<string, unknown>) => unknown, RegExp][] = [
      ['relative root', (p) => ({ ...p, plate: { ...(p.plate as object), root: 'data/plate' } }), /plan\.plate\.root: must be an absolute path/],
      ['.. in an input', (p) => ({ ...p, inputs: [{ path: '../../etc/passwd', components: {} }] }), /plan\.inputs\.0\.path: must be a relative path/],
      ['.. in the output root', (p) => ({ ...p, outputRoot: '/data/../etc' }), /plan\.outputRoot: must be an absolute path without "\.\."/],
      ['an extra key', (p) => ({ ...p, shell: 'rm -rf /' }), /plan: Unrecognized key: "shell"/],
      ['a step writing elsewhere', (p) => ({ ...p, steps: (p.steps as { outputDir: string | null }[]).map((s) => (s.outputDir ? { ...s, outputDir: '/etc/x' } : s)) }), /outputDir: must be a direct sub-directory of outputRoot/],
      ['an unknown format version', (p) => ({ ...p, formatVersion: 2 }), /plan\.formatVersion/],
    ];
    for (const [what, change, message] of variants) {
      const text = encodeJson(change(JSON.parse(good.plan) as Record<string, unknown>));
      const job = { ...good, plan: text, planHash: encodePlan(JSON.parse(text) as TaskPlan).hash };
      // encodePlan of the parsed text gives the same text back, so the hash matches and the schema decides.
      expect(() => decodeTaskJob(job), what).toThrow(message);
      expect(codeOf(() => decodeTaskJob(job)), what).toBe('E_PLAN_INVALID');
    }
    expect(() => decodeTaskJob({ ...good, v: 99 })).toThrow(/job data\.v/);
    expect(() => decodeTaskJob('not an object')).toThrow(/job data/);
  });

  it('results round-trip with their plan hash, and garbage is refused', () => {
    const result: TaskResult = { taskId: 'A01', axis: { well: 'A01' }, status: 'ok', seconds: 0.5, images: 4, outputs: ['1_p/a.tif'], measurements: [{ task: 'A01', step: 's', fn: 'f', image: 'a', components: { well: 'A01' }, values: { mean: Number.NaN, n: 3 } }] };
    const back = decodeJobReturn(JSON.stringify(encodeResult(result, 'h', 'worker-1')));
    expect(back).toEqual({ planHash: 'h', worker: 'worker-1', result });
    expect(() => decodeJobReturn({ v: 1, planHash: 'h', worker: 'w', result: '{"taskId": 3}' })).toThrow(/job result\.taskId/);
    expect(() => decodeJobReturn(42)).toThrow(/job return value/);
  });
});

describe('--roots confinement', () => {
  it('accepts plans inside the roots and refuses plate, output or module paths outside, also through symlinks', async () => {
    const dir = await tempDir('plateflow-roots-');
    const data = path.join(dir, 'data');
    const elsewhere = path.join(dir, 'elsewhere');
    await mkdir(data);
    await mkdir(elsewhere);
    await symlink(elsewhere, path.join(data, 'link'));
    const roots = await resolveRoots([data]);
    const inside = await plansFor(path.join(data, 'plate'), path.join(data, 'out'), [pathToFileURL(path.join(data, 'fns.mjs')).href + '#f', 'some-package/sub']);
    await expect(assertPlanInsideRoots(inside[0]!, roots)).resolves.toBeUndefined();

    const cases: [string, TaskPlan, RegExp][] = [
      ['plate outside', (await plansFor(path.join(elsewhere, 'plate'), path.join(data, 'out')))[0]!, /the plate is outside the worker's roots/],
      ['output through a symlink', (await plansFor(path.join(data, 'plate'), path.join(data, 'link', 'out')))[0]!, /the output folder is outside the worker's roots.*resolves to/],
      ['module file outside', (await plansFor(path.join(data, 'plate'), path.join(data, 'out'), [pathToFileURL(path.join(elsewhere, 'evil.mjs')).href]))[0]!, /a function module is outside/],
      ['data: module', (await plansFor(path.join(data, 'plate'), path.join(data, 'out'), ['data:text/javascript,process.exit(1)']))[0]!, /installed package name/],
      ['http module', (await plansFor(path.join(data, 'plate'), path.join(data, 'out'), ['https://example.invalid/x.mjs']))[0]!, /installed package name/],
      ['node: builtin', (await plansFor(path.join(data, 'plate'), path.join(data, 'out'), ['node:child_process']))[0]!, /installed package name/],
    ];
    for (const [what, plan, message] of cases) {
      await expect(assertPlanInsideRoots(plan, roots), what).rejects.toThrow(message);
      await expect(assertPlanInsideRoots(plan, roots).catch((e: unknown) => (isPlateflowError(e) ? e.code : 'other')), what).resolves.toBe('E_PATH_UNSAFE');
    }
    await expect(resolveRoots([])).rejects.toThrow(/--roots needs at least one directory/);
    await expect(resolveRoots(['relative/dir'])).rejects.toThrow(/absolute paths/);
    await expect(resolveRoots([path.join(dir, 'missing')])).rejects.toThrow(/cannot be resolved: ENOENT/);
  });
});

describe('Redis URLs and names', () => {
  it('parses user, password, port, db and TLS, and redacts the password everywhere', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6390')).toEqual({ host: '127.0.0.1', port: 6390, db: 0 });
    expect(parseRedisUrl('redis://:p%40ss@redis.lab:7000/3')).toEqual({ host: 'redis.lab', port: 7000, db: 3, password: 'p@ss' });
    expect(parseRedisUrl('rediss://alice:secret@[::1]/0')).toMatchObject({ host: '::1', port: 6379, username: 'alice', password: 'secret', tls: {} });
    expect(redactRedisUrl('redis://alice:secret@host:1/2')).toBe('redis://alice:***@host:1/2');
    expect(redactRedisUrl('not a url://u:secret@x')).not.toContain('secret');
    for (const bad of ['http://host', 'redis://host/abc', 'nonsense', 'redis://:secret@host/x']) {
      const message = (() => {
        try {
          parseRedisUrl(bad);
          return '';
        } catch (err) {
          return (err as Error).message;
        }
      })();
      expect(message, bad).toMatch(/--redis/);
      expect(message).not.toContain('secret');
    }
  });

  it('run ids are safe key parts; job ids never contain ":" nor are integers', () => {
    expect(newRunId(new Date('2025-01-31T14:25:01Z'))).toMatch(/^run-20250131-142501-[0-9a-f]{6}$/);
    expect(() => assertRunId('a:b')).toThrow(/run id/);
    expect(() => assertRunId('../x')).toThrow(/run id/);
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (taskId) => {
        const id = jobIdOf('run-1', taskKeyOf('/out', taskId));
        expect(id).not.toContain(':');
        expect(Number.isInteger(Number(id))).toBe(false);
      }),
    );
    expect(taskKeyOf('/out/a', 'A01')).not.toBe(taskKeyOf('/out/b', 'A01'));
  });

  it('executor options: defaults, and one message per bad value', () => {
    const o = resolveBullmqOptions({ redis: 'redis://127.0.0.1:6390' });
    expect(o).toMatchObject({ queue: 'tasks', prefix: 'plateflow', attempts: 3, retryOn: ['killed', 'timeout'], retryBackoffMs: 1000, timeoutMs: null, resumable: false });
    expect(resolveBullmqOptions({ redis: 'x', runId: 'run-7', retryErrors: true })).toMatchObject({ runId: 'run-7', resumable: true, retryOn: ['killed', 'timeout', 'error'] });
    expect(() => resolveBullmqOptions({ redis: 'x', attempts: 0 })).toThrow('attempts must be an integer ≥ 1, got 0');
    expect(() => resolveBullmqOptions({ redis: 'x', queue: 'a:b' })).toThrow(/--queue/);
    expect(() => resolveBullmqOptions({ redis: '' })).toThrow(/PLATEFLOW_REDIS_URL/);
  });
});
