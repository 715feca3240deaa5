import * as fs from 'node:fs';
import * as path from 'node:path';
import { isErrno } from '../common/errors';

/**
 * A directory tree seen from inside, as a process chrooted into it sees it: a root
 * directory plus what is mounted on it (a container's volumes, binds and /etc files).
 * `docker cp` works on such a tree, and so does the CLI on the local side.
 *
 * Paths are resolved the way the kernel would after chroot(root), one component at a
 * time: a symlink is read and followed *within* the tree (an absolute target starts
 * again at the root, ".." stops at the root), so `escape -> /` or `-> ../../..` never
 * reaches the host (CVE-2019-14271, CVE-2018-15664).
 *
 * Node has no openat(2); each directory on the way is opened instead (O_DIRECTORY |
 * O_NOFOLLOW) and the next name is looked up through `/proc/<pid>/fd/<fd>/<name>`,
 * which the kernel resolves from that very directory, wherever it has been moved
 * since. A container that swaps a directory for a symlink while a copy runs can
 * therefore not redirect it: the walk holds the directories it checked, and the last
 * component is only ever used with calls that do not follow it (lstat, O_NOFOLLOW,
 * unlink, symlink, lchown ...). Metadata of a node is set through an O_PATH
 * descriptor of it or through an fd already open on it.
 *
 * Escapes: 'clamp' follows symlinks inside the tree as described (a container's root);
 * 'refuse' rejects any symlink that would leave the tree, for a destination on the
 * client where a tar from elsewhere must not pass through a local link to outside.
 */
const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = fs.constants;
/** open(2)'s O_PATH on Linux: names a node without opening it for I/O (Node has no constant). */
export const O_PATH = 0o10000000;
export const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;
/** Most symlinks followed while resolving one path, as Linux's MAXSYMLINKS. */
const MAX_SYMLINKS = 40;

/** The open file `fd` as a path: opening or stat'ing it reaches exactly that node. */
export function fdPath(fd: number): string {
  return `/proc/${process.pid}/fd/${fd}`;
}

/** `name` inside the directory open as `dirFd`: openat(dirFd, name) for path-taking calls. */
export function fdChild(dirFd: number, name: string): string {
  return `${fdPath(dirFd)}/${name}`;
}

export type EscapePolicy = 'clamp' | 'refuse';

export interface ScopedMount {
  /** where it appears in the tree: "/data" */
  destination: string;
  /** the host file or directory mounted there (the daemon's own: trusted) */
  source: string;
  readOnly: boolean;
}

export type ScopeErrorCode = 'ENOENT' | 'ENOTDIR' | 'ELOOP' | 'ESCAPE';

/** Resolution failed: the code says why, `path` is the tree path asked for. */
export class ScopeError extends Error {
  constructor(
    readonly code: ScopeErrorCode,
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'ScopeError';
  }
}

/** One directory of a walk: its name in the tree and an fd open on it. */
export interface Frame {
  name: string;
  fd: number;
  /** closed by the walk that opened it (false: borrowed from where the walk started) */
  own: boolean;
  /** set when this directory is a mount's root */
  mount?: ScopedMount;
}

/** The components of a tree path: "/a//b/./c/" → ["a", "b", "c"]; ".." is kept for the walk. */
export function splitPath(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

/** A tree path made absolute and clean, as Go's filepath.Join("/", p): "a/../b/" → "/b". */
export function cleanTreePath(p: string): string {
  return path.posix.normalize(`/${p}`).replace(/(.)\/$/, '$1');
}

function errnoCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null ? (e as NodeJS.ErrnoException).code : undefined;
}

/**
 * Where a resolution ended: inside the directory of the top frame, the entry `name`;
 * or, with `name` undefined, that directory itself. `exists` is false for a last
 * component that is not there (its parent is). Close it when done.
 */
export class Location {
  constructor(
    readonly frames: Frame[],
    readonly name: string | undefined,
    readonly exists: boolean,
    /** a file mounted at this place (a bind of one file) */
    readonly mountFile?: ScopedMount,
  ) {}

  get top(): Frame {
    return this.frames[this.frames.length - 1];
  }

  get isDirFrame(): boolean {
    return this.name === undefined;
  }

  /** The tree path this location stands for: "/etc/hostname". */
  get treePath(): string {
    const names = this.frames.slice(1).map((f) => f.name);
    if (this.name !== undefined) names.push(this.name);
    return `/${names.join('/')}`;
  }

