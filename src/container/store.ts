import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { conflict, invalid, notFound } from '../common/errors';
import { readJSON, removeTree, writeJSONAtomic } from '../common/fsutil';
import type { ContainerRecord } from './model';

const NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/**
 * Containers on disk, one folder each under `<data-root>/containers/<id>`, and the index
 * of names. The record is written atomically, so a daemon killed at any moment reads back
 * either the old record or the new one. A folder without a record is a container whose
 * creation did not finish: it is removed at open. A record that cannot be read (damaged
 * by hand or by the disk) is reported and skipped, its folder left alone.
 */
export class ContainerStore {
  private readonly byId = new Map<string, ContainerRecord>();
  private readonly byName = new Map<string, string>();

  private constructor(readonly root: string) {}

  static async open(root: string): Promise<{ store: ContainerStore; incomplete: string[]; unreadable: { id: string; error: string }[] }> {
    const s = new ContainerStore(root);
    await fsp.mkdir(root, { recursive: true });
    const incomplete: string[] = [];
    const unreadable: { id: string; error: string }[] = [];
    for (const id of await fsp.readdir(root)) {
      let rec: ContainerRecord | undefined;
      try {
        rec = await readJSON<ContainerRecord>(s.recordPath(id));
      } catch (e) {
        // damaged by something other than berthd (writes are atomic): kept for a human to look at
        unreadable.push({ id, error: (e as Error).message });
        continue;
      }
      if (!rec) {
        incomplete.push(id);
        continue;
      }
      if (typeof rec.ID !== 'string' || typeof rec.Name !== 'string' || !rec.State || !rec.HostConfig || !rec.Config) {
        unreadable.push({ id, error: 'the record lacks ID, Name, State, Config or HostConfig' });
        continue;
      }
      s.byId.set(rec.ID, rec);
      s.byName.set(rec.Name, rec.ID);
    }
    return { store: s, incomplete, unreadable };
  }

  dir(id: string): string {
    return path.join(this.root, id);
  }

  private recordPath(id: string): string {
    return path.join(this.root, id, 'container.json');
  }

  all(): ContainerRecord[] {
    return [...this.byId.values()];
  }

  /** Finds by full ID, exact name (with or without "/"), or unique ID prefix, as Docker does. */
  find(idOrName: string): ContainerRecord | undefined {
    if (!idOrName) return undefined;
    const exact = this.byId.get(idOrName);
    if (exact) return exact;
    const byName = this.byName.get(idOrName.startsWith('/') ? idOrName : `/${idOrName}`);
    if (byName) return this.byId.get(byName);
    if (!/^[a-f0-9]+$/.test(idOrName)) return undefined;
    const matches = [...this.byId.keys()].filter((id) => id.startsWith(idOrName));
    if (matches.length > 1) throw invalid(`multiple IDs found with provided prefix: ${idOrName}`);
    return matches.length ? this.byId.get(matches[0]) : undefined;
  }

  get(idOrName: string): ContainerRecord {
    const c = this.find(idOrName);
    if (!c) throw notFound(`No such container: ${idOrName}`);
    return c;
  }

  /** Takes a name for a container; a name in use is a 409 in Docker's words. */
  reserveName(name: string, id: string): string {
    if (!NAME.test(name)) throw invalid(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const full = name.startsWith('/') ? name : `/${name}`;
    const holder = this.byName.get(full);
    if (holder && holder !== id) {
      throw conflict(`Conflict. The container name "${full}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    this.byName.set(full, id);
    return full;
  }

  releaseName(name: string, id: string): void {
    if (this.byName.get(name) === id) this.byName.delete(name);
  }

  hasName(name: string): boolean {
    return this.byName.has(name.startsWith('/') ? name : `/${name}`);
  }

  /** `durable: false` skips the fsync (see writeFileAtomic): for states no power loss outlives. */
  async save(rec: ContainerRecord, opts: { durable?: boolean } = {}): Promise<void> {
    this.byId.set(rec.ID, rec);
    this.byName.set(rec.Name, rec.ID);
    await fsp.mkdir(this.dir(rec.ID), { recursive: true });
    await writeJSONAtomic(this.recordPath(rec.ID), rec, opts);
  }

  async delete(rec: ContainerRecord): Promise<void> {
    // The record goes first: a crash half-way leaves a folder without a record, cleaned at open.
    await fsp.rm(this.recordPath(rec.ID), { force: true });
    this.byId.delete(rec.ID);
    this.releaseName(rec.Name, rec.ID);
    await removeTree(this.dir(rec.ID));
  }
}
