/**
 * The one shared-memory file per PythonWorker through which pixels cross, both ways.
 *
 * Node has no mmap, so this side reads and writes the file at offsets (one copy each way) while the
 * Python side maps it and wraps the bytes as numpy arrays without copying. The file is unlinked the
 * moment it is opened: only the two processes' descriptors keep it, so its memory goes back to the
 * system by itself when both are gone, however they end (crash, SIGKILL, Ctrl-C) — nothing to clean.
 * A fresh file per call would cost ~9× the copy itself in open/map/unmap (see PYTHON-BRIDGE-NOTES).
 *
 * The file only grows (Node's writes past the end, the bridge's posix_fallocate for results): its
 * size is that of the largest call so far, held as long as the worker lives.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, readdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mayBeWriter } from '../storage/process-liveness.js';
import { PythonUnavailableError } from './errors.js';

/** Every arena file starts with this (it exists only for the instant between open and unlink). */
export const ARENA_PREFIX = 'plateflow-py-';

/** Where arenas go by default: tmpfs where there is one, else the temp folder. */
export const DEFAULT_ARENA_DIRS: readonly string[] = ['/dev/shm', os.tmpdir()];

export class Arena {
  readonly fd: number;
  /** The folder the file was created in, for messages when it runs out of space. */
  readonly dir: string;

  private constructor(fd: number, dir: string) {
    this.fd = fd;
    this.dir = dir;
  }

  /**
   * Opens a new arena in the first folder of `dirs` that takes it.
   * @throws PythonUnavailableError E_PYTHON_UNAVAILABLE when none does, naming each folder's error
   */
  static open(dirs: readonly string[] = DEFAULT_ARENA_DIRS): Arena {
    const problems: string[] = [];
    for (const dir of dirs) {
      sweepOnce(dir);
      const file = path.join(dir, `${ARENA_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
      let fd: number;
      try {
        fd = openSync(file, 'wx+', 0o600);
      } catch (err) {
        problems.push(`${dir}: ${(err as Error).message}`);
        continue;
      }
      try {
        unlinkSync(file);
      } catch (err) {
        closeSync(fd);
        throw err;
      }
      return new Arena(fd, dir);
    }
    throw new PythonUnavailableError(`cannot create a shared-memory file for Python (${problems.join('; ')})`, { dirs });
  }

  /** Copies `bytes` into the file at `offset`, growing it as needed. */
  write(bytes: Uint8Array, offset: number): void {
    try {
      for (let done = 0; done < bytes.byteLength; ) done += writeSync(this.fd, bytes, done, bytes.byteLength - done, offset + done);
    } catch (err) {
      throw new PythonUnavailableError(`cannot write ${bytes.byteLength} bytes to the shared-memory file in ${this.dir}: ${(err as Error).message}`, { dir: this.dir }, { cause: err });
    }
  }

  /** Fills `into` from the file at `offset`. */
  read(into: Uint8Array, offset: number): void {
    for (let done = 0; done < into.byteLength; ) {
      const n = readSync(this.fd, into, done, into.byteLength - done, offset + done);
      if (n === 0) throw new PythonUnavailableError(`the shared-memory file ends at ${offset + done} bytes, before the ${into.byteLength}-byte result at offset ${offset}`, { dir: this.dir });
      done += n;
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

const swept = new Set<string>();

/**
 * A process killed in the microseconds between creating an arena and unlinking it leaves the file
 * behind, holding memory in /dev/shm until reboot. The first arena of each process in a folder
 * removes those whose creator is gone (the pid is in the name; pid reuse only keeps a file longer).
 */
function sweepOnce(dir: string): void {
  if (swept.has(dir)) return;
  swept.add(dir);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.startsWith(ARENA_PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(name.slice(ARENA_PREFIX.length).split('-')[0]);
    const file = path.join(dir, name);
    try {
      if (!mayBeWriter(pid, statSync(file).mtimeMs)) unlinkSync(file);
    } catch {
      // Gone already, or not ours to remove.
    }
  }
}
