import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { ImageConfigFile } from '../api/types';
import { readJSON, writeJSONAtomic } from '../common/fsutil';
import { digestOf, sha256Hex } from '../common/ids';
import { chainIDs, type Image, type ImageStore } from '../image/store';

/**
 * The build cache, keyed by content in the manner of BuildKit: a step's key is a digest of
 * the state it starts from (the image config so far, layers included), the instruction as
 * expanded, the digest of the files it copies and the build args it uses. A hit is a lookup
 * of that key; its value is the state after the step.
 *
 * A record is one file, `<key>.json`: the state after the step, the digest of the state it
 * started from (so the record that left that state is its parent), the step as written, and
 * when it was made and last used. The bytes a record holds are the layer its step added,
 * which lives in the image store like any layer: a record "shares" it when an image has that
 * layer too, and only the layers no image has are the cache's own (what `system df` counts
 * and what a prune frees).
 */
export class BuildCache {
  /** sessions of the builds running now: the records each has used or made */
  private readonly sessions = new Set<Set<string>>();
  /** records a prune is removing: no build may take them meanwhile */
  private readonly deleting = new Set<string>();

  private constructor(
    private readonly dir: string,
    private readonly images: ImageStore,
  ) {}

  static async open(dir: string, images: ImageStore): Promise<BuildCache> {
    await fsp.mkdir(dir, { recursive: true });
    return new BuildCache(dir, images);
  }

  static key(parts: unknown[]): string {
    return sha256Hex(JSON.stringify(parts));
  }

  /** The digest a state is known by: a record's `input`, and what its parent's state hashes to. */
  static stateDigest(state: ImageConfigFile): string {
    return digestOf(JSON.stringify(state));
  }

  /** Starts a build's use of the cache; its records are in use until `close`. */
  session(): CacheSession {
    const used = new Set<string>();
    this.sessions.add(used);
    return {
      get: (key, accept) => this.hit(key, used, accept),
      put: (key, state, step) => this.put(key, state, step, used),
      close: () => void this.sessions.delete(used),
    };
  }

  private inUse(key: string): boolean {
    for (const s of this.sessions) if (s.has(key)) return true;
    return false;
  }

  private file(key: string): string {
    return path.join(this.dir, `${key}.json`);
  }

  /** A hit is a record whose layers are all still in the image store; its use is recorded. */
  private async hit(key: string, used: Set<string>, accept?: (state: ImageConfigFile) => boolean): Promise<ImageConfigFile | undefined> {
    if (this.deleting.has(key)) return undefined;
    const rec = await this.read(key);
    if (!rec || this.deleting.has(key)) return undefined;
    if (!chainIDs(rec.state.rootfs.diff_ids).every((c) => this.images.hasLayer(c))) return undefined;
    if (accept && !accept(rec.state)) return undefined;
    used.add(key);
    const stored: StoredRecord = { ...rec, lastUsedAt: new Date().toISOString(), usageCount: rec.usageCount + 1 };
    // use counts are for `system df`: a crash may lose one, so no fsync on a build's hot path
    const tmp = path.join(this.dir, `.${key}.${randomBytes(4).toString('hex')}.tmp`);
    await fsp
      .writeFile(tmp, JSON.stringify(stored))
      .then(() => fsp.rename(tmp, this.file(key)))
      .catch(() => fsp.rm(tmp, { force: true }));
    return rec.state;
  }

  private async put(key: string, state: ImageConfigFile, step: { input: string; description: string }, used: Set<string>): Promise<void> {
    used.add(key);
    const rec: StoredRecord = { state, input: step.input, description: step.description, createdAt: new Date().toISOString(), usageCount: 0 };
    // Not synced: a record a power loss takes (or leaves torn, which reads as no record) is a
    // cache miss, and a hit checks that every layer it names is in the store; an fsync per
    // step was a good part of a cold build's time on a busy disk.
    await writeJSONAtomic(this.file(key), rec, { durable: false });
  }

  private async read(key: string): Promise<StoredRecord | undefined> {
    let raw: unknown;
    let mtime: Date | undefined;
    try {
      raw = await readJSON<unknown>(this.file(key));
      if (raw && typeof raw === 'object' && 'rootfs' in raw) mtime = (await fsp.stat(this.file(key))).mtime;
    } catch {
      return undefined;
    }
    if (!raw || typeof raw !== 'object') return undefined;
    if (mtime) {
      // a record written before records kept more than the state
      const state = raw as ImageConfigFile;
      const last = state.history?.[state.history.length - 1];
      return { state, input: '', description: last?.created_by ?? '', createdAt: mtime.toISOString(), usageCount: 0 };
    }
    const rec = raw as StoredRecord;
    return rec.state?.rootfs ? rec : undefined;
  }

