import { invalid, notFound } from '../common/errors';

export const MediaType = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** What pull asks for: images and indexes of both flavours. */
export const ACCEPT_MANIFESTS = [MediaType.dockerManifestList, MediaType.ociIndex, MediaType.dockerManifest, MediaType.ociManifest].join(', ');

/** Docker refuses manifests larger than this; so does berth, before parsing. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  platform?: { os?: string; architecture?: string; variant?: string };
}

export interface ImageManifest {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImageIndex {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
}

export type Manifest = { kind: 'image'; doc: ImageManifest; mediaType: string } | { kind: 'index'; doc: ImageIndex; mediaType: string };

const DIGEST = /^sha256:[a-f0-9]{64}$/;

function checkDescriptor(d: unknown, what: string): Descriptor {
  const o = d as Partial<Descriptor> | null;
  if (!o || typeof o !== 'object' || typeof o.digest !== 'string' || !DIGEST.test(o.digest) || typeof o.size !== 'number' || o.size < 0) {
    throw invalid(`invalid manifest: ${what} is not a valid descriptor`);
  }
  return { ...o, mediaType: o.mediaType ?? '' } as Descriptor;
}

/** Reads a manifest's JSON, deciding its kind by media type (header first, then the document). */
export function parseManifest(bytes: Buffer, contentType: string | undefined): Manifest {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw invalid('invalid manifest: not JSON');
  }
  if (!doc || typeof doc !== 'object') throw invalid('invalid manifest: not a JSON object');
  const header = (contentType ?? '').split(';')[0].trim();
  const mediaType = (typeof doc.mediaType === 'string' && doc.mediaType) || header;
  if (mediaType === MediaType.dockerSchema1Signed || doc.schemaVersion === 1) {
    throw invalid('Docker Image manifest schema 1 is not supported: the image must be pushed again with a newer client');
  }
  if (Array.isArray(doc.manifests)) {
    return { kind: 'index', mediaType, doc: { schemaVersion: 2, mediaType, manifests: doc.manifests.map((m, i) => checkDescriptor(m, `manifests[${i}]`)) } };
  }
  if (!doc.config || !Array.isArray(doc.layers)) throw invalid(`invalid manifest: unsupported media type "${mediaType}"`);
  const config = checkDescriptor(doc.config, 'config');
  const layers = doc.layers.map((l, i) => checkDescriptor(l, `layers[${i}]`));
  return { kind: 'image', mediaType, doc: { schemaVersion: 2, mediaType, config, layers } };
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** "linux/arm64/v8" → its parts; empty → the daemon's own platform. */
export function parsePlatform(spec: string | undefined | null): Platform {
  if (!spec) return { os: 'linux', architecture: hostArchitecture() };
  const [os, architecture, variant] = spec.toLowerCase().split('/');
  if (!os || !architecture) throw invalid(`"${spec}": unknown operating system or architecture: invalid argument`);
  return { os, architecture: architecture === 'x86_64' ? 'amd64' : architecture === 'aarch64' ? 'arm64' : architecture, variant };
}

export function hostArchitecture(): string {
  const a = process.arch;
  return a === 'x64' ? 'amd64' : a === 'ia32' ? '386' : a;
}

export const platformString = (p: Platform): string => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

/** The index entry for the platform: exact variant first, then any variant of the architecture. */
export function selectPlatform(index: ImageIndex, want: Platform): Descriptor {
  const candidates = index.manifests.filter(
    (m) => m.platform?.os === want.os && m.platform?.architecture === want.architecture && m.mediaType !== 'application/vnd.in-toto+json',
  );
  const exact = candidates.find((m) => (m.platform?.variant ?? '') === (want.variant ?? ''));
  const chosen = exact ?? (want.variant ? undefined : candidates[0]);
  if (!chosen) throw notFound(`no matching manifest for ${platformString(want)} in the manifest list entries`);
  return chosen;
}

export type LayerCompression = 'gzip' | 'none' | 'zstd';

export function layerCompression(mediaType: string): LayerCompression {
  if (mediaType === MediaType.ociLayer || mediaType === 'application/vnd.docker.image.rootfs.diff.tar') return 'none';
  if (mediaType === MediaType.ociLayerZstd) return 'zstd';
  return 'gzip';
}
