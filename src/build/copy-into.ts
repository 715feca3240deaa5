import * as fs from 'node:fs';
import * as path from 'node:path';
import { createGunzip } from 'node:zlib';
import { closeQuietly, DIR_FLAGS, fdChild, fdPath, removeTree, ScopedFS, ScopeError, type Location } from '../archive/scoped-fs';
import { once } from 'node:events';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { invalid, isErrno } from '../common/errors';
import { noTick, type Tick } from './checkpoint';
import { applyTar } from '../layer/tar-apply';
import type { CopySource, Excluded, NodeStat, SourceNode } from './context';

/**
 * The writing half of COPY and ADD: nodes of a source tree copied into a step's root,
 * which is resolved as the step's own `/` (scoped-fs.ts), so a symlink the image holds on
 * the destination path is followed inside the image, never to the host. Below the
 * destination nothing is followed: each entry is made through the fd of its directory
 * with calls that do not follow the last component, and what is in the way is replaced
 * (a directory merges into a directory). Symlinks are copied as links. Owners are root
 * unless --chown says otherwise, as Docker does.
 */
export interface CopyOptions {
  uid?: number;
  gid?: number;
  mode?: number;
  excluded: Excluded;
  /** ADD: a local tar archive (plain or gzip) is unpacked at the destination */
  unpackTars: boolean;
  /** called between files and chunks: yields to the event loop, throws when the build is cancelled */
  tick?: Tick;
}

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;

export class CopyInto {
  private readonly dest: ScopedFS;

  constructor(root: string) {
    this.dest = ScopedFS.open(root, [], 'clamp');
  }

  close(): void {
    this.dest.close();
  }

  /**
   * Copies the source `rel` of `from` to the tree path `destPath`: a directory's content
   * goes into it; a file becomes it, or goes into it when it names a directory
   * (`destIsDir`: the destination ends in "/" or takes several sources).
   */
  async copy(from: CopySource, rel: string, destPath: string, destIsDir: boolean, o: CopyOptions): Promise<void> {
    await from.visit(rel, async (node) => {
      await o.tick?.();
      if (node.kind === 'dir') {
        const dir = this.ensureDir(destPath, node.st, o);
        try {
          await this.children(from, node, dir.top.fd, o);
        } finally {
          dir.close();
        }
        return;
      }
      if (node.kind === 'file' && o.unpackTars && (await this.unpackTar(node, destPath, o))) return;
      const at = destIsDir ? this.ensureDir(destPath, undefined, plainDirs(o)) : this.locate(destPath);
      try {
        if (at.isDirFrame) await this.node(node, at.top.fd, path.posix.basename(rel), o);
        else await this.node(node, at.top.fd, at.name as string, o);
      } finally {
        at.close();
      }
    });
  }

  /**
   * ADD's own case: a file that is a tar (plain or gzip), from memory or from disk, unpacked
   * into the destination directory; false when the file is no tar. The unpacker is fed
   * chunk by chunk through the build's tick, so a cancelled build ends the stream under it
   * (the cancel's own error comes out of applyTar as it is: it is a BerthError).
   */
  private async unpackTar(node: SourceNode & { kind: 'file' }, destPath: string, o: CopyOptions): Promise<boolean> {
    const fd = node.data ? undefined : node.open();
    try {
      const compression = node.data ? tarCompressionOf(node.data) : tarCompression(fd as number);
      if (!compression) return false;
      const dir = this.ensureDir(destPath, undefined, plainDirs(o));
      const raw = node.data ? Readable.from(chunksOf(node.data)) : fs.createReadStream('', { fd, start: 0, autoClose: false });
      try {
        const tick = o.tick ?? noTick;
        const paced = new Transform({ transform: (chunk: Buffer, _e, cb) => void tick().then(() => cb(null, chunk), cb) });
        // a pipeline, so that a cancelled or failed unpack stops the file's reading too
        pipeline(raw, paced).catch(() => undefined);
        await applyTar(fdPath(dir.top.fd), compression === 'gzip' ? paced.pipe(createGunzip()) : paced, { whiteouts: 'plain' });
      } finally {
        // a read still under way must end before its descriptor is closed (EBADF otherwise)
        if (!raw.closed) {
          const closed = once(raw, 'close').catch(() => undefined);
          raw.destroy();
          await closed;
        }
        dir.close();
      }
      return true;
    } finally {
      if (fd !== undefined) closeQuietly(fd);
    }
  }

