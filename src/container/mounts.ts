import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { ContainerConfig, HostConfig, MountSpec } from '../api/types';
import { invalid } from '../common/errors';
import { run } from '../common/exec';
import { VolumeStore } from '../volume/store';
import type { OciMount } from './spec';

/**
 * A container's own mounts, as `inspect` shows them (Mounts) and as it runs with them:
 * bind mounts of host paths, volumes (named, or anonymous from `-v /path` and the image's
 * VOLUME), tmpfs from `--mount type=tmpfs`. They are decided at create, where named volumes
 * that do not exist yet and anonymous ones are made, and turned into OCI mounts at each start.
 */
export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  /** the volume's name */
  Name?: string;
  /** host path of a bind mount */
  Source: string;
  Destination: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
  /** volumes: do not copy the image's files at the destination into an empty volume */
  NoCopy?: boolean;
  Anonymous?: boolean;
  TmpfsSize?: number;
  TmpfsMode?: number;
}

const PROPAGATIONS = ['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate'];
const MODE_WORDS = new Set(['ro', 'rw', 'z', 'Z', 'nocopy', 'consistent', 'delegated', 'cached', ...PROPAGATIONS]);

function checkDestination(dst: string, spec: string, type: string): string {
  if (!path.posix.isAbsolute(dst)) throw invalid(`invalid volume specification: '${spec}': invalid mount config for type "${type}": invalid mount path: '${dst}' mount path must be absolute`);
  const clean = path.posix.normalize(dst);
  if (clean === '/') throw invalid(`invalid volume specification: '${spec}': invalid mount config for type "${type}": invalid specification: destination can't be '/'`);
  if (clean === '/proc' || clean.startsWith('/proc/')) throw invalid(`invalid volume specification: '${spec}': ${clean} cannot be mounted over: /proc belongs to the container's kernel view`);
  return clean;
}

/** `-v src:dst[:mode]`, `-v name:dst`: Docker's Linux parsing (a Windows drive letter is not a thing here). */
function parseBind(spec: string): { src: string; dst: string; mode: string } {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) throw invalid(`invalid volume specification: '${spec}'`);
  const [src, dst, mode = ''] = parts;
  for (const word of mode.split(',').filter(Boolean)) if (!MODE_WORDS.has(word)) throw invalid(`invalid mode: ${mode}`);
  return { src, dst, mode };
}

/**
 * Decides the mounts of a new container, making the volumes it names and the anonymous ones.
 * `anonymousNames` gives an anonymous volume the name it had elsewhere, by destination (a
 * moved container's, whose files came along): it stays this container's anonymous volume.
 */
export async function planMounts(hc: HostConfig, config: ContainerConfig, volumes: VolumeStore, anonymousNames: Record<string, string> = {}): Promise<MountPoint[]> {
  const anonymousName = (destination: string) => (Object.hasOwn(anonymousNames, destination) ? anonymousNames[destination] : undefined);
  const out: MountPoint[] = [];
  const add = (m: MountPoint) => {
    if (out.some((o) => o.Destination === m.Destination)) throw invalid(`Duplicate mount point: ${m.Destination}`);
    out.push(m);
  };
  for (const spec of hc.Binds ?? []) {
    const { src, dst, mode } = parseBind(spec);
    const words = mode.split(',').filter(Boolean);
    const rw = !words.includes('ro');
    const propagation = words.find((w) => PROPAGATIONS.includes(w)) ?? '';
    if (src.startsWith('/')) {
      const destination = checkDestination(dst, spec, 'bind');
      // `-v` makes a missing host path a directory (as Docker does); `--mount` refuses it. An
      // existing one is bound as it is: a file, or a socket such as the daemon's own.
      await makeMissingDirectory(src);
      add({ Type: 'bind', Source: path.normalize(src), Destination: destination, Mode: mode, RW: rw, Propagation: propagation || 'rprivate' });
    } else {
      if (propagation) throw invalid(`invalid volume specification: '${spec}': propagation is for bind mounts`);
      const destination = checkDestination(dst, spec, 'volume');
      VolumeStore.checkName(src);
      await volumes.create({ Name: src });
      add({ Type: 'volume', Name: src, Source: '', Destination: destination, Mode: mode, RW: rw, Propagation: '', NoCopy: words.includes('nocopy') });
    }
  }
  for (const m of hc.Mounts ?? []) await planMountSpec(m, volumes, add, anonymousName);
  // -v /path and the image's VOLUMEs: anonymous volumes where nothing else is mounted
  for (const dst of Object.keys(config.Volumes ?? {})) {
    const destination = checkDestination(dst, dst, 'volume');
    if (out.some((o) => o.Destination === destination)) continue;
    const v = await volumes.create({ Name: anonymousName(destination) }, true);
    out.push({ Type: 'volume', Name: v.Name, Source: '', Destination: destination, Mode: '', RW: true, Propagation: '', Anonymous: true });
  }
  return out;
}

