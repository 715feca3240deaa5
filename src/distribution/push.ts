import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { invalid, notFound, system } from '../common/errors';
import type { Image, ImageStore } from '../image/store';
import { familiarName, parseReference, type Reference } from '../image/reference';
import { AuthConfig, repositoryScope, RegistryUnauthorized } from './auth';
import { RegistryClient, registryErrorText, type RegistryResponse } from './client';
import { createLayerGzip } from './compress';
import { endpointsFor, type RegistrySettings } from './endpoint';
import { layerCompression, MediaType, type Descriptor } from './manifest';
import type { BlobSource, DistributionMetadata } from './metadata';
import { ProgressReporter, shortDigest } from './progress';

export interface PushDeps {
  images: ImageStore;
  metadata: DistributionMetadata;
  settings: RegistrySettings;
}

export interface PushOptions {
  auth: AuthConfig;
  progress: ProgressReporter;
}

/** dockerd's default: five layers upload at once. */
const MAX_CONCURRENT_UPLOADS = 5;

/**
 * Pushes the tags of a repository (one tag, or all of them when `tag` is empty): for each
 * layer, a blob the registry already has is skipped ("Layer already exists"), one another
 * repository of the registry has is mounted, and only the rest is compressed and sent, as a
 * stream, three requests a layer. Then the config and a Docker schema2 manifest.
 */
export async function pushRepository(d: PushDeps, name: string, tag: string, o: PushOptions): Promise<void> {
  const ref = parseReference(name);
  if (ref.tag || ref.digest) throw invalid(`invalid reference format: push takes a repository and a separate tag`);
  const repo = familiarName(ref);
  const tags = tag ? [tag] : tagsOf(d.images, repo);
  if (tags.length === 0) throw notFound(`An image does not exist locally with the tag: ${repo}`);
  const images = tags.map((t) => {
    const img = d.images.resolve(`${repo}:${t}`);
    if (!img) throw notFound(`An image does not exist locally with the tag: ${repo}`);
    return { tag: t, img };
  });
  o.progress.message(`The push refers to repository [${ref.domain === 'docker.io' ? `docker.io/${ref.path}` : repo}]`);
  const endpoint = endpointsFor(ref.domain, d.settings, 'push')[0];
  // Mount sources in the same registry need pull access to them in the same token.
  const mountRepos = new Set<string>();
  for (const { img } of images) {
    for (const diffID of img.config.rootfs.diff_ids) {
      for (const s of d.metadata.sourcesOf(diffID)) if (s.registry === ref.domain && s.repository !== ref.path) mountRepos.add(s.repository);
    }
  }
  const scopes = [repositoryScope(ref.path, ['pull', 'push']), ...[...mountRepos].slice(0, 8).map((r) => repositoryScope(r, ['pull']))];
  const client = new RegistryClient(endpoint, o.auth, scopes);
  try {
    await client.ping();
  } catch (e) {
    if (e instanceof RegistryUnauthorized) throw new RegistryUnauthorized(`denied: requested access to the resource is denied: ${e.message}`);
    throw e;
  }
  for (const { tag: t, img } of images) await pushImage(d, client, ref, t, img, o.progress);
}

function tagsOf(store: ImageStore, repo: string): string[] {
  const out: string[] = [];
  for (const img of store.list()) {
    for (const t of img.repoTags) {
      const i = t.lastIndexOf(':');
      if (t.slice(0, i) === repo) out.push(t.slice(i + 1));
    }
  }
  return out.sort();
}

