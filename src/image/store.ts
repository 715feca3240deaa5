import { promises as fsp } from 'node:fs';
import { createGunzip } from 'node:zlib';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { conflict, invalid, notFound } from '../common/errors';
import { readJSON, writeJSONAtomic } from '../common/fsutil';
import { digestOf, sha256Hex, shortId } from '../common/ids';
import type { ImageConfigFile } from '../api/types';
import type { Snapshotter } from '../layer/snapshotter';
import type { ContentStore, ContentWriter } from './content-store';
import { familiarName, familiarString, parseReference, withDefaultTag } from './reference';
import { span } from '../common/timing';

/** One layer of the store, named by its chain ID, which is also its snapshot's name. */
export interface LayerRecord {
  chainID: string;
  diffID: string;
  parent?: string;
  /** bytes of the files the layer holds */
  size: number;
  /** set when the layer's bytes are kept as the compressed blob it was pulled in, not as its tar */
  stored?: StoredBlob;
}

/** A pulled layer's compressed blob, kept as the layer's bytes. */
export interface StoredBlob {
  digest: string;
  mediaType: string;
  /** bytes of the blob */
  size: number;
  /** bytes of the tar it unpacks to (its diff ID's content) */
  tarSize: number;
}

/** A layer's tar, as save and push read it. */
export interface LayerTar {
  size: number;
  open(): Readable;
  /** the compressed blob the tar is kept as, which push can send as it is */
  compressed?: StoredBlob & { open(): Readable };
}

/** See ImageStore.keepCompressed. */
export interface KeptBlob {
  desc: { digest: string; mediaType: string; size: number };
  writer: ContentWriter;
  /**
   * The verified blob's way through the writer into the decompressor: settles only once the
   * blob has ended and its digest was checked. The decompressor may end before that (gzip
   * ignores what follows its end), so the blob is committed only after this resolves.
   */
  upstream: Promise<void>;
  /** ends the keep: the blob may be deleted from then on when no layer names it */
  release(): void;
}

interface ImageMeta {
  lastTagTime?: string;
  /** the image a local commit started from (Docker's Parent); pulled and loaded images have none */
  parent?: string;
}

export interface Image {
  /** "sha256:<hex>", the digest of the config blob */
  id: string;
  config: ImageConfigFile;
  repoTags: string[];
  repoDigests: string[];
  size: number;
  lastTagTime?: string;
  /** the ID of the image it was committed on, for images made here */
  parent?: string;
}

export interface DeleteResponseItem {
  Untagged?: string;
  Deleted?: string;
}

/** A layer unpacked into a snapshot that has no parent yet. */
export interface DetachedLayer {
  key: string;
  diffID: string;
  size: number;
  stored?: StoredBlob;
  release?(): void;
}

/** Who uses an image: the image store asks before deleting, the container store answers. */
export type ImageUsers = (imageId: string) => { id: string; running: boolean }[];

export function chainIDs(diffIDs: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIDs) out.push(out.length === 0 ? d : digestOf(`${out[out.length - 1]} ${d}`));
  return out;
}

const hex = (digest: string) => digest.replace(/^sha256:/, '');
/** Bytes gathered before one write of a layer blob that comes in many small pieces. */
const WRITE_BATCH = 1 << 20;

/**
 * Images and their tags. An image is its config blob (its ID is the blob's digest); its
 * layers are committed snapshots named by chain ID, shared by every image that has them.
 */
export class ImageStore {
  private repositories = new Map<string, string>();
  private readonly layers = new Map<string, LayerRecord>();
  private readonly images = new Map<string, ImageConfigFile>();
  private readonly meta = new Map<string, ImageMeta>();
  /** compressed blobs being kept by pulls still under way (see keepCompressed), by digest */
  private readonly keeping = new Map<string, number>();
  private persistChain: Promise<void> = Promise.resolve();

  private constructor(
    private readonly root: string,
    readonly snapshotter: Snapshotter,
    readonly content: ContentStore,
  ) {}

