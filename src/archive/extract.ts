import * as fs from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { BerthError, invalid, isErrno, system } from '../common/errors';
import { makeSpecialFile } from '../layer/special-files';
import { closeQuietly, errnoText, fdChild, fdPath, O_PATH, removeTree, ScopeError, type Location, type ScopedFS } from './scoped-fs';

/**
 * Unpacks a `docker cp` tar into a directory of a ScopedFS: the daemon's side of
 * PUT /containers/{id}/archive, and the CLI's side of copying out of a container.
 *
 * Unlike a layer (src/layer/tar-apply.ts) there are no whiteouts, and names are not
 * confined to the directory but to the tree: as Docker, a name that climbs out of the
 * directory with ".." is refused, a leading "/" is dropped, and symlinks already in the
 * tree are followed inside it (scoped-fs.ts). Every node is created through the fd of
 * its parent directory, with calls that never follow the last component.
 *
 * What exists at an entry's place is replaced, except a directory that a directory
 * entry merges into; with `noOverwriteDirNonDir` (what the docker CLI asks for) a
 * directory is never replaced by a non-directory nor the other way round. Directory
 * metadata is applied at the end, so that a read-only directory can still be filled
 * and its mtime is the archive's.
 */
export interface ExtractOptions {
  noOverwriteDirNonDir: boolean;
  /** 'header': the archive's uid/gid; 'none': leave files to whoever writes them; or fixed ids */
  owner: 'header' | 'none' | { uid: number; gid: number };
  /** replace a first path component `from` by `to` (names and hardlink targets), as the CLI's rebase */
  rebase?: { from: string; to: string };
  /** refuse writes below a read-only mount or root; returns the reason, or undefined */
  readOnly?: (loc: Location) => string | undefined;
  /** how messages name the tree's root: the CLI shows its local paths, the daemon container paths */
  displayRoot?: string;
}

export interface ExtractStats {
  /** bytes of file data written */
  dataBytes: number;
}

interface DeferredDir {
  components: string[];
  header: tar.Header;
}

/** Extracts `input` (an uncompressed tar) into the directory `into` (a dir location of `sfs`). */
export async function extractTar(sfs: ScopedFS, into: Location, input: Readable, opts: ExtractOptions, stats: ExtractStats = { dataBytes: 0 }): Promise<void> {
  const extract = tar.extract();
  const piped = pipeline(input, extract);
  piped.catch(() => undefined); // observed below
  const x = new Extractor(sfs, into, opts, stats);
  try {
    for await (const entry of extract) {
      try {
        await x.entry(entry.header, entry);
      } finally {
        entry.resume();
      }
    }
    await piped;
    x.finish();
  } catch (e) {
    input.destroy();
    extract.destroy();
    const streamError = await piped.then(() => undefined, (err: unknown) => err);
    throw describe(e instanceof DataFailure ? (streamError ?? e.cause) : e);
  }
}

class DataFailure extends Error {
  constructor(cause: unknown) {
    super('reading a tar entry failed', { cause });
  }
}

function describe(e: unknown): BerthError {
  if (e instanceof BerthError) return e;
  if (e instanceof ScopeError) return invalid(e.message);
  const msg = e instanceof Error ? e.message : String(e);
  if (/Invalid tar header|Header exceeds max size|Invalid header|Unexpected end of data/i.test(msg)) return invalid(`archive/tar: invalid tar header: ${msg}`);
  return system(msg, e);
}

class Extractor {
  private readonly dirs: DeferredDir[] = [];
  private readonly base: string;

  constructor(
    private readonly sfs: ScopedFS,
    private readonly into: Location,
    private readonly opts: ExtractOptions,
    private readonly stats: ExtractStats,
  ) {
    this.base = this.show(into.treePath);
  }

  private show(treePath: string): string {
    const root = this.opts.displayRoot;
    if (!root || root === '/') return treePath;
    return treePath === '/' ? root : `${root}${treePath}`;
  }

