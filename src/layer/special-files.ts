import { run } from '../common/exec';

/**
 * Device nodes and FIFOs. Node has no mknod(2), so these go through mknod(1)
 * (coreutils). Layers seldom hold devices, and one whiteout is one call, which
 * costs a few milliseconds: acceptable for what images contain.
 */
export type SpecialKind = 'char' | 'block' | 'fifo';

export async function makeSpecialFile(hostPath: string, kind: SpecialKind, mode: number, major = 0, minor = 0): Promise<void> {
  const modeArg = ['-m', (mode & 0o7777).toString(8).padStart(4, '0')];
  if (kind === 'fifo') {
    await run('mknod', [...modeArg, '--', hostPath, 'p']);
  } else {
    await run('mknod', [...modeArg, '--', hostPath, kind === 'char' ? 'c' : 'b', String(major), String(minor)]);
  }
}

/** overlayfs's whiteout: a character device 0/0 hides the same name in lower layers. */
export function makeOverlayWhiteout(hostPath: string): Promise<void> {
  return makeSpecialFile(hostPath, 'char', 0o000, 0, 0);
}
