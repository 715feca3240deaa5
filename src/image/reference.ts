import { invalid } from '../common/errors';

/**
 * Image references as Docker reads them: `[registry[:port]/]path[:tag][@digest]`.
 * Docker Hub names are shown in their familiar form (`busybox`, `user/app`), everything
 * else with its registry (`127.0.0.1:5000/team/app`).
 */
export interface Reference {
  /** Registry host, "docker.io" for Docker Hub. */
  domain: string;
  /** Repository path inside the registry ("library/busybox"). */
  path: string;
  tag?: string;
  digest?: string;
}

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DOMAIN = 'index.docker.io';

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$/;

export function parseReference(input: string): Reference {
  if (input.length === 0 || input.length > 255 + 128 + 72) throw invalid('invalid reference format');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid('invalid reference format');
    if (digest.startsWith('sha256:') && !/^sha256:[a-f0-9]{64}$/.test(digest)) throw invalid('invalid reference format');
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid('invalid reference format');
  }
  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.toLowerCase() !== first) {
      domain = first;
      path = rest.slice(slash + 1);
      if (!DOMAIN.test(domain)) throw invalid('invalid reference format');
    }
  }
  if (domain === LEGACY_DOMAIN) domain = DEFAULT_DOMAIN;
  if (path.length === 0) throw invalid('invalid reference format');
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = `library/${path}`;
  for (const part of path.split('/')) {
    if (!PATH_COMPONENT.test(part)) {
      if (part.toLowerCase() !== part && PATH_COMPONENT.test(part.toLowerCase())) {
        throw invalid(`invalid reference format: repository name (${path}) must be lowercase`);
      }
      throw invalid('invalid reference format');
    }
  }
  return { domain, path, tag, digest };
}

/** The repository as Docker shows it: `busybox`, `user/app`, `127.0.0.1:5000/team/app`. */
export function familiarName(ref: Reference): string {
  if (ref.domain === DEFAULT_DOMAIN) return ref.path.startsWith('library/') ? ref.path.slice('library/'.length) : ref.path;
  return `${ref.domain}/${ref.path}`;
}

/** `name:tag` with the default tag filled in, or `name@digest`. */
export function familiarString(ref: Reference): string {
  if (ref.digest) return `${familiarName(ref)}@${ref.digest}`;
  return `${familiarName(ref)}:${ref.tag ?? 'latest'}`;
}

export function withDefaultTag(ref: Reference): Reference {
  return ref.tag || ref.digest ? ref : { ...ref, tag: 'latest' };
}
