import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { invalid, system } from '../common/errors';
import { run } from '../common/exec';
import { diskUsage } from './disk-usage';
import { SnapshotRecord, SnapshotStore } from './snapshot-store';
import type { ApplyResult, Mount, PathChange, SnapshotInfo, Snapshotter } from './snapshotter';
import { applyTar } from './tar-apply';
import { treeChanges, writeTreeDiff } from './tar-diff';
import { tarStream } from './tar-export';

/**
 * Snapshots as full copies (Docker's "vfs" driver), for when overlayfs is unusable
 * (the data root itself on overlayfs, an old kernel):
 *
 *   <root>/snapshots/<id>/fs   the whole file system of the snapshot
 *
 * `prepare` copies the parent's tree (cp -a, reflinked where the file system can),
 * layers are applied with whiteouts carried out as deletions, and every mount is a
 * bind mount. Slow and big, but it works on any file system.
 */
export class VfsSnapshotter implements Snapshotter {
  readonly driver = 'vfs' as const;
  private readonly store: SnapshotStore;

  constructor(readonly root: string) {
    this.store = new SnapshotStore(root);
  }

  async init(): Promise<void> {
    await this.store.init();
    await this.store.removeOrphans(async () => undefined);
  }

  async prepare(key: string, parent?: string): Promise<Mount[]> {
    const parentRec = parent === undefined ? undefined : await this.store.get(parent);
    // The copy is made after the snapshot is recorded, outside the store's lock: the
    // parent cannot go away meanwhile, since it now has a child.
    const rec = await this.store.create(key, parent, async (dir) => {
      if (!parentRec) await fsp.mkdir(path.join(dir, 'fs'), 0o755);
    });
    if (parentRec) {
      try {
        await run('cp', ['-a', '--reflink=auto', '--', this.fsDir(parentRec.id), this.fsDir(rec.id)], { timeoutMs: 30 * 60_000 });
      } catch (e) {
        await this.store.remove(key, async () => undefined).catch(() => undefined);
        throw system(`copying snapshot ${parent} for ${key}: ${(e as Error).message}`, e);
      }
    }
    return this.mountsOf(rec);
  }

  async mounts(key: string): Promise<Mount[]> {
    return this.mountsOf(await this.store.get(key));
  }

  async apply(key: string, tar: Readable): Promise<ApplyResult> {
    const rec = await this.store.get(key);
    if (rec.kind !== 'active') throw invalid(`snapshot ${key} is committed: layers are applied to active snapshots`);
    return applyTar(this.fsDir(rec.id), tar, { whiteouts: 'plain' });
  }

  readonly appliesLayersApart = false;

  async commitOnto(name: string, key: string, parent: string | undefined): Promise<void> {
    if (parent !== undefined) throw invalid('vfs snapshots copy their parent in at prepare: a parent cannot be given at commit');
    return this.commit(name, key);
  }

  async commit(name: string, key: string): Promise<void> {
    await this.store.commit(name, key);
  }

  remove(keyOrName: string): Promise<void> {
    return this.store.remove(keyOrName, async () => undefined);
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

  /** The whole copy: vfs has no separate layer, as with Docker's vfs driver. */
  async usage(keyOrName: string): Promise<number> {
    return diskUsage(this.fsDir((await this.store.get(keyOrName)).id));
  }

  async changesDir(keyOrName: string): Promise<string> {
    return this.fsDir((await this.store.get(keyOrName)).id);
  }

  /** The copy compared with the parent's copy: see tar-diff.ts. */
  diff(keyOrName: string): Readable {
    return tarStream(async (sink) => {
      const rec = await this.store.get(keyOrName);
      await writeTreeDiff(sink, this.fsDir(rec.id), rec.parentId === undefined ? undefined : this.fsDir(rec.parentId));
    });
  }

  async changes(keyOrName: string): Promise<PathChange[]> {
    const rec = await this.store.get(keyOrName);
    return treeChanges(this.fsDir(rec.id), rec.parentId === undefined ? undefined : this.fsDir(rec.parentId));
  }

  private mountsOf(rec: SnapshotRecord): Mount[] {
    return [{ type: 'bind', source: this.fsDir(rec.id), options: ['rbind', rec.kind === 'active' ? 'rw' : 'ro'] }];
  }

  private fsDir(id: string): string {
    return path.join(this.store.dirOf(id), 'fs');
  }
}
