import { promises as fsp } from 'node:fs';
import { invalid } from '../../common/errors';
import { digestOf } from '../../common/ids';
import type { ImageConfigFile } from '../../api/types';
import { familiarString, parseReference, withDefaultTag } from '../reference';
import { IMAGE_NAME_ANNOTATION, isSupportedLayer, MT, REF_NAME_ANNOTATION, type Descriptor, type LegacyManifestEntry, type OciIndex, type OciManifest } from './media-types';
import type { SpooledArchive } from './spool';

/** What loading one image takes, whichever layout the archive used. */
export interface ImageToLoad {
  config: ImageConfigFile;
  /** the config's bytes as found in the archive; their digest is the image ID */
  configDigest: string;
  configRaw: Buffer;
  layers: LayerToLoad[];
  repoTags: string[];
}

export interface LayerToLoad {
  /**
   * the spooled file holding the layer (plain or gzip tar); absent when the archive left it
   * out (a `berth container move` sends only the layers the daemon lacks), which a load
   * accepts only for a layer the daemon holds already
   */
  file?: string;
  /** the archive name, for messages */
  name: string;
  /** the digest of the bytes as stored, when the archive names it (blobs/sha256/<hex>, OCI descriptors) */
  blobDigest?: string;
}

/**
 * Reads the archive's manifests. Docker's manifest.json is preferred (every `docker save`
 * has one, Docker 25+ beside an OCI layout); an archive with only index.json is read as an
 * OCI image layout.
 */
export async function readLoadPlan(archive: SpooledArchive): Promise<ImageToLoad[]> {
  if (archive.file('manifest.json')) return legacyPlan(archive);
  if (archive.file('index.json')) return ociPlan(archive);
  throw invalid('open manifest.json: no such file or directory');
}

async function legacyPlan(archive: SpooledArchive): Promise<ImageToLoad[]> {
  const entries = await readJSONEntry<LegacyManifestEntry[]>(archive, 'manifest.json');
  if (!Array.isArray(entries)) throw invalid('invalid manifest.json: not a list of images');
  const out: ImageToLoad[] = [];
  for (const e of entries) {
    if (typeof e?.Config !== 'string' || !Array.isArray(e.Layers)) throw invalid('invalid manifest.json: an entry lacks Config or Layers');
    const raw = await readEntry(archive, e.Config);
    const configDigest = digestOf(raw);
    const named = blobDigestOf(e.Config);
    if (named && named !== configDigest) throw invalid(`invalid digest for ${e.Config}: got ${configDigest}`);
    const config = parseConfig(raw, e.Config);
    if (config.rootfs.diff_ids.length !== e.Layers.length) throw invalid('invalid manifest, layers length mismatch');
    const layers = e.Layers.map((name) => ({ file: archive.file(name), name, blobDigest: blobDigestOf(name) }));
    out.push({ config, configDigest, configRaw: raw, layers, repoTags: (e.RepoTags ?? []).map(normalizeTag) });
  }
  return out;
}

async function ociPlan(archive: SpooledArchive): Promise<ImageToLoad[]> {
  const index = await readJSONEntry<OciIndex>(archive, 'index.json');
  if (!Array.isArray(index?.manifests)) throw invalid('invalid index.json: no manifests');
  const byDigest = new Map<string, ImageToLoad>();
  const visit = async (desc: Descriptor, names: string[], depth: number): Promise<void> => {
    if (depth > 4) throw invalid('invalid index.json: indexes nested too deep');
    const raw = await readBlob(archive, desc);
    if (desc.mediaType === MT.ociIndex || desc.mediaType === MT.dockerManifestList) {
      const nested = parseJSON<OciIndex>(raw, desc.digest);
      const pick = pickPlatform(nested.manifests ?? []);
      if (!pick) throw invalid(`no image for linux/${goArch()} in ${desc.digest}`);
      return visit(pick, names, depth + 1);
    }
    if (desc.mediaType !== MT.ociManifest && desc.mediaType !== MT.dockerManifest) throw invalid(`unsupported media type ${desc.mediaType} in index.json`);
    let img = byDigest.get(desc.digest);
    if (!img) {
      const m = parseJSON<OciManifest>(raw, desc.digest);
      if (!m.config || !Array.isArray(m.layers)) throw invalid(`invalid manifest ${desc.digest}`);
      const configRaw = await readBlob(archive, m.config);
      const config = parseConfig(configRaw, m.config.digest);
      if (config.rootfs.diff_ids.length !== m.layers.length) throw invalid('invalid manifest, layers length mismatch');
      const layers = m.layers.map((l) => {
        if (!isSupportedLayer(l.mediaType)) throw invalid(`unsupported layer media type ${l.mediaType}`);
        const name = blobPath(l.digest);
        return { file: archive.file(name), name, blobDigest: l.digest };
      });
      img = { config, configDigest: m.config.digest, configRaw, layers, repoTags: [] };
      byDigest.set(desc.digest, img);
    }
    for (const n of names) if (!img.repoTags.includes(n)) img.repoTags.push(n);
  };
  for (const desc of index.manifests) await visit(desc, nameOf(desc), 0);
  return [...byDigest.values()];
}

