/**
 * Parsers for what Slurm's commands print (formats as of Slurm 22.05; checked against the real
 * commands in test/slurm-commands.test.ts). Pure functions, so each format has one place.
 */

/**
 * One record of `scontrol show … -o`: `Key=value` fields separated by spaces. Values may hold
 * spaces themselves (a job name, a pending reason), so a field ends only where the next
 * ` Key=` begins; keys look like `JobId`, `CPUs/Task`, `NtasksPerN:B:S:C`.
 */
export function parseKeyValueRecord(line: string): Map<string, string> {
  const fields = new Map<string, string>();
  const keyAt = /(?:^| )([A-Za-z][A-Za-z0-9_:/]*)=/g;
  const starts: { key: string; valueStart: number; fieldStart: number }[] = [];
  for (let m = keyAt.exec(line); m; m = keyAt.exec(line)) {
    starts.push({ key: m[1]!, valueStart: m.index + m[0].length, fieldStart: m.index });
  }
  starts.forEach((s, i) => {
    const end = i + 1 < starts.length ? starts[i + 1]!.fieldStart : line.length;
    // The first occurrence wins: scontrol never repeats a key within one record.
    if (!fields.has(s.key)) fields.set(s.key, line.slice(s.valueStart, end).trim());
  });
  return fields;
}

/** `scontrol show config`: lines `Name = value` (a header line and blank lines are skipped). */
export function parseConfigLines(stdout: string): Map<string, string> {
  const config = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^(\S+)\s+=\s?(.*)$/.exec(line);
    if (m) config.set(m[1]!, m[2]!.trim());
  }
  return config;
}

/** A leading whole number of a config value such as `300 sec` or `1001`; undefined otherwise. */
export function leadingInteger(value: string | undefined): number | undefined {
  const m = /^(\d+)\b/.exec(value?.trim() ?? '');
  return m ? Number(m[1]) : undefined;
}

/**
 * Array task ids as Slurm prints them: `4`, `1-5`, `0,3,7-9`, a throttle suffix `1-5%2`, and
 * squeue's brackets `[1-5%2]`; `N/A` (not an array) gives none. A step `0-9:3` counts by 3.
 */
export function expandTaskIds(spec: string): number[] {
  const body = spec.trim().replace(/^\[/, '').replace(/\]$/, '').replace(/%\d+$/, '');
  if (body === '' || body === 'N/A') return [];
  const ids: number[] = [];
  for (const part of body.split(',')) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part.trim());
    if (!m) throw new SyntaxError(`unexpected array task id list "${spec}"`);
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    const step = m[3] === undefined ? 1 : Number(m[3]);
    if (step < 1) throw new SyntaxError(`unexpected array task id list "${spec}"`);
    for (let id = first; id <= last; id += step) ids.push(id);
  }
  return ids;
}

/** `ExitCode=E:S` of scontrol: the exit status, and the signal that ended the job (0 for none). */
export function parseExitCode(value: string | undefined): { exitCode: number; signal: number } {
  const m = /^(\d+):(\d+)$/.exec(value?.trim() ?? '');
  return m ? { exitCode: Number(m[1]), signal: Number(m[2]) } : { exitCode: 0, signal: 0 };
}

/** Sorts by array job id (as a number), then task id. */
export function byJobThenTask<T extends { readonly jobId: string; readonly taskId: number | null }>(a: T, b: T): number {
  return Number(a.jobId) - Number(b.jobId) || a.jobId.localeCompare(b.jobId) || (a.taskId ?? -1) - (b.taskId ?? -1);
}
