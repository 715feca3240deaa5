import { Descriptor, parseManifest } from '../manifest';
import { checkDigest } from '../reference';
import { Ctx, repo, sendJSON } from './base';

/**
 * GET /v2/<name>/referrers/<digest>[?artifactType=]: the manifests in this repository whose
 * subject is <digest>, as an OCI index. Never 404 for a valid digest (the spec reserves 404
 * for "no referrers API"), so an unknown repository answers with an empty index.
 */
const INDEX = 'application/vnd.oci.image.index.v1+json';

export async function listReferrers(c: Ctx): Promise<void> {
  const subject = checkDigest(c.ref);
  const r = repo(c);
  const filter = c.url.searchParams.get('artifactType');
  const manifests: Descriptor[] = [];
  for (const digest of await r.referrers(subject)) {
    if (!(await r.hasRevision(digest))) continue;
    const bytes = await c.app.blobs.get(digest);
    const doc = parseManifest(bytes);
    const mediaType = await r.revisionType(digest);
    const isIndex = Array.isArray(doc.manifests);
    // Manifests without artifactType are typed by their config; indexes have none then.
    const artifactType = doc.artifactType || (isIndex ? undefined : doc.config?.mediaType);
    if (filter && artifactType !== filter) continue;
    const d: Descriptor = { mediaType, digest, size: bytes.length };
    if (artifactType) d.artifactType = artifactType;
    if (doc.annotations) d.annotations = doc.annotations;
    manifests.push(d);
  }
  const headers: Record<string, string> = { 'Content-Type': INDEX };
  if (filter) headers['OCI-Filters-Applied'] = 'artifactType';
  sendJSON(c, 200, { schemaVersion: 2, mediaType: INDEX, manifests }, headers);
}
