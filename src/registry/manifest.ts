import { isValidDigest } from './reference';

/**
 * What a manifest points at, read from its JSON whatever its flavour (Docker schema2 and
 * manifest lists, OCI manifests and indexes, artifacts): blobs (config, layers), child
 * manifests (index entries) and the subject. Push checks and gc both use this one reading.
 */
export interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  urls?: string[];
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ManifestDoc {
  mediaType?: string;
  artifactType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  blobs?: Descriptor[];
  manifests?: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ManifestRefs {
  blobs: Descriptor[];
  manifests: Descriptor[];
  subject?: Descriptor;
}

/** Throws a plain Error with a reason when the document is not a usable manifest. */
export function parseManifest(bytes: Buffer): ManifestDoc {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new Error('manifest is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('manifest is not a JSON object');
  const m = doc as ManifestDoc;
  const descs = [m.config, m.subject, ...(m.layers ?? []), ...(m.blobs ?? []), ...(m.manifests ?? [])];
  for (const d of descs) {
    if (d === undefined) continue;
    if (typeof d !== 'object' || d === null || typeof d.digest !== 'string' || !isValidDigest(d.digest)) {
      throw new Error('manifest has a descriptor without a valid digest');
    }
  }
  for (const k of ['layers', 'blobs', 'manifests'] as const) {
    if (m[k] !== undefined && !Array.isArray(m[k])) throw new Error(`manifest field ${k} is not an array`);
  }
  return m;
}

export function manifestRefs(m: ManifestDoc): ManifestRefs {
  return {
    blobs: [...(m.config ? [m.config] : []), ...(m.layers ?? []), ...(m.blobs ?? [])],
    manifests: m.manifests ?? [],
    subject: m.subject,
  };
}
