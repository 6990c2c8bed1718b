export { chooseExecution, createExecutor, defaultExecutor, type ExecutionChoice } from './create.js';
export { EXECUTOR_KINDS, isExecutorKind, resolveExecutorOptions, type ExecutorKind, type ExecutorOptions, type ResolvedExecutorOptions } from './options.js';
export { ExecutorClosedError, ResourceError, TaskKilledError, TaskTimeoutError, type KillDetails, type KillReason } from './errors.js';
export { SerialExecutor, type SerialExecutorOptions } from './serial.js';
export { ThreadsExecutor } from './threads.js';
export { ProcessesExecutor, SubprocessExecutor } from './processes.js';
export { dispatch, type Attempt, type DispatchOptions, type RunnerHandle, type TaskRunner } from './dispatch.js';
