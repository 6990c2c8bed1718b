/**
 * Environment for child workers. Native libraries (OpenMP, OpenBLAS, MKL, libuv's pool) each start
 * one thread per core by default; N workers × N threads oversubscribes the CPUs and runs slower
 * than N single-threaded workers. Each child gets its share instead. A value the user already set
 * is kept: they know their code better than we do.
 */
export const THREAD_LIMIT_VARIABLES = ['OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'VECLIB_MAXIMUM_THREADS', 'NUMEXPR_NUM_THREADS'] as const;

export const GLIBC_MALLOC_TUNING = 'glibc.malloc.mmap_threshold=67108864:glibc.malloc.trim_threshold=268435456';

export interface WorkerEnvOptions {
  readonly workers: number;
  readonly cpus: number;
  /** GPU this worker is bound to, or null. */
  readonly gpuId?: number | null;
  readonly base?: NodeJS.ProcessEnv;
}

/** This worker's share of the CPUs. */
function cpuShare(options: Pick<WorkerEnvOptions, 'workers' | 'cpus'>): number {
  return Math.max(1, Math.floor(options.cpus / Math.max(1, options.workers)));
}

/**
 * The most threads one task may use by the user's own OMP_NUM_THREADS (Infinity when unset): a user
 * who limits their native code's threads per worker is limiting plateflow's tiled kernels too.
 */
export function ompThreadCap(base: NodeJS.ProcessEnv = process.env): number {
  const omp = Number(base.OMP_NUM_THREADS);
  return Number.isSafeInteger(omp) && omp >= 1 ? omp : Number.POSITIVE_INFINITY;
}

/**
 * The thread-limit variables a worker's native code should see, those the base env does not set
 * already. Worker threads share their process's env, so they pass these to the processes they
 * start themselves (a Python worker) instead.
 */
export function threadLimits(options: WorkerEnvOptions): Record<string, string> {
  const base = options.base ?? process.env;
  const share = String(cpuShare(options));
  const limits: Record<string, string> = {};
  for (const name of THREAD_LIMIT_VARIABLES) if (base[name] === undefined) limits[name] = share;
  return limits;
}

/** The env for one child worker: the base env plus thread limits and, for a GPU worker, CUDA_VISIBLE_DEVICES. */
export function workerEnv(options: WorkerEnvOptions): NodeJS.ProcessEnv {
  const base = options.base ?? process.env;
  const share = cpuShare(options);
  const env: NodeJS.ProcessEnv = { ...base, ...threadLimits(options) };
  // libuv runs fs and zlib work on its pool. Its threads mostly wait on the disk (fsync), not the
  // CPU, so a few per worker let reads proceed while writes sync without oversubscribing cores.
  if (base.UV_THREADPOOL_SIZE === undefined) env.UV_THREADPOOL_SIZE = String(Math.max(4, share * 2));
  // Image buffers are 0.25-16 MiB each and short-lived. glibc serves them with fresh mmaps and
  // trims freed memory back to the OS, so every new buffer page-faults (measured: 3x the cost of
  // reusing heap memory). Keeping them on the heap lets freed pages be reused. glibc reads this
  // once at process start, which is why only child workers get it.
  if (base.GLIBC_TUNABLES === undefined) env.GLIBC_TUNABLES = GLIBC_MALLOC_TUNING;
  // Narrowing to one device means the task's GPU is device 0 inside the worker, whatever its index.
  if (options.gpuId !== undefined && options.gpuId !== null) env.CUDA_VISIBLE_DEVICES = String(options.gpuId);
  return env;
}
