import { promises as fsp, constants as fsc } from 'node:fs';
import { removeTree } from '../common/fsutil';
import * as path from 'node:path';
import { isErrno } from '../common/errors';

/**
 * Two runc commands done in the daemon's own process, where what runc would do is small
 * and fixed, to save a runc process (~7-12 ms each here). Each says `false` when the state
 * is not one it knows how to handle, and the caller then runs the runc command. Written
 * against runc 1.1 (Debian bookworm's 1.1.5), whose layout these read:
 *
 *   <root>/<id>/state.json   the container's state and libcontainer config
 *   <root>/<id>/exec.fifo    while the container is created and not started: its init
 *                            blocks opening the fifo for writing until someone reads it
 *
 * `runc start` of a created container opens exec.fifo for reading, reads until EOF (init
 * writes one byte, then execs the user's process, which closes its end) and removes the
 * fifo. `runc delete` of a stopped container with a PID namespace of its own (so none of
 * its processes can outlive init) removes its cgroups, then its state folder; it also runs
 * poststop hooks, removes an Intel RDT group and stops a systemd cgroup's unit, so a container
 * with any of those is left to runc.
 *
 * BERTH_RUNC_DIRECT=0 turns both off.
 */
export const directEnabled = process.env.BERTH_RUNC_DIRECT !== '0';

interface RuncState {
  init_process_pid: number;
  init_process_start: number;
  cgroup_paths?: Record<string, string>;
  intel_rdt_path?: string;
  config?: {
    namespaces?: { type: string; path?: string }[];
    Hooks?: Record<string, unknown[] | null> | null;
    cgroups?: { Systemd?: boolean };
  };
}

/** 'alive', 'dead' (gone, reused by another process, or a zombie) as runc judges its init. */
export async function initStatus(pid: number, startTime: number): Promise<'alive' | 'dead'> {
  let stat: string;
  try {
    stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 'dead';
  }
  // the command may hold spaces and parentheses: fields count from the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const start = Number(fields[19]);
  return start !== startTime || state === 'Z' || state === 'X' ? 'dead' : 'alive';
}

async function readState(root: string, id: string): Promise<RuncState | undefined> {
  try {
    return JSON.parse(await fsp.readFile(path.join(root, id, 'state.json'), 'utf8')) as RuncState;
  } catch {
    return undefined;
  }
}

/**
 * Starts a created container as `runc start` does. Resolves false, having changed nothing,
 * when there is no exec.fifo to open (the runc command then says what is wrong).
 */
export async function startDirect(root: string, id: string): Promise<boolean> {
  if (!directEnabled) return false;
  const fifo = path.join(root, id, 'exec.fifo');
  const state = await readState(root, id);
  if (!state) return false;
  // runc start also runs poststart hooks: a container with hooks is left to it
  if (Object.values(state.config?.Hooks ?? {}).some((h) => Array.isArray(h) && h.length > 0)) return false;
  try {
    if (!(await fsp.stat(fifo)).isFIFO()) return false;
  } catch {
    return false;
  }
  // The open blocks until init opens the other end, which it is waiting to do. Should init
  // die first, the open would block for ever: a watch opens the write end itself to let
  // it go, and the empty read then says the container is dead, as runc does.
  let dead = false;
  let opened = false;
  const watch = setInterval(() => {
    void initStatus(state.init_process_pid, state.init_process_start).then(async (s) => {
      if (s === 'alive' || opened) return;
      dead = true;
      // fails (ENXIO) while our open has not reached the kernel yet: the next tick tries again
      const w = await fsp.open(fifo, fsc.O_WRONLY | fsc.O_NONBLOCK).catch(() => undefined);
      await w?.close();
    });
  }, 100);
  let data: Buffer;
  try {
    const fh = await fsp.open(fifo, fsc.O_RDONLY);
    opened = true;
    try {
      data = await fh.readFile();
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return false;
    throw e;
  } finally {
    clearInterval(watch);
  }
  if (data.length === 0) throw new Error(dead ? 'container process is already dead' : 'cannot start an already running container');
  await fsp.rm(fifo, { force: true });
  return true;
}

/**
 * Deletes a stopped container as `runc delete` does. Resolves false, having changed
 * nothing, when the container is unknown, not stopped, shares a PID namespace, or has
 * hooks or an RDT group; a cgroup that will not go makes it false too (runc then retries).
 */
export async function deleteDirect(root: string, id: string): Promise<boolean> {
  if (!directEnabled) return false;
  const state = await readState(root, id);
  if (!state?.config) return false;
  const pidns = state.config.namespaces?.find((n) => n.type === 'NEWPID');
  if (!pidns || pidns.path) return false;
  const hooks = state.config.Hooks ?? {};
  if (Object.values(hooks).some((h) => Array.isArray(h) && h.length > 0)) return false;
  if (state.intel_rdt_path) return false;
  // a systemd-managed cgroup is a unit to stop, not folders to remove
  if (state.config.cgroups?.Systemd) return false;
  if ((await initStatus(state.init_process_pid, state.init_process_start)) === 'alive') return false;
  // one folder per hierarchy on cgroup v1: they go side by side
  const removed = await Promise.all([...new Set(Object.values(state.cgroup_paths ?? {}))].map(removeCgroup));
  if (removed.includes(false)) return false;
  await removeTree(path.join(root, id));
  return true;
}

/** Removes a cgroup folder and any it holds (made inside the container), deepest first. */
export async function removeCgroup(dir: string): Promise<boolean> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (e) {
    return isErrno(e, 'ENOENT');
  }
  for (const e of entries) if (e.isDirectory() && !(await removeCgroup(path.join(dir, e.name)))) return false;
  // the last processes of a PID namespace can take a moment to leave their cgroup
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await fsp.rmdir(dir);
      return true;
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return true;
      if (!isErrno(e, 'EBUSY')) return false;
      await new Promise((r) => setTimeout(r, 2 * (attempt + 1)));
    }
  }
  return false;
}
