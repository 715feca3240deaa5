/**
 * The request target of an HTTP request (`/path?query`), read the way Go's net/http and
 * gorilla/mux read it, since dockerd and Distribution answer with them: a target that is not a
 * path or holds a malformed percent-escape is a 400; a path that is not clean (`//`, `/./`,
 * `/../`) is redirected to its clean form. `new URL(target, base)` is not used: it throws on
 * `//`, and it reads `//host/p` as a host and the path `/p`.
 */

export interface RequestTarget {
  /** the path as sent, escapes not decoded ('*' for `OPTIONS *`) */
  path: string;
  /** '?' and the query as sent, or '' */
  search: string;
  query: URLSearchParams;
}

export class MalformedTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedTargetError';
  }
}

const ABSOLUTE_FORM = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/;

/** Throws MalformedTargetError with Go's words (`invalid URL escape "%zz"`) when the target is not a usable path. */
export function parseRequestTarget(raw: string | undefined): RequestTarget {
  let target = raw ?? '/';
  // absolute-form, as proxies send it: only the path and query count
  const abs = ABSOLUTE_FORM.exec(target);
  if (abs) target = target.slice(abs[0].length) || '/';
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const search = q < 0 ? '' : target.slice(q);
  if (path !== '*' && !path.startsWith('/')) throw new MalformedTargetError(`malformed request target ${JSON.stringify(truncate(path))}`);
  const bad = /%(?![0-9a-fA-F]{2})/.exec(path);
  if (bad) throw new MalformedTargetError(`invalid URL escape ${JSON.stringify(path.slice(bad.index, bad.index + 3))}`);
  return { path, search, query: new URLSearchParams(search) };
}

/**
 * Go's path.Clean for a rooted path, keeping a trailing slash (what gorilla/mux redirects
 * to): repeated slashes collapse, `.` goes, `..` removes the segment before it.
 */
export function cleanPath(p: string): string {
  if (p === '*') return p;
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const clean = '/' + out.join('/');
  return p.endsWith('/') && clean !== '/' ? clean + '/' : clean;
}

/**
 * Decodes a path segment's escapes. Never throws: bytes that are not UTF-8 (`%ff`) become
 * U+FFFD, so the name matches nothing (a 404), as in Go, where the bytes name nothing either.
 */
export function decodePathSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    const parts = s.split(/(%[0-9a-fA-F]{2})/);
    return Buffer.concat(parts.map((part) => (/^%[0-9a-fA-F]{2}$/.test(part) ? Buffer.from([parseInt(part.slice(1), 16)]) : Buffer.from(part, 'utf8')))).toString('utf8');
  }
}

function truncate(s: string): string {
  return s.length > 100 ? `${s.slice(0, 100)}...` : s;
}
