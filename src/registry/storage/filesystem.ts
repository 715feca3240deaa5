import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { isErrno } from '../../common/errors';
import { writeFileAtomic } from '../../common/fsutil';
import { FileInfo, PathNotFoundError, StorageDriver } from './driver';

/** StorageDriver on a local directory. move() is rename(2), so it is atomic within the root. */
export class FilesystemDriver implements StorageDriver {
  constructor(readonly root: string) {}

  // Normalising against '/' first resolves any '..' inside the root, so no path escapes it.
  private full(p: string): string {
    return path.join(this.root, path.posix.normalize('/' + p));
  }

  // Turns ENOENT into the driver's own error so stores never see fs errno codes.
  private async wrap<T>(p: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) throw new PathNotFoundError(p);
      throw e;
    }
  }

  getContent(p: string): Promise<Buffer> {
    return this.wrap(p, () => fsp.readFile(this.full(p)));
  }

  async putContent(p: string, data: Buffer | string): Promise<void> {
    const f = this.full(p);
    await fsp.mkdir(path.dirname(f), { recursive: true });
    await writeFileAtomic(f, data, 0o644);
  }

  async reader(p: string, offset = 0): Promise<Readable> {
    const f = this.full(p);
    // Open first so a missing file is reported now, not as a stream error later.
    const fh = await this.wrap(p, () => fsp.open(f, 'r'));
    return fh.createReadStream({ start: offset, autoClose: true });
  }

  async writer(p: string, append: boolean): Promise<Writable> {
    const f = this.full(p);
    await fsp.mkdir(path.dirname(f), { recursive: true });
    const fh = await fsp.open(f, append ? 'a' : 'w', 0o644);
    return fh.createWriteStream({ autoClose: true });
  }

  stat(p: string): Promise<FileInfo> {
    return this.wrap(p, async () => {
      const st = await fsp.stat(this.full(p));
      return { path: p, size: st.size, modTime: st.mtime, isDir: st.isDirectory() };
    });
  }

  list(p: string): Promise<string[]> {
    return this.wrap(p, async () => {
      const names = await fsp.readdir(this.full(p));
      const base = p.replace(/\/+$/, '');
      return names.filter((n) => !n.startsWith('.')).sort().map((n) => (base ? `${base}/${n}` : n));
    });
  }

  async move(from: string, to: string): Promise<void> {
    const dst = this.full(to);
    await fsp.mkdir(path.dirname(dst), { recursive: true });
    await this.wrap(from, () => fsp.rename(this.full(from), dst));
  }

  async delete(p: string): Promise<void> {
    const f = this.full(p);
    await this.wrap(p, () => fsp.lstat(f));
    await fsp.rm(f, { recursive: true, force: true });
  }

  async walk(p: string, fn: (info: FileInfo) => Promise<void> | void): Promise<void> {
    let children: string[];
    try {
      children = await this.list(p);
    } catch (e) {
      if (e instanceof PathNotFoundError) return;
      throw e;
    }
    for (const c of children) {
      let info: FileInfo;
      try {
        info = await this.stat(c);
      } catch (e) {
        if (e instanceof PathNotFoundError) continue; // removed while walking
        throw e;
      }
      if (info.isDir) await this.walk(c, fn);
      else await fn(info);
    }
  }
}