  static async open(root: string, snapshotter: Snapshotter, content: ContentStore): Promise<ImageStore> {
    const s = new ImageStore(root, snapshotter, content);
    await fsp.mkdir(path.join(root, 'layers'), { recursive: true });
    await fsp.mkdir(path.join(root, 'images'), { recursive: true });
    const repos = (await readJSON<Record<string, string>>(path.join(root, 'repositories.json'))) ?? {};
    s.repositories = new Map(Object.entries(repos));
    for (const f of await fsp.readdir(path.join(root, 'layers'))) {
      if (!f.endsWith('.json')) continue;
      const rec = await readJSON<LayerRecord>(path.join(root, 'layers', f));
      if (rec) s.layers.set(rec.chainID, rec);
    }
    for (const f of await fsp.readdir(path.join(root, 'images'))) {
      if (!f.endsWith('.json')) continue;
      const id = `sha256:${f.slice(0, -'.json'.length)}`;
      try {
        const config = JSON.parse((await content.read(id)).toString('utf8')) as ImageConfigFile;
        s.images.set(id, config);
        s.meta.set(id, (await readJSON<ImageMeta>(path.join(root, 'images', f))) ?? {});
      } catch {
        // An image whose config blob is gone is not an image; its tags are dropped below.
      }
    }
    for (const [tag, id] of s.repositories) if (!s.images.has(id)) s.repositories.delete(tag);
    // layers being unpacked when the daemon stopped are not layers
    for (const snap of await snapshotter.list()) {
      if (snap.kind === 'active' && /^ingest-/.test(snap.name)) await snapshotter.remove(snap.name).catch(() => undefined);
    }
    return s;
  }

  get isEmpty(): boolean {
    return this.images.size === 0 && this.repositories.size === 0;
  }

  list(): Image[] {
    return [...this.images.keys()].map((id) => this.describe(id));
  }

  private describe(id: string): Image {
    const config = this.images.get(id)!;
    const refs = [...this.repositories].filter(([, v]) => v === id).map(([k]) => k).sort();
    // Tags and digest references share one map, as in Docker's reference store.
    const repoTags = refs.filter((r) => !r.includes('@'));
    const repoDigests = refs.filter((r) => r.includes('@'));
    const chain = chainIDs(config.rootfs.diff_ids);
    const size = chain.reduce((n, c) => n + (this.layers.get(c)?.size ?? 0), 0);
    const meta = this.meta.get(id);
    // a parent removed since is not shown, as in Docker
    const parent = meta?.parent && this.images.has(meta.parent) ? meta.parent : undefined;
    return { id, config, repoTags, repoDigests, size, lastTagTime: meta?.lastTagTime, parent };
  }

  /** Finds an image by `name[:tag]`, full or `sha256:` ID, or a unique ID prefix. */
  resolve(nameOrId: string): Image | undefined {
    const id = this.resolveId(nameOrId);
    return id ? this.describe(id) : undefined;
  }

  /** An image event's attributes as dockerd gives them: the image's labels (while it exists), then `name`. */
  eventAttributes(nameOrId: string, name: string): Record<string, string> {
    const labels = this.resolve(nameOrId)?.config.config?.Labels ?? {};
    return { ...labels, name };
  }

  get(nameOrId: string): Image {
    const img = this.resolve(nameOrId);
    if (!img) throw notFound(`No such image: ${nameOrId}`);
    return img;
  }

  private resolveId(nameOrId: string): string | undefined {
    const idLike = /^(sha256:)?([a-f0-9]{1,64})$/.exec(nameOrId);
    if (idLike && (idLike[1] || idLike[2].length === 64)) {
      const full = `sha256:${idLike[2]}`;
      if (this.images.has(full)) return full;
    }
    try {
      const ref = withDefaultTag(parseReference(nameOrId));
      const byTag = this.repositories.get(familiarString(ref));
      if (byTag) return byTag;
    } catch {
      // not a reference: maybe an ID prefix
    }
    if (idLike) {
      const matches = [...this.images.keys()].filter((id) => hex(id).startsWith(idLike[2]));
      if (matches.length === 1) return matches[0];
    }
    return undefined;
  }

  async tag(nameOrId: string, target: string): Promise<void> {
    const img = this.get(nameOrId);
    const ref = parseReference(target);
    if (ref.digest) throw invalid('refusing to create a tag with a digest reference');
    const key = familiarString(withDefaultTag(ref));
    this.repositories.set(key, img.id);
    this.meta.set(img.id, { ...this.meta.get(img.id), lastTagTime: new Date().toISOString() });
    await this.persist(img.id);
  }

  /** Records `name@sha256:...` (the manifest digest a pull or push saw) as a reference to the image. */
  async addDigestReference(id: string, name: string, digest: string): Promise<void> {
    const ref = parseReference(`${name}@${digest}`);
    const key = familiarString(ref);
    // one digest reference per repository, as Docker keeps it
    const repo = familiarName(ref);
    for (const [k, v] of this.repositories) if (v === id && k.startsWith(`${repo}@`) && k !== key) this.repositories.delete(k);
    this.repositories.set(key, id);
    await this.persist(id);
  }

