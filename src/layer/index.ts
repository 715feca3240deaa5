import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { invalid, isErrno } from '../common/errors';
import { mkdirp } from '../common/fsutil';
import { mountAll, unmount } from './mount';
import { OverlaySnapshotter } from './overlay';
import type { Snapshotter } from './snapshotter';
import { VfsSnapshotter } from './vfs';

/**
 * The layer folder's front door: pick a storage driver for a data root.
 *
 * - `preferred` given: that driver, or an error when it cannot work here.
 * - otherwise the driver already holding snapshots in this data root (a daemon
 *   restarted with no flag keeps its images, as Docker's "prior storage driver"),
 *   else overlay2 when a test mount in the data root succeeds, else vfs.
 */
export type DriverName = 'overlay2' | 'vfs';

export async function createSnapshotter(dataRoot: string, preferred?: DriverName): Promise<Snapshotter> {
  const driver = preferred ?? (await priorDriver(dataRoot)) ?? ((await overlayUsable(dataRoot)) === true ? 'overlay2' : 'vfs');
  if (driver === 'overlay2') {
    const usable = await overlayUsable(dataRoot);
    if (usable !== true) throw invalid(`storage driver overlay2 is not usable in ${dataRoot}: ${usable}`);
    const s = new OverlaySnapshotter(path.join(dataRoot, 'overlay2'));
    await s.init();
    return s;
  }
  if (driver === 'vfs') {
    const s = new VfsSnapshotter(path.join(dataRoot, 'vfs'));
    await s.init();
    return s;
  }
  throw invalid(`unknown storage driver ${String(driver)}: use overlay2 or vfs`);
}

async function priorDriver(dataRoot: string): Promise<DriverName | undefined> {
  for (const d of ['overlay2', 'vfs'] as const) {
    try {
      if ((await fsp.readdir(path.join(dataRoot, d, 'refs'))).length > 0) return d;
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
    }
  }
  return undefined;
}

/**
 * Mounts a two-layer overlay inside the data root (where the real ones will live: an
 * upper dir on overlayfs itself, for one, does not work). True, or the reason why not.
 */
export async function overlayUsable(dataRoot: string): Promise<true | string> {
  await mkdirp(dataRoot, 0o711);
  const probe = await fsp.mkdtemp(path.join(dataRoot, '.overlay-probe-'));
  const dirs = ['lower1', 'lower2', 'upper', 'work', 'merged'].map((d) => path.join(probe, d));
  const [lower1, lower2, upper, work, merged] = dirs;
  try {
    for (const d of dirs) await fsp.mkdir(d);
    await fsp.writeFile(path.join(lower1, 'probe'), 'x');
    await mountAll([{ type: 'overlay', source: 'overlay', options: ['index=off', `lowerdir=${lower2}:${lower1}`, `upperdir=${upper}`, `workdir=${work}`] }], merged);
    try {
      await fsp.readFile(path.join(merged, 'probe'));
    } finally {
      await unmount(merged);
    }
    return true;
  } catch (e) {
    return (e as Error).message;
  } finally {
    await fsp.rm(probe, { recursive: true, force: true });
  }
}

export { applyTar } from './tar-apply';
export type { ApplyOptions, WhiteoutMode } from './tar-apply';
export { mountAll, unmount } from './mount';
export { OverlaySnapshotter } from './overlay';
export { VfsSnapshotter } from './vfs';
export type { ApplyResult, Mount, SnapshotInfo, Snapshotter } from './snapshotter';
