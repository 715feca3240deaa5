import type { Readable, Writable } from 'node:stream';

/**
 * The one storage interface under every registry route.
 *
 * Paths are logical: '/'-separated, relative to the driver's root, never containing '..'.
 * A driver knows nothing of blobs, repositories or digests; the stores above it give the
 * paths their meaning. That keeps a second backend (an object store) to one file.
 *
 * - getContent / putContent: small whole files (links, upload state). putContent is atomic:
 *   a reader sees the old content or the new, never a mix.
 * - reader(path, offset) / writer(path, append): streams for blob data; writer(append=true)
 *   continues a partial file so uploads can resume.
 * - move: the only way data becomes visible under a new path (atomic on the filesystem driver).
 * - delete: removes a file or a whole subtree.
 * - list: immediate children, as full logical paths. walk: every file below a path.
 *
 * Missing paths throw PathNotFoundError so callers can tell "absent" from "broken".
 */
export interface FileInfo {
  path: string;
  size: number;
  modTime: Date;
  isDir: boolean;
}

export interface StorageDriver {
  getContent(path: string): Promise<Buffer>;
  putContent(path: string, data: Buffer | string): Promise<void>;
  reader(path: string, offset?: number): Promise<Readable>;
  writer(path: string, append: boolean): Promise<Writable>;
  stat(path: string): Promise<FileInfo>;
  list(path: string): Promise<string[]>;
  move(from: string, to: string): Promise<void>;
  delete(path: string): Promise<void>;
  /** Calls fn for every file (not directory) below path; a missing path walks nothing. */
  walk(path: string, fn: (info: FileInfo) => Promise<void> | void): Promise<void>;
}

export class PathNotFoundError extends Error {
  constructor(readonly path: string) {
    super(`path not found: ${path}`);
    this.name = 'PathNotFoundError';
  }
}

export const isNotFound = (e: unknown): e is PathNotFoundError => e instanceof PathNotFoundError;

/** Runs fn, returning undefined instead of throwing when the path does not exist. */
export async function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}