/** The tag an index.json entry carries: the full name, or a ref name that is itself a full reference. */
function nameOf(desc: Descriptor): string[] {
  const full = desc.annotations?.[IMAGE_NAME_ANNOTATION];
  const ref = desc.annotations?.[REF_NAME_ANNOTATION];
  for (const candidate of [full, ref]) {
    if (!candidate) continue;
    try {
      const parsed = parseReference(candidate);
      // A bare "latest" parses as a repository called latest: only names with a tag count.
      if (parsed.tag && !parsed.digest) return [familiarString(parsed)];
    } catch {
      /* not a reference */
    }
  }
  return [];
}

function pickPlatform(manifests: Descriptor[]): Descriptor | undefined {
  const arch = goArch();
  return manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === arch) ?? (manifests.length === 1 ? manifests[0] : undefined);
}

function goArch(): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', s390x: 's390x', ppc64: 'ppc64le' } as Record<string, string>)[process.arch] ?? process.arch;
}

function normalizeTag(tag: string): string {
  const ref = parseReference(tag);
  if (ref.digest) throw invalid(`invalid tag ${tag} in manifest.json`);
  return familiarString(withDefaultTag(ref));
}

const blobPath = (digest: string) => {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m) throw invalid(`unsupported digest ${JSON.stringify(digest)}`);
  return `blobs/sha256/${m[1]}`;
};

/** The digest a content-addressed name promises (blobs/sha256/<hex>), if it is one. */
function blobDigestOf(name: string): string | undefined {
  const m = /(?:^|\/)blobs\/sha256\/([a-f0-9]{64})$/.exec(name);
  return m ? `sha256:${m[1]}` : undefined;
}

function entryFile(archive: SpooledArchive, name: string): string {
  const f = archive.file(name);
  if (!f) throw invalid(`open ${name}: no such file or directory`);
  return f;
}

function readEntry(archive: SpooledArchive, name: string): Promise<Buffer> {
  return fsp.readFile(entryFile(archive, name));
}

async function readBlob(archive: SpooledArchive, desc: Descriptor): Promise<Buffer> {
  const raw = await readEntry(archive, blobPath(desc.digest));
  const got = digestOf(raw);
  if (got !== desc.digest) throw invalid(`invalid digest for ${blobPath(desc.digest)}: got ${got}`);
  if (typeof desc.size === 'number' && desc.size !== raw.length) throw invalid(`invalid size for ${desc.digest}: expected ${desc.size}, got ${raw.length}`);
  return raw;
}

async function readJSONEntry<T>(archive: SpooledArchive, name: string): Promise<T> {
  return parseJSON<T>(await readEntry(archive, name), name);
}

function parseJSON<T>(raw: Buffer, what: string): T {
  try {
    return JSON.parse(raw.toString('utf8')) as T;
  } catch (e) {
    throw invalid(`invalid JSON in ${what}: ${(e as Error).message}`);
  }
}

function parseConfig(raw: Buffer, what: string): ImageConfigFile {
  const c = parseJSON<ImageConfigFile>(raw, what);
  const ids = c?.rootfs?.diff_ids;
  if (!Array.isArray(ids) || !ids.every((d) => typeof d === 'string' && /^sha256:[a-f0-9]{64}$/.test(d))) {
    throw invalid(`invalid image config ${what}: rootfs.diff_ids must list sha256 digests`);
  }
  return c;
}
