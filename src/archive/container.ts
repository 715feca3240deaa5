import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ContainerManager } from '../container/manager';
import type { ContainerRecord } from '../container/model';
import { mountAll, unmount } from '../layer/mount';
import type { Snapshotter } from '../layer/snapshotter';
import { ScopedFS, type ScopedMount } from './scoped-fs';

/**
 * A container's files for the length of one request: its root file system with its
 * volumes, binds and /etc files on top, as the container sees them.
 *
 * A running (or paused) container's root is mounted already, at the bundle's rootfs.
 * A stopped one has only its snapshot: that is mounted into a fresh directory under
 * `tmpDir` (shared by overlapping requests) and unmounted by the last release(); the
 * container is held meanwhile (no start, no removal) with its volumes mounted. The mounts of the container are not mounted on
 * the host at all (the runtime made them in the container's mount namespace): the
 * ScopedFS redirects their destinations to their sources instead. tmpfs mounts exist
 * only inside a running container and are not seen (Docker cannot copy them either).
 */
export interface ContainerFiles {
  rec: ContainerRecord;
  fs: ScopedFS;
  /** HostConfig.ReadonlyRootfs: the root (outside any mount) takes no writes */
  readonlyRootfs: boolean;
  release(): Promise<void>;
}

const ETC_FILES: [string, string][] = [
  ['/etc/resolv.conf', 'resolv.conf'],
  ['/etc/hostname', 'hostname'],
  ['/etc/hosts', 'hosts'],
];

export async function openContainerFiles(containers: ContainerManager, snapshotter: Snapshotter, idOrName: string, tmpDir: string): Promise<ContainerFiles> {
  const root = await openContainerRoot(containers, snapshotter, idOrName, tmpDir, { outliveRun: false });
  let sfs: ScopedFS;
  try {
    sfs = ScopedFS.open(root.dir, containerMounts(containers, root.rec), 'clamp', { makeMountPoints: !root.running });
  } catch (e) {
    await root.release();
    throw e;
  }
  let released = false;
  return {
    rec: root.rec,
    fs: sfs,
    readonlyRootfs: root.rec.HostConfig.ReadonlyRootfs === true,
    async release() {
      if (released) return;
      released = true;
      sfs.close();
      await root.release();
    },
  };
}

/** A container's own root file system (no mounts on it), held for the length of a request. */
export interface ContainerRoot {
  rec: ContainerRecord;
  dir: string;
  /** the container's live root (else its snapshot, mounted for the request) */
  running: boolean;
  release(): Promise<void>;
}

/**
 * Holds a container's files (see ContainerManager.holdFiles) and mounts its root where a
 * request can read it. With `outliveRun`, a running container's root is bind-mounted for the
 * request, so that a long read (an export) keeps its files when the container stops
 * meanwhile and the runtime unmounts its root; short copies read the live root in place.
 */
export async function openContainerRoot(containers: ContainerManager, snapshotter: Snapshotter, idOrName: string, tmpDir: string, o: { outliveRun: boolean }): Promise<ContainerRoot> {
  const rec = containers.get(idOrName);
  const bundleRoot = path.join(containers.bundlePath(rec.ID), 'rootfs');
  const hold = await containers.holdFiles(rec.ID);
  // "Running" in the record is trusted only when the root really is mounted there
  const running = hold.running && isMountPoint(bundleRoot);
  let dir = bundleRoot;
  let undo: () => Promise<void> = async () => undefined;
  try {
    if (!running) {
      const snapshot = await acquireSnapshot(snapshotter, rec.ID, tmpDir);
      dir = snapshot.dir;
      undo = () => releaseSnapshot(snapshot);
    } else if (o.outliveRun) {
      const bind = path.join(tmpDir, `root-${rec.ID.slice(0, 12)}-${randomBytes(6).toString('hex')}`);
      await fsp.mkdir(bind, { recursive: true, mode: 0o700 });
      try {
        await mountAll([{ type: 'bind', source: bundleRoot, options: ['bind', 'ro'] }], bind);
      } catch (e) {
        await fsp.rmdir(bind).catch(() => undefined);
        throw e;
      }
      dir = bind;
      undo = () => releaseMount(bind);
    }
  } catch (e) {
    await hold.release();
    throw e;
  }
  let released = false;
  return {
    rec,
    dir,
    running,
    async release() {
      if (released) return;
      released = true;
      await undo();
      await hold.release();
    },
  };
}

/**
 * A stopped container's snapshot mounted for copies. Requests that overlap share one
 * mount (two overlay mounts of one upper directory are undefined behaviour); the last
 * to finish unmounts it.
 */
interface SharedMount {
  id: string;
  dir: string;
  users: number;
  ready: Promise<void>;
}

const snapshots = new Map<string, SharedMount>();

async function acquireSnapshot(snapshotter: Snapshotter, id: string, tmpDir: string): Promise<SharedMount> {
  let m = snapshots.get(id);
  if (!m) {
    const dir = path.join(tmpDir, `cp-${id.slice(0, 12)}-${randomBytes(6).toString('hex')}`);
    const mount: SharedMount = {
      id,
      dir,
      users: 0,
      ready: (async () => {
        await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
        try {
          await mountAll(await snapshotter.mounts(id), dir);
        } catch (e) {
          await fsp.rmdir(dir).catch(() => undefined);
          throw e;
        }
      })(),
    };
    m = mount;
    snapshots.set(id, m);
  }
  m.users++;
  try {
    await m.ready;
  } catch (e) {
    if (--m.users === 0 && snapshots.get(id) === m) snapshots.delete(id);
    throw e;
  }
  return m;
}

async function releaseSnapshot(m: SharedMount): Promise<void> {
  if (--m.users > 0) return;
  if (snapshots.get(m.id) === m) snapshots.delete(m.id);
  await releaseMount(m.dir);
}

async function releaseMount(dir: string): Promise<void> {
  await unmount(dir).catch(() => undefined);
  // rmdir, not rm -r: should the unmount have failed, the container's files stay untouched
  await fsp.rmdir(dir).catch(() => undefined);
}

/** What the runtime mounts into the container, as the ScopedFS redirects. */
function containerMounts(containers: ContainerManager, rec: ContainerRecord): ScopedMount[] {
  const out: ScopedMount[] = [];
  const taken = new Set<string>();
  for (const p of rec.MountPoints ?? []) {
    const destination = path.posix.normalize(p.Destination);
    if (p.Type === 'bind') out.push({ destination, source: p.Source, readOnly: !p.RW });
    else if (p.Type === 'volume' && p.Name) out.push({ destination, source: containers.volumeDir(p.Name), readOnly: !p.RW });
    else continue;
    taken.add(destination);
  }
  // the /etc files the daemon writes at each start; a user's mount at the same place wins
  const dir = containers.recordDir(rec.ID);
  for (const [destination, file] of ETC_FILES) {
    const source = path.join(dir, file);
    if (!taken.has(destination) && existsSync(source)) out.push({ destination, source, readOnly: false });
  }
  return out.filter((m) => existsSync(m.source));
}

/** Whether `dir` is a mount point, by /proc/self/mountinfo (a bind mount keeps st_dev: no stat test). */
export function isMountPoint(dir: string): boolean {
  let info: string;
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return false;
  }
  const want = path.resolve(dir);
  for (const line of info.split('\n')) {
    const target = line.split(' ')[4];
    if (target && unescapeMountinfo(target) === want) return true;
  }
  return false;
}

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
