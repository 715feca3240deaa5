import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { run } from '../common/exec';

/**
 * Network namespaces kept alive by a bind mount at a path of the daemon's (as `ip netns`
 * does under /run/netns), so that CNI can configure one before the container's process
 * exists, and runc joins it by that path.
 */
export async function createNetns(file: string): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, '');
  try {
    // one program does both: makes the namespace and brings its loopback up inside it
    await run('unshare', [`--net=${file}`, 'ip', 'link', 'set', 'lo', 'up']);
  } catch (e) {
    await fsp.rm(file, { force: true });
    throw e;
  }
}

export async function removeNetns(file: string): Promise<void> {
  await run('umount', ['-l', file]).catch(() => undefined);
  await fsp.rm(file, { force: true });
}
