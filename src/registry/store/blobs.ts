import type { Readable } from 'node:stream';
import { regErr } from '../errors';
import { digestBytes, hasherFor } from '../reference';
import { orUndefined, StorageDriver } from '../storage/driver';
import { blobData } from './paths';

/**
 * Content-addressed blobs shared by all repositories. A blob becomes visible only through
 * commit(): its bytes are hashed where they were written and moved into place only when the
 * digest matches, so a partial or wrong blob never exists under blobs/.
 */
export class BlobStore {
  constructor(private readonly d: StorageDriver) {}

  async size(digest: string): Promise<number | undefined> {
    return (await orUndefined(this.d.stat(blobData(digest))))?.size;
  }

  reader(digest: string, offset = 0): Promise<Readable> {
    return this.d.reader(blobData(digest), offset);
  }

  get(digest: string): Promise<Buffer> {
    return this.d.getContent(blobData(digest));
  }

  /** Hashes the file at `path` with the algorithm of `digest`. */
  async digestOf(path: string, digest: string): Promise<string> {
    const { hash, algorithm } = hasherFor(digest);
    const r = await this.d.reader(path, 0);
    for await (const chunk of r) hash.update(chunk as Buffer);
    return `${algorithm}:${hash.digest('hex')}`;
  }

  /**
   * Verifies the data at `path` against `expected` and moves it into place. On mismatch the
   * data is left where it is (the caller decides) and DIGEST_INVALID is thrown.
   */
  async commit(path: string, expected: string): Promise<void> {
    const actual = await this.digestOf(path, expected);
    if (actual !== expected) throw regErr('DIGEST_INVALID', 'provided digest did not match uploaded content', { expected, actual });
    if ((await this.size(expected)) !== undefined) {
      await this.d.delete(path); // already stored: content addressing makes the copy redundant
      return;
    }
    await this.d.move(path, blobData(expected));
  }

  /** For small content held in memory (manifests): the digest is computed here, so no check is needed. */
  async putBytes(data: Buffer, algorithm = 'sha256'): Promise<string> {
    const digest = digestBytes(data, algorithm);
    if ((await this.size(digest)) === undefined) await this.d.putContent(blobData(digest), data);
    return digest;
  }

  delete(digest: string): Promise<void> {
    return this.d.delete(blobData(digest).replace(/\/data$/, ''));
  }

  /** Every stored blob's digest. */
  async all(): Promise<string[]> {
    const out: string[] = [];
    await this.d.walk('blobs', (info) => {
      const m = /^blobs\/([a-z0-9]+)\/[0-9a-f]{2}\/([0-9a-f]+)\/data$/.exec(info.path);
      if (m) out.push(`${m[1]}:${m[2]}`);
    });
    return out;
  }
}
