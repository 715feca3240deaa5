import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { drained } from '../layer/tar-export';
import { closeQuietly, DIR_FLAGS, fdChild, fdPath, type Location, type ScopedFS } from './scoped-fs';

/**
 * The tar of one resource of a ScopedFS, as `docker cp` moves it: the resource itself is
 * the top entry, named `topName` (its base name, or "." for "copy the contents"), and a
 * directory brings everything below it, mounts on the way included (a volume inside the
 * copied directory is copied too). Symlinks are stored, never followed; sockets are left
 * out; a second name of an inode becomes a hardlink entry.
 *
 * Every node is reached through the fd of its directory (see scoped-fs.ts), and a regular
 * file is opened O_NOFOLLOW | O_NONBLOCK and checked to be the inode seen by lstat, so a
 * running container that swaps a file for a symlink or a FIFO mid-copy gets an error or
 * its own file, never a host file or a hung read.
 */
const CHUNK = 256 * 1024;
const USTAR_MAX_ID = 0o777777;
const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

type HeaderArgument = Partial<tar.Header> & { name: string };
type EntrySink = ReturnType<tar.Pack['entry']>;

export interface PackStats {
  /** bytes of file data written */
  dataBytes: number;
}

/** A tar stream of `loc`, which the caller closes (with the tree) once the stream ends or fails. */
export function packLocation(sfs: ScopedFS, loc: Location, topName: string, stats: PackStats = { dataBytes: 0 }): Readable {
  const pack = tar.pack();
  const packer = new Packer(sfs, pack, stats);
  packer.top(loc, topName).then(
    () => pack.finalize(),
    (e: unknown) => pack.destroy(e instanceof Error ? e : new Error(String(e))),
  );
  return Readable.from(pack, { objectMode: false });
}

class Packer {
  /** "dev:ino" → the name first written, for hardlinks */
  private readonly inodes = new Map<string, string>();

  constructor(
    private readonly sfs: ScopedFS,
    private readonly pack: tar.Pack,
    private readonly stats: PackStats,
  ) {}

  async top(loc: Location, topName: string): Promise<void> {
    const st = loc.lstat();
    const name = topName === '.' || topName === '/' ? '.' : topName;
    if (loc.mountFile) return this.node(name, loc.mountFile.source, st, true);
    if (loc.isDirFrame) {
      await this.put(header(dirName(name), st, 'directory'));
      return this.children(loc.top.fd, loc.treePath, name);
    }
    return this.node(name, loc.fsPath, st, false);
  }

