import { promises as fsp, constants as fsc, existsSync } from 'node:fs';
import { readJSON, removeTree } from '../common/fsutil';
import * as path from 'node:path';
import { isErrno } from '../common/errors';
import { directEnabled, initStatus, removeCgroup } from './runc-direct';

/**
 * crun's start and delete done in the daemon's own process, as runc-direct.ts does for runc:
 * a crun command costs 8-10 ms here (more through its launcher), what it does for these two
 * is a few file operations. Each says `false` when the state is not one it knows, and the
 * caller then runs the crun command. Written against crun 1.8 (Debian bookworm's 1.8.1):
 *
 *   <root>/<id>/status       JSON: pid, process-start-time, cgroup-path, systemd-cgroup, ...
 *   <root>/<id>/config.json  the container's spec as crun read it
 *   <root>/<id>/exec.fifo    while created and not started: init holds its read end and
 *                            waits for one byte
 *
 * `crun start` checks init is alive, opens exec.fifo for writing, removes it and writes one
 * byte (then runs poststart hooks: a container with hooks is left to crun). `crun delete` of
 * a stopped container removes its cgroup in every hierarchy, runs poststop hooks, stops a
 * systemd scope, then removes the state folder; only containers with a PID namespace of their
 * own (nothing outlives init), no hooks and no systemd cgroup are deleted here.
 *
 * BERTH_RUNC_DIRECT=0 turns these off too.
 */

interface CrunStatus {
  pid: number;
  'process-start-time': number;
  'cgroup-path'?: string;
  'systemd-cgroup'?: boolean;
}

interface CrunConfig {
  hooks?: Record<string, unknown[] | null> | null;
  linux?: { namespaces?: { type: string; path?: string }[] };
}

/** The file's JSON; undefined when missing or not JSON (the caller then runs the crun command). */
const readJson = <T>(file: string): Promise<T | undefined> => readJSON<T>(file).catch(() => undefined);

const hasHooks = (c: CrunConfig) => Object.values(c.hooks ?? {}).some((h) => Array.isArray(h) && h.length > 0);

/** Starts a created container as `crun start` does; false, having changed nothing, when it cannot. */
export async function startCrunDirect(root: string, id: string): Promise<boolean> {
  if (!directEnabled) return false;
  const dir = path.join(root, id);
  const [status, config] = await Promise.all([readJson<CrunStatus>(path.join(dir, 'status')), readJson<CrunConfig>(path.join(dir, 'config.json'))]);
  if (!status || !config || hasHooks(config)) return false;
  if ((await initStatus(status.pid, status['process-start-time'])) !== 'alive') return false;
  const fifo = path.join(dir, 'exec.fifo');
  let fh: fsp.FileHandle;
  try {
    // init holds the read end while it waits: without a reader (ENXIO) or a fifo (ENOENT,
    // started already) crun start says what is wrong
    fh = await fsp.open(fifo, fsc.O_WRONLY | fsc.O_NONBLOCK);
  } catch (e) {
    if (isErrno(e, 'ENXIO') || isErrno(e, 'ENOENT')) return false;
    throw e;
  }
  try {
    await fsp.rm(fifo, { force: true });
    await fh.write(Buffer.from([0]));
  } finally {
    await fh.close();
  }
  return true;
}

/** The folders a cgroup path has: one per v1 hierarchy, or one in the unified hierarchy. */
async function cgroupFolders(cgroupPath: string, base: string): Promise<string[]> {
  if (existsSync(path.join(base, 'cgroup.controllers'))) return [path.join(base, cgroupPath)];
  const hierarchies = await fsp.readdir(base).catch(() => [] as string[]);
  return hierarchies.map((h) => path.join(base, h, cgroupPath));
}

/** Deletes a stopped container as `crun delete` does; false, having changed nothing, when it cannot. */
export async function deleteCrunDirect(root: string, id: string, cgroupRoot = '/sys/fs/cgroup'): Promise<boolean> {
  if (!directEnabled) return false;
  const dir = path.join(root, id);
  const [status, config] = await Promise.all([readJson<CrunStatus>(path.join(dir, 'status')), readJson<CrunConfig>(path.join(dir, 'config.json'))]);
  if (!status || !config || hasHooks(config) || status['systemd-cgroup']) return false;
  const pidns = config.linux?.namespaces?.find((n) => n.type === 'pid');
  if (!pidns || pidns.path) return false;
  const cgroupPath = status['cgroup-path'] ?? '';
  // never the root of a hierarchy
  if (!cgroupPath.replace(/\//g, '')) return false;
  if ((await initStatus(status.pid, status['process-start-time'])) === 'alive') return false;
  const removed = await Promise.all([...new Set(await cgroupFolders(cgroupPath, cgroupRoot))].map(removeCgroup));
  if (removed.includes(false)) return false;
  await removeTree(dir);
  return true;
}