  private async readAll(): Promise<Map<string, StoredRecord>> {
    const out = new Map<string, StoredRecord>();
    const files = (await fsp.readdir(this.dir)).filter((f) => f.endsWith('.json') && !f.startsWith('.'));
    const recs = await Promise.all(files.map((f) => this.read(f.slice(0, -'.json'.length))));
    files.forEach((f, i) => {
      const rec = recs[i];
      if (rec) out.set(f.slice(0, -'.json'.length), rec);
    });
    return out;
  }

  /** Every record with what it holds and who else holds it (GET /system/df). */
  async usage(): Promise<CacheRecordUsage[]> {
    return (await this.survey()).map((r) => r.usage);
  }

  /**
   * Removes records and frees the layers only they held (POST /build/prune). Records in use
   * by a running build stay, and so does every record a remaining one descends from (its
   * step would miss and take its children's keys with it). Without `all`, the records of
   * steps that a tagged image is made of stay too. Records go least recently used first:
   * all that may go, or, with `reservedSpace`, until the cache's own bytes are down to it;
   * when `maxUsedSpace` or `minFreeSpace` is set, only while the cache is over that limit or
   * the disk has less than that much free.
   */
  async prune(o: CachePruneOptions): Promise<{ deleted: string[]; reclaimed: number }> {
    const records = await this.survey();
    const alive = new Map(records.map((r) => [r.usage.id, r]));
    // how many remaining records descend from each, and have each layer in their chain
    const children = new Map<string, number>();
    const layerUsers = new Map<string, number>();
    const count = (m: Map<string, number>, k: string, by: number) => m.set(k, (m.get(k) ?? 0) + by);
    for (const r of records) {
      for (const p of r.usage.parents) count(children, p, 1);
      for (const c of chainIDs(r.state.rootfs.diff_ids)) count(layerUsers, c, 1);
    }
    const removable = (r: SurveyedRecord) => !this.inUse(r.usage.id) && (o.all || !r.inTaggedImage) && !children.get(r.usage.id) && o.match(r.usage);
    let used = records.reduce((n, r) => (r.usage.shared ? n : n + r.usage.size), 0);
    let free = o.minFreeSpace > 0 ? await freeBytes(this.dir) : 0;
    const limited = o.maxUsedSpace > 0 || o.minFreeSpace > 0;
    const overLimit = () => (o.reservedSpace === 0 || used > o.reservedSpace) && (!limited || (o.maxUsedSpace > 0 && used > o.maxUsedSpace) || (o.minFreeSpace > 0 && free < o.minFreeSpace));
    const lastUse = (r: SurveyedRecord) => Date.parse(r.usage.lastUsedAt ?? r.usage.createdAt) || 0;
    const older = (a: SurveyedRecord, b: SurveyedRecord) => lastUse(a) - lastUse(b) || (a.usage.id < b.usage.id ? -1 : 1);
    const deleted: string[] = [];
    let reclaimed = 0;
    while (overLimit()) {
      let next: SurveyedRecord | undefined;
      for (const r of alive.values()) if (removable(r) && (!next || older(r, next) < 0)) next = r;
      if (!next) break;
      const key = next.usage.id;
      alive.delete(key);
      for (const p of next.usage.parents) count(children, p, -1);
      for (const c of chainIDs(next.state.rootfs.diff_ids)) count(layerUsers, c, -1);
      this.deleting.add(key);
      try {
        await fsp.rm(this.file(key), { force: true });
        deleted.push(key);
        if (!next.usage.shared) used -= next.usage.size;
        const freed = next.layer && !next.usage.shared && !layerUsers.get(next.layer) ? await this.releaseTopLayer(next.state) : 0;
        reclaimed += freed;
        free += freed;
      } finally {
        this.deleting.delete(key);
      }
    }
    return { deleted, reclaimed };
  }

  /** Every record, with its layer and how images use it. */
  private async survey(): Promise<SurveyedRecord[]> {
    const stored = await this.readAll();
    const images = this.images.list();
    const imageLayers = new Set<string>();
    const taggedLayers = new Set<string>();
    for (const img of images) {
      for (const c of chainIDs(img.config.rootfs.diff_ids)) {
        imageLayers.add(c);
        if (img.repoTags.length) taggedLayers.add(c);
      }
    }
    // an image is made of a step when its history runs through the step's history entry
    const byStep = new Map<string, Image[]>();
    for (const img of images) {
      (img.config.history ?? []).forEach((h, i) => {
        const k = historyKey(i + 1, h);
        byStep.set(k, [...(byStep.get(k) ?? []), img]);
      });
    }
    const byOutput = new Map<string, string>();
    for (const [id, rec] of stored) byOutput.set(BuildCache.stateDigest(rec.state), id);
    const out: SurveyedRecord[] = [];
    for (const [id, rec] of stored) {
      const { state } = rec;
      const history = state.history ?? [];
      const last = history[history.length - 1];
      const chain = chainIDs(state.rootfs.diff_ids);
      // the step added a layer when its history entry says so: that layer is the top one
      const layer = last && !last.empty_layer && chain.length ? chain[chain.length - 1] : undefined;
      const present = layer !== undefined && this.images.hasLayer(layer);
      const size = present ? (this.images.layerSizes(asImage(state)).pop() ?? 0) : 0;
      const madeOf = last ? (byStep.get(historyKey(history.length, last)) ?? []).filter((img) => startsWith(img.config.rootfs.diff_ids, state.rootfs.diff_ids)) : [];
      const parent = rec.input ? byOutput.get(rec.input) : undefined;
      out.push({
        state,
        layer: present ? layer : undefined,
        inTaggedImage: madeOf.some((img) => img.repoTags.length > 0) || (present && taggedLayers.has(layer!)),
        usage: {
          id,
          parents: parent && parent !== id ? [parent] : [],
          description: rec.description,
          inUse: this.inUse(id),
          shared: madeOf.length > 0 || (present && imageLayers.has(layer!)),
          size,
          createdAt: rec.createdAt,
          lastUsedAt: rec.lastUsedAt,
          usageCount: rec.usageCount,
        },
      });
    }
    return out;
  }