  /** A path for calls that do not follow the last component (or a trusted mount source). */
  get fsPath(): string {
    if (this.mountFile) return this.mountFile.source;
    return this.name === undefined ? fdPath(this.top.fd) : fdChild(this.top.fd, this.name);
  }

  /** lstat of the location (fstat of the directory when it is one of the walk's frames). */
  lstat(): fs.BigIntStats {
    if (this.mountFile) return fs.statSync(this.mountFile.source, { bigint: true });
    return this.name === undefined ? fs.fstatSync(this.top.fd, { bigint: true }) : fs.lstatSync(this.fsPath, { bigint: true });
  }

  /** The mount this location lies on, if any (its read-only flag decides writes). */
  get mount(): ScopedMount | undefined {
    if (this.mountFile) return this.mountFile;
    for (let i = this.frames.length - 1; i >= 0; i--) if (this.frames[i].mount) return this.frames[i].mount;
    return undefined;
  }

  close(): void {
    for (const f of this.frames) if (f.own) closeQuietly(f.fd);
  }
}

export function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    /* already closed */
  }
}

export interface WalkOptions {
  /** follow a symlink in the last position (Docker: when the path ends in "/" or "/.") */
  followLast: boolean;
  /** every component names a directory: make those missing (mode 0755), as `mkdir -p` */
  createDirs?: boolean;
}

export class ScopedFS {
  private readonly rootFrame: Frame;
  /** mounts by their destination, clean tree paths */
  private readonly mounts = new Map<string, ScopedMount>();

  private constructor(
    readonly root: string,
    rootFd: number,
    readonly escapes: EscapePolicy,
  ) {
    this.rootFrame = { name: '', fd: rootFd, own: false };
  }

  /**
   * Opens the tree at `root`. Mount destinations are resolved in the tree first (parents
   * before children), as the runtime resolved them when it mounted: a volume at
   * /var/run/x where /var/run -> /run is found at /run/x.
   */
  /**
   * `makeMountPoints` creates the directories the mounts need, as the runtime would at a
   * start (a container that never ran has none): inside the tree, never following a
   * symlink out of it.
   */
  static open(root: string, mounts: ScopedMount[] = [], escapes: EscapePolicy = 'clamp', opts: { makeMountPoints?: boolean } = {}): ScopedFS {
    const fd = fs.openSync(root, DIR_FLAGS);
    const sfs = new ScopedFS(root, fd, escapes);
    const sorted = [...mounts].sort((a, b) => splitPath(a.destination).length - splitPath(b.destination).length);
    for (const m of sorted) {
      let dest = cleanTreePath(m.destination);
      if (opts.makeMountPoints) sfs.makeMountPoint(dest, m.source);
      try {
        const loc = sfs.resolve(dest, { followLast: true });
        if (loc.exists) dest = loc.treePath;
        loc.close();
      } catch {
        /* not resolvable in the tree: keep it as written */
      }
      sfs.mounts.set(dest, { ...m, destination: dest });
    }
    return sfs;
  }

  close(): void {
    closeQuietly(this.rootFrame.fd);
  }

  private makeMountPoint(dest: string, source: string): void {
    const dir = fs.statSync(source).isDirectory() ? dest : path.posix.dirname(dest);
    if (dir === '/') return;
    try {
      this.resolve(dir, { createDirs: true, followLast: true }).close();
    } catch {
      // a file in the way: the copy through this mount reports it when it gets there
    }
  }

  /** The mount whose destination is exactly `treePath`. */
  mountAt(treePath: string): ScopedMount | undefined {
    return this.mounts.get(treePath);
  }

  /** The root as a one-frame location (borrowed: closing it leaves the tree open). */
  rootLocation(): Location {
    return new Location([this.rootFrame], undefined, true);
  }

  /** Resolves a tree path from the root. Throws ScopeError (ENOENT, ENOTDIR, ELOOP, ESCAPE). */
  resolve(treePath: string, opts: WalkOptions): Location {
    return this.walk([this.rootFrame], splitPath(treePath), opts, treePath);
  }

  /**
   * Resolves `components` starting in the directory `from` (a dir location; its frames
   * are borrowed, not closed). ".." may climb above `from`, never above the root.
   */
  resolveFrom(from: Location, components: string[], opts: WalkOptions): Location {
    const start = from.frames.map((f) => ({ ...f, own: false }));
    return this.walk(start, components, opts, `${from.treePath === '/' ? '' : from.treePath}/${components.join('/')}`);
  }