  /** `docker rmi` semantics: untag by name, delete by ID, refuse what containers still use. */
  async remove(nameOrId: string, opts: { force: boolean; noPrune: boolean; users: ImageUsers }): Promise<DeleteResponseItem[]> {
    const id = this.resolveId(nameOrId);
    if (!id) throw notFound(`No such image: ${nameOrId}`);
    const img = this.describe(id);
    const users = opts.users(id);
    const out: DeleteResponseItem[] = [];
    let byName: string | undefined;
    try {
      const ref = parseReference(nameOrId);
      const key = familiarString(withDefaultTag(ref));
      if (this.repositories.get(key) === id && !/^[a-f0-9]{64}$/.test(nameOrId)) byName = key;
    } catch {
      /* an ID */
    }
    const running = users.find((u) => u.running);
    if (byName) {
      // Removing a repository's last tag also drops that repository's digest references.
      const repoOf = (r: string) => familiarName(parseReference(r));
      const removing = [byName];
      if (!byName.includes('@') && !img.repoTags.some((t) => t !== byName && repoOf(t) === repoOf(byName))) {
        removing.push(...img.repoDigests.filter((d) => repoOf(d) === repoOf(byName)));
      }
      const remaining = [...img.repoTags, ...img.repoDigests].filter((r) => !removing.includes(r));
      if (remaining.length > 0 || users.length === 0 || opts.force) {
        if (remaining.length === 0 && running && opts.force) {
          throw conflict(`conflict: unable to delete ${shortId(id)} (cannot be forced) - image is being used by running container ${shortId(running.id)}`);
        }
        for (const r of removing) {
          this.repositories.delete(r);
          out.push({ Untagged: r });
        }
        // as dockerd: the last name of an image that children are made on goes, the image stays
        if (remaining.length > 0 || users.length > 0 || this.hasChildren(id)) {
          await this.persist(id);
          return out;
        }
      } else {
        throw conflict(`conflict: unable to remove repository reference "${nameOrId}" (must force) - container ${shortId(users[0].id)} is using its referenced image ${shortId(id)}`);
      }
    } else {
      if (this.hasChildren(id)) throw conflict(`conflict: unable to delete ${shortId(id)} (cannot be forced) - image has dependent child images`);
      if (running) throw conflict(`conflict: unable to delete ${shortId(id)} (cannot be forced) - image is being used by running container ${shortId(running.id)}`);
      if (users.length > 0 && !opts.force) throw conflict(`conflict: unable to delete ${shortId(id)} (must be forced) - image is being used by stopped container ${shortId(users[0].id)}`);
      if (img.repoTags.length > 1 && !opts.force) throw conflict(`conflict: unable to delete ${shortId(id)} (must be forced) - image is referenced in multiple repositories`);
      for (const t of img.repoTags) {
        this.repositories.delete(t);
        out.push({ Untagged: t });
      }
      if (users.length > 0) {
        await this.persist(id);
        return out;
      }
    }
    for (const r of img.repoDigests) {
      if (this.repositories.get(r) !== id) continue; // untagged above
      this.repositories.delete(r);
      out.push({ Untagged: r });
    }
    this.images.delete(id);
    this.meta.delete(id);
    await this.persist(id);
    out.push({ Deleted: id });
    if (!opts.noPrune) for (const d of await this.releaseLayers(img.config.rootfs.diff_ids)) out.push({ Deleted: d });
    await this.content.delete(id);
    return out;
  }

  /** Images committed or built on this one (whose Parent it is) keep it: Docker's dependent child images. */
  private hasChildren(id: string): boolean {
    for (const [child, meta] of this.meta) if (meta.parent === id && child !== id && this.images.has(child)) return true;
    return false;
  }

