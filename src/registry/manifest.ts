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

/** Which foreign URLs a manifest's layers may name (Distribution's validation.manifests.urls). */
export interface ForeignUrlPolicy {
  /** a URL must match one of these; none: no foreign URL is accepted */
  allow: RegExp[];
}

/** Why a descriptor of a pushed manifest is refused, in Distribution's words. */
export interface DescriptorProblem {
  digest: string;
  problem: 'unexpected URL on layer' | 'invalid URL on layer' | 'missing URL on layer';
  url?: string;
}

export const FOREIGN_LAYER_TYPE = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';

function urlProblem(u: unknown, policy: ForeignUrlPolicy): boolean {
  if (typeof u !== 'string') return true;
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch {
    return true;
  }
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || u.includes('#')) return true;
  return !policy.allow.some((re) => re.test(u));
}

/**
 * The blobs of a manifest that must be in the registry, and the descriptors whose URLs are
 * refused. Only layers may live elsewhere, and only at an http(s) URL the policy allows; a
 * config (or an artifact's blob) with URLs is refused and must be here all the same.
 */
export function checkBlobDescriptors(m: ManifestDoc, policy: ForeignUrlPolicy): { mustExist: Descriptor[]; problems: DescriptorProblem[] } {
  const mustExist: Descriptor[] = [];
  const problems: DescriptorProblem[] = [];
  const urlsOf = (d: Descriptor) => (Array.isArray(d.urls) ? d.urls : d.urls === undefined ? [] : [d.urls as unknown]);
  for (const d of [...(m.config ? [m.config] : []), ...(m.blobs ?? [])]) {
    if (urlsOf(d).length) problems.push({ digest: d.digest, problem: 'unexpected URL on layer' });
    mustExist.push(d);
  }
  for (const d of m.layers ?? []) {
    const urls = urlsOf(d);
    const bad = urls.find((u) => urlProblem(u, policy));
    if (bad !== undefined) problems.push({ digest: d.digest, problem: 'invalid URL on layer', url: String(bad) });
    else if (urls.length === 0 && d.mediaType === FOREIGN_LAYER_TYPE) problems.push({ digest: d.digest, problem: 'missing URL on layer' });
    else if (urls.length === 0) mustExist.push(d);
  }
  return { mustExist, problems };
}
