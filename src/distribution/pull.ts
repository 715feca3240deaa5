import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { BerthError, invalid, notFound, system } from '../common/errors';
import { span } from '../common/timing';
import type { ImageConfigFile } from '../api/types';
import { chainIDs, type ImageStore, type KeptBlob } from '../image/store';
import { familiarName, familiarString, type Reference } from '../image/reference';
import { AuthConfig, repositoryScope, RegistryUnauthorized } from './auth';
import { readAll, RegistryClient, registryErrorText } from './client';
import { endpointsFor, type Endpoint, type RegistrySettings } from './endpoint';
import {
  ACCEPT_MANIFESTS,
  Descriptor,
  layerCompression,
  MAX_MANIFEST_BYTES,
  parseManifest,
  parsePlatform,
  selectPlatform,
  type ImageManifest,
} from './manifest';
import type { DistributionMetadata } from './metadata';
import { ProgressReporter, shortDigest } from './progress';

export interface PullDeps {
  images: ImageStore;
  metadata: DistributionMetadata;
  settings: RegistrySettings;
  /** where verified downloads wait for their turn to be unpacked; they survive a failed pull */
  downloadDir: string;
}

export interface PullOptions {
  auth: AuthConfig;
  platform?: string;
  progress: ProgressReporter;
}

export interface PullResult {
  id: string;
  /** the manifest (or index) digest the reference resolved to */
  digest: string;
  updated: boolean;
}

/** dockerd's default: three layers download at once. */
const MAX_CONCURRENT_DOWNLOADS = 3;
const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * Pulls one image: the manifest (choosing the platform from an index), the config, then the
 * layers the store lacks. Downloads run three at a time into verified files; unpacking goes in
 * layer order as each download completes, so it overlaps the downloads still running. Layers
 * already unpacked and downloads already verified are kept when a pull fails, so a retry
 * continues from there.
 */
export async function pullImage(d: PullDeps, ref: Reference, o: PullOptions): Promise<PullResult> {
  const endpoints = endpointsFor(ref.domain, d.settings, 'pull');
  let lastError: unknown;
  for (const ep of endpoints) {
    try {
      return await pullFrom(d, ep, ref, o);
    } catch (e) {
      lastError = e;
      // a mirror that fails hands over to the next endpoint; the registry itself is final
      if (!ep.mirror) break;
    }
  }
  throw lastError;
}

async function fetchManifest(client: RegistryClient, ref: Reference, reference: string): Promise<{ bytes: Buffer; digest: string; contentType?: string }> {
  const res = await client.request('GET', `/v2/${ref.path}/manifests/${reference}`, { headers: { Accept: ACCEPT_MANIFESTS } });
  if (res.status === 404) {
    const text = await registryErrorText(res);
    throw notFound(`manifest for ${familiarName(ref)}${reference.startsWith('sha256:') ? '@' : ':'}${reference} not found: ${text}`);
  }
  if (res.status !== 200) throw system(`pulling ${familiarName(ref)}: ${await registryErrorText(res)}`);
  const length = Number(res.headers['content-length'] ?? 0);
  if (length > MAX_MANIFEST_BYTES) {
    res.body.destroy();
    throw invalid(`manifest too big: ${length} bytes, the limit is ${MAX_MANIFEST_BYTES}`);
  }
  const bytes = await readAll(res.body, MAX_MANIFEST_BYTES).catch((e: unknown) => {
    throw e instanceof BerthError ? invalid(`manifest too big: the limit is ${MAX_MANIFEST_BYTES} bytes`) : e;
  });
  const digest = sha256(bytes);
  if (reference.startsWith('sha256:') && digest !== reference) {
    throw invalid(`manifest verification failed for digest ${reference}: the registry sent content with digest ${digest}`);
  }
  const header = res.headers['docker-content-digest'];
  if (typeof header === 'string' && header.startsWith('sha256:') && header !== digest) {
    throw invalid(`manifest verification failed: the registry says ${header}, the content is ${digest}`);
  }
  return { bytes, digest, contentType: res.headers['content-type'] };
}