  /** Deletes the layers of a removed image that no other image shares, top first. */
  private async releaseLayers(diffIDs: string[]): Promise<string[]> {
    const deleted: string[] = [];
    for (const chainID of chainIDs(diffIDs).reverse()) {
      // asked again for each layer: an image pulled meanwhile may have come to use it
      if (this.layerInUse(chainID)) break;
      const rec = this.layers.get(chainID);
      if (!rec) continue;
      await this.snapshotter.remove(hex(chainID));
      await fsp.rm(path.join(this.root, 'layers', `${hex(chainID)}.json`), { force: true });
      this.layers.delete(chainID);
      if (![...this.layers.values()].some((l) => l.diffID === rec.diffID)) await this.content.delete(rec.diffID);
      await this.dropStoredIfUnused(rec.stored);
      deleted.push(chainID);
    }
    // the files are gone before rmi answers, as with dockerd: a pull right after finds the disk quiet
    if (deleted.length) await this.snapshotter.deletions();
    return deleted;
  }

  private layerInUse(chainID: string): boolean {
    for (const cfg of this.images.values()) if (chainIDs(cfg.rootfs.diff_ids).includes(chainID)) return true;
    return false;
  }

  /** The committed snapshot a container of this image starts from (undefined for an image with no layers). */
  topSnapshot(img: Image): string | undefined {
    const chain = chainIDs(img.config.rootfs.diff_ids);
    return chain.length ? hex(chain[chain.length - 1]) : undefined;
  }

  /**
   * Unpacks one uncompressed layer tar on top of `parentChainID`, keeping the tar itself
   * as a blob (so images can be saved and pushed byte for byte). Returns the layer's diff ID.
   */
  async addLayer(tar: Readable, parentChainID?: string): Promise<LayerRecord> {
    const key = `ingest-${randomBytes(8).toString('hex')}`;
    await this.snapshotter.prepare(key, parentChainID ? hex(parentChainID) : undefined);
    const applied = await this.applyInto(key, tar);
    return this.commitLayer(key, applied, parentChainID, false);
  }

  /** Whether layers of one image can be unpacked at the same time (see unpackDetached). */
  get unpacksLayersApart(): boolean {
    return this.snapshotter.appliesLayersApart;
  }

  /**
   * Unpacks a layer into a snapshot of its own, before its parent exists (pulls unpack all
   * their layers at once this way); `attachLayer` then gives it its parent, in order.
   */
  async unpackDetached(tar: Readable, kept?: KeptBlob): Promise<DetachedLayer> {
    if (!this.unpacksLayersApart) throw new Error(`the ${this.snapshotter.driver} driver cannot unpack layers apart`);
    const key = `ingest-${randomBytes(8).toString('hex')}`;
    const endPrepare = span('layer.prepare', key);
    try {
      await this.snapshotter.prepare(key);
    } catch (e) {
      await kept?.writer.abort();
      kept?.release();
      throw e;
    }
    endPrepare();
    const applied = await this.applyInto(key, tar, kept);
    return { key, ...applied, release: kept?.release };
  }

  attachLayer(layer: DetachedLayer, parentChainID?: string): Promise<LayerRecord> {
    return this.commitLayer(layer.key, layer, parentChainID, true);
  }

  async discardDetached(layer: DetachedLayer): Promise<void> {
    await this.snapshotter.remove(layer.key).catch(() => undefined);
    layer.release?.();
    await this.dropStoredIfUnused(layer.stored);
  }

