import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { run } from '../common/exec';
import { exists } from '../common/fsutil';
import { deleteCrunDirect, startCrunDirect } from './crun-direct';
import { deleteDirect, startDirect } from './runc-direct';
import { invocationOf, isCrun } from './runtimes';
import { SeccompBpfCache } from './seccomp-cache';

/**
 * The OCI runtime's command line (runc, crun, or another selected per container). Every call
 * names the state root so several daemons can run side by side.
 */
export class OciRuntime {
  /** what to execute: the binary, or crun's launcher on a host crun would refuse (runtimes.ts) */
  readonly command: string;
  /** the environment to run `command` with (conmon's too, which passes it on) */
  readonly env: NodeJS.ProcessEnv;
  private readonly seccompCache?: SeccompBpfCache;

  constructor(
    readonly binary: string,
    readonly stateRoot: string,
    /** where crun's compiled seccomp filters are kept (seccomp-cache.ts) */
    seccompCacheDir?: string,
  ) {
    const inv = invocationOf(binary);
    this.command = inv.command;
    this.env = inv.env ? { ...process.env, ...inv.env } : process.env;
    if (seccompCacheDir && isCrun(binary)) this.seccompCache = new SeccompBpfCache(seccompCacheDir, binary);
  }

  /**
   * Whether `update` lifts a pids limit when given `{ pids: { limit: -1 } }`. crun (1.8)
   * writes the -1 as it is, which the kernel refuses, and takes 0 for "unchanged": the
   * caller then writes "max" to pids.max itself.
   */
  get liftsPidsLimit(): boolean {
    return !isCrun(this.binary);
  }

  /** runc's own state layout is known to runc-direct.ts, crun's to crun-direct.ts */
  private get isRunc(): boolean {
    return path.basename(this.binary) === 'runc';
  }

  private args(rest: string[]): string[] {
    return ['--root', this.stateRoot, ...rest];
  }

  /**
   * Lets the runtime skip work done for an earlier container with the same spec: a seccomp
   * filter crun compiled before. Call before writing config.json; call what it answers (if
   * anything) once the container is created.
   */
  async prepareSpec(spec: { linux?: { seccomp?: unknown }; annotations?: Record<string, string> }): Promise<((id: string) => Promise<void>) | undefined> {
    const keep = await this.seccompCache?.apply(spec);
    return keep && ((id) => keep(path.join(this.stateRoot, id)));
  }

  private exec(rest: string[], input?: string) {
    return run(this.command, this.args(rest), { env: this.env, input });
  }

  async start(id: string): Promise<void> {
    if (this.isRunc && (await startDirect(this.stateRoot, id))) return;
    if (isCrun(this.binary) && (await startCrunDirect(this.stateRoot, id))) return;
    await this.exec(['start', id]);
  }

  async kill(id: string, signal: string, all = false): Promise<void> {
    await this.exec(['kill', ...(all ? ['--all'] : []), id, signal]);
  }

  async delete(id: string): Promise<void> {
    // runc and crun both keep a folder per container under the root: none, nothing to delete
    if (!(await exists(path.join(this.stateRoot, id)))) return;
    if (this.isRunc && (await deleteDirect(this.stateRoot, id).catch(() => false))) return;
    if (isCrun(this.binary) && (await deleteCrunDirect(this.stateRoot, id).catch(() => false))) return;
    try {
      await this.exec(['delete', '--force', id]);
    } catch (e) {
      if (/does not exist|not found/i.test((e as Error).message)) return;
      throw e;
    }
  }

  /** The runtime's view of a container, or undefined when it does not know it. */
  async state(id: string): Promise<{ status: string; pid: number } | undefined> {
    try {
      const { stdout } = await this.exec(['state', id]);
      return JSON.parse(stdout) as { status: string; pid: number };
    } catch {
      return undefined;
    }
  }

  /** Changes a live container's cgroup limits (OCI LinuxResources as JSON). */
  async update(id: string, resources: object): Promise<void> {
    if (this.isRunc) {
      await this.exec(['update', '--resources', '-', id], JSON.stringify(resources));
      return;
    }
    // crun reads the resources from a file only
    const file = path.join(this.stateRoot, `.update-${id}-${process.hrtime.bigint()}.json`);
    await fsp.writeFile(file, JSON.stringify(resources), { mode: 0o600 });
    try {
      await this.exec(['update', '--resources', file, id]);
    } finally {
      await fsp.rm(file, { force: true });
    }
  }

  /** Every container the runtime knows under its state root, with one call. */
  async list(): Promise<Map<string, { status: string; pid: number }>> {
    const { stdout } = await this.exec(['list', '--format', 'json']);
    const out = new Map<string, { status: string; pid: number }>();
    for (const c of (JSON.parse(stdout.trim() || 'null') as { id: string; status: string; pid: number }[] | null) ?? []) out.set(c.id, c);
    return out;
  }

  /** CRIU images of the container's processes into `imagePath`; the container stops unless left running. */
  async checkpoint(id: string, imagePath: string, o: { leaveRunning: boolean }): Promise<void> {
    try {
      await run(this.command, this.args(['checkpoint', '--image-path', imagePath, '--work-path', imagePath, ...(o.leaveRunning ? ['--leave-running'] : []), id]), { env: this.env, timeoutMs: 300_000 });
    } catch (e) {
      // a crun built without CRIU (Debian's) has no such command
      if (/unknown command checkpoint/.test((e as Error).message)) throw new Error(`${path.basename(this.binary)} here cannot checkpoint (built without CRIU): create the container with --runtime runc`);
      throw e;
    }
  }

  async pause(id: string): Promise<void> {
    await this.exec(['pause', id]);
  }

  async resume(id: string): Promise<void> {
    await this.exec(['resume', id]);
  }
}