  private walk(start: Frame[], parts: string[], opts: WalkOptions, asked: string): Location {
    const frames = [...start];
    const pending = [...parts];
    let hops = 0;
    const fail = (code: ScopeErrorCode, msg: string): never => {
      for (const f of frames) if (f.own) closeQuietly(f.fd);
      throw new ScopeError(code, asked, msg);
    };
    const pop = () => {
      const f = frames.pop() as Frame;
      if (f.own) closeQuietly(f.fd);
    };
    const isLast = () => pending.every((p) => p === '' || p === '.');
    try {
      while (pending.length > 0) {
        const part = pending.shift() as string;
        if (part === '' || part === '.') continue;
        if (part === '..') {
          if (frames.length === 1) {
            if (this.escapes === 'refuse') fail('ESCAPE', `${asked}: a symlink on the way leads outside ${this.root}`);
            continue;
          }
          pop();
          continue;
        }
        const last = isLast();
        const top = frames[frames.length - 1];
        const here = `/${[...frames.slice(1).map((f) => f.name), part].join('/')}`;
        const mount = this.mounts.get(here);
        if (mount) {
          const st = fs.statSync(mount.source);
          if (st.isDirectory()) {
            frames.push({ name: part, fd: fs.openSync(mount.source, O_RDONLY | O_DIRECTORY), own: true, mount });
            continue;
          }
          if (!last) fail('ENOTDIR', `${here}: not a directory`);
          return new Location(frames, part, true, mount);
        }
        const at = fdChild(top.fd, part);
        let st: fs.Stats;
        try {
          st = fs.lstatSync(at);
        } catch (e) {
          if (!isErrno(e, 'ENOENT')) throw e;
          if (!opts.createDirs) {
            if (last) return new Location(frames, part, false);
            fail('ENOENT', `${here}: no such file or directory`);
          }
          try {
            fs.mkdirSync(at, 0o755);
          } catch (err) {
            if (!isErrno(err, 'EEXIST')) throw err;
          }
          pending.unshift(part); // look again: it may have been made a symlink meanwhile
          continue;
        }
        if (st.isSymbolicLink() && (!last || opts.followLast)) {
          if (++hops > MAX_SYMLINKS) fail('ELOOP', `${asked}: too many levels of symbolic links`);
          const target = fs.readlinkSync(at);
          if (target.startsWith('/')) {
            if (this.escapes === 'refuse') fail('ESCAPE', `${asked}: the symlink ${here} -> ${target} leads outside ${this.root}`);
            while (frames.length > 1) pop();
          }
          pending.unshift(...target.split('/'));
          continue;
        }
        if (st.isDirectory()) {
          let fd: number;
          try {
            fd = fs.openSync(at, DIR_FLAGS);
          } catch (e) {
            // swapped for something else since the lstat: look again
            if (errnoCode(e) === 'ENOTDIR' || errnoCode(e) === 'ELOOP' || errnoCode(e) === 'ENOENT') {
              if (++hops > MAX_SYMLINKS) fail('ELOOP', `${asked}: the path keeps changing`);
              pending.unshift(part);
              continue;
            }
            throw e;
          }
          frames.push({ name: part, fd, own: true });
          continue;
        }
        if (!last || opts.createDirs) fail('ENOTDIR', `${here}: not a directory`);
        return new Location(frames, part, true);
      }
    } catch (e) {
      if (e instanceof ScopeError) throw e;
      for (const f of frames) if (f.own) closeQuietly(f.fd);
      throw e;
    }
    return new Location(frames, undefined, true);
  }
}

/**
 * Removes `name` in the directory `dirFd` and, for a directory, everything below it,
 * never following a symlink: each directory is opened O_NOFOLLOW and emptied through
 * its fd (a plain recursive rm would follow a directory swapped for a symlink).
 */
export function removeTree(dirFd: number, name: string): void {
  const at = fdChild(dirFd, name);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(at);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return;
    throw e;
  }
  if (!st.isDirectory()) {
    fs.unlinkSync(at);
    return;
  }
  const fd = fs.openSync(at, DIR_FLAGS);
  try {
    for (const child of fs.readdirSync(fdPath(fd))) removeTree(fd, child);
  } finally {
    closeQuietly(fd);
  }
  fs.rmdirSync(at);
}

/** "ENOENT: no such file or directory, lstat '/proc/…'" → "no such file or directory". */
export function errnoText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const m = /^[A-Z0-9]+: ([^,]+)/.exec(msg);
  return m ? m[1] : msg;
}