  /**
   * For a pulled gzip layer: a pass-through that writes the compressed blob as it goes by,
   * for unpackDetached, which then keeps that blob as the layer's bytes instead of the tar
   * it unpacks to: a third of the bytes written (a 55 MB blob against a 170 MB tar), and a
   * push sends it as it is. The blob's digest is checked upstream (the pull's verifier).
   */
  keepCompressed(desc: { digest: string; mediaType: string; size: number }, blob: Readable, decompressor: Writable): KeptBlob {
    const writer = this.content.writer({ digestKnown: true });
    const tee = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        writer.write(chunk).then(() => cb(null, chunk), cb);
      },
    });
    const upstream = pipeline(blob, tee, decompressor);
    upstream.catch(() => undefined); // awaited in applyInto; the unpacker sees the failure first
    // Two pulls may keep one blob at once: one that fails must not delete what the other
    // has just put in place but not yet named in its layer record.
    this.keeping.set(desc.digest, (this.keeping.get(desc.digest) ?? 0) + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const n = (this.keeping.get(desc.digest) ?? 1) - 1;
      if (n > 0) this.keeping.set(desc.digest, n);
      else this.keeping.delete(desc.digest);
    };
    return { desc, writer, upstream, release };
  }

  /** The layer's tar, from the tar blob, or decompressed from the blob it is kept as. */
  async layerTar(diffID: string): Promise<LayerTar> {
    if (await this.content.has(diffID)) return { size: await this.content.size(diffID), open: () => this.content.reader(diffID) };
    const stored = [...this.layers.values()].find((l) => l.diffID === diffID && l.stored)?.stored;
    if (!stored) throw notFound(`blob ${diffID} not found`);
    const open = () => this.content.reader(stored.digest);
    return {
      size: stored.tarSize,
      open: () => {
        const tar = createGunzip({ chunkSize: 256 * 1024 });
        // a reader that stops early (a save cut short) closes the file too
        pipeline(open(), tar).catch(() => undefined);
        return tar;
      },
      compressed: { ...stored, open },
    };
  }

  private async dropStoredIfUnused(stored: StoredBlob | undefined): Promise<void> {
    if (!stored || this.keeping.has(stored.digest) || [...this.layers.values()].some((l) => l.stored?.digest === stored.digest)) return;
    await this.content.delete(stored.digest);
  }

  /**
   * Applies the tar to an active snapshot. The layer's bytes are kept as the tar, written
   * to the diff ID's blob as it passes, or, given `kept`, as the compressed blob it came in.
   */
  private async applyInto(key: string, tar: Readable, kept?: KeptBlob): Promise<{ diffID: string; size: number; stored?: StoredBlob }> {
    const writer = kept?.writer ?? this.content.writer({ digestKnown: true });
    let tarSize = 0;
    const tee = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        if (kept) {
          tarSize += chunk.length;
          return cb(null, chunk);
        }
        writer.write(chunk).then(() => cb(null, chunk), cb);
      },
    });
    try {
      // Both sides are waited for, and the unpacker's error wins: it names the bad entry,
      // while the copying side can only say that its reader went away.
      const applying = this.snapshotter.apply(key, tee).catch((e: unknown) => {
        tee.destroy();
        throw e;
      });
      const copying = pipeline(tar, tee).catch((e: unknown) => {
        tee.destroy(e as Error);
        throw e;
      });
      const [a, c] = await Promise.allSettled([applying, copying]);
      if (a.status === 'rejected') {
        const premature = /premature close/i.test((a.reason as Error)?.message ?? '');
        throw premature && c.status === 'rejected' ? c.reason : a.reason;
      }
      if (c.status === 'rejected') throw c.reason;
      await kept?.upstream;
      const endCommit = span('layer.blob.commit', key);
      if (kept && writer.size !== kept.desc.size) throw invalid(`layer ${kept.desc.digest}: the tar ended after ${writer.size} of the blob's ${kept.desc.size} bytes`);
      await writer.commit(kept?.desc.digest ?? a.value.diffID);
      endCommit();
      return kept ? { ...a.value, stored: { ...kept.desc, tarSize } } : a.value;
    } catch (e) {
      await writer.abort();
      kept?.release();
      await this.snapshotter.remove(key).catch(() => undefined);
      throw e;
    }
  }

  private async commitLayer(key: string, applied: Omit<DetachedLayer, 'key'>, parentChainID: string | undefined, onto: boolean): Promise<LayerRecord> {
    try {
      const chainID = parentChainID ? digestOf(`${parentChainID} ${applied.diffID}`) : applied.diffID;
      const existing = this.layers.get(chainID);
      if (existing) {
        await this.snapshotter.remove(key);
        applied.release?.();
        await this.dropStoredIfUnused(applied.stored);
        return existing;
      }
      const endCommit = span('layer.snapshot.commit', key);
      if (onto) await this.snapshotter.commitOnto(hex(chainID), key, parentChainID ? hex(parentChainID) : undefined);
      else await this.snapshotter.commit(hex(chainID), key);
      const rec: LayerRecord = { chainID, diffID: applied.diffID, parent: parentChainID, size: applied.size, ...(applied.stored ? { stored: applied.stored } : {}) };
      await writeJSONAtomic(path.join(this.root, 'layers', `${hex(chainID)}.json`), rec);
      this.layers.set(chainID, rec);
      applied.release?.();
      endCommit();
      return rec;
    } catch (e) {
      await this.snapshotter.remove(key).catch(() => undefined);
      applied.release?.();
      await this.dropStoredIfUnused(applied.stored).catch(() => undefined);
      throw e;
    }
  }

  /**
   * Turns an active snapshot (a build step's or a container's changes) into a layer: its
   * diff tar is kept as the layer blob, and the snapshot itself is committed under the
   * chain ID, so nothing is unpacked a second time. `ready`: what must be done before the
   * snapshot is committed (its unmount), awaited once the diff is written, so the two overlap.
   */
  async commitSnapshot(key: string, diffTar: Readable, parentChainID?: string, ready?: Promise<void>): Promise<LayerRecord> {
    const writer = this.content.writer();
    let diffID: string;
    const endDiff = span('layer.diff.write', key);
    try {
      // a diff of many small files comes as a header, a body and padding each: written in
      // batches, one write per batch instead of a thread-pool round trip per piece
      let batch: Buffer[] = [];
      let batched = 0;
      for await (const chunk of diffTar) {
        batch.push(chunk as Buffer);
        batched += (chunk as Buffer).length;
        if (batched < WRITE_BATCH) continue;
        await writer.write(Buffer.concat(batch, batched));
        batch = [];
        batched = 0;
      }
      if (batched) await writer.write(Buffer.concat(batch, batched));
      diffID = await writer.commit();
    } catch (e) {
      await writer.abort();
      throw e;
    }
    endDiff();
    await ready;
    const chainID = parentChainID ? digestOf(`${parentChainID} ${diffID}`) : diffID;
    const existing = this.layers.get(chainID);
    if (existing) {
      await this.snapshotter.remove(key);
      return existing;
    }
    const endCommit = span('layer.snapshot.commit', key);
    await this.snapshotter.commit(hex(chainID), key);
    const rec: LayerRecord = { chainID, diffID, parent: parentChainID, size: await this.snapshotter.usage(hex(chainID)).catch(() => writer.size) };
    await writeJSONAtomic(path.join(this.root, 'layers', `${hex(chainID)}.json`), rec);
    this.layers.set(chainID, rec);
    endCommit();
    return rec;
  }

  /** Bytes of all layers, each counted once however many images share it (system df). */
  layersSize(): number {
    let n = 0;
    for (const l of this.layers.values()) n += l.size;
    return n;
  }

  /** Bytes of an image's layers that other images use too (system df's SHARED SIZE). */
  sharedSize(img: Image): number {
    const others = new Set<string>();
    for (const [id, cfg] of this.images) if (id !== img.id) for (const c of chainIDs(cfg.rootfs.diff_ids)) others.add(c);
    return chainIDs(img.config.rootfs.diff_ids).reduce((n, c) => n + (others.has(c) ? (this.layers.get(c)?.size ?? 0) : 0), 0);
  }

  /** Bytes of each layer of an image, in order (for `history`). */
  layerSizes(img: Image): number[] {
    return chainIDs(img.config.rootfs.diff_ids).map((c) => this.layers.get(c)?.size ?? 0);
  }

  hasLayer(chainID: string): boolean {
    return this.layers.has(chainID);
  }

  /** Stores an image config whose layers are all present; returns its ID. */
  async addImage(config: ImageConfigFile, tag?: string, rawBytes?: Buffer, o: { parent?: string } = {}): Promise<string> {
    for (const c of chainIDs(config.rootfs.diff_ids)) if (!this.layers.has(c)) throw invalid(`layer ${c} is missing`);
    // A loaded or pulled config keeps its bytes: the image ID is their digest.
    const raw = rawBytes ?? Buffer.from(JSON.stringify(config));
    const id = await this.content.put(raw);
    this.images.set(id, config);
    if (!this.meta.has(id)) this.meta.set(id, {});
    // a build that changed nothing gives its base's own ID: no image is its own parent
    if (o.parent && o.parent !== id) this.meta.set(id, { ...this.meta.get(id), parent: o.parent });
    if (tag) {
      this.repositories.set(familiarString(withDefaultTag(parseReference(tag))), id);
      this.meta.set(id, { ...this.meta.get(id), lastTagTime: new Date().toISOString() });
    }
    await this.persist(id);
    return id;
  }

  /** Raw config bytes, as hashed into the ID (for save/push). */
  configBytes(id: string): Promise<Buffer> {
    return this.content.read(id);
  }

  private persist(id: string): Promise<void> {
    const run = async () => {
      await writeJSONAtomic(path.join(this.root, 'repositories.json'), Object.fromEntries(this.repositories));
      const file = path.join(this.root, 'images', `${hex(id)}.json`);
      if (this.images.has(id)) await writeJSONAtomic(file, this.meta.get(id) ?? {});
      else await fsp.rm(file, { force: true });
    };
    this.persistChain = this.persistChain.then(run, run);
    return this.persistChain;
  }
}

export { familiarName, sha256Hex };
