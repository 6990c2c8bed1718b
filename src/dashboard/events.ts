/**
 * Server-Sent Events to the pages watching a run. A page that connects (or reconnects: the
 * browser's EventSource does so by itself) gets a `snapshot` at once, then the changes, sent at
 * most every `intervalMs` as one `update` for all of them: a thread pool can end hundreds of tiny
 * tasks a second, and a message per task would cost the browser (and this thread) more than the
 * map is worth. 10,000 tasks ending in one interval are still one message.
 *
 * @module
 */
import type { ServerResponse } from 'node:http';
import type { DashboardState } from './state.js';

export interface EventHubOptions {
  /** @defaultValue 200 */
  readonly intervalMs?: number;
  /** A comment line this often keeps proxies and the browser from dropping an idle stream. @defaultValue 15000 */
  readonly keepAliveMs?: number;
}

export class EventHub {
  readonly #state: DashboardState;
  readonly #clients = new Set<ServerResponse>();
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #keepAlive: ReturnType<typeof setInterval>;

  constructor(state: DashboardState, options: EventHubOptions = {}) {
    this.#state = state;
    this.#timer = setInterval(() => this.flush(), options.intervalMs ?? 200);
    this.#keepAlive = setInterval(() => this.#broadcast(': keep-alive\n\n'), options.keepAliveMs ?? 15_000);
    // The dashboard must never be what keeps a finished run's process alive.
    this.#timer.unref();
    this.#keepAlive.unref();
  }

  /** Takes over `res` as an event stream: headers, the snapshot, then every later update. */
  attach(res: ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    // Pending changes go to the pages already watching first, so the snapshot below is not followed by a stale update.
    this.flush();
    res.write(message('snapshot', this.#state.snapshot()));
    this.#clients.add(res);
    res.on('close', () => this.#clients.delete(res));
  }

  /** Sends what changed now (also called at the end of a run, so the last tasks show at once). */
  flush(): void {
    const update = this.#state.takeUpdate();
    if (update && this.#clients.size > 0) this.#broadcast(message(update.type, update.data));
  }

  close(): void {
    clearInterval(this.#timer);
    clearInterval(this.#keepAlive);
    this.flush();
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }

  #broadcast(text: string): void {
    for (const res of this.#clients) res.write(text);
  }
}

/** One SSE message; JSON never holds a raw newline, so `data:` is one line. */
function message(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
