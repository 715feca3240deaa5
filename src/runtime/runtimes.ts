import { accessSync, constants as fsConstants, existsSync, readFileSync, statfsSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Which OCI runtimes berthd knows without being told, and how each is run on this host.
 *
 * runc is always registered (as Docker does). crun, a runtime written in C, is registered
 * when it is installed and made the default: it creates and execs containers in a fraction
 * of runc's time (no Go runtime to start twice per command), and compiles a seccomp profile
 * to BPF only once per profile (seccomp-cache.ts). `--default-runtime runc` or daemon.json's
 * `default-runtime` choose runc again.
 *
 * crun 1.x refuses a "hybrid" cgroup host whose unified hierarchy lists a controller; there
 * it runs through berth-crun (src/native/berth-crun.c), which shows it the v1 controllers
 * only. Without that launcher on such a host crun is not registered by default.
 */

export const RUNC_PATH = '/usr/sbin/runc';

/** The launcher beside the daemon's native addon: dist/native/berth-crun. */
const LAUNCHER = path.join(__dirname, '..', '..', 'native', 'berth-crun');

const TMPFS_MAGIC = 0x01021994;
const CGROUP2_SUPER_MAGIC = 0x63677270;

let hybridWithControllers: boolean | undefined;

/** cgroup v1 under a tmpfs, plus a cgroup2 mount at unified that lists controllers. */
function crunRefusesHost(): boolean {
  if (hybridWithControllers !== undefined) return hybridWithControllers;
  try {
    hybridWithControllers =
      statfsSync('/sys/fs/cgroup').type === TMPFS_MAGIC &&
      statfsSync('/sys/fs/cgroup/unified').type === CGROUP2_SUPER_MAGIC &&
      readFileSync('/sys/fs/cgroup/unified/cgroup.controllers', 'utf8').trim() !== '';
  } catch {
    hybridWithControllers = false;
  }
  return hybridWithControllers;
}

export function isCrun(binary: string): boolean {
  return path.basename(binary) === 'crun';
}

/** What to execute for a runtime's binary: itself, or crun through its launcher. */
export interface RuntimeInvocation {
  command: string;
  /** more environment for the command (conmon passes its own on to the runtime) */
  env?: Record<string, string>;
}

export function invocationOf(binary: string): RuntimeInvocation {
  const file = isCrun(binary) ? sealedRuntimePath(binary) : binary;
  if (isCrun(binary) && crunRefusesHost() && existsSync(LAUNCHER)) return { command: LAUNCHER, env: { BERTH_CRUN: file } };
  return { command: file };
}

const sealedCopies = new Map<string, string>();

/**
 * crun executed from a sealed copy of itself that the daemon holds (the native addon's
 * sealedCopy): crun then skips the copy of itself it otherwise makes at every command against
 * CVE-2019-5736 (a bind mount and a second exec, 1.5-2 ms of each create and exec). The copy
 * is made once per binary and daemon; the binary itself where the addon is missing, the copy
 * fails, or BERTH_SEALED_RUNTIME=0.
 */
function sealedRuntimePath(binary: string): string {
  const known = sealedCopies.get(binary);
  if (known) return known;
  let file = binary;
  if (process.env.BERTH_SEALED_RUNTIME !== '0') {
    try {
      const { native } = require('../native') as typeof import('../native');
      const fd = native?.sealedCopy?.(binary);
      // a host that makes memfds not executable (vm.memfd_noexec) keeps crun's own file
      if (fd !== undefined) {
        const copy = `/proc/${process.pid}/fd/${fd}`;
        accessSync(copy, fsConstants.X_OK);
        file = copy;
      }
    } catch {
      // the binary as it is
    }
  }
  sealedCopies.set(binary, file);
  return file;
}

/** Whether crun at this path can run containers here (directly or through the launcher). */
function crunUsable(binary: string): boolean {
  return existsSync(binary) && (!crunRefusesHost() || existsSync(LAUNCHER));
}

/** crun's path on this machine, if installed where Debian puts it or on PATH. */
function findCrun(): string | undefined {
  const dirs = ['/usr/bin', '/usr/sbin', ...(process.env.PATH ?? '').split(':').filter(Boolean)];
  return dirs.map((d) => path.join(d, 'crun')).find((p) => existsSync(p));
}

/** The runtimes registered before daemon.json and flags add theirs, and the default among them. */
export function builtinRuntimes(): { runtimes: Record<string, string>; defaultRuntime: string } {
  const crun = findCrun();
  if (crun && crunUsable(crun)) return { runtimes: { crun, runc: RUNC_PATH }, defaultRuntime: 'crun' };
  return { runtimes: { runc: RUNC_PATH }, defaultRuntime: 'runc' };
}