async function pullFrom(d: PullDeps, ep: Endpoint, ref: Reference, o: PullOptions): Promise<PullResult> {
  const client = new RegistryClient(ep, o.auth, [repositoryScope(ref.path, ['pull'])]);
  const name = familiarName(ref);
  const reference = ref.digest ?? ref.tag ?? 'latest';
  let top;
  try {
    top = await fetchManifest(client, ref, reference);
  } catch (e) {
    // Not found, as dockerd answers it: a 401 would make the docker CLI prompt for a login.
    if (e instanceof RegistryUnauthorized) throw notFound(`pull access denied for ${name}, repository does not exist or may require 'docker login': ${e.message}`);
    throw e;
  }
  // Sent only once the manifest is there: an unknown image is an HTTP error, not a stream.
  o.progress.message(`Pulling from ${ref.path}`, reference);
  let manifest = parseManifest(top.bytes, top.contentType);
  if (manifest.kind === 'index') {
    const chosen = selectPlatform(manifest.doc, parsePlatform(o.platform));
    const child = await fetchManifest(client, ref, chosen.digest);
    manifest = parseManifest(child.bytes, child.contentType);
    if (manifest.kind !== 'image') throw invalid('invalid manifest: an index entry is itself an index');
  }
  const image = manifest.doc as ImageManifest;

  const configBytes = await fetchBlob(client, ref, image.config, MAX_CONFIG_BYTES);
  let config: ImageConfigFile;
  try {
    config = JSON.parse(configBytes.toString('utf8')) as ImageConfigFile;
  } catch {
    throw invalid(`invalid image config ${image.config.digest}: not JSON`);
  }
  const diffIDs = config.rootfs?.diff_ids ?? [];
  if (diffIDs.length !== image.layers.length) {
    throw invalid(`invalid image: the manifest has ${image.layers.length} layers, the config ${diffIDs.length}`);
  }
  if (!o.platform && config.os && config.os !== 'linux') throw invalid(`image operating system "${config.os}" cannot be used on this platform`);
  const chain = chainIDs(diffIDs);
  const existing = d.images.resolve(image.config.digest);
  const upToDate = !!existing && existing.id === image.config.digest && chain.every((c) => d.images.hasLayer(c));

  if (!upToDate) await fetchLayers(d, client, ref, image.layers, diffIDs, chain, o.progress);

  const before = ref.digest ? existing?.id : d.images.resolve(familiarString(ref))?.id;
  const id = await d.images.addImage(config, ref.digest ? undefined : familiarString(ref), configBytes);
  await d.images.addDigestReference(id, name, top.digest);
  image.layers.forEach((l, i) => {
    void d.metadata.add(diffIDs[i], { digest: l.digest, mediaType: l.mediaType, size: l.size, registry: ref.domain, repository: ref.path });
  });
  return { id, digest: top.digest, updated: !upToDate || before !== id };
}

async function fetchBlob(client: RegistryClient, ref: Reference, desc: Descriptor, limit: number): Promise<Buffer> {
  const res = await client.request('GET', `/v2/${ref.path}/blobs/${desc.digest}`);
  if (res.status !== 200) throw system(`fetching blob ${desc.digest}: ${await registryErrorText(res)}`);
  const bytes = await readAll(res.body, limit);
  if (sha256(bytes) !== desc.digest) throw invalid(`digest mismatch for blob ${desc.digest}: the registry sent other content`);
  return bytes;
}

