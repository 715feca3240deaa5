import { createWriteStream } from 'node:fs';
import * as path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, type Gunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { invalid, isBerthError } from '../../common/errors';
import { cleanArchivePath, resolveLinkTarget } from './paths';

/** An archive's regular files, each spooled to a file of its own under the spool directory. */
export interface SpooledArchive {
  /** Host path of the spooled entry for an archive name, following links inside the archive. */
  file(name: string): string | undefined;
}

const MAX_LINK_HOPS = 16;

/**
 * Reads an uploaded archive (plain or gzip tar) once, front to back, and writes each
 * regular file to `dir/<n>`: files are then read in whatever order the manifests ask,
 * and archive names never become host paths. Symlinks and hard links between entries
 * (older `docker save` linked shared layers) are kept as aliases.
 */
export async function spoolArchive(input: Readable, dir: string): Promise<SpooledArchive> {
  const files = new Map<string, string>();
  const links = new Map<string, string>();
  const extract = tar.extract();
  const gunzip = new AutoGunzip();
  // Plain pipes, not pipeline(): a refused archive must not destroy the request (its socket
  // carries the answer), so on failure the rest of the upload is drained instead.
  input.on('error', (e) => extract.destroy(e));
  gunzip.on('error', (e) => extract.destroy(e));
  input.pipe(gunzip).pipe(extract);
  let n = 0;
  try {
    for await (const entry of extract) {
      const h = entry.header;
      const name = cleanArchivePath(h.name);
      if (h.type === 'file' || h.type === 'contiguous-file') {
        const file = path.join(dir, String(n++));
        await pipeline(entry, createWriteStream(file, { mode: 0o600 }));
        files.set(name, file);
        links.delete(name);
      } else {
        if (h.type === 'symlink' || h.type === 'link') files.delete(name);
        if (h.type === 'symlink' && h.linkname) links.set(name, resolveLinkTarget(name, h.linkname));
        else if (h.type === 'link' && h.linkname) links.set(name, cleanArchivePath(h.linkname));
        entry.resume();
      }
    }
  } catch (e) {
    input.unpipe(gunzip);
    gunzip.unpipe(extract);
    gunzip.destroy();
    await drain(input);
    throw archiveError(e);
  }
  const resolve = (name: string): string | undefined => {
    let cur = cleanArchivePath(name);
    for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
      const f = files.get(cur);
      if (f) return f;
      const next = links.get(cur);
      if (next === undefined) return undefined;
      cur = next;
    }
    return undefined;
  };
  return { file: resolve };
}

/** Reads the rest of an upload and drops it, so the client sees our answer, not a reset. */
function drain(input: Readable): Promise<void> {
  if (input.readableEnded || input.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    input.once('end', resolve);
    input.once('close', resolve);
    input.once('error', resolve);
    input.resume();
  });
}

/**
 * Passes a plain tar through and gunzips a gzip one, told apart by the first bytes
 * (`docker load` takes both; the CLI sends `berth save | gzip` files as they are).
 */
export class AutoGunzip extends Transform {
  private gunzip?: Gunzip;
  private decided = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (!this.decided) {
      this.decided = true;
      if (chunk[0] === 0x1f && chunk[1] === 0x8b) {
        this.gunzip = createGunzip();
        this.gunzip.on('data', (c: Buffer) => this.push(c));
        this.gunzip.on('error', (e) => this.destroy(e));
      }
    }
    if (this.gunzip) this.gunzip.write(chunk, () => cb());
    else cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (!this.gunzip) return cb();
    this.gunzip.once('end', () => cb());
    this.gunzip.end();
  }
}

/** Docker's words for a broken archive (Go's archive/tar and io errors). */
export function archiveError(e: unknown): Error {
  if (isBerthError(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
  if (/Unexpected end of data|unexpected end of file/i.test(msg)) return invalid('unexpected EOF');
  if (/Invalid tar header|Invalid header|unknown format/i.test(msg)) return invalid('archive/tar: invalid tar header');
  if (/incorrect header check|invalid (block|distance|code|stored)/i.test(msg)) return invalid(`gzip: invalid header`);
  return e instanceof Error ? e : new Error(msg);
}
