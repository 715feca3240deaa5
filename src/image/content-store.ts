import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp, type WriteStream } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { invalid, isErrno, notFound } from '../common/errors';
import { randomBytes } from 'node:crypto';

/**
 * Blobs stored by digest, in the model of containerd's content store: a blob is written
 * through a Writer and becomes visible only when `commit` has checked its digest, so a blob
 * that does not match its digest never exists and a crash leaves only an unfinished write
 * under `ingest/`, which `open` clears at start-up.
 */
export class ContentStore {
  private constructor(private readonly root: string) {}

  static async open(root: string): Promise<ContentStore> {
    await fsp.mkdir(path.join(root, 'blobs', 'sha256'), { recursive: true });
    await fsp.rm(path.join(root, 'ingest'), { recursive: true, force: true });
    await fsp.mkdir(path.join(root, 'ingest'), { recursive: true });
    return new ContentStore(root);
  }

  blobPath(digest: string): string {
    const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
    if (!m) throw invalid(`invalid digest: ${digest}`);
    return path.join(this.root, 'blobs', 'sha256', m[1]);
  }

  async has(digest: string): Promise<boolean> {
    try {
      await fsp.access(this.blobPath(digest));
      return true;
    } catch {
      return false;
    }
  }

  async size(digest: string): Promise<number> {
    try {
      return (await fsp.stat(this.blobPath(digest))).size;
    } catch (e) {
      if (isErrno(e, 'ENOENT')) throw notFound(`blob ${digest} not found`);
      throw e;
    }
  }

  async read(digest: string): Promise<Buffer> {
    try {
      return await fsp.readFile(this.blobPath(digest));
    } catch (e) {
      if (isErrno(e, 'ENOENT')) throw notFound(`blob ${digest} not found`);
      throw e;
    }
  }

  reader(digest: string): Readable {
    return createReadStream(this.blobPath(digest));
  }

  async put(data: Buffer, expected?: string): Promise<string> {
    const w = this.writer();
    await w.write(data);
    return w.commit(expected);
  }

  async delete(digest: string): Promise<void> {
    await fsp.rm(this.blobPath(digest), { force: true });
  }

  /**
   * `digestKnown`: the caller hashes the same bytes itself (a layer's unpacker computes its
   * diff ID as it goes) and names the digest at commit; hashing them twice is waste.
   */
  writer(opts: { digestKnown?: boolean } = {}): ContentWriter {
    return new ContentWriter(path.join(this.root, 'ingest', randomBytes(8).toString('hex')), (d) => this.blobPath(d), !opts.digestKnown);
  }
}

export class ContentWriter {
  private readonly hash: Hash = createHash('sha256');
  private readonly out: WriteStream;
  private written = 0;
  private done = false;

  constructor(
    private readonly tmpPath: string,
    private readonly finalPath: (digest: string) => string,
    private readonly hashing = true,
  ) {
    this.out = createWriteStream(tmpPath, { mode: 0o644 });
    // Failures reach the caller through write() and commit(); an abort destroys the stream
    // with writes pending, whose 'error' must not become an unhandled one.
    this.out.on('error', (e) => {
      this.failure ??= e;
    });
  }

  private failure?: Error;

  get size(): number {
    return this.written;
  }

  write(chunk: Buffer): Promise<void> {
    if (this.hashing) this.hash.update(chunk);
    this.written += chunk.length;
    return new Promise((resolve, reject) => {
      this.out.write(chunk, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Makes the blob visible under its digest; refuses when it does not match `expected`. */
  async commit(expected?: string): Promise<string> {
    if (this.done) throw new Error('content writer already finished');
    this.done = true;
    await new Promise<void>((resolve, reject) => this.out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    if (this.failure) throw this.failure;
    if (!this.hashing && !expected) throw new Error('content writer without hashing needs the digest at commit');
    const digest = this.hashing ? `sha256:${this.hash.digest('hex')}` : expected!;
    if (expected && expected !== digest) {
      await fsp.rm(this.tmpPath, { force: true });
      throw invalid(`digest mismatch: expected ${expected}, got ${digest}`);
    }
    await fsp.rename(this.tmpPath, this.finalPath(digest));
    return digest;
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.out.destroy();
    await fsp.rm(this.tmpPath, { force: true });
  }
}
