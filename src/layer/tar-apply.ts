import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { constants as fsc } from 'node:fs';
import * as path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { BerthError, invalid, isErrno, system } from '../common/errors';
import { span } from '../common/timing';
import type { ApplyResult } from './snapshotter';
import { makeOverlayWhiteout, makeSpecialFile } from './special-files';
import { cleanEntryPath, placeEntry, Placement, resolveDir, ResolvedDirs, unsafe } from './tar-path';
import { markOverlayOpaque, setXattr } from './xattr';

/**
 * Unpacks one layer tar (uncompressed) into a directory, as Docker's ApplyLayer.
 *
 * Whiteouts (the OCI / AUFS convention: `.wh.NAME` deletes NAME of lower layers,
 * `.wh..wh..opq` hides everything lower layers have in that directory) become:
 * - `overlay`: what overlayfs reads in an upper or lower dir: a 0/0 character device
 *   named NAME, and the xattr trusted.overlay.opaque=y on the directory.
 * - `plain`: the deletion itself, for a directory that is a full copy of the parent
 *   (vfs). An opaque directory loses every entry this layer did not write.
 *
 * Paths are confined to the root as described in tar-path.ts. Metadata that later
 * entries would disturb (directory mtimes, modes) or that chown would clear
 * (security.capability) is applied at the end, after re-checking that the path still
 * is what was recorded. On failure this rejects and the directory is left half-done:
 * the caller discards it.
 *
 * File system calls are synchronous on purpose: against the page cache each takes
 * microseconds, while a round trip through libuv's thread pool costs about a hundred
 * on these machines, and a layer is tens of thousands of them (measured: 700 MB,
 * 4400 files in 5.5 s asynchronous). The event loop still turns between input chunks.
 */
export type WhiteoutMode = 'overlay' | 'plain';

export interface ApplyOptions {
  whiteouts: WhiteoutMode;
}

const WHITEOUT_PREFIX = '.wh.';
const WHITEOUT_META_PREFIX = '.wh..wh.';
const WHITEOUT_OPAQUE = '.wh..wh..opq';
const XATTR_PAX_PREFIX = 'SCHILY.xattr.';

/** One entry as tar-stream's extractor yields it: a header and a readable of its data. */
type TarEntry = tar.Extract extends AsyncIterable<infer S> ? S : never;

export async function applyTar(root: string, input: Readable, opts: ApplyOptions): Promise<ApplyResult> {
  const hash = createHash('sha256');
  // The diff ID covers every byte of the stream, including what follows the
  // end-of-archive blocks: the hasher sits before the parser.
  const hasher = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  const extract = tar.extract();
  const piped = pipeline(input, hasher, extract);
  piped.catch(() => undefined); // observed below; avoids an unhandled rejection meanwhile
  const unpacker = new LayerUnpacker(root, opts.whiteouts);
  const endApply = span('layer.apply', path.basename(path.dirname(root)));
  let entries = 0;
  try {
    for await (const entry of extract) {
      await unpacker.entry(entry);
      entries++;
    }
    await piped;
    const endFinish = span('layer.apply.finish', path.basename(path.dirname(root)));
    await unpacker.finish();
    endFinish();
    endApply(`entries=${entries} bytes=${unpacker.size}`);
  } catch (e) {
    input.destroy();
    extract.destroy();
    const streamError = await piped.then(() => undefined, (err: unknown) => err);
    // An entry's data fails to arrive when the stream under it fails: the stream's
    // own error (truncation, a reset connection) is the one worth reporting.
    throw describe(e instanceof EntryDataFailure ? (streamError ?? e.cause) : e);
  }
  return { diffID: `sha256:${hash.digest('hex')}`, size: unpacker.size };
}

