import { PassThrough, type Readable } from 'node:stream';
import * as tar from 'tar-stream';
import type { ContainerChange } from '../layer/changes';

/**
 * The runtime makes empty files in a container's own layer to mount /etc/hosts,
 * /etc/hostname and /etc/resolv.conf on. Docker keeps them in a hidden "init" layer, so
 * `diff` and `commit` never show them; berth leaves them out of both.
 */
const MOUNT_POINTS = new Set(['/etc/hosts', '/etc/hostname', '/etc/resolv.conf']);

export function hideMountPoints(list: ContainerChange[]): ContainerChange[] {
  const kept = list.filter((c) => !(MOUNT_POINTS.has(c.Path) && c.Kind === 1));
  // a directory listed only because of them goes too
  return kept.filter((c) => c.Kind !== 0 || !MOUNT_POINTS_PARENTS.has(c.Path) || kept.some((o) => o.Path.startsWith(`${c.Path}/`)));
}

const MOUNT_POINTS_PARENTS = new Set(['/etc']);

/** The layer tar without the empty mount-point files. */
export function withoutMountPoints(layer: Readable): Readable {
  const extract = tar.extract();
  const pack = tar.pack();
  const out = new PassThrough();
  extract.on('entry', (header, stream, next) => {
    const name = `/${header.name.replace(/^\.?\/+/, '')}`;
    if (MOUNT_POINTS.has(name) && header.type === 'file' && (header.size ?? 0) === 0) {
      stream.resume();
      stream.on('end', next);
      return;
    }
    stream.pipe(pack.entry(header, next));
  });
  extract.on('finish', () => pack.finalize());
  extract.on('error', (e) => out.destroy(e));
  layer.on('error', (e) => out.destroy(e));
  layer.pipe(extract);
  pack.pipe(out);
  return out;
}
