import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { invalid } from '../../common/errors';
import { chainIDs, type ImageStore } from '../store';
import { readLoadPlan, type ImageToLoad } from './plan';
import { AutoGunzip, archiveError, type SpooledArchive } from './spool';

export interface LoadedImage {
  id: string;
  tags: string[];
}

/**
 * `docker load` from a spooled archive, in two passes so that a bad archive stores nothing:
 * first every manifest is read and every layer is hashed against the digests the archive
 * promises (blob digest and the config's diff_ids); only then are layers unpacked in order,
 * each image added once all its layers are in, and its tags set. `say` gets Docker's lines
 * ("Loaded image: busybox:latest").
 */
export async function loadArchive(store: ImageStore, archive: SpooledArchive, say: (line: string) => void): Promise<LoadedImage[]> {
  const plan = await readLoadPlan(archive);
  for (const img of plan) await verifyLayers(store, img);
  const out: LoadedImage[] = [];
  for (const img of plan) out.push(await importOne(store, img, say));
  return out;
}

async function verifyLayers(store: ImageStore, img: ImageToLoad): Promise<void> {
  const chain = chainIDs(img.config.rootfs.diff_ids);
  for (const [i, layer] of img.layers.entries()) {
    if (layer.file === undefined) {
      if (store.hasLayer(chain[i])) continue;
      throw invalid(`open ${layer.name}: no such file or directory`);
    }
    const { blob, diffID } = await hashLayer(layer.file);
    if (layer.blobDigest && blob !== layer.blobDigest) throw invalid(`invalid digest for ${layer.name}: expected ${layer.blobDigest}, got ${blob}`);
    const expected = img.config.rootfs.diff_ids[i];
    if (diffID !== expected) throw invalid(`invalid diffID for layer ${i}: expected "${expected}", got "${diffID}"`);
  }
}

async function importOne(store: ImageStore, img: ImageToLoad, say: (line: string) => void): Promise<LoadedImage> {
  const chain = chainIDs(img.config.rootfs.diff_ids);
  for (const [i, layer] of img.layers.entries()) {
    if (store.hasLayer(chain[i])) continue;
    // a layer left out of the archive was held when verified, and has been removed since
    if (layer.file === undefined) throw invalid(`open ${layer.name}: no such file or directory`);
    const rec = await store.addLayer(openLayer(layer.file), i > 0 ? chain[i - 1] : undefined);
    // Verified above; a mismatch here means the file changed under us.
    if (rec.chainID !== chain[i]) throw invalid(`layer ${layer.name} changed while loading`);
  }
  const id = await store.addImage(img.config, undefined, img.configRaw);
  const tags: string[] = [];
  for (const tag of img.repoTags) {
    const previous = store.resolve(tag);
    if (previous && previous.id !== id) say(`The image ${tag} already exists, renaming the old one with ID ${previous.id} to empty string`);
    await store.tag(id, tag);
    tags.push(tag);
    say(`Loaded image: ${tag}`);
  }
  if (tags.length === 0) say(`Loaded image ID: ${id}`);
  return { id, tags };
}

/** The layer as an uncompressed tar stream, whether the archive holds it plain or gzipped. */
function openLayer(file: string): Readable {
  const gunzip = new AutoGunzip();
  const src = createReadStream(file);
  src.on('error', (e) => gunzip.destroy(e));
  return src.pipe(gunzip);
}

/** One read of a layer file: the digest of its bytes as stored, and of its uncompressed tar (the diff ID). */
async function hashLayer(file: string): Promise<{ blob: string; diffID: string }> {
  const blobHash = createHash('sha256');
  const diffHash = createHash('sha256');
  const src = createReadStream(file);
  src.on('data', (c) => blobHash.update(c as Buffer));
  try {
    await pipeline(
      src,
      new AutoGunzip(),
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          diffHash.update(chunk);
          cb();
        },
      }),
    );
  } catch (e) {
    throw archiveError(e);
  }
  return { blob: `sha256:${blobHash.digest('hex')}`, diffID: `sha256:${diffHash.digest('hex')}` };
}