/** Turns tar-stream's and the file system's errors into ones that say what went wrong. */
function describe(e: unknown): BerthError {
  if (e instanceof BerthError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  if (/Invalid tar header|Header exceeds max size|Invalid header/i.test(msg)) {
    return invalid(`archive/tar: invalid tar header: the layer is not a tar archive, is corrupt, or is still compressed (${msg})`);
  }
  if (/Unexpected end of data/i.test(msg)) return invalid('unexpected EOF: the layer tar is truncated');
  return system(`applying layer: ${msg}`, e);
}

/** Reading an entry's data failed: the cause lies in the tar stream, not the disk. */
class EntryDataFailure extends Error {
  constructor(cause: unknown) {
    super('reading a tar entry failed', { cause });
  }
}

interface DeferredDir {
  components: string[];
  hostPath: string;
  header: tar.Header;
}

interface DeferredXattr {
  components: string[];
  hostPath: string;
  name: string;
  value: Buffer;
}

class LayerUnpacker {
  size = 0;
  private readonly dirs = new Map<string, DeferredDir>();
  private readonly opaque = new Map<string, string[]>();
  private readonly xattrs: DeferredXattr[] = [];
  /** Host paths this layer wrote: an opaque dir in plain mode keeps only these. */
  private readonly written = new Set<string>();
  /** Parent directories resolved so far; forgotten whenever anything is removed. */
  private readonly known = new ResolvedDirs();

  constructor(
    private readonly root: string,
    private readonly mode: WhiteoutMode,
  ) {}

  async entry(entry: TarEntry): Promise<void> {
    const header = entry.header;
    try {
      await this.place(header, entry);
    } finally {
      // Whatever the entry's type, its data must be read for the parser to go on.
      entry.resume();
    }
  }

  private async place(header: tar.Header, data: AsyncIterable<unknown>): Promise<void> {
    const components = cleanEntryPath(header.name);
    if (components.length === 0) {
      // "./" or "/": the root's own metadata.
      if (header.type !== 'directory') throw invalid(`invalid tar header: ${JSON.stringify(header.name)} names the layer root but is not a directory`);
      this.dirs.set(this.root, { components, hostPath: this.root, header });
      return;
    }
    // AUFS keeps its own bookkeeping (hardlink dirs .wh..wh.plnk ...) at the top: not content.
    if (components[0].startsWith(WHITEOUT_META_PREFIX)) return;
    const base = components[components.length - 1];
    if (base.startsWith(WHITEOUT_PREFIX)) return this.whiteout(header, components.slice(0, -1), base);

    const at = placeEntry(this.root, components, header.name, this.known);
    switch (header.type) {
      case 'directory':
        this.directory(at, components, header);
        break;
      case 'file':
      case 'contiguous-file':
        await this.regularFile(at, header, data);
        break;
      case 'symlink':
        this.symlink(at, header);
        break;
      case 'link':
        this.hardlink(at, header);
        break;
      case 'character-device':
      case 'block-device':
      case 'fifo':
        await this.special(at, header);
        break;
      default:
        throw invalid(`invalid tar header: ${JSON.stringify(header.name)}: unsupported entry type ${String(header.type)}`);
    }
    this.written.add(at.hostPath);
    this.recordXattrs(at, components, header);
  }

  private directory(at: Placement, components: string[], header: tar.Header): void {
    // made first, looked at only when something is there (see createOrReplace)
    try {
      fs.mkdirSync(at.hostPath, 0o755);
    } catch (e) {
      if (!isErrno(e, 'EEXIST')) throw e;
      if (!this.replaceExisting(at.hostPath, true)) fs.mkdirSync(at.hostPath, 0o755);
    }
    this.dirs.set(at.hostPath, { components, hostPath: at.hostPath, header });
    // a real directory now (kept only if lstat said so, or just made): entries in it start here
    this.known.remember(components, path.relative(this.root, at.hostPath).split(path.sep));
  }

  /**
   * Makes an entry with `create`, which must fail with EEXIST when anything is at the path
   * (O_CREAT|O_EXCL, mkdir, symlink: none follows a symlink there). Only then is the old
   * entry looked at and removed: most entries meet an empty place, and an lstat of a
   * missing path was a fifth of a pull's time on the main thread.
   */
  private createOrReplace<T>(hostPath: string, create: () => T): T {
    try {
      return create();
    } catch (e) {
      if (!isErrno(e, 'EEXIST')) throw e;
    }
    this.replaceExisting(hostPath, false);
    return create();
  }

  /** replaceExisting, forgetting the resolved directories when something was removed. */
  private replaceExisting(hostPath: string, keepDirectory: boolean): boolean {
    return replaceExisting(hostPath, keepDirectory, () => this.known.forget());
  }

  private async regularFile(at: Placement, header: tar.Header, data: AsyncIterable<unknown>): Promise<void> {
    // Made with its permission bits where the umask allows; setuid, setgid and sticky come
    // only after the chown (which would clear them).
    const fd = this.createOrReplace(at.hostPath, () => fs.openSync(at.hostPath, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, modeOf(header) & 0o777));
    try {
      const chunks = data[Symbol.asyncIterator]();
      for (;;) {
        let next: IteratorResult<unknown>;
        try {
          next = await chunks.next();
        } catch (e) {
          throw new EntryDataFailure(e);
        }
        if (next.done) break;
        const buf = next.value as Buffer;
        // Small files are written synchronously (cheaper than a thread-pool round trip per
        // file); big ones asynchronously, so that hashing and the network go on meanwhile.
        if ((header.size ?? 0) >= ASYNC_WRITE_FILE_SIZE) await writeAllAsync(fd, buf);
        else writeAll(fd, buf);
        this.size += buf.length;
      }
      setOwnerAndMode(fs.fstatSync(fd), header, (uid, gid) => fs.fchownSync(fd, uid, gid), (mode) => fs.fchmodSync(fd, mode));
      const mtime = header.mtime ?? new Date(0);
      fs.futimesSync(fd, mtime, mtime);
    } finally {
      fs.closeSync(fd);
    }
  }

  private symlink(at: Placement, header: tar.Header): void {
    // The target is stored as given: it is only ever followed inside the root,
    // by resolveDir here and by the container's own root later.
    this.createOrReplace(at.hostPath, () => fs.symlinkSync(header.linkname ?? '', at.hostPath));
    fs.lchownSync(at.hostPath, header.uid ?? 0, header.gid ?? 0);
    lutimes(at.hostPath, header);
  }

  private hardlink(at: Placement, header: tar.Header): void {
    const linkname = header.linkname ?? '';
    let target: string[];
    try {
      target = cleanEntryPath(linkname);
    } catch {
      throw unsafe(header.name, `is a hardlink to ${JSON.stringify(linkname)}, which escapes the layer`);
    }
    if (target.length === 0) throw unsafe(header.name, 'is a hardlink to the layer root');
    // The kernel resolves link(2)'s source on the host, so a symlink on the way that
    // would leave the root is refused rather than reinterpreted.
    const parent = resolveDir(this.root, target.slice(0, -1), {
      missing: 'fail',
      refuseEscapingSymlinks: true,
      entryName: header.name,
    });
    const source = path.join(parent, target[target.length - 1]);
    let st;
    try {
      st = fs.lstatSync(source);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) throw invalid(`invalid tar header: hardlink ${JSON.stringify(header.name)} -> ${JSON.stringify(linkname)}: target not found in the layer`);
      throw e;
    }
    if (st.isDirectory()) throw invalid(`invalid tar header: hardlink ${JSON.stringify(header.name)} -> ${JSON.stringify(linkname)}: target is a directory`);
    if (source === at.hostPath) return;
    this.replaceExisting(at.hostPath, false);
    fs.linkSync(source, at.hostPath);
  }

  private async special(at: Placement, header: tar.Header): Promise<void> {
    this.replaceExisting(at.hostPath, false);
    const kind = header.type === 'fifo' ? 'fifo' : header.type === 'block-device' ? 'block' : 'char';
    await makeSpecialFile(at.hostPath, kind, modeOf(header), header.devmajor ?? 0, header.devminor ?? 0);
    fs.lchownSync(at.hostPath, header.uid ?? 0, header.gid ?? 0);
    fs.chmodSync(at.hostPath, modeOf(header)); // just made by us: not a symlink
    lutimes(at.hostPath, header);
  }

  private async whiteout(header: tar.Header, dir: string[], base: string): Promise<void> {
    if (base === WHITEOUT_OPAQUE) return this.opaqueDir(header, dir);
    if (base.startsWith(WHITEOUT_META_PREFIX)) return; // other AUFS markers: nothing to do
    const name = base.slice(WHITEOUT_PREFIX.length);
    if (name === '' || name === '.' || name === '..') throw unsafe(header.name, 'is a whiteout of no valid name');
    if (this.mode === 'overlay') {
      const parent = resolveDir(this.root, dir, { missing: 'create', entryName: header.name });
      const hostPath = path.join(parent, name);
      this.replaceExisting(hostPath, false);
      await makeOverlayWhiteout(hostPath);
      fs.lchownSync(hostPath, header.uid ?? 0, header.gid ?? 0);
      this.written.add(hostPath);
    } else {
      const parent = resolveDir(this.root, dir, { missing: 'stop', entryName: header.name });
      if (parent !== undefined) {
        this.known.forget();
        fs.rmSync(path.join(parent, name), { recursive: true, force: true });
      }
    }
  }

  private opaqueDir(header: tar.Header, dir: string[]): void {
    if (this.mode === 'overlay') {
      const hostPath = resolveDir(this.root, dir, { missing: 'create', entryName: header.name, known: this.known });
      this.opaque.set(hostPath, dir);
      return;
    }
    const hostPath = resolveDir(this.root, dir, { missing: 'stop', entryName: header.name });
    if (hostPath !== undefined) {
      this.known.forget();
      this.removeUnwritten(hostPath);
    }
  }

  /** Empties a directory of what lower layers put there, keeping this layer's entries. */
  private removeUnwritten(dir: string): void {
    for (const child of fs.readdirSync(dir, { withFileTypes: true })) {
      const childPath = path.join(dir, child.name);
      if (!this.written.has(childPath)) {
        fs.rmSync(childPath, { recursive: true, force: true });
      } else if (child.isDirectory()) {
        this.removeUnwritten(childPath);
      }
    }
  }

  private recordXattrs(at: Placement, components: string[], header: tar.Header): void {
    const pax = header.pax as Record<string, unknown> | null | undefined;
    if (!pax) return;
    for (const [key, value] of Object.entries(pax)) {
      if (!key.startsWith(XATTR_PAX_PREFIX) || typeof value !== 'string') continue;
      const name = key.slice(XATTR_PAX_PREFIX.length);
      // overlayfs's own attributes would let a layer forge redirects or opacity.
      if (name.startsWith('trusted.overlay.')) continue;
      // tar-stream decodes PAX values as UTF-8; a binary value it could not decode
      // (U+FFFD appears) cannot be restored faithfully, so it is left out.
      if (value.includes('\uFFFD')) continue;
      this.xattrs.push({ components, hostPath: at.hostPath, name, value: Buffer.from(value, 'utf8') });
    }
  }

  /** Applies what had to wait for the whole tar: xattrs, opacity, directory metadata. */
  async finish(): Promise<void> {
    for (const x of this.xattrs) {
      if (!this.stillThere(x.components, x.hostPath)) continue;
      try {
        await setXattr([x.hostPath], x.name, x.value);
      } catch (e) {
        // Docker, too, goes on when the file system does not take an attribute.
        if (!/not supported/i.test(String(e))) throw e;
      }
    }
    const opaque: string[] = [];
    for (const [hostPath, components] of this.opaque) {
      if (this.stillThere(components, hostPath, true)) opaque.push(hostPath);
    }
    await markOverlayOpaque(opaque);
    for (const d of this.dirs.values()) {
      const st = this.stillThere(d.components, d.hostPath, true);
      if (!st) continue;
      // checked just above: a directory, so chmod does not follow a symlink
      setOwnerAndMode(st, d.header, (uid, gid) => fs.lchownSync(d.hostPath, uid, gid), (mode) => fs.chmodSync(d.hostPath, mode));
      lutimes(d.hostPath, d.header);
    }
  }

  /**
   * The entry's lstat when the path recorded for it still resolves to the same place (a
   * later entry may have replaced a parent by a symlink, or the entry by something else);
   * undefined when it does not.
   */
  private stillThere(components: string[], hostPath: string, mustBeDir = false): fs.Stats | undefined {
    const parentComponents = components.slice(0, -1);
    if (components.length > 0) {
      const parent = this.known.hostPath(this.root, parentComponents) ?? resolveDir(this.root, parentComponents, { missing: 'stop', entryName: components.join('/') });
      if (parent === undefined || path.join(parent, components[components.length - 1]) !== hostPath) return undefined;
    }
    const st = fs.lstatSync(hostPath, { throwIfNoEntry: false });
    return st !== undefined && (!mustBeDir || st.isDirectory()) ? st : undefined;
  }
}