async function fetchLayers(
  d: PullDeps,
  client: RegistryClient,
  ref: Reference,
  layers: Descriptor[],
  diffIDs: string[],
  chain: string[],
  progress: ProgressReporter,
): Promise<void> {
  await fsp.mkdir(d.downloadDir, { recursive: true });
  const missing = layers.map((_, i) => !d.images.hasLayer(chain[i]));
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i];
    if (!missing[i]) {
      progress.layer(shortDigest(l.digest), 'Already exists');
      continue;
    }
    if (l.urls?.length) throw invalid(`layer ${l.digest} is a foreign layer: berth does not fetch layers from external URLs`);
    if (layerCompression(l.mediaType) === 'zstd') throw invalid(`layer ${l.digest} is zstd-compressed, which berth cannot unpack yet`);
    progress.layer(shortDigest(l.digest), 'Pulling fs layer');
  }
  if (d.images.unpacksLayersApart) return fetchLayersApart(d, client, ref, layers, diffIDs, chain, missing, progress);
  // The unpacker streams the layer it needs next straight from the registry; background
  // downloads fetch the layers after it into verified files, to be unpacked in their turn.
  const abort = new AbortController();
  const files = new Map<number, Promise<string>>();
  const claim = (i: number) => {
    const p = download(d, client, ref, layers[i], progress, abort.signal);
    p.catch(() => undefined); // awaited in order below; a later failure must not go unhandled
    files.set(i, p);
  };
  const nextUnclaimed = (from: number) => layers.findIndex((_, i) => i >= from && missing[i] && !files.has(i));
  const cached = await Promise.all(layers.map((l) => fsp.access(downloadPath(d, l)).then(() => true, () => false)));
  layers.forEach((_, i) => missing[i] && cached[i] && claim(i));
  let current = -1;
  const worker = async () => {
    for (let i = nextUnclaimed(current + 1); i >= 0 && !abort.signal.aborted; i = nextUnclaimed(current + 1)) {
      claim(i);
      await files.get(i)!.catch(() => undefined);
    }
  };
  const workers: Promise<void>[] = [];
  try {
    for (let i = 0; i < layers.length; i++) {
      if (!missing[i]) continue;
      current = i;
      const id = shortDigest(layers[i].digest);
      const parent = i === 0 ? undefined : chain[i - 1];
      const onBytes = (n: number) => progress.bytes(id, 'Extracting', n, layers[i].size);
      if (!files.has(i)) {
        files.set(i, Promise.resolve(''));
        while (workers.length < MAX_CONCURRENT_DOWNLOADS - 1) workers.push(worker());
        await streamLayer(d, client, ref, layers[i], parent, diffIDs[i], progress, abort.signal);
      } else {
        const file = await files.get(i)!;
        await unpack(d, createReadStream(file, { highWaterMark: 1024 * 1024 }), layers[i], parent, diffIDs[i], onBytes);
        await fsp.rm(file, { force: true });
      }
      progress.layer(id, 'Pull complete');
    }
  } catch (e) {
    abort.abort();
    await Promise.allSettled([...files.values(), ...workers]);
    throw e;
  }
  await Promise.all(workers);
}

/**
 * Where upper dirs do not depend on the layers below (overlay), every missing layer streams
 * from the registry straight into a snapshot of its own, three at a time, and the layers are
 * then given their parents in order. A layer whose download failed ends the chain there;
 * the complete ones below it are kept, so a retry continues from them.
 */
async function fetchLayersApart(
  d: PullDeps,
  client: RegistryClient,
  ref: Reference,
  layers: Descriptor[],
  diffIDs: string[],
  chain: string[],
  missing: boolean[],
  progress: ProgressReporter,
): Promise<void> {
  // A failure stops the layers above it (no use to them now), not those below (a retry keeps them).
  const aborts = layers.map(() => new AbortController());
  let active = 0;
  const queue: (() => void)[] = [];
  const unpacked = layers.map(async (l, i) => {
    const signal = aborts[i].signal;
    if (!missing[i]) return undefined;
    let blob: Readable | undefined;
    if (active >= MAX_CONCURRENT_DOWNLOADS) {
      progress.layer(shortDigest(l.digest), 'Waiting');
      await new Promise<void>((r) => queue.push(r));
    }
    active++;
    try {
      if (signal.aborted) throw new Error('pull aborted');
      const tar = decompressor(l);
      const endOpen = span('pull.blob.open', l.digest.slice(7));
      blob = await openVerifiedBlob(client, ref, l, progress, signal);
      endOpen();
      // a gzip layer is kept as the blob it came in (see ImageStore.keepCompressed)
      let kept: KeptBlob | undefined;
      if (layerCompression(l.mediaType) === 'gzip') {
        kept = d.images.keepCompressed(l, blob, tar);
      } else {
        blob.on('error', (e) => tar.destroy(e));
        blob.pipe(tar);
      }
      const layer = await d.images.unpackDetached(tar, kept);
      if (layer.diffID !== diffIDs[i]) {
        await d.images.discardDetached(layer);
        throw invalid(`layer ${l.digest} unpacks to ${layer.diffID}, but the image config says ${diffIDs[i]}`);
      }
      return layer;
    } catch (e) {
      for (let j = i + 1; j < layers.length; j++) aborts[j].abort();
      blob?.destroy(); // its connection too, where the unpacker stopped reading first
      throw e;
    } finally {
      active--;
      queue.shift()?.();
    }
  });
  const results = await Promise.allSettled(unpacked);
  let failure: unknown;
  for (let i = 0; i < layers.length; i++) {
    const r = results[i];
    if (r.status === 'rejected') {
      failure ??= r.reason;
      continue;
    }
    if (!r.value) continue;
    if (failure !== undefined) {
      await d.images.discardDetached(r.value);
      continue;
    }
    try {
      await d.images.attachLayer(r.value, i === 0 ? undefined : chain[i - 1]);
      progress.layer(shortDigest(layers[i].digest), 'Pull complete');
    } catch (e) {
      failure = e;
    }
  }
  if (failure !== undefined) {
    // the first error is the cause; the others are mostly "aborted"
    const cause = results.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !/pull aborted/.test(String((r.reason as Error)?.message)));
    throw cause?.reason ?? failure;
  }
}