async function pushImage(d: PushDeps, client: RegistryClient, ref: Reference, tag: string, img: Image, progress: ProgressReporter): Promise<void> {
  const diffIDs = img.config.rootfs.diff_ids;
  // Docker lists layers top first.
  const order = diffIDs.map((_, i) => i).reverse();
  for (const i of order) progress.layer(shortDigest(diffIDs[i]), 'Preparing');
  let active = 0;
  const queue: (() => void)[] = [];
  const descriptors: Descriptor[] = new Array(diffIDs.length);
  const tasks = order.map(async (i) => {
    const id = shortDigest(diffIDs[i]);
    if (active >= MAX_CONCURRENT_UPLOADS) {
      progress.layer(id, 'Waiting');
      await new Promise<void>((r) => queue.push(r));
    }
    active++;
    try {
      descriptors[i] = await pushLayer(d, client, ref, diffIDs[i], progress);
    } finally {
      active--;
      queue.shift()?.();
    }
  });
  const results = await Promise.allSettled(tasks);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;

  const configBytes = await d.images.configBytes(img.id);
  const config: Descriptor = { mediaType: MediaType.dockerConfig, digest: img.id, size: configBytes.length };
  if (!(await blobExists(client, ref.path, img.id))) await uploadMonolithic(client, ref.path, configBytes, img.id);

  const manifest = Buffer.from(
    JSON.stringify(
      {
        schemaVersion: 2,
        mediaType: MediaType.dockerManifest,
        config,
        layers: descriptors.map((l) => ({ mediaType: l.mediaType, size: l.size, digest: l.digest })),
      },
      null,
      3,
    ),
  );
  const res = await client.request('PUT', `/v2/${ref.path}/manifests/${tag}`, { headers: { 'Content-Type': MediaType.dockerManifest }, body: manifest });
  if (res.status !== 201 && res.status !== 200) throw system(`pushing the manifest of ${familiarName(ref)}:${tag}: ${await registryErrorText(res)}`);
  res.body.resume();
  const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  await d.images.addDigestReference(img.id, familiarName(ref), digest);
  progress.message(`${tag}: digest: ${digest} size: ${manifest.length}`);
  progress.aux({ Tag: tag, Digest: digest, Size: manifest.length });
}

async function blobExists(client: RegistryClient, repo: string, digest: string): Promise<number | undefined> {
  const res = await client.request('HEAD', `/v2/${repo}/blobs/${digest}`);
  res.body.resume();
  if (res.status === 200) return Number(res.headers['content-length'] ?? 0);
  return undefined;
}

async function pushLayer(d: PushDeps, client: RegistryClient, ref: Reference, diffID: string, progress: ProgressReporter): Promise<Descriptor> {
  const id = shortDigest(diffID);
  const known = d.metadata.sourcesOf(diffID);
  // A blob this layer was carried in, by any registry: the target may already hold it.
  const seen = new Set<string>();
  for (const s of known) {
    if (seen.has(s.digest)) continue;
    seen.add(s.digest);
    if ((await blobExists(client, ref.path, s.digest)) !== undefined) {
      progress.layer(id, 'Layer already exists');
      await remember(d, diffID, s, ref);
      return { mediaType: s.mediaType, digest: s.digest, size: s.size };
    }
  }
  for (const s of known) {
    if (s.registry !== ref.domain || s.repository === ref.path) continue;
    const res = await client.request('POST', `/v2/${ref.path}/blobs/uploads/?mount=${encodeURIComponent(s.digest)}&from=${encodeURIComponent(s.repository)}`);
    res.body.resume();
    if (res.status === 201) {
      progress.layer(id, `Mounted from ${s.repository.replace(/^library\//, '')}`);
      await remember(d, diffID, s, ref);
      return { mediaType: s.mediaType, digest: s.digest, size: s.size };
    }
    if (res.status === 202) await cancelUpload(client, res);
  }
  return uploadLayer(d, client, ref, diffID, progress);
}

async function remember(d: PushDeps, diffID: string, s: BlobSource, ref: Reference): Promise<void> {
  await d.metadata.add(diffID, { ...s, registry: ref.domain, repository: ref.path });
}

function locationOf(client: RegistryClient, res: RegistryResponse): string {
  const loc = res.headers.location;
  if (!loc) throw system(`registry answered ${res.status} without a Location for the upload`);
  return new URL(loc, client.base).toString();
}

async function cancelUpload(client: RegistryClient, res: RegistryResponse): Promise<void> {
  const loc = res.headers.location;
  if (!loc) return;
  const del = await client.request('DELETE', new URL(loc, client.base).toString()).catch(() => undefined);
  del?.body.resume();
}

