import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { ImageConfigFile } from '../api/types';
import { readJSON, writeJSONAtomic } from '../common/fsutil';
import { sha256Hex } from '../common/ids';

/**
 * The build cache, keyed by content in the manner of BuildKit: a step's key is a digest of
 * the state it starts from (the image config so far, layers included), the instruction as
 * expanded, the digest of the files it copies and the build args it uses. A hit is a lookup
 * of that key; its value is the state after the step.
 */
export class BuildCache {
  private constructor(private readonly dir: string) {}

  static async open(dir: string): Promise<BuildCache> {
    await fsp.mkdir(dir, { recursive: true });
    return new BuildCache(dir);
  }

  static key(parts: unknown[]): string {
    return sha256Hex(JSON.stringify(parts));
  }

  async get(key: string): Promise<ImageConfigFile | undefined> {
    return readJSON<ImageConfigFile>(path.join(this.dir, `${key}.json`)).catch(() => undefined);
  }

  async put(key: string, state: ImageConfigFile): Promise<void> {
    await writeJSONAtomic(path.join(this.dir, `${key}.json`), state);
  }

  /** Forgets every entry (`builder prune`); returns how many there were. */
  async clear(): Promise<number> {
    const files = (await fsp.readdir(this.dir)).filter((f) => f.endsWith('.json'));
    await Promise.all(files.map((f) => fsp.rm(path.join(this.dir, f), { force: true })));
    return files.length;
  }
}
