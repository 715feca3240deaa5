/** Media types of the OCI image layout (reference/oci-image-spec/media-types.md) and Docker's v2 equivalents. */
export const MT = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
} as const;

/** The annotations `docker save` (25+) and containerd put on index.json entries to name them. */
export const IMAGE_NAME_ANNOTATION = 'io.containerd.image.name';
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture?: string; os?: string; variant?: string };
}

export interface OciManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface OciIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

/** One entry of Docker's manifest.json (reference/docker-image-spec/v1.2.md). */
export interface LegacyManifestEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

/** Layers this loader can unpack: plain or gzip tars (by media type; the bytes are sniffed as well). */
export function isSupportedLayer(mediaType: string): boolean {
  return ([MT.ociLayer, MT.ociLayerGzip, MT.dockerLayer, MT.dockerLayerGzip] as string[]).includes(mediaType);
}
