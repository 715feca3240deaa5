import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { invalid } from '../common/errors';

/**
 * A request body that may be a plain or gzip-compressed tar (import, build contexts, load),
 * told apart by its first bytes as Docker does. bzip2 and xz are refused with a clear word.
 */
export function decompressBody(req: IncomingMessage): Readable {
  const out = new PassThrough();
  let first = true;
  let target: NodeJS.WritableStream = out;
  req.on('data', (chunk: Buffer) => {
    if (first) {
      first = false;
      if (chunk[0] === 0x1f && chunk[1] === 0x8b) {
        const gunzip = createGunzip();
        gunzip.on('error', (e) => out.destroy(invalid(`invalid gzip data: ${e.message}`)));
        gunzip.pipe(out);
        target = gunzip;
      } else if (chunk.subarray(0, 3).toString() === 'BZh' || chunk.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) {
        out.destroy(invalid('bzip2 and xz archives are not supported: give a plain or gzip-compressed tar'));
        req.resume();
        return;
      }
    }
    if (out.destroyed) return;
    if (!target.write(chunk)) {
      req.pause();
      (target as PassThrough).once('drain', () => req.resume());
    }
  });
  req.on('end', () => target.end());
  req.on('error', (e) => out.destroy(e));
  return out;
}