  async entry(h: tar.Header, data: AsyncIterable<unknown>): Promise<void> {
    if ((h.type as string) === 'pax-global-header') return;
    const components = this.clean(h.name, h.name);
    if (components.length === 0) {
      // "./": the destination itself, which exists; Docker leaves it alone
      if (h.type !== 'directory') throw invalid(`cannot overwrite directory ${JSON.stringify(this.base)} with non-directory ${JSON.stringify(h.name)}`);
      return;
    }
    try {
      const parent = this.sfs.resolveFrom(this.into, components.slice(0, -1), { followLast: true, createDirs: true });
      try {
        if (!parent.isDirFrame) throw invalid(`${this.show(parent.treePath)}: not a directory`);
        const reason = this.opts.readOnly?.(parent);
        if (reason) throw new BerthError('FORBIDDEN', reason);
        await this.place(parent, components, h, data);
      } finally {
        parent.close();
      }
    } catch (e) {
      // the file system's own messages name /proc/<pid>/fd/… paths: say the entry instead
      if (e instanceof BerthError || e instanceof ScopeError || e instanceof DataFailure) throw e;
      throw system(`extracting ${JSON.stringify(h.name)}: ${errnoText(e)}`, e);
    }
  }

  /** The entry's name as components under the destination; ".." out of it is refused. */
  private clean(name: string, shown: string): string[] {
    if (name.includes('\0')) throw invalid(`invalid tar header: ${JSON.stringify(shown)} contains a NUL byte`);
    const out: string[] = [];
    for (const part of name.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (out.length === 0) throw invalid(`${JSON.stringify(shown)} is outside of ${JSON.stringify(this.base)}`);
        out.pop();
        continue;
      }
      out.push(part);
    }
    const r = this.opts.rebase;
    if (r) {
      if (r.from === '.' || r.from === '/') return r.to === '.' || r.to === '/' ? out : [r.to, ...out];
      if (out[0] === r.from) out[0] = r.to;
    }
    return out;
  }

  private async place(parent: Location, components: string[], h: tar.Header, data: AsyncIterable<unknown>): Promise<void> {
    const name = components[components.length - 1];
    const dirFd = parent.top.fd;
    const treePath = `${parent.treePath === '/' ? '' : parent.treePath}/${name}`;
    const shown = this.show(treePath);
    if (this.sfs.mountAt(treePath)) {
      // a mount point: a directory merges into it (its metadata stays the mount's), nothing replaces it
      if (h.type === 'directory') return;
      throw invalid(`cannot overwrite mount point ${JSON.stringify(shown)} with ${JSON.stringify(h.name)}`);
    }
    const at = fdChild(dirFd, name);
    const isDir = h.type === 'directory';
    let existing: fs.Stats | undefined;
    try {
      existing = fs.lstatSync(at);
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
    }
    if (existing) {
      if (this.opts.noOverwriteDirNonDir && existing.isDirectory() && !isDir) {
        throw invalid(`cannot overwrite directory ${JSON.stringify(shown)} with non-directory ${JSON.stringify(h.name)}`);
      }
      if (this.opts.noOverwriteDirNonDir && !existing.isDirectory() && isDir) {
        throw invalid(`cannot overwrite non-directory ${JSON.stringify(shown)} with directory ${JSON.stringify(h.name)}`);
      }
      if (!(existing.isDirectory() && isDir)) removeTree(dirFd, name);
    }
    switch (h.type) {
      case 'directory':
        if (!existing?.isDirectory()) fs.mkdirSync(at, 0o700);
        this.dirs.push({ components, header: h });
        return;
      case 'file':
      case 'contiguous-file':
        return this.file(at, h, data);
      case 'symlink':
        fs.symlinkSync(h.linkname ?? '', at);
        this.chown(() => fs.lchownSync(at, ...this.ids(h)));
        fs.lutimesSync(at, mtime(h), mtime(h));
        return;
      case 'link':
        return this.hardlink(at, h);
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        const kind = h.type === 'fifo' ? 'fifo' : h.type === 'block-device' ? 'block' : 'char';
        await makeSpecialFile(at, kind, mode(h), h.devmajor ?? 0, h.devminor ?? 0);
        this.metadataByPath(at, h);
        return;
      }
      default:
        throw invalid(`unhandled tar header type ${String(h.type)} for ${JSON.stringify(h.name)}`);
    }
  }

  private async file(at: string, h: tar.Header, data: AsyncIterable<unknown>): Promise<void> {
    const fd = fs.openSync(at, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    try {
      const chunks = data[Symbol.asyncIterator]();
      for (;;) {
        let next: IteratorResult<unknown>;
        try {
          next = await chunks.next();
        } catch (e) {
          throw new DataFailure(e);
        }
        if (next.done) break;
        const buf = next.value as Buffer;
        for (let off = 0; off < buf.length; ) off += fs.writeSync(fd, buf, off);
        this.stats.dataBytes += buf.length;
      }
      // chown before chmod: chown clears setuid and setgid
      this.chown(() => fs.fchownSync(fd, ...this.ids(h)));
      fs.fchmodSync(fd, mode(h));
      fs.futimesSync(fd, mtime(h), mtime(h));
    } finally {
      closeQuietly(fd);
    }
  }

  private hardlink(at: string, h: tar.Header): void {
    const target = this.clean(h.linkname ?? '', h.linkname ?? '');
    if (target.length === 0) throw invalid(`invalid hardlink ${JSON.stringify(h.name)} -> ${JSON.stringify(h.linkname)}`);
    const parent = this.sfs.resolveFrom(this.into, target.slice(0, -1), { followLast: true });
    try {
      if (!parent.isDirFrame) throw invalid(`invalid hardlink ${JSON.stringify(h.name)} -> ${JSON.stringify(h.linkname)}`);
      const source = fdChild(parent.top.fd, target[target.length - 1]);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(source);
      } catch (e) {
        if (isErrno(e, 'ENOENT')) throw invalid(`hardlink ${JSON.stringify(h.name)} -> ${JSON.stringify(h.linkname)}: no such file`);
        throw e;
      }
      if (st.isDirectory()) throw invalid(`hardlink ${JSON.stringify(h.name)} -> ${JSON.stringify(h.linkname)}: target is a directory`);
      // link(2) does not follow a symlink at `source`: the link is to the symlink itself
      fs.linkSync(source, at);
    } finally {
      parent.close();
    }
  }

  /** Metadata of a node that cannot be opened for I/O (a device, a FIFO): through an O_PATH fd. */
  private metadataByPath(at: string, h: tar.Header): void {
    const fd = fs.openSync(at, O_PATH | fs.constants.O_NOFOLLOW);
    try {
      const p = fdPath(fd);
      this.chown(() => fs.chownSync(p, ...this.ids(h)));
      fs.chmodSync(p, mode(h));
      fs.utimesSync(p, mtime(h), mtime(h));
    } finally {
      closeQuietly(fd);
    }
  }

  private ids(h: tar.Header): [number, number] {
    const o = this.opts.owner;
    return typeof o === 'object' ? [o.uid, o.gid] : [h.uid ?? 0, h.gid ?? 0];
  }

  /** chown unless asked not to; without the privilege (the CLI as a user) it is skipped. */
  private chown(fn: () => void): void {
    if (this.opts.owner === 'none') return;
    try {
      fn();
    } catch (e) {
      if (!isErrno(e, 'EPERM')) throw e;
    }
  }

  /** Directory metadata, once everything is in: re-resolved, applied through an fd of the directory. */
  finish(): void {
    for (const d of this.dirs.reverse()) {
      let loc: Location;
      try {
        loc = this.sfs.resolveFrom(this.into, d.components, { followLast: false });
      } catch {
        continue; // replaced by a later entry
      }
      try {
        if (!loc.isDirFrame || loc.top.mount || !loc.top.own) continue;
        const fd = loc.top.fd;
        this.chown(() => fs.fchownSync(fd, ...this.ids(d.header)));
        fs.fchmodSync(fd, mode(d.header));
        fs.futimesSync(fd, mtime(d.header), mtime(d.header));
      } finally {
        loc.close();
      }
    }
  }
}

function mode(h: tar.Header): number {
  return (h.mode ?? 0o644) & 0o7777;
}

function mtime(h: tar.Header): Date {
  return h.mtime ?? new Date(0);
}
