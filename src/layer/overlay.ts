import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { invalid } from '../common/errors';
import { exists } from '../common/fsutil';
import { diskUsage } from './disk-usage';
import { SnapshotRecord, SnapshotStore } from './snapshot-store';
import type { ApplyResult, Mount, PathChange, SnapshotInfo, Snapshotter } from './snapshotter';
import { applyTar } from './tar-apply';
import { overlayChanges, writeOverlayDiff } from './tar-diff';
import { tarStream } from './tar-export';

/**
 * Snapshots as overlayfs layers (Docker's "overlay2" driver):
 *
 *   <root>/snapshots/<id>/diff   the snapshot's own changes (overlay whiteouts included)
 *   <root>/snapshots/<id>/work   overlayfs's work dir, for active snapshots only
 *   <root>/l/<short>             -> ../snapshots/<id>/diff
 *
 * Lower dirs are named through the short `l/` links, as Docker does, so that the mount
 * options (one page, 4096 bytes, for mount(2)) hold many layers; mountAll goes further
 * and makes the paths relative when they still do not fit.
 *
 * An active snapshot without a parent is mounted as a bind mount of its diff dir:
 * overlayfs needs at least one lower dir, and there is nothing below to merge.
 */
const SHORT_LINK_LENGTH = 16;

export class OverlaySnapshotter implements Snapshotter {
  readonly driver = 'overlay2' as const;
  private readonly store: SnapshotStore;
  private readonly linksDir: string;

  constructor(readonly root: string) {
    // Commas and colons separate overlayfs options and lower dirs: no escaping exists.
    if (/[,:\n]/.test(root)) throw invalid(`overlay2 root ${root} must not contain ',' or ':'`);
    this.store = new SnapshotStore(root);
    this.linksDir = path.join(root, 'l');
  }

  async init(): Promise<void> {
    await this.store.init();
    await fsp.mkdir(this.linksDir, { recursive: true, mode: 0o700 });
    await this.store.removeOrphans((id) => this.removeLink(id));
  }

  async prepare(key: string, parent?: string): Promise<Mount[]> {
    const rec = await this.store.create(
      key,
      parent,
      async (dir, id) => {
        await fsp.mkdir(path.join(dir, 'diff'), 0o755);
        await fsp.mkdir(path.join(dir, 'work'), 0o700);
        await fsp.symlink(path.join('..', 'snapshots', id, 'diff'), this.linkPath(id));
      },
      async (id) => !(await exists(this.linkPath(id))),
    );
    return this.mountsOf(rec);
  }

  async mounts(key: string): Promise<Mount[]> {
    return this.mountsOf(await this.store.get(key));
  }

  async apply(key: string, tar: Readable): Promise<ApplyResult> {
    const rec = await this.store.get(key);
    if (rec.kind !== 'active') throw invalid(`snapshot ${key} is committed: layers are applied to active snapshots`);
    return applyTar(this.diffDir(rec.id), tar, { whiteouts: 'overlay' });
  }

  readonly appliesLayersApart = true;

  commit(name: string, key: string): Promise<void> {
    return this.commitOnto(name, key, undefined);
  }

  /** An upper dir does not depend on what is below it: only the record learns its parent. */
  async commitOnto(name: string, key: string, parent: string | undefined): Promise<void> {
    const rec = await this.store.commit(name, key, parent);
    // A committed snapshot is only ever a lower dir: its work dir has no further use.
    await fsp.rm(path.join(this.store.dirOf(rec.id), 'work'), { recursive: true, force: true });
  }

  remove(keyOrName: string): Promise<void> {
    return this.store.remove(keyOrName, (rec) => this.removeLink(rec.id));
  }

  deletions(): Promise<void> {
    return this.store.deletions();
  }

  async list(): Promise<SnapshotInfo[]> {
    return (await this.store.list()).map((rec) => ({ name: rec.name, parent: rec.parent, kind: rec.kind }));
  }

  async stat(keyOrName: string): Promise<SnapshotInfo | undefined> {
    const rec = await this.store.lookup(keyOrName);
    return rec && { name: rec.name, parent: rec.parent, kind: rec.kind };
  }

  async usage(keyOrName: string): Promise<number> {
    return diskUsage(this.diffDir((await this.store.get(keyOrName)).id));
  }

  async changesDir(keyOrName: string): Promise<string> {
    return this.diffDir((await this.store.get(keyOrName)).id);
  }

  /** The upper dir is the change set: see tar-diff.ts. */
  diff(keyOrName: string): Readable {
    return tarStream(async (sink) => {
      const chain = await this.store.chain(await this.store.get(keyOrName));
      await writeOverlayDiff(sink, this.diffDir(chain[0].id), chain.length > 1 ? this.diffDir(chain[1].id) : undefined);
    });
  }

  async changes(keyOrName: string): Promise<PathChange[]> {
    const chain = await this.store.chain(await this.store.get(keyOrName));
    return overlayChanges(
      this.diffDir(chain[0].id),
      chain.slice(1).map((r) => this.diffDir(r.id)),
    );
  }

  private async mountsOf(rec: SnapshotRecord): Promise<Mount[]> {
    const chain = await this.store.chain(rec);
    if (rec.kind === 'active') {
      if (chain.length === 1) return [{ type: 'bind', source: this.diffDir(rec.id), options: ['rbind', 'rw'] }];
      const lower = chain.slice(1).map((r) => this.linkPath(r.id));
      return [
        {
          type: 'overlay',
          source: 'overlay',
          options: ['index=off', `lowerdir=${lower.join(':')}`, `upperdir=${this.diffDir(rec.id)}`, `workdir=${path.join(this.store.dirOf(rec.id), 'work')}`],
        },
      ];
    }
    // A committed snapshot is shown read-only: its own layer on top of its parents'.
    if (chain.length === 1) return [{ type: 'bind', source: this.diffDir(rec.id), options: ['rbind', 'ro'] }];
    return [{ type: 'overlay', source: 'overlay', options: ['index=off', `lowerdir=${chain.map((r) => this.linkPath(r.id)).join(':')}`] }];
  }

  private diffDir(id: string): string {
    return path.join(this.store.dirOf(id), 'diff');
  }

  private linkPath(id: string): string {
    return path.join(this.linksDir, id.slice(0, SHORT_LINK_LENGTH));
  }

  private removeLink(id: string): Promise<void> {
    return fsp.rm(this.linkPath(id), { force: true });
  }
}

