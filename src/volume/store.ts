import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { conflict, invalid, notFound } from '../common/errors';
import { readJSON, writeJSONAtomic } from '../common/fsutil';
import { run } from '../common/exec';

/**
 * Volumes of Docker's `local` driver: a folder `<root>/<name>/_data` per volume, or, with
 * driver options (`type`, `device`, `o`), whatever `mount -t type -o o device` gives, mounted
 * on that folder while a container uses it.
 */
export interface VolumeRecord {
  Name: string;
  Driver: 'local';
  CreatedAt: string;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  /** made for one container (`-v /path`, an image's VOLUME): goes with `rm -v` */
  anonymous?: boolean;
}

export interface VolumeCreateBody {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

export class VolumeStore {
  private readonly volumes = new Map<string, VolumeRecord>();
  /** volumes with driver options: how many running containers have them mounted */
  private readonly mountedBy = new Map<string, number>();

  private constructor(readonly root: string) {}

  static async open(root: string): Promise<VolumeStore> {
    const s = new VolumeStore(root);
    await fsp.mkdir(root, { recursive: true, mode: 0o701 });
    for (const name of await fsp.readdir(root)) {
      const rec = await readJSON<VolumeRecord>(path.join(root, name, 'meta.json')).catch(() => undefined);
      if (rec?.Name === name) s.volumes.set(name, rec);
    }
    return s;
  }

  dataDir(name: string): string {
    return path.join(this.root, name, '_data');
  }

  list(): VolumeRecord[] {
    return [...this.volumes.values()];
  }

  find(name: string): VolumeRecord | undefined {
    return this.volumes.get(name);
  }

  get(name: string): VolumeRecord {
    const v = this.volumes.get(name);
    if (!v) throw notFound(`get ${name}: no such volume`);
    return v;
  }

  static checkName(name: string): void {
    if (!NAME.test(name)) {
      throw invalid(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
    }
  }

  /** Creates a volume, or returns the existing one of that name (as Docker does). */
  async create(body: VolumeCreateBody, anonymous = false): Promise<VolumeRecord> {
    const driver = body.Driver || 'local';
    if (driver !== 'local') throw notFound(`create ${body.Name ?? ''}: error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    const name = body.Name || randomBytes(32).toString('hex');
    VolumeStore.checkName(name);
    const existing = this.volumes.get(name);
    if (existing) return existing;
    const opts = body.DriverOpts ?? {};
    for (const k of Object.keys(opts)) if (!['type', 'device', 'o', 'size'].includes(k)) throw invalid(`create ${name}: invalid option key: "${k}"`);
    if ((opts.type || opts.device) && !(opts.type && opts.device)) throw invalid(`create ${name}: missing required option: "${opts.type ? 'device' : 'type'}"`);
    const labels = { ...(body.Labels ?? {}) };
    if (anonymous) labels[ANONYMOUS_LABEL] = '';
    // as Docker has it, the label is what makes a volume anonymous (one made again elsewhere by a move keeps it)
    anonymous ||= Object.hasOwn(labels, ANONYMOUS_LABEL);
    const rec: VolumeRecord = { Name: name, Driver: 'local', CreatedAt: new Date().toISOString(), Labels: labels, Options: opts, anonymous: anonymous || undefined };
    await fsp.mkdir(this.dataDir(name), { recursive: true, mode: 0o755 });
    await writeJSONAtomic(path.join(this.root, name, 'meta.json'), rec);
    this.volumes.set(name, rec);
    return rec;
  }

  /** `users`: IDs of the containers that name the volume (running or not). */
  async remove(name: string, opts: { force: boolean; users: string[] }): Promise<void> {
    const v = this.volumes.get(name);
    if (!v) {
      if (opts.force) return;
      throw notFound(`get ${name}: no such volume`);
    }
    if (opts.users.length) throw conflict(`remove ${name}: volume is in use - [${opts.users.join(', ')}]`);
    this.volumes.delete(name);
    await run('umount', [this.dataDir(name)]).catch(() => undefined);
    await fsp.rm(path.join(this.root, name), { recursive: true, force: true });
  }

  /**
   * The host folder a container mounts: for volumes with driver options, mounted first
   * (once, however many containers share it).
   */
  async acquire(name: string): Promise<string> {
    const v = this.get(name);
    const dir = this.dataDir(name);
    if (v.Options.type) {
      const n = this.mountedBy.get(name) ?? 0;
      if (n === 0) {
        const args = ['-t', v.Options.type];
        const o = [v.Options.o, v.Options.size ? `size=${v.Options.size}` : ''].filter(Boolean).join(',');
        if (o) args.push('-o', o);
        await run('mount', [...args, v.Options.device, dir]).catch((e: Error) => {
          throw invalid(`error while mounting volume '${dir}': ${e.message}`);
        });
      }
      this.mountedBy.set(name, n + 1);
    }
    return dir;
  }

  /** A running container found at start-up holds its volumes mounted already: count it in. */
  adopt(name: string): void {
    if (this.volumes.get(name)?.Options.type) this.mountedBy.set(name, (this.mountedBy.get(name) ?? 0) + 1);
  }

  async releaseMount(name: string): Promise<void> {
    const n = this.mountedBy.get(name);
    if (!n) return;
    if (n > 1) {
      this.mountedBy.set(name, n - 1);
      return;
    }
    this.mountedBy.delete(name);
    await run('umount', [this.dataDir(name)]).catch(() => undefined);
  }

  /** Bytes under a volume's folder (for df and prune). */
  async size(name: string): Promise<number> {
    const { stdout } = await run('du', ['-sb', this.dataDir(name)]).catch(() => ({ stdout: '0' }));
    return Number(stdout.split(/\s/)[0]) || 0;
  }
}
