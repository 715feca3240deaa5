/**
 * Image references as docker's client normalizes them: "busybox" is
 * docker.io/library/busybox:latest; a first component with a dot, a colon or
 * "localhost" is a registry; names must be lowercase. Only what the CLI needs:
 * the full name for API queries, the familiar form for messages, the tag/digest.
 */
export interface ImageRef {
  /** Fully qualified repository: docker.io/library/busybox. */
  name: string;
  /** Familiar repository: busybox. */
  familiarName: string;
  tag?: string;
  digest?: string;
}

const DEFAULT_DOMAIN = 'docker.io';
const componentRe = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const tagRe = /^[\w][\w.-]{0,127}$/;
const digestRe = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;

export class ReferenceError extends Error {}

export function parseImageRef(s: string): ImageRef {
  if (!s) throw new ReferenceError('invalid reference format');
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!digestRe.test(digest)) throw new ReferenceError('invalid reference format');
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagRe.test(tag)) throw new ReferenceError('invalid reference format');
  }
  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (domain === 'index.docker.io') domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = `library/${path}`;
  if (path !== path.toLowerCase()) throw new ReferenceError(`invalid reference format: repository name (${path}) must be lowercase`);
  if (!path.split('/').every((c) => componentRe.test(c))) throw new ReferenceError('invalid reference format');
  if (!/^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$/.test(domain)) {
    throw new ReferenceError('invalid reference format');
  }
  const name = `${domain}/${path}`;
  return { name, familiarName: familiarName(name), tag, digest };
}

/** docker.io/library/busybox → busybox; docker.io/me/app → me/app; others unchanged. */
export function familiarName(name: string): string {
  if (name.startsWith(`${DEFAULT_DOMAIN}/library/`) && name.split('/').length === 3) return name.slice(`${DEFAULT_DOMAIN}/library/`.length);
  if (name.startsWith(`${DEFAULT_DOMAIN}/`)) return name.slice(DEFAULT_DOMAIN.length + 1);
  return name;
}

/** The familiar string with tag and/or digest ("busybox:latest", "me/app@sha256:..."). */
export function familiarString(ref: ImageRef): string {
  return ref.familiarName + (ref.tag ? `:${ref.tag}` : '') + (ref.digest ? `@${ref.digest}` : '');
}

/** Adds ":latest" when there is neither a tag nor a digest (docker's TagNameOnly). */
export function withDefaultTag(ref: ImageRef): ImageRef {
  return ref.tag || ref.digest ? ref : { ...ref, tag: 'latest' };
}