async function makeMissingDirectory(hostPath: string): Promise<void> {
  try {
    await fsp.stat(hostPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    await fsp.mkdir(hostPath, { recursive: true });
  }
}

async function planMountSpec(m: MountSpec, volumes: VolumeStore, add: (m: MountPoint) => void, anonymousName: (destination: string) => string | undefined): Promise<void> {
  const spec = `${m.Type}:${m.Source ?? ''}:${m.Target}`;
  if (!m.Target) throw invalid(`invalid mount config for type "${m.Type}": field Target must not be empty`);
  const rw = m.ReadOnly !== true;
  switch (m.Type) {
    case 'bind': {
      if (!m.Source) throw invalid('invalid mount config for type "bind": field Source must not be empty');
      const destination = checkDestination(m.Target, spec, 'bind');
      try {
        await fsp.stat(m.Source);
      } catch {
        if (!m.BindOptions?.CreateMountpoint) throw invalid(`invalid mount config for type "bind": bind source path does not exist: ${m.Source}`);
        await fsp.mkdir(m.Source, { recursive: true });
      }
      add({ Type: 'bind', Source: path.normalize(m.Source), Destination: destination, Mode: '', RW: rw, Propagation: m.BindOptions?.Propagation || 'rprivate' });
      return;
    }
    case 'volume': {
      const destination = checkDestination(m.Target, spec, 'volume');
      const v = await volumes.create({ Name: m.Source || anonymousName(destination), DriverOpts: m.VolumeOptions?.DriverConfig?.Options, Labels: m.VolumeOptions?.Labels }, !m.Source);
      add({ Type: 'volume', Name: v.Name, Source: '', Destination: destination, Mode: 'z', RW: rw, Propagation: '', NoCopy: m.VolumeOptions?.NoCopy === true, Anonymous: !m.Source || undefined });
      return;
    }
    case 'tmpfs': {
      if (m.Source) throw invalid('invalid mount config for type "tmpfs": field Source must not be specified');
      const destination = checkDestination(m.Target, spec, 'tmpfs');
      add({ Type: 'tmpfs', Source: '', Destination: destination, Mode: '', RW: rw, Propagation: '', TmpfsSize: m.TmpfsOptions?.SizeBytes, TmpfsMode: m.TmpfsOptions?.Mode });
      return;
    }
    default:
      throw invalid(`invalid mount config: mount type "${m.Type}" is not supported`);
  }
}

/** `/data` inside the root, with symlinks followed only as far as the root. */
async function insideRoot(rootfs: string, dst: string): Promise<string | undefined> {
  try {
    const real = await fsp.realpath(path.join(rootfs, dst));
    const root = await fsp.realpath(rootfs);
    return real === root || real.startsWith(`${root}/`) ? real : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The OCI mounts of a start. Volumes with driver options are mounted first; an empty volume
 * gets a copy of what the image has at its destination (once: then it is no longer empty),
 * unless `nocopy` was asked for. Returns the volumes acquired, to be released at the stop.
 */
export async function startMounts(points: MountPoint[], volumes: VolumeStore, rootfs: string): Promise<{ mounts: OciMount[]; acquired: string[] }> {
  const mounts: OciMount[] = [];
  const acquired: string[] = [];
  try {
    for (const p of points) {
      if (p.Type === 'tmpfs') {
        const options = ['nosuid', 'nodev', 'noexec'];
        if (p.TmpfsSize) options.push(`size=${p.TmpfsSize}`);
        options.push(`mode=${(p.TmpfsMode ?? 0o1777).toString(8)}`);
        if (!p.RW) options.push('ro');
        mounts.push({ destination: p.Destination, type: 'tmpfs', source: 'tmpfs', options });
        continue;
      }
      let source = p.Source;
      if (p.Type === 'volume') {
        source = await volumes.acquire(p.Name!);
        acquired.push(p.Name!);
        if (!p.NoCopy) await seed(rootfs, p.Destination, source);
      }
      mounts.push({ destination: p.Destination, type: 'bind', source, options: ['rbind', p.RW ? 'rw' : 'ro', p.Propagation || 'rprivate'] });
    }
  } catch (e) {
    for (const name of acquired) await volumes.releaseMount(name);
    throw e;
  }
  return { mounts, acquired };
}

async function seed(rootfs: string, dst: string, volumeDir: string): Promise<void> {
  if ((await fsp.readdir(volumeDir)).length > 0) return;
  const from = await insideRoot(rootfs, dst);
  if (!from) return;
  const st = await fsp.stat(from).catch(() => undefined);
  if (!st?.isDirectory()) return;
  if ((await fsp.readdir(from)).length === 0) return;
  await run('cp', ['-a', '--no-dereference', `${from}/.`, `${volumeDir}/`]);
}
