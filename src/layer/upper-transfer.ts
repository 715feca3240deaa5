import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { conflict, invalid, system } from '../common/errors';

/**
 * An overlay upper directory copied as it is, from one overlay2 daemon to another, for a
 * container move: whiteouts stay character devices and opaque directories keep their
 * xattr, so nothing is converted on either side. GNU tar does the copy (a JS tar costs
 * several times its CPU on a 100 MB layer). Only the xattrs overlay and containers use are
 * carried; on extraction GNU tar's own guards hold (no member with "..", leading "/"
 * removed, links to absolute or ".." targets made only after everything else, as
 * placeholders until then), and the target is a fresh, empty upper directory.
 */
const XATTRS = ['--xattrs', '--xattrs-include=trusted.overlay.opaque', '--xattrs-include=user.*', '--xattrs-include=security.capability'];

/**
 * 128 KiB records instead of tar's 10 KiB: a tenth of the writes into the pipe, and the
 * daemon reads whole 64 KiB chunks from it (a 100 MB layer: ~1.7k chunks rather than ~10k)
 */
const RECORDS = ['--blocking-factor=256'];

export function packUpperDir(dir: string): Readable {
  const out = new PassThrough();
  const tar = spawn('tar', ['--numeric-owner', ...XATTRS, ...RECORDS, '-C', dir, '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  tar.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
  tar.stdout.pipe(out, { end: false });
  tar.on('error', (e) => out.destroy(e));
  tar.on('close', (code) => {
    if (code === 0) out.end();
    else out.destroy(system(`reading the container's layer: tar exited with ${code}: ${stderr.trim()}`));
  });
  // a reader that goes away stops tar
  out.on('close', () => tar.kill('SIGKILL'));
  return out;
}

export async function unpackUpperDir(src: Readable, dir: string): Promise<void> {
  if ((await fsp.readdir(dir)).length > 0) throw conflict('the container already has files of its own: a layer is written only into a new one');
  const tar = spawn('tar', ['--numeric-owner', '--same-owner', '--same-permissions', ...XATTRS, '-C', dir, '-xf', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  tar.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
  const exited = new Promise<number | null>((resolve, reject) => {
    tar.on('error', reject);
    tar.on('close', resolve);
  });
  // tar stops reading at the end-of-archive marker, before the padding of the last record: a
  // write after that fails, and is no error as long as tar ends well
  tar.stdin.on('error', () => undefined);
  src.pipe(tar.stdin);
  const sent = finished(src).then(
    () => undefined,
    (e: Error) => e,
  );
  const first = await Promise.race([exited.then((code) => ({ code })), sent.then((e) => ({ sendError: e }))]);
  if ('sendError' in first && first.sendError) {
    // the sender went away: what tar has written stays (the pending container is removed)
    tar.kill('SIGKILL');
    await exited.catch(() => undefined);
    throw first.sendError;
  }
  const code = 'code' in first ? first.code : await exited;
  if (code !== 0) {
    src.unpipe(tar.stdin);
    src.destroy();
    throw invalid(`the container's layer did not unpack: tar exited with ${code}: ${stderr.trim()}`);
  }
  // what follows the end-of-archive marker is read and dropped, so the sender finishes
  src.unpipe(tar.stdin);
  src.resume();
  const late = await sent;
  if (late) throw late;
}
