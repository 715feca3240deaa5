import { splitDigest } from '../reference';

/**
 * The registry's layout on its storage driver, in one place:
 *
 *   blobs/<alg>/<hex[0:2]>/<hex>/data                          content, once for all repositories
 *   uploads/<uuid>/{data,state.json}                           unfinished writes (resumable)
 *   repositories/<name>/_layers/<alg>/<hex>/link               blob linked into a repository
 *   repositories/<name>/_manifests/revisions/<alg>/<hex>/link  manifest revision (+ 'type')
 *   repositories/<name>/_manifests/tags/<tag>/link             tag -> manifest digest
 *   repositories/<name>/_manifests/referrers/<alg>/<hex>/<alg>/<hex>/link  subject -> referrer
 *
 * Names never contain '_'-prefixed components (the name grammar forbids them), so the
 * underscore directories cannot collide with nested repository names.
 */
export const BLOBS = 'blobs';
export const UPLOADS = 'uploads';
export const REPOS = 'repositories';

export function blobData(digest: string): string {
  const { algorithm, hex } = splitDigest(digest);
  return `${BLOBS}/${algorithm}/${hex.slice(0, 2)}/${hex}/data`;
}

const dig = (digest: string) => {
  const { algorithm, hex } = splitDigest(digest);
  return `${algorithm}/${hex}`;
};

export const repoRoot = (name: string) => `${REPOS}/${name}`;
export const layerLink = (name: string, digest: string) => `${repoRoot(name)}/_layers/${dig(digest)}/link`;
export const revisionsDir = (name: string) => `${repoRoot(name)}/_manifests/revisions`;
export const revisionDir = (name: string, digest: string) => `${revisionsDir(name)}/${dig(digest)}`;
export const tagsDir = (name: string) => `${repoRoot(name)}/_manifests/tags`;
export const tagLink = (name: string, tag: string) => `${tagsDir(name)}/${tag}/link`;
export const referrersDir = (name: string, subject: string) => `${repoRoot(name)}/_manifests/referrers/${dig(subject)}`;
export const referrerLink = (name: string, subject: string, referrer: string) =>
  `${referrersDir(name, subject)}/${dig(referrer)}/link`;
export const uploadDir = (uuid: string) => `${UPLOADS}/${uuid}`;
