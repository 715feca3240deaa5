import * as path from 'node:path';
import { run } from '../common/exec';
import { exists } from '../common/fsutil';
import { deleteDirect, startDirect } from './runc-direct';

/**
 * The OCI runtime's command line (runc, or crun selected per container). Every call names
 * the state root so several daemons can run side by side.
 */
export class OciRuntime {
  constructor(
    readonly binary: string,
    readonly stateRoot: string,
  ) {}

  /** runc's own state layout is known (runc-direct.ts); crun's is not */
  private get isRunc(): boolean {
    return path.basename(this.binary) === 'runc';
  }

  private args(rest: string[]): string[] {
    return ['--root', this.stateRoot, ...rest];
  }

  async start(id: string): Promise<void> {
    if (this.isRunc && (await startDirect(this.stateRoot, id))) return;
    await run(this.binary, this.args(['start', id]));
  }

  async kill(id: string, signal: string, all = false): Promise<void> {
    await run(this.binary, this.args(['kill', ...(all ? ['--all'] : []), id, signal]));
  }

  async delete(id: string): Promise<void> {
    // runc and crun both keep a folder per container under the root: none, nothing to delete
    if (!(await exists(path.join(this.stateRoot, id)))) return;
    if (this.isRunc && (await deleteDirect(this.stateRoot, id).catch(() => false))) return;
    try {
      await run(this.binary, this.args(['delete', '--force', id]));
    } catch (e) {
      if (/does not exist|not found/i.test((e as Error).message)) return;
      throw e;
    }
  }

  /** The runtime's view of a container, or undefined when it does not know it. */
  async state(id: string): Promise<{ status: string; pid: number } | undefined> {
    try {
      const { stdout } = await run(this.binary, this.args(['state', id]));
      return JSON.parse(stdout) as { status: string; pid: number };
    } catch {
      return undefined;
    }
  }

  /** Changes a live container's cgroup limits (OCI LinuxResources as JSON). */
  async update(id: string, resources: object): Promise<void> {
    await run(this.binary, this.args(['update', '--resources', '-', id]), { input: JSON.stringify(resources) });
  }

  /** Every container the runtime knows under its state root, with one call. */
  async list(): Promise<Map<string, { status: string; pid: number }>> {
    const { stdout } = await run(this.binary, this.args(['list', '--format', 'json']));
    const out = new Map<string, { status: string; pid: number }>();
    for (const c of (JSON.parse(stdout.trim() || 'null') as { id: string; status: string; pid: number }[] | null) ?? []) out.set(c.id, c);
    return out;
  }

  /** CRIU images of the container's processes into `imagePath`; the container stops unless left running. */
  async checkpoint(id: string, imagePath: string, o: { leaveRunning: boolean }): Promise<void> {
    await run(this.binary, this.args(['checkpoint', '--image-path', imagePath, '--work-path', imagePath, ...(o.leaveRunning ? ['--leave-running'] : []), id]), { timeoutMs: 300_000 });
  }

  async pause(id: string): Promise<void> {
    await run(this.binary, this.args(['pause', id]));
  }

  async resume(id: string): Promise<void> {
    await run(this.binary, this.args(['resume', id]));
  }
}
