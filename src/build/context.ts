import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { closeQuietly, DIR_FLAGS, fdChild, fdPath, ScopedFS, ScopeError, type Location } from '../archive/scoped-fs';
import { invalid } from '../common/errors';
import { noTick, type Tick } from './checkpoint';

/**
 * What COPY and ADD read: a source tree (the unpacked context, a stage's or an image's
 * root, the files of a here-document), seen as a process chrooted into it would see it.
 * Patterns are expanded, content hashed for the cache key and files read through one
 * resolver, src/archive/scoped-fs.ts: a path is followed one component at a time, a
 * symlink inside the tree is followed *within* the tree (`evil -> /` in a stage means
 * the stage's own root), and every node is reached through an fd of its directory and
 * opened with O_NOFOLLOW, so no link can lead a build to the host's files.
 */
export type Excluded = (relPath: string) => boolean;

const GLOB = /[*?[\\]/;
const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

export function globToRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw invalid(`syntax error in pattern: ${pattern}`);
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^')) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i]}`;
    else re += c.replace(/[.+^${}()|]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * A source of COPY/ADD as a path relative to its tree ("." for the root). Docker's
 * legacy builder drops one leading "/" and then "./", joins the rest to the tree's root
 * and refuses a result outside it, for the context and for a stage or image alike
 * (remotecontext.FullPath): so "../x", "a/../../x" and "/../x" are refused, not clamped.
 */
export function cleanSource(src: string): string {
  let rel = src.startsWith('/') ? src.slice(1) : src;
  if (rel.startsWith('./')) rel = rel.slice(2);
  const parts: string[] = [];
  for (const part of rel.split('/')) {
    if (part === '' || part === '.') continue;
    if (part !== '..') parts.push(part);
    else if (parts.pop() === undefined) throw invalid(`forbidden path outside the build context: ${rel} ()`);
  }
  return parts.join('/') || '.';
}

const notFound = (src: string) => invalid(`COPY failed: file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`);

/** What a copy takes from a node's metadata: `fs.Stats` has it, and so does the context's index. */
export interface NodeStat {
  mode: number;
  size: number;
  atime: Date;
  mtime: Date;
}

/** A node of a source tree as a walk meets it; fds are valid during the visit only. */
export type SourceNode =
  | { kind: 'dir'; rel: string; st: NodeStat; /** -1 when the node is not on disk (the context's index) */ fd: number }
  | {
      kind: 'file';
      rel: string;
      st: NodeStat;
      /** an fd on this very file, opened O_NOFOLLOW; the caller closes it */
      open: () => number;
      /** the whole content, when the source holds it in memory: then `open` is not called */
      data?: Buffer;
    }
  | { kind: 'symlink'; rel: string; st: NodeStat; target: string }
  | { kind: 'other'; rel: string; st: NodeStat };

/** What COPY and ADD read from: a tree on disk (SourceTree), or the build context's index (ContextArchive). */
export interface CopySource {
  /** Calls `fn` with the node at `rel` (a symlink there is the node, not followed). */
  visit<T>(rel: string, fn: (n: SourceNode) => Promise<T> | T): Promise<T>;
  /** Visits the entries of a directory node in name order, leaving out excluded ones. */
  eachChild(dir: SourceNode & { kind: 'dir' }, excluded: Excluded, fn: (n: SourceNode) => Promise<void> | void): Promise<void>;
}

export class SourceTree implements CopySource {
  private constructor(private readonly sfs: ScopedFS) {}

  static open(root: string): SourceTree {
    return new SourceTree(ScopedFS.open(root, [], 'clamp'));
  }

  close(): void {
    this.sfs.close();
  }

  /** Expands one source pattern to the tree-relative paths it names (sorted). */
  expand(src: string, excluded: Excluded): string[] {
    const clean = cleanSource(src);
    if (!GLOB.test(clean)) {
      if (!this.exists(clean) || (clean !== '.' && excluded(clean))) throw notFound(src);
      return [clean];
    }
    let current = ['.'];
    for (const part of clean.split('/')) {
      const join = (base: string, name: string) => (base === '.' ? name : `${base}/${name}`);
      if (!GLOB.test(part)) {
        current = current.map((base) => join(base, part));
        continue;
      }
      const re = globToRegex(part);
      const next: string[] = [];
      for (const base of current) for (const name of this.list(base)) if (re.test(name)) next.push(join(base, name));
      current = next;
    }
    const found = current.filter((rel) => this.exists(rel) && !excluded(rel));
    if (found.length === 0) throw invalid('COPY failed: no source files were specified');
    return found;
  }

  /**
   * A digest of what the sources name: paths, types, modes, link targets and file content,
   * never times, so an unchanged tree gives the same cache key on every build.
   */
  async digest(sources: string[], excluded: Excluded, tick: Tick = noTick): Promise<string> {
    const h = createHash('sha256');
    const visit = async (n: SourceNode): Promise<void> => {
      await tick();
      h.update(`${n.rel}\0${n.st.mode}\0`);
      if (n.kind === 'symlink') h.update(`link:${n.target}\0`);
      else if (n.kind === 'file') {
        h.update(`size:${n.st.size}\0`);
        const fd = n.open();
        try {
          await hashFile(h, fd, n.st.size, tick);
        } finally {
          closeQuietly(fd);
        }
      } else if (n.kind === 'dir') await this.eachChild(n, excluded, visit);
    };
    for (const s of sources) await this.visit(s, visit);
    return h.digest('hex');
  }

  /** Calls `fn` with the node at `rel` (a symlink there is the node, not followed). */
  async visit<T>(rel: string, fn: (n: SourceNode) => Promise<T> | T): Promise<T> {
    const loc = this.locate(rel, false);
    try {
      if (!loc.exists) throw notFound(rel);
      if (loc.isDirFrame) return await fn({ kind: 'dir', rel, st: fs.fstatSync(loc.top.fd), fd: loc.top.fd });
      return await fn(nodeAt(loc.top.fd, loc.name as string, rel));
    } finally {
      loc.close();
    }
  }

  /** Visits the entries of a directory node in name order, leaving out excluded ones. */
  async eachChild(dir: SourceNode & { kind: 'dir' }, excluded: Excluded, fn: (n: SourceNode) => Promise<void> | void): Promise<void> {
    for (const name of fs.readdirSync(fdPath(dir.fd)).sort()) {
      const rel = dir.rel === '.' ? name : `${dir.rel}/${name}`;
      if (excluded(rel)) continue;
      const at = fdChild(dir.fd, name);
      const st = lstatIfThere(at);
      if (!st) continue;
      if (!st.isDirectory()) {
        await fn(nodeAt(dir.fd, name, rel, st));
        continue;
      }
      const fd = fs.openSync(at, DIR_FLAGS); // O_NOFOLLOW: a directory swapped for a link fails here
      try {
        await fn({ kind: 'dir', rel, st: fs.fstatSync(fd), fd });
      } finally {
        closeQuietly(fd);
      }
    }
  }

  private locate(rel: string, followLast: boolean): Location {
    try {
      return this.sfs.resolve(rel, { followLast });
    } catch (e) {
      if (e instanceof ScopeError) throw e.code === 'ELOOP' ? invalid(e.message) : notFound(rel);
      throw e;
    }
  }

  private exists(rel: string): boolean {
    try {
      const loc = this.locate(rel, false);
      loc.close();
      return loc.exists;
    } catch {
      return false;
    }
  }

  /** The names in the directory `rel` names (links followed inside the tree); none when it is not one. */
  private list(rel: string): string[] {
    let loc: Location;
    try {
      loc = this.locate(rel, true);
    } catch {
      return [];
    }
    try {
      return loc.exists && loc.isDirFrame ? fs.readdirSync(fdPath(loc.top.fd)).sort() : [];
    } finally {
      loc.close();
    }
  }
}

/** The non-directory `name` in the directory open as `dirFd`. */
function nodeAt(dirFd: number, name: string, rel: string, known?: fs.Stats): SourceNode {
  const at = fdChild(dirFd, name);
  const st = known ?? fs.lstatSync(at);
  if (st.isSymbolicLink()) return { kind: 'symlink', rel, st, target: fs.readlinkSync(at) };
  if (st.isDirectory()) throw new Error(`${rel}: changed while it was being read`);
  if (!st.isFile()) return { kind: 'other', rel, st };
  return {
    kind: 'file',
    rel,
    st,
    open: () => {
      // O_NONBLOCK: a FIFO swapped in meanwhile cannot hang the build; the inode check catches any swap
      const fd = fs.openSync(at, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
      const now = fs.fstatSync(fd);
      if (!now.isFile() || now.ino !== st.ino || now.dev !== st.dev) {
        closeQuietly(fd);
        throw invalid(`${rel}: changed while it was being read`);
      }
      return fd;
    },
  };
}

function lstatIfThere(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

const SMALL_FILE = 1 << 20;

/** Hashes a file from its fd: small ones at once, large ones streamed so the event loop turns. */
async function hashFile(h: Hash, fd: number, size: number, tick: Tick): Promise<void> {
  if (size < SMALL_FILE) {
    h.update(readAll(fd, size));
    return;
  }
  for await (const chunk of fs.createReadStream('', { fd, start: 0, autoClose: false })) {
    h.update(chunk as Buffer);
    await tick();
  }
}

function readAll(fd: number, size: number): Buffer {
  const buf = Buffer.alloc(size);
  let off = 0;
  while (off < size) {
    const n = fs.readSync(fd, buf, off, size - off, off);
    if (n === 0) break;
    off += n;
  }
  return buf.subarray(0, off);
}