/**
 * The layer's tar from its blob. It may fail before the unpacker has attached to it (a small
 * blob fails verification at once): the failure stays on the stream, where the unpacker's
 * pipeline finds it, instead of becoming an unhandled 'error'.
 */
function decompressor(desc: Descriptor): Transform {
  const t = layerCompression(desc.mediaType) === 'gzip' ? createGunzip({ chunkSize: 256 * 1024 }) : new PassThrough();
  t.on('error', () => undefined);
  return t;
}

const downloadPath = (d: PullDeps, desc: Descriptor) => path.join(d.downloadDir, desc.digest.replace(/^sha256:/, ''));

/** GET of a blob, checked against its digest as it passes; a mismatch fails the stream at its end. */
async function openVerifiedBlob(client: RegistryClient, ref: Reference, desc: Descriptor, progress: ProgressReporter, signal: AbortSignal): Promise<Readable> {
  const id = shortDigest(desc.digest);
  if (signal.aborted) throw new Error('pull aborted');
  const res = await client.request('GET', `/v2/${ref.path}/blobs/${desc.digest}`);
  if (res.status !== 200) throw system(`fetching layer ${desc.digest}: ${await registryErrorText(res)}`);
  const onAbort = () => res.body.destroy(new Error('pull aborted'));
  signal.addEventListener('abort', onAbort, { once: true });
  res.body.once('close', () => signal.removeEventListener('abort', onAbort));
  const hash = createHash('sha256');
  let done = 0;
  const total = Number(res.headers['content-length'] ?? desc.size) || desc.size;
  const verifier = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      done += chunk.length;
      progress.bytes(id, 'Downloading', done, total);
      cb(null, chunk);
    },
    flush(cb) {
      progress.layer(id, 'Verifying Checksum');
      const got = `sha256:${hash.digest('hex')}`;
      if (got !== desc.digest) return cb(invalid(`filesystem layer verification failed for digest ${desc.digest}: got ${got}`));
      progress.layer(id, 'Download complete');
      cb();
    },
  });
  res.body.on('error', (e) => verifier.destroy(signal.aborted ? e : system(`failed to download layer ${desc.digest}: ${e.message}`)));
  return res.body.pipe(verifier);
}

async function streamLayer(d: PullDeps, client: RegistryClient, ref: Reference, desc: Descriptor, parent: string | undefined, diffID: string, progress: ProgressReporter, signal: AbortSignal): Promise<void> {
  const blob = await openVerifiedBlob(client, ref, desc, progress, signal);
  await unpack(d, blob, desc, parent, diffID, () => undefined);
}

/** Downloads a blob into `downloadDir/<hex>`, verified; a file already there was verified before. */
async function download(d: PullDeps, client: RegistryClient, ref: Reference, desc: Descriptor, progress: ProgressReporter, signal: AbortSignal): Promise<string> {
  const final = downloadPath(d, desc);
  try {
    await fsp.access(final);
    progress.layer(shortDigest(desc.digest), 'Download complete');
    return final;
  } catch {
    // not downloaded yet
  }
  // unique, so two pulls sharing a layer never write one file; the rename is atomic either way
  const partial = `${final}.${randomBytes(4).toString('hex')}.partial`;
  try {
    await pipeline(await openVerifiedBlob(client, ref, desc, progress, signal), createWriteStream(partial));
  } catch (e) {
    await fsp.rm(partial, { force: true });
    throw e;
  }
  await fsp.rename(partial, final);
  return final;
}

async function unpack(d: PullDeps, source: Readable, desc: Descriptor, parent: string | undefined, diffID: string, onBytes: (n: number) => void): Promise<void> {
  let read = 0;
  source.on('data', (c: Buffer) => {
    read += c.length;
    onBytes(read);
  });
  // The source flows from here on, so it is piped at once; the unpacker reads it later.
  const tar = decompressor(desc);
  source.on('error', (e) => tar.destroy(e));
  source.pipe(tar);
  const rec = await d.images.addLayer(tar, parent);
  if (rec.diffID !== diffID) {
    throw invalid(`layer ${desc.digest} unpacks to ${rec.diffID}, but the image config says ${diffID}`);
  }
}
