import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { conflict, invalid, isErrno, notFound } from '../common/errors';
import { markTopDir, mkdirp, readJSON, writeJSONAtomic } from '../common/fsutil';
import { newId, sha256Hex } from '../common/ids';

/**
 * The bookkeeping both snapshotters share: which snapshots exist, their kind and
 * parent, all on disk so that a restarted daemon finds them again.
 *
 *   <root>/snapshots/<id>/meta.json   the record (name, kind, parent); the driver puts
 *                                     its files beside it (overlay: diff/ work/, vfs: fs/)
 *   <root>/refs/<sha256(name)>        a symlink whose target is the id
 *
 * A snapshot's id never changes, so paths that embed it (overlay lowerdirs) stay valid
 * when an active snapshot is committed under a new name: commit only moves the ref.
 * Keys and names share one namespace, as in containerd.
 *
 * Crash safety: a ref is the point at which a snapshot exists. The record's own name
 * decides when a ref and a record disagree (a crash in the middle of a commit), and
 * such a stale ref counts as absent. Directories without a valid ref are orphans,
 * removed by `removeOrphans` at start-up.
 */
export interface SnapshotRecord {
  id: string;
  name: string;
  kind: 'active' | 'committed';
  parent?: string;
  parentId?: string;
  created: string;
}

export class SnapshotStore {
  private readonly snapshotsDir: string;
  private readonly refsDir: string;
  private readonly trashDir: string;
  private queue: Promise<unknown> = Promise.resolve();
  /** trash deletions under way */
  private readonly deleting = new Set<Promise<void>>();

  constructor(readonly root: string) {
    this.snapshotsDir = path.join(root, 'snapshots');
    this.refsDir = path.join(root, 'refs');
    this.trashDir = path.join(root, 'trash');
  }

  async init(): Promise<void> {
    await mkdirp(this.snapshotsDir, 0o700);
    markTopDir(this.snapshotsDir);
    await mkdirp(this.refsDir, 0o700);
    await mkdirp(this.trashDir, 0o700);
    // what a daemon that ended meanwhile had not finished deleting
    for (const entry of await fsp.readdir(this.trashDir)) this.deleteLater(path.join(this.trashDir, entry));
  }

  /** Where a snapshot's files live. */
  dirOf(id: string): string {
    return path.join(this.snapshotsDir, id);
  }

  async lookup(name: string): Promise<SnapshotRecord | undefined> {
    let id: string;
    try {
      id = await fsp.readlink(this.refPath(name));
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return undefined;
      throw e;
    }
    const rec = await this.byId(id);
    return rec && rec.name === name ? rec : undefined;
  }

  async get(name: string): Promise<SnapshotRecord> {
    const rec = await this.lookup(name);
    if (!rec) throw notFound(`snapshot ${name} does not exist`);
    return rec;
  }

  byId(id: string): Promise<SnapshotRecord | undefined> {
    return readJSON<SnapshotRecord>(path.join(this.dirOf(id), 'meta.json'));
  }

  /** The snapshot and its ancestors, itself first. */
  async chain(rec: SnapshotRecord): Promise<SnapshotRecord[]> {
    const out = [rec];
    for (let cur = rec; cur.parentId !== undefined; ) {
      const parent = await this.byId(cur.parentId);
      if (!parent) throw notFound(`snapshot ${cur.name}: parent ${cur.parent ?? cur.parentId} is missing`);
      out.push(parent);
      cur = parent;
    }
    return out;
  }

  /**
   * Makes an active snapshot. `layout(dir, id)` makes the driver's files (quickly:
   * it runs under the store's lock) before the snapshot becomes visible.
   */
  create(name: string, parentName: string | undefined, layout: (dir: string, id: string) => Promise<void>, acceptId: (id: string) => Promise<boolean> = async () => true): Promise<SnapshotRecord> {
    return this.locked(async () => {
      if (await this.lookup(name)) throw conflict(`snapshot ${name} already exists`);
      let parent: SnapshotRecord | undefined;
      if (parentName !== undefined) {
        parent = await this.get(parentName);
        if (parent.kind !== 'committed') throw invalid(`snapshot ${parentName} is not committed and cannot be a parent`);
      }
      let id = newId();
      while (!(await acceptId(id))) id = newId();
      const dir = this.dirOf(id);
      await fsp.mkdir(dir, { mode: 0o700 });
      const rec: SnapshotRecord = { id, name, kind: 'active', parent: parent?.name, parentId: parent?.id, created: new Date().toISOString() };
      try {
        await layout(dir, id);
        await writeJSONAtomic(path.join(dir, 'meta.json'), rec);
        await this.link(name, id);
      } catch (e) {
        await fsp.rm(dir, { recursive: true, force: true });
        throw e;
      }
      return rec;
    });
  }

