import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { readJSON, writeJSONAtomic } from '../common/fsutil';

/**
 * Which registry blobs hold a layer: layers are stored uncompressed, by diff ID; pulls and
 * pushes learn the compressed blob that carried them. Push asks here first, so a layer a
 * registry already has (or that another repository of it has, for a mount) is not compressed
 * and sent again.
 */
export interface BlobSource {
  digest: string;
  mediaType: string;
  size: number;
  /** registry host, as in the reference ("127.0.0.1:5000", "docker.io") */
  registry: string;
  repository: string;
}

const hex = (d: string) => d.replace(/^sha256:/, '');
const MAX_SOURCES = 16;

export class DistributionMetadata {
  private constructor(private readonly dir: string, private readonly byDiffID: Map<string, BlobSource[]>) {}

  static async open(dir: string): Promise<DistributionMetadata> {
    await fsp.mkdir(dir, { recursive: true });
    const map = new Map<string, BlobSource[]>();
    for (const f of await fsp.readdir(dir)) {
      if (!/^[a-f0-9]{64}\.json$/.test(f)) continue;
      const list = await readJSON<BlobSource[]>(path.join(dir, f)).catch(() => undefined);
      if (Array.isArray(list)) map.set(`sha256:${f.slice(0, 64)}`, list);
    }
    return new DistributionMetadata(dir, map);
  }

  sourcesOf(diffID: string): BlobSource[] {
    return this.byDiffID.get(diffID) ?? [];
  }

  async add(diffID: string, source: BlobSource): Promise<void> {
    const list = this.sourcesOf(diffID).filter(
      (s) => !(s.digest === source.digest && s.registry === source.registry && s.repository === source.repository),
    );
    list.unshift(source);
    const kept = list.slice(0, MAX_SOURCES);
    this.byDiffID.set(diffID, kept);
    await writeJSONAtomic(path.join(this.dir, `${hex(diffID)}.json`), kept);
  }

  async forget(diffID: string): Promise<void> {
    this.byDiffID.delete(diffID);
    await fsp.rm(path.join(this.dir, `${hex(diffID)}.json`), { force: true });
  }
}