  private async children(from: CopySource, dir: SourceNode & { kind: 'dir' }, destFd: number, o: CopyOptions): Promise<void> {
    await from.eachChild(dir, o.excluded, async (child) => {
      await o.tick?.();
      const name = path.posix.basename(child.rel);
      if (child.kind !== 'dir') return this.node(child, destFd, name, o);
      const fd = this.childDir(destFd, name, child.st, o);
      try {
        await this.children(from, child, fd, o);
      } finally {
        closeQuietly(fd);
      }
    });
  }

  /** A non-directory node made as `name` in the directory open as `dirFd`. */
  private async node(n: SourceNode, dirFd: number, name: string, o: CopyOptions): Promise<void> {
    const at = fdChild(dirFd, name);
    if (n.kind === 'other' || n.kind === 'dir') return; // sockets, devices and fifos in a context are not copied
    if (n.kind === 'file' && n.data) return this.writeFile(dirFd, name, n.data, n.st, o);
    removeTree(dirFd, name);
    if (n.kind === 'symlink') {
      fs.symlinkSync(n.target, at);
      fs.lchownSync(at, o.uid ?? 0, o.gid ?? 0);
      fs.lutimesSync(at, n.st.atime, n.st.mtime);
      return;
    }
    const src = n.open();
    try {
      const out = fs.openSync(at, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      try {
        // both ends are fds checked to be these very files: their /proc paths cannot be redirected
        if (n.st.size < CHUNKED_COPY) fs.copyFileSync(fdPath(src), fdPath(out));
        else await copyChunked(src, out, o.tick ?? noTick);
        finishFile(out, n.st, o);
      } finally {
        closeQuietly(out);
      }
    } finally {
      closeQuietly(src);
    }
  }

  /**
   * The file `name` in the directory open as `dirFd`, made from content in memory. A COPY
   * is often thousands of small files, so each costs as few calls as it can: made at once
   * (what is in the way is removed only when the exclusive create finds something), with
   * its permission bits, and owner and mode changed only where the new file differs.
   */
  private writeFile(dirFd: number, name: string, data: Buffer, st: NodeStat, o: CopyOptions): void {
    const at = fdChild(dirFd, name);
    const mode = o.mode ?? st.mode & 0o7777;
    const create = () => fs.openSync(at, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode & 0o777);
    let out: number;
    try {
      out = create();
    } catch (e) {
      if (!isErrno(e, 'EEXIST')) throw e;
      removeTree(dirFd, name);
      out = create();
    }
    try {
      for (let off = 0; off < data.length; ) off += fs.writeSync(out, data, off);
      const made = fs.fstatSync(out);
      const uid = o.uid ?? 0;
      const gid = o.gid ?? 0;
      const chowned = made.uid !== uid || made.gid !== gid;
      if (chowned) fs.fchownSync(out, uid, gid);
      // after a chown, always: it clears setuid and setgid bits
      if (chowned || (made.mode & 0o7777) !== mode) fs.fchmodSync(out, mode);
      fs.futimesSync(out, st.atime, st.mtime);
    } finally {
      closeQuietly(out);
    }
  }

  /** The directory `name` in `dirFd`, made (with the source's mode) when missing or not a directory; its fd. */
  private childDir(dirFd: number, name: string, st: NodeStat | undefined, o: CopyOptions): number {
    const at = fdChild(dirFd, name);
    let existing: fs.Stats | undefined;
    try {
      existing = fs.lstatSync(at);
    } catch {
      existing = undefined;
    }
    if (existing && !existing.isDirectory()) removeTree(dirFd, name);
    if (!existing?.isDirectory()) fs.mkdirSync(at, 0o755);
    const fd = fs.openSync(at, DIR_FLAGS);
    if (!existing?.isDirectory()) {
      fs.fchownSync(fd, o.uid ?? 0, o.gid ?? 0);
      fs.fchmodSync(fd, o.mode ?? (st ? st.mode & 0o7777 : 0o755));
    }
    return fd;
  }

  /** The destination directory, made with its parents when missing (links on the way followed inside the root). */
  private ensureDir(destPath: string, st: NodeStat | undefined, o: CopyOptions): Location {
    const loc = this.locate(destPath);
    if (loc.isDirFrame) return loc;
    try {
      closeQuietly(this.childDir(loc.top.fd, loc.name as string, st, o));
    } finally {
      loc.close();
    }
    return this.resolve(destPath, { followLast: true });
  }

  /**
   * The destination as it stands, its parents made when missing: a directory (a dir
   * frame), or the entry in its parent that a file replaces (there or not).
   */
  private locate(destPath: string): Location {
    this.resolve(path.posix.dirname(destPath), { followLast: true, createDirs: true }).close();
    return this.resolve(destPath, { followLast: true });
  }

  private resolve(treePath: string, opts: { followLast: boolean; createDirs?: boolean }): Location {
    try {
      return this.dest.resolve(treePath, opts);
    } catch (e) {
      if (e instanceof ScopeError) throw invalid(`failed to copy files: ${e.message}`);
      throw e;
    }
  }
}

/** Files from this size on are copied a chunk at a time, so a cancel is seen within one chunk. */
const CHUNKED_COPY = 16 << 20;
const CHUNK = 1 << 20;

async function copyChunked(src: number, out: number, tick: Tick): Promise<void> {
  const buf = Buffer.allocUnsafe(CHUNK);
  for (let pos = 0; ; ) {
    const n = await new Promise<number>((resolve, reject) => fs.read(src, buf, 0, CHUNK, pos, (e, got) => (e ? reject(e) : resolve(got))));
    if (n === 0) return;
    for (let w = 0; w < n; ) w += await new Promise<number>((resolve, reject) => fs.write(out, buf, w, n - w, pos + w, (e, put) => (e ? reject(e) : resolve(put))));
    pos += n;
    await tick();
  }
}

/** Content in memory fed as a file stream would feed it, a chunk at a time. */
function* chunksOf(data: Buffer): Generator<Buffer> {
  for (let off = 0; off < data.length; off += STREAM_CHUNK) yield data.subarray(off, off + STREAM_CHUNK);
}
const STREAM_CHUNK = 64 * 1024;

/** A directory made to hold a file or an unpacked tar is root's, 0755, as `mkdir -p`: --chown and --chmod are for what is copied. */
function plainDirs(o: CopyOptions): CopyOptions {
  return { excluded: o.excluded, unpackTars: o.unpackTars, tick: o.tick };
}

/** Owner, then mode (chown clears setuid bits), then times: a copied file's metadata. */
function finishFile(fd: number, st: NodeStat, o: CopyOptions): void {
  fs.fchownSync(fd, o.uid ?? 0, o.gid ?? 0);
  fs.fchmodSync(fd, o.mode ?? st.mode & 0o7777);
  fs.futimesSync(fd, st.atime, st.mtime);
}

/** ADD unpacks local tar archives (plain or gzip); other files are copied as they are. */
function tarCompression(fd: number): 'gzip' | 'none' | undefined {
  const head = Buffer.alloc(512);
  const n = fs.readSync(fd, head, 0, 512, 0);
  return tarCompressionOf(head.subarray(0, n));
}

function tarCompressionOf(head: Buffer): 'gzip' | 'none' | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  return head.length >= 262 && head.subarray(257, 262).toString() === 'ustar' ? 'none' : undefined;
}