  /** Everything in the directory open as `dirFd` (tree path `treeDir`), under the entry name `prefix`. */
  private async children(dirFd: number, treeDir: string, prefix: string): Promise<void> {
    const names = fs.readdirSync(fdPath(dirFd)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const child of names) {
      const entryName = `${prefix}/${child}`;
      const treePath = treeDir === '/' ? `/${child}` : `${treeDir}/${child}`;
      const mount = this.sfs.mountAt(treePath);
      if (mount) {
        const st = fs.statSync(mount.source, { bigint: true });
        if (st.isDirectory()) {
          const fd = fs.openSync(mount.source, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
          try {
            await this.put(header(dirName(entryName), fs.fstatSync(fd, { bigint: true }), 'directory'));
            await this.children(fd, treePath, entryName);
          } finally {
            closeQuietly(fd);
          }
        } else await this.node(entryName, mount.source, st, true);
        continue;
      }
      const at = fdChild(dirFd, child);
      let st: fs.BigIntStats;
      try {
        st = fs.lstatSync(at, { bigint: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // gone meanwhile (a running container)
        throw e;
      }
      if (st.isDirectory()) {
        let fd: number;
        try {
          fd = fs.openSync(at, DIR_FLAGS);
        } catch {
          continue; // replaced by something else since the lstat: skip it, as a file that vanished
        }
        try {
          await this.put(header(dirName(entryName), fs.fstatSync(fd, { bigint: true }), 'directory'));
          await this.children(fd, treePath, entryName);
        } finally {
          closeQuietly(fd);
        }
        continue;
      }
      await this.node(entryName, at, st, false);
    }
  }

  /** A non-directory (or a mounted file, `trusted`: the daemon's own path, which may be followed). */
  private async node(name: string, fsPath: string, st: fs.BigIntStats, trusted: boolean): Promise<void> {
    const type = entryType(st);
    if (type === undefined) return; // a socket
    if (type === 'directory') {
      await this.put(header(dirName(name), st, 'directory'));
      return;
    }
    if (st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      const first = this.inodes.get(key);
      if (first !== undefined) return this.put({ ...header(name, st, 'link'), linkname: first });
      this.inodes.set(key, name);
    }
    const h = header(name, st, type);
    if (type === 'symlink') h.linkname = fs.readlinkSync(fsPath);
    if (type === 'character-device' || type === 'block-device') Object.assign(h, deviceNumbers(st.rdev));
    if (type === 'file') return this.file(h, fsPath, st, trusted);
    return this.put(h);
  }

  private put(h: HeaderArgument): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pack.entry(h, Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
    });
  }

  private async file(h: HeaderArgument, fsPath: string, st: fs.BigIntStats, trusted: boolean): Promise<void> {
    let fd: number;
    try {
      fd = fs.openSync(fsPath, O_RDONLY | O_NONBLOCK | (trusted ? 0 : O_NOFOLLOW));
    } catch (e) {
      if (trusted) throw e;
      throw new Error(`${h.name} changed while it was being copied`);
    }
    try {
      const now = fs.fstatSync(fd, { bigint: true });
      if (!now.isFile() || now.ino !== st.ino || now.dev !== st.dev) throw new Error(`${h.name} changed while it was being copied`);
      const size = Number(st.size);
      let sink: EntrySink | undefined;
      const done = new Promise<void>((resolve, reject) => {
        sink = this.pack.entry({ ...h, size }, (err) => (err ? reject(err) : resolve()));
      });
      done.catch(() => undefined); // awaited below
      const entry = sink as EntrySink;
      for (let left = size; left > 0; ) {
        const buf = Buffer.alloc(Math.min(CHUNK, left));
        const n = await readAt(fd, buf);
        // A file that shrank meanwhile (a running container) is padded with zeros: the
        // header's size is already written, and a short entry would break the whole tar.
        const chunk = n === 0 ? buf : buf.subarray(0, n);
        left -= chunk.length;
        this.stats.dataBytes += chunk.length;
        if (!entry.write(chunk)) await drained(entry);
      }
      entry.end(undefined);
      await done;
    } finally {
      closeQuietly(fd);
    }
  }
}

function readAt(fd: number, buf: Buffer): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, buf, 0, buf.length, null, (err, n) => (err ? reject(err) : resolve(n))));
}


function dirName(name: string): string {
  return name.endsWith('/') ? name : `${name}/`;
}

function entryType(st: fs.BigIntStats): tar.Header['type'] | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'character-device';
  if (st.isBlockDevice()) return 'block-device';
  if (st.isFIFO()) return 'fifo';
  return undefined;
}

function header(name: string, st: fs.BigIntStats, type: tar.Header['type']): HeaderArgument {
  const h: HeaderArgument = {
    name,
    type,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtime: new Date(Number(st.mtimeNs < 0n ? 0n : st.mtimeNs / 1_000_000_000n) * 1000),
  };
  const pax: Record<string, string> = {};
  if (st.uid > USTAR_MAX_ID) pax.uid = String(st.uid);
  if (st.gid > USTAR_MAX_ID) pax.gid = String(st.gid);
  if (Object.keys(pax).length > 0) h.pax = pax;
  return h;
}

/** Linux's dev_t layout (glibc's major()/minor()). */
function deviceNumbers(rdev: bigint): { devmajor: number; devminor: number } {
  return {
    devmajor: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
    devminor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
  };
}
