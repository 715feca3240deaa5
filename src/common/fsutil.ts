import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { isErrno } from './errors';

/**
 * Writes a file so that a reader (or a daemon restarted after a crash) sees either
 * the old content or the new one, never a half-written file.
 */
export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o600, opts: { durable?: boolean } = {}): Promise<void> {
  // unique per write: two saves of one file in the same millisecond must not share a temp file
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await fsp.open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    // `durable: false` is for what a power loss makes moot anyway (which processes run):
    // the rename alone still shows readers, and a daemon killed at any point, old or new
    if (opts.durable !== false) await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, file);
}

export async function writeJSONAtomic(file: string, value: unknown, opts: { durable?: boolean } = {}): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(value), 0o600, opts);
}

/** Reads JSON, or returns undefined when the file does not exist. */
export async function readJSON<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as T;
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return undefined;
    throw e;
  }
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return false;
    throw e;
  }
}

export async function mkdirp(p: string, mode = 0o755): Promise<void> {
  await fsp.mkdir(p, { recursive: true, mode });
}

/**
 * `rm -rf path` in one native call where the daemon's addon is built (src/native/mount.c),
 * else fs.rm. The native removal never enters another mount (a bind mount of the same disk
 * included): a mount left inside the tree fails with EBUSY instead of having what is mounted
 * there removed.
 */
export async function removeTree(p: string): Promise<void> {
  const { native } = require('../native') as typeof import('../native');
  if (native?.removeTree && path.isAbsolute(p)) {
    try {
      return await native.removeTree(p);
    } catch (e) {
      // deeper than the native walk goes: Node's own walk takes it
      if (!isErrno(e, 'E2BIG')) throw e;
    }
  }
  await fsp.rm(p, { recursive: true, force: true });
}

/**
 * Asks ext4 to place each directory made in `dir` in a block group of its own (chattr +T,
 * the flag Orlov's allocator reads for the tops of directory trees). Why: ext4 without a
 * journal (these machines) skips every inode freed in the last minutes when it allocates,
 * checking them one by one, so files unpacked into the block group where an image was just
 * removed (rmi, then pull) cost ten times as much to create. A hint only: false where the
 * file system has no such flag or the addon is missing; BERTH_TOPDIR=0 leaves it unset.
 */
export function markTopDir(dir: string): boolean {
  if (process.env.BERTH_TOPDIR === '0') return false;
  const { native } = require('../native') as typeof import('../native');
  return native?.markTopDir?.(path.resolve(dir)) === '';
}
