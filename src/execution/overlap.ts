/**
 * I/O overlapped with compute inside one task: reads are started one group ahead. (Writes overlap
 * through `AtomicWriteBatch`, whose fsyncs run on the thread pool while the next group computes.)
 */

/** Starts `load` now; the returned promise is marked handled so a failure surfaces only when awaited. */
export function prefetch<T>(load: () => Promise<T>): Promise<T> {
  const promise = load();
  promise.catch(() => undefined);
  return promise;
}
