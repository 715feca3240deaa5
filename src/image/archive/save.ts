import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { notFound } from '../../common/errors';
import { digestOf } from '../../common/ids';
import type { Image, ImageStore } from '../store';
import { familiarName, parseReference, type Reference } from '../reference';
import { IMAGE_NAME_ANNOTATION, MT, REF_NAME_ANNOTATION, type Descriptor, type LegacyManifestEntry, type OciIndex, type OciManifest } from './media-types';

/** The images of one `docker save`, each with the tags it is saved under. */
export interface SavePlan {
  images: { img: Image; tags: string[] }[];
}

/**
 * Resolves the names given to `docker save`, before anything is streamed, so that an
 * unknown name is a plain 404. A tagged name saves that tag; a repository name alone saves
 * every tag of the repository; an image named by ID is saved without tags.
 */
export function planSave(store: ImageStore, names: string[]): SavePlan {
  const byId = new Map<string, { img: Image; tags: string[] }>();
  const add = (img: Image, tag?: string) => {
    const entry = byId.get(img.id) ?? { img, tags: [] };
    byId.set(img.id, entry);
    if (tag && !entry.tags.includes(tag)) entry.tags.push(tag);
  };
  for (const name of names) {
    let ref: Reference | undefined;
    try {
      ref = parseReference(name);
    } catch {
      /* not a reference: an ID */
    }
    if (ref && !ref.tag && !ref.digest) {
      const repo = familiarName(ref);
      const all = store.list().flatMap((img) => img.repoTags.filter((t) => t.slice(0, t.lastIndexOf(':')) === repo).map((t) => ({ img, t })));
      if (all.length > 0) {
        for (const { img, t } of all) add(img, t);
        continue;
      }
    }
    const img = store.get(name);
    const tag = ref && !ref.digest ? `${familiarName(ref)}:${ref.tag ?? 'latest'}` : undefined;
    add(img, tag && img.repoTags.includes(tag) ? tag : undefined);
  }
  if (byId.size === 0) throw notFound('No images to save');
  for (const e of byId.values()) e.tags.sort();
  return { images: [...byId.values()] };
}

interface Blob {
  size: number;
  open: () => Readable | Buffer;
}

const EPOCH = new Date(0);

/**
 * Writes the archive Docker 25+ writes: an OCI image layout (oci-layout, index.json,
 * blobs/sha256/*: configs, OCI manifests, uncompressed layer tars) that is also Docker's
 * legacy layout (manifest.json and repositories pointing at the same blobs). Entries are
 * in a fixed order with fixed owners, modes and mtimes, so the same images give the same
 * bytes every time.
 */
export async function writeSaveArchive(store: ImageStore, plan: SavePlan, out: NodeJS.WritableStream, omitLayers: ReadonlySet<string> = new Set()): Promise<void> {
  const blobs = new Map<string, Blob>();
  const index: OciIndex = { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] };
  const legacy: LegacyManifestEntry[] = [];
  const repositories: Record<string, Record<string, string>> = {};

  for (const { img, tags } of plan.images) {
    const config = await store.configBytes(img.id);
    blobs.set(img.id, { size: config.length, open: () => config });
    const layers: Descriptor[] = [];
    for (const diffID of img.config.rootfs.diff_ids) {
      const layer = await store.layerTar(diffID);
      const size = layer.size;
      // named in the manifests but not sent: the receiving daemon holds these already
      if (!omitLayers.has(diffID)) blobs.set(diffID, { size, open: () => layer.open() });
      layers.push({ mediaType: MT.ociLayer, digest: diffID, size });
    }
    const manifest: OciManifest = {
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: { mediaType: MT.ociConfig, digest: img.id, size: config.length },
      layers,
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifest));
    const manifestDigest = digestOf(manifestBytes);
    blobs.set(manifestDigest, { size: manifestBytes.length, open: () => manifestBytes });
    const desc: Descriptor = { mediaType: MT.ociManifest, digest: manifestDigest, size: manifestBytes.length };
    if (tags.length === 0) index.manifests.push(desc);
    for (const tag of tags) {
      const ref = parseReference(tag);
      index.manifests.push({ ...desc, annotations: { [IMAGE_NAME_ANNOTATION]: `${ref.domain}/${ref.path}:${ref.tag}`, [REF_NAME_ANNOTATION]: ref.tag! } });
      const top = layers[layers.length - 1];
      if (top) (repositories[familiarName(ref)] ??= {})[ref.tag!] = hex(top.digest);
    }
    legacy.push({ Config: blobPath(img.id), RepoTags: tags.length ? tags : null, Layers: layers.map((l) => blobPath(l.digest)) });
  }

  const pack = tar.pack();
  const piping = pipeline(pack, out);
  // A client that goes away fails the pipeline while an entry is being written: seen below.
  piping.catch(() => undefined);
  const dir = (name: string) => pack.entry(header(name, 'directory', 0));
  const file = (name: string, data: Buffer) => new Promise<void>((resolve, reject) => pack.entry(header(name, 'file', data.length), data, (e) => (e ? reject(e) : resolve())));
  dir('blobs/');
  dir('blobs/sha256/');
  for (const digest of [...blobs.keys()].sort()) {
    const b = blobs.get(digest)!;
    const src = b.open();
    if (Buffer.isBuffer(src)) await file(blobPath(digest), src);
    else await pipeline(src, pack.entry(header(blobPath(digest), 'file', b.size)));
  }
  await file('index.json', json(index));
  await file('manifest.json', json(legacy));
  await file('oci-layout', json({ imageLayoutVersion: '1.0.0' }));
  await file('repositories', json(repositories));
  pack.finalize();
  await piping;
}

function header(name: string, type: 'file' | 'directory', size: number): Partial<tar.Header> & { name: string } {
  return { name, type, size, mode: type === 'directory' ? 0o755 : 0o644, uid: 0, gid: 0, uname: '', gname: '', mtime: EPOCH };
}

const hex = (digest: string) => digest.replace(/^sha256:/, '');
const blobPath = (digest: string) => `blobs/sha256/${hex(digest)}`;
const json = (v: unknown) => Buffer.from(`${JSON.stringify(v)}\n`);
