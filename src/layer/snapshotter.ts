import type { Readable } from 'node:stream';

/**
 * A snapshotter keeps filesystem snapshots, in the model of containerd's:
 *
 * - `prepare(key, parent)` makes an *active* snapshot named `key` on top of the
 *   *committed* snapshot `parent` (or on nothing). Active snapshots are writable.
 * - A layer is unpacked with `apply(key, tar)`, or a container writes into the
 *   active snapshot once it is mounted (`mounts(key)` says how).
 * - `commit(name, key)` turns the active snapshot into the committed snapshot `name`,
 *   which can be the parent of further snapshots. `key` is gone afterwards.
 * - `remove(keyOrName)` deletes either kind; a committed snapshot that is still a
 *   parent of another cannot be removed.
 *
 * The way back: `diff(key)` is the snapshot's own changes as a layer tar (for commit
 * and build), `changes(key)` the changed paths (for `docker diff`).
 *
 * Images name their committed snapshots by chain ID; containers name their active
 * snapshot by container ID. The same few methods serve image unpacking, container
 * root filesystems and (later) the builder.
 */
export interface Mount {
  /** mount(8) type: "overlay" or "bind". */
  type: string;
  source: string;
  options: string[];
}

export interface ApplyResult {
  /** sha256 digest of the uncompressed tar stream, "sha256:<hex>" (the layer's diff ID). */
  diffID: string;
  /** bytes the applied files take (sum of regular file sizes written). */
  size: number;
}

/**
 * One changed path of a snapshot relative to its parent. `path` is absolute inside the
 * snapshot ("/etc/hostname"). Parents of changed paths are not listed unless they
 * changed themselves: changes.ts completes the list as Docker shows it.
 */
export interface PathChange {
  path: string;
  kind: 'modified' | 'added' | 'deleted';
}

export interface SnapshotInfo {
  name: string;
  parent?: string;
  kind: 'active' | 'committed';
}

export interface Snapshotter {
  /** Docker's name for the storage driver, shown by `info`: "overlay2" or "vfs". */
  readonly driver: 'overlay2' | 'vfs';
  prepare(key: string, parent?: string): Promise<Mount[]>;
  mounts(key: string): Promise<Mount[]>;
  /** Applies an uncompressed layer tar (with .wh. whiteouts) to an active snapshot. */
  apply(key: string, tar: Readable): Promise<ApplyResult>;
  commit(name: string, key: string): Promise<void>;
  /**
   * True when a layer applied to a snapshot without a parent holds the same files as one
   * applied on top of its parent (overlay's upper dirs do; vfs copies the parent's tree in),
   * so layers can be unpacked side by side and given their parents when committed.
   */
  readonly appliesLayersApart: boolean;
  /** Commits a parentless active snapshot under `parent` (only when appliesLayersApart). */
  commitOnto(name: string, key: string, parent: string | undefined): Promise<void>;
  /** Takes the snapshot out of sight at once; its files are deleted in the background. */
  remove(keyOrName: string): Promise<void>;
  /**
   * Resolves once the files of every removal begun so far are deleted: rmi waits for them,
   * as dockerd's does, so that a pull right after does not compete with the deletion.
   */
  deletions(): Promise<void>;
  stat(keyOrName: string): Promise<SnapshotInfo | undefined>;
  /** Every snapshot, active and committed (start-up clean-up of unfinished work). */
  list(): Promise<SnapshotInfo[]>;
  /** Bytes used by the snapshot's own layer (not its parents). */
  usage(keyOrName: string): Promise<number>;
  /** A directory holding the snapshot's own changes (overlay upper dir, or the vfs copy). */
  changesDir(keyOrName: string): Promise<string>;
  /**
   * The snapshot's changes relative to its parent as an uncompressed layer tar (OCI /
   * Docker form: `.wh.NAME` for deletions, `.wh..wh..opq` after a directory that
   * replaced a lower one, hardlinks between paths of the layer, xattrs as PAX records).
   * Sorted, and built from nothing but the file tree, so the same tree gives the same
   * bytes and thus the same diff ID. `apply` of it on a fresh snapshot of the same parent
   * gives the same tree, mtimes rounded down to whole seconds. Errors (an unknown key
   * included) arrive as the stream's error. Mostly used on active snapshots; a
   * committed one works too. The snapshot should not change while the tar is read.
   */
  diff(keyOrName: string): Readable;
  /** The paths the snapshot changed relative to its parent, in no promised order. */
  changes(keyOrName: string): Promise<PathChange[]>;
}
