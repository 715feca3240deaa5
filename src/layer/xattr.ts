import { run } from '../common/exec';

/**
 * Extended attributes through setfattr(1) (Debian package `attr`): Node has no
 * setxattr(2). `-h` keeps setfattr from following a symlink at the final component;
 * callers pass paths whose parents they resolved inside the layer.
 * Many paths taking the same attribute go in one call (chunked to stay far below
 * the kernel's argument-size limit), so a layer with many opaque directories costs
 * a handful of processes, not one per directory.
 */
const MAX_ARG_BYTES = 64 * 1024;

export async function setXattr(paths: string[], name: string, value: Buffer): Promise<void> {
  const encoded = '0x' + value.toString('hex');
  let batch: string[] = [];
  let bytes = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await run('setfattr', ['-h', '-n', name, '-v', encoded, '--', ...batch]);
    batch = [];
    bytes = 0;
  };
  for (const p of paths) {
    batch.push(p);
    bytes += Buffer.byteLength(p) + 1;
    if (bytes >= MAX_ARG_BYTES) await flush();
  }
  await flush();
}

/** Marks directories opaque for overlayfs: lower layers' entries under them are hidden. */
export function markOverlayOpaque(dirs: string[]): Promise<void> {
  return setXattr(dirs, 'trusted.overlay.opaque', Buffer.from('y'));
}
