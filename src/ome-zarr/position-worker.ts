/**
 * Thread entry of `processPosition` (loaded by piscina by path; never import it). It replies with
 * an envelope instead of throwing, so the pool can tell a unit's failure (a reply) from the
 * thread dying (a rejection).
 *
 * @module
 */
import { serializeError } from '../errors.js';
import type { UnitReply } from './pools.js';
import { runUnit, type UnitTask } from './unit.js';

export default async function runUnitInThread(task: UnitTask): Promise<UnitReply> {
  try {
    return { ok: true, outcome: await runUnit(task) };
  } catch (err) {
    return { ok: false, error: serializeError(err) };
  }
}
