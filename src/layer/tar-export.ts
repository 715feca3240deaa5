import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { constants as fsc, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { isErrno, system } from '../common/errors';

/**
 * Writing tars from a directory tree: `exportTar` for `docker export`, and the pieces
 * the layer diff (tar-diff.ts) is made of.
 *
 * Entries follow Docker's conventions for layers: no "./" entry unless asked for,
 * directories named with a trailing slash, mtimes in whole seconds (as moby truncates
 * them, so no PAX time records appear), no user or group names, sockets left out.
 * Nothing comes from the clock or the order readdir happens to return: names are
 * sorted by their bytes, so the same tree (mtimes included) gives the same bytes,
 * which the builder's cache relies on.
 *
 * Extended attributes go in PAX records `SCHILY.xattr.NAME` (sorted by name), except
 * overlayfs's own `trusted.overlay.*`. tar-stream writes PAX values as UTF-8 text, so a
 * binary value that is not valid UTF-8 cannot be carried and is left out (the reading
 * side in tar-apply.ts has the same limit). uid/gid above the 6 octal digits of a
 * ustar header also get PAX `uid`/`gid` records, as GNU tar and Go write them.
 */
export type Stat = fs.BigIntStats;
export type Xattrs = Map<string, Buffer>;

const XATTR_PAX_PREFIX = 'SCHILY.xattr.';
const OVERLAY_XATTR_PREFIX = 'trusted.overlay.';
const USTAR_MAX_ID = 0o777777;
const CHUNK = 256 * 1024;
/** Files below this size are read whole, synchronously (see readSmallFile). */
const SMALL_FILE = 1 << 20;
const EMPTY = Buffer.alloc(0);
const S_IFREG = 0o100000;

type HeaderArgument = Partial<tar.Header> & { name: string };
type EntrySink = ReturnType<tar.Pack['entry']>;

/** Orders names by their bytes (not by UTF-16 units or locale): stable everywhere. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export function sortedNames(dir: string): string[] {
  return fs.readdirSync(dir).sort(compareNames);
}

/** lstat that answers undefined for a path that is not there (or whose parent is not a directory). */
export function lstatIfExists(p: string): Stat | undefined {
  try {
    return fs.lstatSync(p, { bigint: true });
  } catch (e) {
    if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) return undefined;
    throw e;
  }
}

export function joinRel(rel: string, name: string): string {
  return rel === '' ? name : `${rel}/${name}`;
}

/**
 * Every extended attribute in a tree, by path relative to `root` ('' is the root), read
 * with one getfattr(1) run (Debian package `attr`): Node has no getxattr(2), and one
 * process for the whole tree costs far less than one per file. Symlinks are not followed.
 * `namePattern` is getfattr's regular expression for the names wanted.
 */
export async function readXattrTree(root: string, namePattern = '-'): Promise<Map<string, Xattrs>> {
  const out = await getfattr(['-R', '-h', '-d', '-m', namePattern, '-e', 'hex', '--absolute-names', '--', root]);
  const tree = new Map<string, Xattrs>();
  let current: Xattrs | undefined;
  // latin1 keeps every byte as one character, so the escapes can be undone on bytes.
  for (const line of out.toString('latin1').split('\n')) {
    if (line.startsWith('# file: ')) {
      const abs = unescapeGetfattr(line.slice('# file: '.length)).toString('utf8');
      current = new Map();
      tree.set(path.relative(root, abs), current);
    } else if (line !== '' && current !== undefined) {
      const eq = line.indexOf('=');
      const name = unescapeGetfattr(eq < 0 ? line : line.slice(0, eq)).toString('utf8');
      const value = eq < 0 ? '' : line.slice(eq + 1);
      current.set(name, value.startsWith('0x') ? Buffer.from(value.slice(2), 'hex') : EMPTY);
    }
  }
  return tree;
}

/** getfattr writes a backslash, and bytes it deems unprintable, as \ooo (octal). */
function unescapeGetfattr(s: string): Buffer {
  return Buffer.from(
    s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8))),
    'latin1',
  );
}