  /**
   * Deletes the top layer of a state from the image store, and only that one. The image
   * store frees layers when an image goes, top down until one that another image has: so a
   * throwaway image of the state goes while a throwaway image of the layers under it holds
   * them. Returns the bytes freed (0 when an image has the layer after all).
   */
  private async releaseTopLayer(state: ImageConfigFile): Promise<number> {
    const diffIDs = state.rootfs.diff_ids;
    const top = chainIDs(diffIDs).pop();
    if (!top || !this.images.hasLayer(top)) return 0;
    const size = this.images.layerSizes(asImage(state)).pop() ?? 0;
    const noUsers = () => [];
    const throwaway = async (ids: string[]) => this.images.addImage({ architecture: state.architecture, os: state.os, rootfs: { type: 'layers', diff_ids: ids }, config: { Labels: { 'berth.build-cache.release': randomBytes(16).toString('hex') } } });
    let hold: string | undefined;
    try {
      if (diffIDs.length > 1) hold = await throwaway(diffIDs.slice(0, -1));
      const whole = await throwaway(diffIDs);
      const out = await this.images.remove(whole, { force: true, noPrune: false, users: noUsers });
      return out.some((d) => d.Deleted === top) ? size : 0;
    } catch {
      return 0;
    } finally {
      if (hold) await this.images.remove(hold, { force: true, noPrune: true, users: noUsers }).catch(() => undefined);
    }
  }
}

/** A build's handle on the cache: what it gets and puts is in use until it closes. */
export interface CacheSession {
  /** the state after the step of this key, if the cache has it and all its layers (and `accept` takes it) */
  get(key: string, accept?: (state: ImageConfigFile) => boolean): Promise<ImageConfigFile | undefined>;
  /** records a step: `input` is the stateDigest of the state it started from, `description` the step as written */
  put(key: string, state: ImageConfigFile, step: { input: string; description: string }): Promise<void>;
  close(): void;
}

/** One record as `system df` reports it. */
export interface CacheRecordUsage {
  /** the record's key */
  id: string;
  /** the record whose state this step started from, when the cache has it */
  parents: string[];
  /** the Dockerfile step as written */
  description: string;
  /** a running build uses it */
  inUse: boolean;
  /** an image is made of this step or has its layer: removing the record frees nothing */
  shared: boolean;
  /** bytes of the layer the step added (0 for a step that changed only the config) */
  size: number;
  createdAt: string;
  lastUsedAt?: string;
  usageCount: number;
}

export interface CachePruneOptions {
  /** also records of steps that tagged images are made of */
  all: boolean;
  /** bytes of cache to keep (keep-storage, reserved-space) */
  reservedSpace: number;
  /** prune only while the cache holds more than this (0: no such limit) */
  maxUsedSpace: number;
  /** prune only while the disk has less free than this (0: no such limit) */
  minFreeSpace: number;
  /** the caller's filters: which records may go */
  match: (r: CacheRecordUsage) => boolean;
}

interface StoredRecord {
  /** the state after the step: what a hit gives */
  state: ImageConfigFile;
  /** the stateDigest of the state the step started from ('' when not known) */
  input: string;
  description: string;
  createdAt: string;
  lastUsedAt?: string;
  usageCount: number;
}

interface SurveyedRecord {
  usage: CacheRecordUsage;
  state: ImageConfigFile;
  /** the chain ID of the layer the step added, when the store has it */
  layer?: string;
  inTaggedImage: boolean;
}

const historyKey = (length: number, h: { created?: string; created_by?: string }) => `${length}\n${h.created ?? ''}\n${h.created_by ?? ''}`;

const startsWith = (xs: string[], prefix: string[]) => prefix.length <= xs.length && prefix.every((x, i) => xs[i] === x);

/** A state seen as an image, for the image store's per-layer sizes. */
const asImage = (state: ImageConfigFile): Image => ({ id: '', config: state, repoTags: [], repoDigests: [], size: 0 });

async function freeBytes(dir: string): Promise<number> {
  const s = await fsp.statfs(dir);
  return s.bavail * s.bsize;
}
