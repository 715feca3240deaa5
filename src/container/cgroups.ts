/**
 * Where a container's cgroup lives and what it recorded. Two layouts exist: cgroup v1, one
 * hierarchy per controller under /sys/fs/cgroup/<controller> (this machine, with a cgroup2
 * mount beside them at /sys/fs/cgroup/unified that holds no controllers), and the unified
 * cgroup v2 tree at /sys/fs/cgroup itself (most hosts today). runc creates and removes
 * the container's cgroup at the cgroupsPath we give it; we only read from it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { isErrno } from '../common/errors';

export type CgroupVersion = 'v1' | 'v2';

export const CGROUP_ROOT = '/sys/fs/cgroup';

/** v2 only when /sys/fs/cgroup is itself the unified hierarchy (it has cgroup.controllers). */
export function detectCgroupVersion(root = CGROUP_ROOT): CgroupVersion {
  return existsSync(path.join(root, 'cgroup.controllers')) ? 'v2' : 'v1';
}

/**
 * The cgroupsPath handed to runc for a container: absolute, so that it lands under the
 * hierarchy root rather than under the daemon's own cgroup. `/berth` mirrors Docker's
 * `/docker` parent; HostConfig.CgroupParent replaces it.
 */
export function cgroupsPathFor(id: string, cgroupParent?: string): string {
  const parent = cgroupParent ? '/' + cgroupParent.replace(/^\/+|\/+$/g, '') : '/berth';
  return path.posix.join(parent, id);
}

/** The directory of one controller of a cgroup (v2 has a single directory for all). */
export function cgroupDir(controller: string, cgroupsPath: string, version: CgroupVersion, root = CGROUP_ROOT): string {
  const rel = cgroupsPath.replace(/^\/+/, '');
  return version === 'v2' ? path.join(root, rel) : path.join(root, controller, rel);
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch (e) {
    if (isErrno(e, 'ENOENT') || isErrno(e, 'ENODEV')) return undefined;
    throw e;
  }
}

/** The value of `key N` in a flat-keyed cgroup file (memory.events, memory.oom_control). */
function keyedValue(text: string | undefined, key: string): number | undefined {
  const m = new RegExp(`^${key}\\s+(\\d+)$`, 'm').exec(text ?? '');
  return m ? Number(m[1]) : undefined;
}

/**
 * Whether the kernel OOM-killed a process of the container. Read after the container
 * exits and before `runc delete` removes the cgroup; false when the cgroup is gone.
 */
export async function readOomKilled(cgroupsPath: string, version: CgroupVersion, root = CGROUP_ROOT): Promise<boolean> {
  const dir = cgroupDir('memory', cgroupsPath, version, root);
  const file = version === 'v2' ? 'memory.events' : 'memory.oom_control';
  return (keyedValue(await readIfExists(path.join(dir, file)), 'oom_kill') ?? 0) > 0;
}

/**
 * Whether a memory+swap limit can be set. v1 needs swap accounting (memory.memsw.*);
 * v2 needs memory.swap.max, which only non-root cgroups show, so the daemon's own
 * cgroup is checked. Docker drops MemorySwap with a warning when this is false.
 */
export function swapLimitSupported(version: CgroupVersion, root = CGROUP_ROOT): boolean {
  if (version === 'v1') return existsSync(path.join(root, 'memory', 'memory.memsw.limit_in_bytes'));
  try {
    const own = /^0::(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
    if (own && own !== '/') return existsSync(path.join(root, own, 'memory.swap.max'));
  } catch {
    // fall through to the optimistic answer
  }
  return true;
}
