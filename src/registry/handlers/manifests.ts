import { regErr } from '../errors';
import { checkBlobDescriptors, manifestRefs, parseManifest } from '../manifest';
import { checkDigest, digestBytes, isValidDigest, isValidTag } from '../reference';
import { Ctx, readBody, repo, send } from './base';

/**
 * /v2/<name>/manifests/<tag-or-digest>: manifests are kept byte for byte as blobs, with the
 * Content-Type they were pushed with; the repository holds a revision link per digest and a
 * link per tag.
 */
const MAX_MANIFEST = 4 * 1024 * 1024;
const DEFAULT_TYPE = 'application/vnd.oci.image.manifest.v1+json';

function checkRef(ref: string): 'digest' | 'tag' {
  if (isValidDigest(ref)) return 'digest';
  if (isValidTag(ref)) return 'tag';
  if (ref.includes(':')) throw regErr('DIGEST_INVALID', `invalid digest: ${ref}`);
  throw regErr('MANIFEST_INVALID', `invalid tag: ${ref}`, { tag: ref });
}

async function resolve(c: Ctx): Promise<string> {
  const r = repo(c);
  if (!(await r.exists())) throw regErr('NAME_UNKNOWN', undefined, { name: c.name });
  const digest = checkRef(c.ref) === 'digest' ? c.ref : await r.resolveTag(c.ref);
  if (!digest || !(await r.hasRevision(digest))) throw regErr('MANIFEST_UNKNOWN', undefined, { reference: c.ref });
  return digest;
}

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

/**
 * Whether an Accept header admits a media type: no header, an empty one, a full wildcard or
 * a matching `type/*` admit everything. Parameters (q=...) are ignored: we have one
 * representation to offer, so preference order does not matter, only acceptability.
 */
export function accepts(accept: string | string[] | undefined, mediaType: string): boolean {
  const ranges = [accept ?? []].flat().flatMap((h) => h.split(',')).map((r) => r.split(';')[0].trim().toLowerCase()).filter((r) => r !== '');
  if (ranges.length === 0) return true;
  const type = mediaType.toLowerCase();
  return ranges.some((r) => r === '*/*' || r === type || (r.endsWith('/*') && type.startsWith(r.slice(0, -1))));
}

export async function getManifest(c: Ctx): Promise<void> {
  const digest = await resolve(c);
  const mediaType = await repo(c).revisionType(digest);
  // Manifests are served as pushed, never converted. A client that lists what it takes and
  // leaves out index types cannot use an index (it would look for layers that are not there),
  // so it is told no acceptable manifest exists. A single manifest is served whatever the
  // header says: there is nothing better to offer, and the client can still judge it by its
  // Content-Type.
  if (INDEX_TYPES.has(mediaType) && !accepts(c.req.headers.accept, mediaType)) {
    throw regErr('MANIFEST_UNKNOWN', `no manifest of an acceptable media type: ${c.ref} is a ${mediaType}, which the Accept header does not list`, {
      reference: c.ref,
      mediaType,
    });
  }
  const bytes = await c.app.blobs.get(digest);
  send(
    c,
    200,
    {
      'Content-Type': mediaType,
      'Content-Length': bytes.length,
      'Docker-Content-Digest': digest,
      ETag: `"${digest}"`,
    },
    bytes,
  );
}

export async function putManifest(c: Ctx): Promise<void> {
  const kind = checkRef(c.ref);
  const bytes = await readBody(c, MAX_MANIFEST);
  const digest = digestBytes(bytes, kind === 'digest' ? c.ref.split(':')[0] : 'sha256');
  if (kind === 'digest' && digest !== c.ref) throw regErr('DIGEST_INVALID', 'manifest does not match the digest it was pushed by', { expected: c.ref, actual: digest });
  let doc;
  try {
    doc = parseManifest(bytes);
  } catch (e) {
    throw regErr('MANIFEST_INVALID', (e as Error).message);
  }
  const header = (c.req.headers['content-type'] ?? '').split(';')[0].trim();
  if (header && doc.mediaType && header !== doc.mediaType) {
    throw regErr('MANIFEST_INVALID', `Content-Type ${header} does not match mediaType ${doc.mediaType}`);
  }
  const mediaType = header || doc.mediaType || DEFAULT_TYPE;

  // Everything referenced must already be here, except the subject (pushable in either order)
  // and layers at a foreign URL the registry allows.
  const r = repo(c);
  const refs = manifestRefs(doc);
  const { mustExist, problems } = checkBlobDescriptors(doc, c.app.foreignUrls);
  if (problems.length) throw regErr('MANIFEST_INVALID', problems[0].problem, problems);
  const missing: string[] = [];
  for (const b of mustExist) {
    if (!(await r.hasLayer(b.digest)) || (await c.app.blobs.size(b.digest)) === undefined) missing.push(b.digest);
  }
  for (const m of refs.manifests) if (!(await r.hasRevision(m.digest))) missing.push(m.digest);
  if (missing.length) {
    throw regErr('MANIFEST_BLOB_UNKNOWN', `manifest references unknown content: ${missing.join(', ')}`, { digests: missing });
  }

  const extraTags = kind === 'digest' ? c.url.searchParams.getAll('tag') : [];
  for (const t of extraTags) if (!isValidTag(t)) throw regErr('MANIFEST_INVALID', `invalid tag: ${t}`);

  await c.app.blobs.putBytes(bytes, digest.split(':')[0]);
  await r.linkRevision(digest, mediaType);
  if (refs.subject) await r.linkReferrer(refs.subject.digest, digest);
  const tags = kind === 'tag' ? [c.ref] : extraTags;
  for (const t of tags) await r.tag(t, digest);
  for (const t of tags) {
    try {
      c.app.onTagged?.(c.name, t, digest);
    } catch (e) {
      // the push itself succeeded; a listener's failure must not turn it into an error
      console.error(`berth-registry: after tagging ${c.name}:${t}:`, e);
    }
  }

  const headers: Record<string, string | number> = {
    Location: `/v2/${c.name}/manifests/${digest}`,
    'Docker-Content-Digest': digest,
    'Content-Length': 0,
  };
  if (refs.subject) headers['OCI-Subject'] = refs.subject.digest;
  if (extraTags.length) headers['OCI-Tag'] = extraTags.join(', ');
  send(c, 201, headers);
}

export async function deleteManifest(c: Ctx): Promise<void> {
  const r = repo(c);
  if (!(await r.exists())) throw regErr('NAME_UNKNOWN', undefined, { name: c.name });
  if (checkRef(c.ref) === 'tag') {
    if (!(await r.resolveTag(c.ref))) throw regErr('MANIFEST_UNKNOWN', undefined, { tag: c.ref });
    await r.untag(c.ref);
    return send(c, 202, { 'Content-Length': 0 });
  }
  const digest = checkDigest(c.ref);
  if (!(await r.hasRevision(digest))) throw regErr('MANIFEST_UNKNOWN', undefined, { digest });
  // Drop the referrers entry first, while the manifest can still be read to find its subject.
  try {
    const subject = manifestRefs(parseManifest(await c.app.blobs.get(digest))).subject;
    if (subject) await r.unlinkReferrer(subject.digest, digest);
  } catch {
    // A manifest that cannot be read has no referrers entry worth keeping.
  }
  for (const t of await r.tags()) if ((await r.resolveTag(t)) === digest) await r.untag(t);
  await r.unlinkRevision(digest);
  send(c, 202, { 'Content-Length': 0 });
}