async function startUpload(client: RegistryClient, repo: string): Promise<string> {
  const res = await client.request('POST', `/v2/${repo}/blobs/uploads/`);
  res.body.resume();
  if (res.status !== 202) throw system(`starting an upload to ${repo}: ${await registryErrorText(res)}`);
  return locationOf(client, res);
}

function withDigest(location: string, digest: string): string {
  const u = new URL(location);
  u.searchParams.set('digest', digest);
  return u.toString();
}

async function uploadMonolithic(client: RegistryClient, repo: string, bytes: Buffer, digest: string): Promise<void> {
  const location = await startUpload(client, repo);
  const res = await client.request('PUT', withDigest(location, digest), { headers: { 'Content-Type': 'application/octet-stream' }, body: bytes });
  if (res.status !== 201) throw system(`uploading ${digest}: ${await registryErrorText(res)}`);
  res.body.resume();
}

/**
 * One PATCH with the layer's gzip, then the PUT naming its digest. A layer kept as the gzip
 * blob it was pulled in is sent as that blob, digest and all (the bytes are the same under
 * either media type name; this manifest is Docker's, so is the type); any other is
 * compressed on the fly and hashed as it goes.
 */
async function uploadLayer(d: PushDeps, client: RegistryClient, ref: Reference, diffID: string, progress: ProgressReporter): Promise<Descriptor> {
  const id = shortDigest(diffID);
  const layer = await d.images.layerTar(diffID);
  const stored = layer.compressed && layerCompression(layer.compressed.mediaType) === 'gzip' ? layer.compressed : undefined;
  const location = await startUpload(client, ref.path);
  let read = 0;
  const total = stored?.size ?? layer.size;
  const counter = new Transform({
    transform(chunk: Buffer, _e, cb) {
      read += chunk.length;
      progress.bytes(id, 'Pushing', read, total);
      cb(null, chunk);
    },
  });
  let sent: () => { digest: string; size: number };
  let body: Transform;
  let making: Promise<void>;
  if (stored) {
    sent = () => ({ digest: stored.digest, size: stored.size });
    body = counter;
    making = pipeline(stored.open(), counter);
  } else {
    const hash = createHash('sha256');
    let size = 0;
    body = new Transform({
      transform(chunk: Buffer, _e, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    sent = () => ({ digest: `sha256:${hash.digest('hex')}`, size });
    making = pipeline(layer.open(), counter, await createLayerGzip(d.images.content.blobPath(diffID)), body);
  }
  const patched = await sendBody(client, location, body, making, diffID);
  if (patched.status !== 202) throw system(`uploading layer ${id}: ${await registryErrorText(patched)}`);
  patched.body.resume();
  const { digest, size } = sent();
  const put = await client.request('PUT', withDigest(locationOf(client, patched), digest));
  if (put.status !== 201) throw system(`uploading layer ${id}: ${await registryErrorText(put)}`);
  put.body.resume();
  progress.layer(id, 'Pushed');
  const desc: Descriptor = { mediaType: MediaType.dockerLayerGzip, digest, size };
  await d.metadata.add(diffID, { digest, mediaType: desc.mediaType, size, registry: ref.domain, repository: ref.path });
  return desc;
}

/**
 * The PATCH of an upload, its body made as it is sent. Once the request has failed or been
 * answered, the body's making is stopped: a registry that answers early or drops the
 * connection would otherwise leave it waiting for a reader forever.
 */
async function sendBody(client: RegistryClient, location: string, body: Transform, making: Promise<void>, diffID: string): Promise<RegistryResponse> {
  const sending = client.request('PATCH', location, { headers: { 'Content-Type': 'application/octet-stream' }, body });
  sending.then(
    () => body.destroy(),
    (e: unknown) => body.destroy(e as Error),
  );
  const [m, s] = await Promise.allSettled([making, sending]);
  if (s.status === 'rejected') throw s.reason;
  // an early answer (a refusal) says more than the body's cut-short making
  if (s.value.status !== 202) return s.value;
  if (m.status === 'rejected') throw system(`reading layer ${diffID}: ${(m.reason as Error).message}`);
  return s.value;
}
