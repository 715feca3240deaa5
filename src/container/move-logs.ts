import { createWriteStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { invalid } from '../common/errors';

/**
 * A container's log files as a tar (by their own names, oldest first), for a move. Only the
 * bytes present when each file is opened are sent: conmon may still append to a stopped
 * container's last file for a moment, and a tar entry's size is fixed in its header.
 */
export function packLogFiles(files: string[]): Readable {
  const pack = tar.pack();
  void (async () => {
    for (const file of files) {
      const fh = await fsp.open(file, 'r');
      try {
        const { size } = await fh.stat();
        const header = { name: path.basename(file), size, mode: 0o640, mtime: new Date() };
        if (size === 0) await new Promise<void>((resolve, reject) => pack.entry(header, Buffer.alloc(0), (e) => (e ? reject(e) : resolve())));
        else await pipeline(fh.createReadStream({ start: 0, end: size - 1, autoClose: false }), pack.entry(header));
      } finally {
        await fh.close();
      }
    }
    pack.finalize();
  })().catch((e: unknown) => pack.destroy(e as Error));
  return pack as unknown as Readable;
}

/**
 * Writes a log tar into a container's folder. Only plain files named as the log's files
 * (`container.log`, `container.log.N`) are taken: anything else in the tar is refused, so a
 * hostile sender cannot write elsewhere.
 */
export async function unpackLogFiles(src: Readable, dir: string, base: string): Promise<void> {
  const allowed = new RegExp(`^${base.replace(/\./g, '\\.')}(\\.[1-9][0-9]{0,3})?$`);
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    if (header.type !== 'file' || !allowed.test(header.name)) {
      stream.resume();
      extract.destroy(invalid(`unexpected entry in a log archive: ${header.name}`));
      return;
    }
    pipeline(stream, createWriteStream(path.join(dir, header.name), { mode: 0o640 })).then(() => next(), (e: Error) => extract.destroy(e));
  });
  await pipeline(src, extract);
}