function getfattr(args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile('getfattr', args, { encoding: 'buffer', maxBuffer: 1 << 30, timeout: 30 * 60_000 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      if (isErrno(err, 'ENOENT')) return reject(system('getfattr is missing: install the Debian package attr'));
      reject(system(`getfattr ${args.join(' ')}: ${stderr.toString().trim() || err.message}`, err));
    });
  });
}

/** What a tree walker hands to the tar being written. */
export interface TarSink {
  /**
   * Writes one path of a tree under `name`: header from `st`, data for a regular file,
   * symlink target read from `hostPath`. A second path to an inode already written
   * becomes a hardlink entry. Sockets are skipped (tar cannot hold them).
   */
  node(name: string, hostPath: string, st: Stat, xattrs?: Xattrs): Promise<void>;
  /** An empty regular-file entry carrying no metadata: whiteouts and opaque markers. */
  marker(name: string): Promise<void>;
}

/**
 * A tar stream that `produce` fills through a TarSink. It starts at once; a failure of
 * `produce` destroys the stream with that error, and destroying the stream makes the
 * next write of `produce` fail, so nothing is left running.
 */
export function tarStream(produce: (sink: TarSink) => Promise<void>): Readable {
  const pack = tar.pack();
  produce(new PackSink(pack)).then(
    () => pack.finalize(),
    (e: unknown) => pack.destroy(e instanceof Error ? e : new Error(String(e))),
  );
  return Readable.from(pack, { objectMode: false });
}

class PackSink implements TarSink {
  /** "dev:ino" → the name it was first written under, for hardlinks. */
  private readonly written = new Map<string, string>();

  constructor(private readonly pack: tar.Pack) {}

  async node(name: string, hostPath: string, st: Stat, xattrs?: Xattrs): Promise<void> {
    const type = entryType(st);
    if (type === undefined) return;
    if (type !== 'directory' && st.nlink > 1n) {
      const inode = `${st.dev}:${st.ino}`;
      const first = this.written.get(inode);
      if (first !== undefined) {
        // The inode's metadata and xattrs travel with its first entry.
        return this.put({ ...baseHeader(name, st), type: 'link', linkname: first, mode: S_IFREG | Number(st.mode & 0o7777n) });
      }
      this.written.set(inode, name);
    }
    // Directories are named with a trailing slash, as Docker and GNU tar name them.
    const header: HeaderArgument = { ...baseHeader(type === 'directory' && !name.endsWith('/') ? `${name}/` : name, st), type, pax: paxRecords(st, xattrs) };
    if (type === 'symlink') header.linkname = fs.readlinkSync(hostPath);
    if (type === 'character-device' || type === 'block-device') Object.assign(header, deviceNumbers(st.rdev));
    if (type === 'file') return this.putFile(header, hostPath, Number(st.size));
    return this.put(header);
  }

  marker(name: string): Promise<void> {
    return this.put({ name, type: 'file', mode: S_IFREG, uid: 0, gid: 0, mtime: new Date(0) });
  }

  private putSmallFile(header: HeaderArgument, hostPath: string, size: number): Promise<void> {
    const data = readSmallFile(String(header.name), hostPath, size);
    return new Promise((resolve, reject) => {
      this.pack.entry({ ...header, size }, data, (err) => (err ? reject(err) : resolve()));
    });
  }