  /** `parentName`: given, the snapshot (which must have none) is committed under that parent. */
  commit(name: string, key: string, parentName?: string): Promise<SnapshotRecord> {
    return this.locked(async () => {
      const rec = await this.get(key);
      if (rec.kind !== 'active') throw invalid(`snapshot ${key} is not active: it is committed already`);
      if (await this.lookup(name)) throw conflict(`snapshot ${name} already exists`);
      let parent: SnapshotRecord | undefined;
      if (parentName !== undefined) {
        if (rec.parentId !== undefined) throw invalid(`snapshot ${key} has a parent already`);
        parent = await this.get(parentName);
        if (parent.kind !== 'committed') throw invalid(`snapshot ${parentName} is not committed and cannot be a parent`);
      }
      await this.link(name, rec.id);
      const committed: SnapshotRecord = parent ? { ...rec, name, kind: 'committed', parent: parent.name, parentId: parent.id } : { ...rec, name, kind: 'committed' };
      await writeJSONAtomic(path.join(this.dirOf(rec.id), 'meta.json'), committed);
      await this.unlink(key);
      return committed;
    });
  }

  /**
   * Forgets a snapshot, then lets the driver clean up (`cleanup` runs after the ref is
   * gone, so a crash there leaves an orphan, never a half-deleted visible snapshot).
   */
  async remove(name: string, cleanup: (rec: SnapshotRecord) => Promise<void>): Promise<void> {
    const trash = await this.locked(async (): Promise<string | undefined> => {
      const rec = await this.get(name);
      if (rec.kind === 'committed') {
        const kids = await this.children(rec.id);
        if (kids.length > 0) {
          throw conflict(`snapshot ${name} cannot be removed: it is the parent of ${kids.map((k) => k.name).join(', ')}`);
        }
      }
      await this.unlink(name);
      await cleanup(rec);
      // a rename takes the files out of sight at once; deleting them (a container's
      // writes can be large) goes on outside the lock, and a new start empties the trash
      const trash = path.join(this.trashDir, rec.id);
      try {
        await fsp.rename(this.dirOf(rec.id), trash);
      } catch (e) {
        if (!isErrno(e, 'ENOENT')) await fsp.rm(this.dirOf(rec.id), { recursive: true, force: true });
        return undefined;
      }
      return trash;
    });
    if (trash) this.deleteLater(trash);
  }

  /** Resolves once every deletion begun so far has ended (see Snapshotter.deletions). */
  async deletions(): Promise<void> {
    await Promise.all([...this.deleting]);
  }

  private deleteLater(dir: string): void {
    const p = fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    this.deleting.add(p);
    void p.then(() => this.deleting.delete(p));
  }

  async list(): Promise<SnapshotRecord[]> {
    // read side by side: a daemon with hundreds of snapshots lists them at every start
    const ids = await fsp.readdir(this.snapshotsDir);
    const found = await Promise.all(ids.map((id) => this.named(id)));
    return found.filter((r): r is SnapshotRecord => r !== undefined);
  }

  /** The snapshot in directory `id`, if its name's ref points at it (else it is an orphan). */
  private async named(id: string): Promise<SnapshotRecord | undefined> {
    const rec = await this.byId(id);
    return rec && (await this.lookup(rec.name))?.id === id ? rec : undefined;
  }

  /** Removes snapshot directories that no ref names (left by a crash). Call before use. */
  async removeOrphans(cleanup: (id: string) => Promise<void>): Promise<void> {
    await this.locked(async () => {
      const ids = await fsp.readdir(this.snapshotsDir);
      const named = await Promise.all(ids.map((id) => this.named(id)));
      for (const [i, id] of ids.entries()) {
        if (named[i]) continue;
        await cleanup(id);
        await fsp.rm(this.dirOf(id), { recursive: true, force: true });
      }
      await Promise.all(
        (await fsp.readdir(this.refsDir)).map(async (ref) => {
          const id = await fsp.readlink(path.join(this.refsDir, ref));
          const rec = await this.byId(id);
          if (!rec || this.refName(rec.name) !== ref) await fsp.rm(path.join(this.refsDir, ref), { force: true });
        }),
      );
    });
  }

  private async children(id: string): Promise<SnapshotRecord[]> {
    return (await this.list()).filter((r) => r.parentId === id);
  }

  private refName(name: string): string {
    return sha256Hex(name);
  }

  private refPath(name: string): string {
    return path.join(this.refsDir, this.refName(name));
  }

  /** Points `name` at `id`; replaces a stale ref (see the class comment). */
  private async link(name: string, id: string): Promise<void> {
    try {
      await fsp.symlink(id, this.refPath(name));
    } catch (e) {
      if (!isErrno(e, 'EEXIST')) throw e;
      if (await this.lookup(name)) throw conflict(`snapshot ${name} already exists`);
      const tmp = `${this.refPath(name)}.${process.pid}.tmp`;
      await fsp.rm(tmp, { force: true });
      await fsp.symlink(id, tmp);
      await fsp.rename(tmp, this.refPath(name));
    }
  }

  private unlink(name: string): Promise<void> {
    return fsp.rm(this.refPath(name), { force: true });
  }

  /** Serialises metadata changes, so that check-then-act steps (children, names) hold. */
  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
