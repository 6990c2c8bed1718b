/**
 * Child-process entry of `processPosition` (forked by path; never import it). Runs one unit per
 * `run` message and replies on the IPC channel; exits when the channel closes.
 *
 * @module
 */
import { serializeError } from '../errors.js';
import type { ChildReply, ChildRequest } from './pools.js';
import { runUnit } from './unit.js';

process.on('message', (msg: ChildRequest) => {
  if (msg?.type !== 'run') return;
  runUnit(msg.task).then(
    (outcome) => reply({ type: 'reply', id: msg.id, reply: { ok: true, outcome } }),
    (err: unknown) => reply({ type: 'reply', id: msg.id, reply: { ok: false, error: serializeError(err) } }),
  );
});

process.on('disconnect', () => process.exit(0));

function reply(message: ChildReply): void {
  process.send?.(message);
}
