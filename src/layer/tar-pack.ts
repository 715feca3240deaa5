import { Readable } from 'node:stream';
import * as tar from 'tar-stream';

/**
 * Writes a tar from a list of entries held in memory, with nothing taken from the
 * clock or the environment: the same entries give the same bytes. Used for the
 * built-in busybox image and by tests that need exact (also hostile) archives.
 */
export interface PackEntry {
  /** Written as given (no cleaning), so tests can make hostile archives. */
  name: string;
  type?: tar.Header['type'];
  data?: Buffer | string;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Defaults to the Unix epoch, never to "now". */
  mtime?: Date;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extra PAX records, e.g. { 'SCHILY.xattr.user.k': 'v' }. */
  pax?: Record<string, string>;
}

export function packTar(entries: PackEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header: Partial<tar.Header> & { name: string } = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime ?? new Date(0),
      linkname: e.linkname,
      devmajor: e.devmajor,
      devminor: e.devminor,
      pax: e.pax,
    };
    // Always pass a buffer: without one, tar-stream waits for the entry's data stream.
    pack.entry(header, typeof e.data === 'string' ? Buffer.from(e.data) : (e.data ?? Buffer.alloc(0)));
  }
  pack.finalize();
  return done;
}

/** A Node stream over bytes, for APIs that take a layer as a stream. */
export function streamOf(buf: Buffer): Readable {
  return Readable.from([buf]);
}
