import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { run } from '../common/exec';
import { BerthError, conflict, invalid, notFound, system } from '../common/errors';
import { isErrno } from '../common/errors';
import { exists } from '../common/fsutil';
import type { ContainerManager } from './manager';
import type { ContainerRecord } from './model';

/** dockerd's restricted names: a checkpoint's name becomes a folder name */
const CHECKPOINT_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export interface CheckpointCreateBody {
  CheckpointID?: string;
  CheckpointDir?: string;
  Exit?: boolean;
}

/**
 * Whether CRIU can freeze processes on this host. Asked once per daemon: `criu check` reads
 * the kernel's features, which do not change while the daemon runs.
 */
export class CriuProbe {
  private answer?: Promise<string | undefined>;

  constructor(private readonly binary = 'criu') {}

  /** undefined when CRIU works, else why it does not, in a line */
  whyNot(): Promise<string | undefined> {
    this.answer ??= run(this.binary, ['check'], { timeoutMs: 30_000 }).then(
      () => undefined,
      (e: Error & { stderr?: string }) => criuFailure(e),
    );
    return this.answer;
  }
}

/** The first error CRIU names, without its source location; or that it is missing. */
export function criuFailure(e: Error & { stderr?: string; code?: unknown }): string {
  if (/ENOENT/.test(e.message) || (e as { code?: unknown }).code === 'ENOENT') return 'criu is not installed (Debian package criu)';
  const lines = (e.stderr ?? e.message).split('\n').map((l) => l.trim());
  const first = lines.find((l) => /^Error\b/.test(l)) ?? lines.find((l) => l !== '') ?? 'criu check failed';
  return first.replace(/^Error \([^)]*\):\s*/, '');
}

/**
 * `docker checkpoint create/ls/rm` and the check before `start --checkpoint`. A checkpoint
 * is a folder of CRIU images under the container's own folder (or a folder the client
 * names); a checkpoint that fails half-way is removed, never left looking whole.
 */
export class Checkpoints {
  constructor(
    private readonly containers: ContainerManager,
    private readonly criu: CriuProbe = new CriuProbe(),
  ) {}

  private folder(rec: ContainerRecord, dir: string | undefined): string {
    if (dir === undefined || dir === '') return path.join(this.containers.recordDir(rec.ID), 'checkpoints');
    if (!path.isAbsolute(dir)) throw invalid(`checkpoint directory must be an absolute path: ${dir}`);
    return path.normalize(dir);
  }

  private static requireName(name: string | undefined): string {
    if (!name || !CHECKPOINT_NAME.test(name)) throw invalid(`Invalid checkpoint ID (${name ?? ''}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    return name;
  }

  async create(idOrName: string, body: CheckpointCreateBody): Promise<void> {
    const rec = this.containers.get(idOrName);
    const name = Checkpoints.requireName(body.CheckpointID);
    if (!rec.State.Running || rec.State.Paused) throw conflict(`Container ${idOrName} not running`);
    if (rec.Config.Tty) throw invalid('checkpoint not support on containers with tty');
    const target = path.join(this.folder(rec, body.CheckpointDir), name);
    if (await exists(target)) throw conflict(`checkpoint with name ${name} already exists for container ${idOrName}`);
    const why = await this.criu.whyNot();
    if (why) throw system(`Cannot checkpoint container ${idOrName}: CRIU cannot run on this host: ${why}`);
    await fsp.mkdir(target, { recursive: true, mode: 0o700 });
    const runtime = this.containers.runtimeOf(rec);
    try {
      await runtime.checkpoint(rec.ID, target, { leaveRunning: body.Exit !== true });
    } catch (e) {
      await fsp.rm(target, { recursive: true, force: true });
      throw system(`Cannot checkpoint container ${idOrName}: ${(e as Error).message}`, e);
    }
    this.containers.publishEvent(rec, 'checkpoint');
  }

  async list(idOrName: string, dir?: string): Promise<{ Name: string }[]> {
    const rec = this.containers.get(idOrName);
    let names: string[];
    try {
      names = (await fsp.readdir(this.folder(rec, dir), { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return [];
      throw e;
    }
    return names.sort().map((Name) => ({ Name }));
  }

  async remove(idOrName: string, name: string, dir?: string): Promise<void> {
    const rec = this.containers.get(idOrName);
    const target = path.join(this.folder(rec, dir), Checkpoints.requireName(name));
    if (!(await exists(target))) throw notFound(`checkpoint ${name} does not exist for container ${idOrName}`);
    await fsp.rm(target, { recursive: true, force: true });
  }

  /**
   * What `start --checkpoint` needs before anything starts: the checkpoint, and a CRIU that
   * runs. berth does not restore yet: where CRIU works it says so rather than start afresh.
   */
  async refuseRestore(rec: ContainerRecord, name: string, dir?: string): Promise<never> {
    const target = path.join(this.folder(rec, dir), Checkpoints.requireName(name));
    if (!(await exists(target))) throw notFound(`checkpoint ${name} does not exist for container ${rec.Name.slice(1)}`);
    const why = await this.criu.whyNot();
    if (why) throw system(`Cannot restore container ${rec.Name.slice(1)}: CRIU cannot run on this host: ${why}`);
    throw new BerthError('NOT_IMPLEMENTED', `Cannot restore container ${rec.Name.slice(1)}: restoring from a checkpoint is not supported by berth yet`);
  }
}

