import * as path from 'node:path';
import { invalid } from '../common/errors';

/**
 * .dockerignore: which paths of the build context the client leaves out. Each line is a
 * pattern relative to the context root in Go's filepath.Match syntax (`*`, `?`, `[a-z]`,
 * `[^a]`, `\` escapes) plus `**` for any number of directories; a pattern also excludes
 * everything under a directory it matches. `!pattern` re-includes, and the last pattern
 * that matches a path decides. Lines starting with `#` and blank lines are ignored.
 */

export interface Pattern {
  /** the cleaned pattern, without its `!` */
  pattern: string;
  exclusion: boolean;
  /** the pattern's path components, for `mayReinclude` */
  parts: string[];
  regex: RegExp;
}

/** Go's path.Clean: no `.` or `..` components, no doubled or trailing slashes. */
function clean(p: string): string {
  const out = path.posix.normalize(p);
  return out.length > 1 ? out.replace(/\/+$/, '') : out;
}

/**
 * A class `[...]` of filepath.Match starting at `i` (just after `[`) as a JS class, and
 * the index after its `]`. Throws on a malformed class, as Go's ErrBadPattern.
 */
function charClass(p: string, i: number): { re: string; next: number } {
  const bad = () => invalid('syntax error in pattern');
  let re = '[';
  if (p[i] === '^') {
    re += '^';
    i++;
  }
  let first = true;
  const one = (): string => {
    let c = p[i++];
    if (c === undefined) throw bad();
    if (c === '\\') {
      c = p[i++];
      if (c === undefined) throw bad();
    } else if ((c === '-' || c === ']') && !first) throw bad();
    return c;
  };
  for (;;) {
    if (p[i] === ']' && !first) return { re: `${re}]`, next: i + 1 };
    if (p[i] === undefined || (p[i] === ']' && first)) throw bad();
    const lo = one();
    first = false;
    re += esc(lo);
    if (p[i] === '-') {
      i++;
      const hi = one();
      if (hi < lo) throw bad();
      re += `-${esc(hi)}`;
    }
  }
}

const esc = (c: string) => c.replace(/[\\\]\[^$.*+?(){}|/-]/g, '\\$&');

/** One path component pattern, or a whole pattern, as a regular expression body. */
function toRegex(p: string): string {
  let re = '';
  for (let i = 0; i < p.length; ) {
    const c = p[i];
    if (c === '*' && p[i + 1] === '*') {
      i += 2;
      // `**/` and `**` match any number of directories, none included.
      if (p[i] === '/') i++;
      re += i >= p.length ? '.*' : '(?:.*/)?';
    } else if (c === '*') {
      re += '[^/]*';
      i++;
    } else if (c === '?') {
      re += '[^/]';
      i++;
    } else if (c === '[') {
      const cls = charClass(p, i + 1);
      re += cls.re;
      i = cls.next;
    } else if (c === '\\') {
      if (i + 1 >= p.length) throw invalid('syntax error in pattern');
      re += esc(p[i + 1]);
      i += 2;
    } else {
      re += esc(c);
      i++;
    }
  }
  return re;
}

/** Compiles one pattern (a leading `!` makes it an exception). */
export function compilePattern(line: string): Pattern {
  let p = line.trim();
  const exclusion = p.startsWith('!');
  if (exclusion) p = p.slice(1).trim();
  if (p === '') throw invalid('illegal exclusion pattern: "!"');
  p = clean(p);
  // Patterns are relative to the context root: a leading slash means nothing.
  if (p.length > 1 && p.startsWith('/')) p = p.replace(/^\/+/, '');
  return { pattern: p, exclusion, parts: p.split('/'), regex: new RegExp(`^${toRegex(p)}$`, 's') };
}

export function parseDockerignore(text: string): Pattern[] {
  const out: Pattern[] = [];
  for (const raw of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    out.push(compilePattern(line));
  }
  return out;
}

/** The path itself and each of its parent directories, shortest last. */
function selfAndParents(rel: string): string[] {
  const parts = rel.split('/');
  return parts.map((_, i) => parts.slice(0, parts.length - i).join('/'));
}

/**
 * Whether a context path (slash-separated, relative to the root) is left out. A pattern
 * matches the path or any directory above it; the last pattern that matches decides.
 */
export function isExcluded(relPath: string, patterns: readonly Pattern[]): boolean {
  const rel = clean(relPath.replace(/^\/+/, '')) || '.';
  const candidates = selfAndParents(rel);
  let excluded = false;
  for (const p of patterns) {
    // Only a pattern that could change the answer needs looking at.
    if (p.exclusion !== excluded) continue;
    if (candidates.some((c) => p.regex.test(c))) excluded = !p.exclusion;
  }
  return excluded;
}

/**
 * Whether some `!` pattern could re-include a path below the directory `relDir`. A walker
 * that finds a directory excluded may skip it whole only when this is false.
 */
export function mayReinclude(relDir: string, patterns: readonly Pattern[]): boolean {
  const dir = (clean(relDir.replace(/^\/+/, '')) || '.').split('/').filter((c) => c !== '.');
  return patterns.some((p) => p.exclusion && couldMatchBelow(p.parts, dir));
}

/** Whether pattern components could match some path strictly below the components `dir`. */
function couldMatchBelow(parts: readonly string[], dir: readonly string[]): boolean {
  for (let i = 0; i < parts.length; i++) {
    if (parts[i].includes('**')) return true; // spans any depth: assume it can
    if (i >= dir.length) return true; // the pattern goes deeper than the directory
    if (!new RegExp(`^${toRegex(parts[i])}$`, 's').test(dir[i])) return false;
  }
  return false; // it matches the directory (or above): that already decided its exclusion
}
