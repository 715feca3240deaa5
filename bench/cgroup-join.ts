/**
 * What moving a process into a cgroup costs on this kernel, as the OCI runtime does at every
 * container create and every exec (it writes the pid into cgroup.procs). The write takes the
 * kernel's cgroup_threadgroup_rwsem for writing: right after another move that is cheap, but
 * the first move after a pause waits for an RCU grace period (the lock's readers, every fork
 * and exit, are on a fast path that only a grace period can switch off). The latency bench
 * prints both, so a breakdown's `conmon + runtime create` and `exec runtime exec` can be read
 * against them.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { median } from './lib';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A hierarchy to move a process in: cgroup v2's, or v1's pids controller. */
function hierarchy(): string | undefined {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return '/sys/fs/cgroup';
  return ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/cpu'].find((d) => existsSync(path.join(d, 'cgroup.procs')));
}

/**
 * Median ms of one move of a process into a cgroup, after `idleMs` without moves and right
 * after another move, between two sibling cgroups made under `parent` (a process cannot go
 * back into a cgroup v2 parent whose controllers are on for its children); undefined where no
 * cgroup can be made (not root, no hierarchy). Removes what it made.
 */
export async function measureCgroupJoin(parent: string, rounds = 9, idleMs = 100): Promise<{ afterIdle: number; afterMove: number } | undefined> {
  const root = hierarchy();
  if (!root) return undefined;
  const leaves = ['a', 'b'].map((x) => path.join(root, parent, `berth-bench-join-${process.pid}-${x}`));
  const proc = spawn('sleep', ['600'], { stdio: 'ignore' });
  const gone = new Promise((r) => {
    proc.once('exit', r);
    proc.once('error', r);
  });
  try {
    for (const dir of leaves) mkdirSync(dir, { recursive: true });
    const move = (to: string) => {
      const t0 = performance.now();
      writeFileSync(path.join(to, 'cgroup.procs'), String(proc.pid));
      return performance.now() - t0;
    };
    const afterIdle: number[] = [];
    const afterMove: number[] = [];
    for (let i = 0; i < rounds; i++) {
      await sleep(idleMs);
      afterIdle.push(move(leaves[i % 2]));
      afterMove.push(move(leaves[(i + 1) % 2]));
    }
    return { afterIdle: median(afterIdle), afterMove: median(afterMove) };
  } catch {
    return undefined;
  } finally {
    proc.kill('SIGKILL');
    await gone;
    for (const dir of leaves) {
      try {
        rmdirSync(dir);
      } catch {
        // never made, or the kernel still counts the killed process: it goes with the parent
      }
    }
  }
}
