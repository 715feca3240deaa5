import type { PathChange, Snapshotter } from './snapshotter';
import { compareNames } from './tar-export';

/**
 * `docker diff` (GET /containers/{id}/changes): the paths a container's snapshot
 * changed, in the Engine API's form. Kind 0 is modified ("C"), 1 added ("A"),
 * 2 deleted ("D").
 *
 * Every directory above a changed path is listed as modified when the driver did not
 * list it itself, as Docker's naive diff does ("this is needed to properly save and
 * restore filesystem permissions"); on overlay2 dockerd shows them too, since a change
 * inside a directory changes the upper copy's mtime. The order is that of a
 * depth-first walk with names sorted by their bytes: a directory comes right before
 * its contents, as dockerd's file-tree walk emits them.
 */
export interface ContainerChange {
  Path: string;
  Kind: 0 | 1 | 2;
}

const KIND: Record<PathChange['kind'], ContainerChange['Kind']> = { modified: 0, added: 1, deleted: 2 };

export async function changes(snapshotter: Snapshotter, key: string): Promise<ContainerChange[]> {
  return dockerChanges(await snapshotter.changes(key));
}

/** Completes a driver's change list with the parent directories and puts it in order. */
export function dockerChanges(raw: PathChange[]): ContainerChange[] {
  const kinds = new Map<string, PathChange['kind']>();
  for (const c of raw) kinds.set(c.path, c.kind);
  for (const c of raw) {
    for (let dir = parentOf(c.path); dir !== '/'; dir = parentOf(dir)) {
      if (kinds.has(dir)) break; // its own ancestors were added when it was
      kinds.set(dir, 'modified');
    }
  }
  return [...kinds]
    .sort(([a], [b]) => comparePaths(a, b))
    .map(([Path, kind]) => ({ Path, Kind: KIND[kind] }));
}

function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

/** Component by component, so "/a/b" (inside /a) sorts before "/a.b". */
function comparePaths(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const c = compareNames(pa[i], pb[i]);
    if (c !== 0) return c;
  }
  return pa.length - pb.length;
}