  private put(header: HeaderArgument): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pack.entry(header, EMPTY, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Streams a file's first `size` bytes (its size when lstat saw it) into the entry. */
  private async putFile(header: HeaderArgument, hostPath: string, size: number): Promise<void> {
    if (size < SMALL_FILE) return this.putSmallFile(header, hostPath, size);
    const fh = await fsp.open(hostPath, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    try {
      let entry: EntrySink | undefined;
      const done = new Promise<void>((resolve, reject) => {
        entry = this.pack.entry({ ...header, size }, (err) => (err ? reject(err) : resolve()));
      });
      done.catch(() => undefined); // awaited below; a failure meanwhile is seen there
      const sink = entry as EntrySink;
      for (let left = size; left > 0; ) {
        const buf = Buffer.allocUnsafe(Math.min(CHUNK, left));
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) {
          const err = system(`${header.name} shrank while it was being archived`);
          sink.destroy(err);
          throw err;
        }
        left -= bytesRead;
        if (!sink.write(buf.subarray(0, bytesRead))) await drained(sink);
      }
      sink.end(undefined);
      await done;
    } finally {
      await fh.close();
    }
  }
}

/**
 * Small files are read whole and synchronously: a layer is often thousands of them, and a
 * thread-pool round trip per open, read and close would cost more than the reading.
 */
function readSmallFile(name: string, hostPath: string, size: number): Buffer {
  const fd = fs.openSync(hostPath, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  try {
    const buf = Buffer.allocUnsafe(size);
    for (let off = 0; off < size; ) {
      const n = fs.readSync(fd, buf, off, size - off, off);
      if (n === 0) throw system(`${name} shrank while it was being archived`);
      off += n;
    }
    return buf;
  } finally {
    fs.closeSync(fd);
  }
}

/** Waits until a tar entry takes more data (or fails when the archive is closed first). */
export function drained(w: EntrySink): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      w.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      w.off('drain', onDrain);
      reject(new Error('the tar stream was closed'));
    };
    w.once('drain', onDrain);
    w.once('close', onClose);
  });
}

function entryType(st: Stat): tar.Header['type'] | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'character-device';
  if (st.isBlockDevice()) return 'block-device';
  if (st.isFIFO()) return 'fifo';
  return undefined;
}

function baseHeader(name: string, st: Stat): HeaderArgument {
  return {
    name,
    // The full st_mode: tar-stream keeps the low 12 bits, and would turn a mode of 0 into 0644.
    mode: Number(st.mode),
    uid: Number(st.uid),
    gid: Number(st.gid),
    // Whole seconds, as Docker writes them; a time before 1970 is written as 1970.
    mtime: new Date(Number(st.mtimeNs < 0n ? 0n : st.mtimeNs / 1_000_000_000n) * 1000),
  };
}

function paxRecords(st: Stat, xattrs?: Xattrs): Record<string, string> | undefined {
  const pax: Record<string, string> = {};
  if (st.uid > USTAR_MAX_ID) pax.uid = String(st.uid);
  if (st.gid > USTAR_MAX_ID) pax.gid = String(st.gid);
  for (const name of [...(xattrs?.keys() ?? [])].sort(compareNames)) {
    if (name.startsWith(OVERLAY_XATTR_PREFIX)) continue;
    const value = xattrs?.get(name) as Buffer;
    const text = value.toString('utf8');
    if (!Buffer.from(text, 'utf8').equals(value)) continue;
    pax[XATTR_PAX_PREFIX + name] = text;
  }
  // An empty object would still make tar-stream write a PAX header.
  return Object.keys(pax).length > 0 ? pax : undefined;
}

/** Linux's dev_t layout (glibc's major()/minor()). */
function deviceNumbers(rdev: bigint): { devmajor: number; devminor: number } {
  return {
    devmajor: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
    devminor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
  };
}

/**
 * A tar of a whole mounted file system (`docker export`): every path under `rootDir`
 * in sorted depth-first order, symlinks never followed, only sockets left out. Paths
 * that vanish while the tree is read (a running container) are skipped. Mounts below
 * `rootDir` would be walked into: pass a mount without submounts.
 */
export function exportTar(rootDir: string): Readable {
  return tarStream(async (sink) => {
    const xattrs = await readXattrTree(rootDir);
    const walk = async (rel: string): Promise<void> => {
      for (const name of sortedNames(path.join(rootDir, rel))) {
        const r = joinRel(rel, name);
        const host = path.join(rootDir, r);
        const st = lstatIfExists(host);
        if (st === undefined) continue;
        await sink.node(r, host, st, xattrs.get(r));
        if (st.isDirectory()) await walk(r);
      }
    };
    await walk('');
  });
}