const ASYNC_WRITE_FILE_SIZE = 4 * 1024 * 1024;

async function writeAllAsync(fd: number, buf: Buffer): Promise<void> {
  for (let off = 0; off < buf.length; ) {
    const at = off;
    off += await new Promise<number>((resolve, reject) => fs.write(fd, buf, at, buf.length - at, null, (err, n) => (err ? reject(err) : resolve(n))));
  }
}

/** writeSync may write less than asked: loop until the chunk is on disk (in the page cache). */
function writeAll(fd: number, buf: Buffer): void {
  for (let off = 0; off < buf.length; ) off += fs.writeSync(fd, buf, off);
}

/**
 * Gives an entry the header's owner and mode, changing only what `st` (its state now) does
 * not already have: on a journaling file system each change is an inode update of its own,
 * and most entries are created right (root's, with the umask's usual bits).
 */
function setOwnerAndMode(st: fs.Stats, header: tar.Header, chown: (uid: number, gid: number) => void, chmod: (mode: number) => void): void {
  const uid = header.uid ?? 0;
  const gid = header.gid ?? 0;
  const mode = modeOf(header);
  const chowned = st.uid !== uid || st.gid !== gid;
  // chown before chmod: chown clears setuid/setgid bits, so after one the mode is set again
  if (chowned) chown(uid, gid);
  if (chowned || (st.mode & 0o7777) !== mode) chmod(mode);
}

function modeOf(header: tar.Header): number {
  return (header.mode ?? 0o644) & 0o7777;
}

function lutimes(p: string, header: tar.Header): void {
  const mtime = header.mtime ?? new Date(0);
  fs.lutimesSync(p, mtime, mtime);
}

/**
 * Clears the way for a new entry, as Docker does: anything already there goes,
 * except a directory that a directory entry merges into. Never follows a symlink
 * (rm removes the link itself). Returns true when an existing directory was kept.
 */
function replaceExisting(hostPath: string, keepDirectory: boolean, onRemove: () => void): boolean {
  // the common case, nothing there, costs no exception
  const st = fs.lstatSync(hostPath, { throwIfNoEntry: false });
  if (st === undefined) return false;
  if (keepDirectory && st.isDirectory()) return true;
  onRemove();
  fs.rmSync(hostPath, { recursive: true, force: true });
  return false;
}
