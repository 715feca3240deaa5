import * as fs from 'node:fs';
import * as path from 'node:path';
import { invalid } from '../common/errors';

/**
 * Path safety for unpacking layers: every name in a tar is treated as a path inside
 * the layer's root, as if the unpacking process were chrooted there.
 *
 * Two steps, as Docker's ApplyLayer does them:
 * 1. `cleanEntryPath` cleans the name lexically. A leading "/" or "./" is dropped
 *    (Docker strips them too: "/etc/passwd" in a layer means the layer's etc/passwd);
 *    a name whose ".." climbs above the root is rejected.
 * 2. `resolveParent` walks the parent directories on disk. A symlink met on the way is
 *    followed *inside* the root (an absolute target starts again at the root, ".." stops
 *    at the root), so a layer holding `evil -> /` then `evil/tmp/x` writes
 *    `<root>/tmp/x`, never the host's /tmp/x. The last component is never followed:
 *    callers replace or create it with calls that do not follow symlinks.
 */

/** Most symlinks followed while resolving one path, as Linux's MAXSYMLINKS (40). */
const MAX_SYMLINK_HOPS = 40;

/**
 * Returns the name as components relative to the root ([] for the root itself).
 * Throws INVALID_PARAMETER naming the path when it escapes the root.
 */
export function cleanEntryPath(name: string): string[] {
  if (name.includes('\0')) throw unsafe(name, 'contains a NUL byte');
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) throw unsafe(name, 'escapes the layer');
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out;
}

export function unsafe(name: string, why: string): Error {
  return invalid(`invalid tar header: unsafe path ${JSON.stringify(name)} ${why}`);
}

export interface ResolveOptions {
  /**
   * What a missing directory means: "create" makes it (mode 0755, owned by root, as
   * Docker's MkdirAll), "fail" rejects the entry, "stop" makes resolveDir return undefined.
   */
  missing: 'create' | 'fail' | 'stop';
  /**
   * Reject, instead of following within the root, any symlink whose target would leave
   * the root if the host followed it (absolute, or climbing above the root). Used for
   * hardlink targets, which the host kernel resolves as well.
   */
  refuseEscapingSymlinks?: boolean;
  /** The tar name, for error messages. */
  entryName: string;
  /** Directories resolved before, to start from (only with missing: "create", never with refuseEscapingSymlinks). */
  known?: ResolvedDirs;
}

/**
 * Directories of one unpacking already resolved, by their cleaned components, each to its
 * real place (components relative to the root, symlinks followed within it, a directory
 * there). An entry in a known directory then costs no lstat per path component.
 *
 * A resolution stays true as long as nothing under the root is removed or replaced: an
 * entry is only ever created where no name was (resolving a path creates the directories
 * it lacks, so a name a resolution went through exists, and replacing it is a removal).
 * The unpacker therefore calls `forget` whenever it removes anything. Nothing else writes
 * to a snapshot while a layer is unpacked into it.
 */
export class ResolvedDirs {
  private readonly dirs = new Map<string, string[]>();

  /** The resolution of `components`, or of their longest known prefix, and how many components it covers. */
  longestKnown(components: string[]): { resolved: string[]; covered: number } | undefined {
    // a name deeper than any real path (PATH_MAX 4096 allows ~2048 components) is resolved
    // from the root, which refuses it: each prefix tried here costs a join of the whole name
    if (this.dirs.size === 0 || components.length > 2048) return undefined;
    for (let k = components.length; k > 0; k--) {
      const resolved = this.dirs.get(components.slice(0, k).join('/'));
      if (resolved) return { resolved, covered: k };
    }
    return undefined;
  }

  /** The host path of exactly these components, when known. */
  hostPath(root: string, components: string[]): string | undefined {
    const resolved = components.length === 0 ? [] : this.dirs.get(components.join('/'));
    return resolved && path.join(root, ...resolved);
  }

  /** Records that `components` resolve to the directory at `resolved` (relative to the root). */
  remember(components: string[], resolved: string[]): void {
    if (components.length > 0) this.dirs.set(components.join('/'), resolved);
  }

  forget(): void {
    this.dirs.clear();
  }
}

/**
 * Resolves directory components (relative to `root`) to a real directory inside
 * `root`, following symlinks only within it. Returns the host path of that directory.
 */
export function resolveDir(root: string, components: string[], opts: ResolveOptions & { missing: 'create' | 'fail' }): string;
export function resolveDir(root: string, components: string[], opts: ResolveOptions): string | undefined;
export function resolveDir(root: string, components: string[], opts: ResolveOptions): string | undefined {
  const known = opts.missing === 'create' && !opts.refuseEscapingSymlinks ? opts.known : undefined;
  const start = known?.longestKnown(components);
  const pending = start ? components.slice(start.covered) : [...components];
  const current: string[] = start ? [...start.resolved] : [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      // ".." can only come from a symlink target here: names were cleaned already.
      if (current.length === 0 && opts.refuseEscapingSymlinks) throw unsafe(opts.entryName, 'goes through a symlink that leaves the layer');
      current.pop();
      continue;
    }
    const hostPath = path.join(root, ...current, part);
    // ENOENT is an answer, not an error: no exception (and its stack trace) is made for it
    const st = fs.lstatSync(hostPath, { throwIfNoEntry: false });
    if (st === undefined) {
      if (opts.missing === 'stop') return undefined;
      if (opts.missing === 'fail') throw invalid(`invalid tar header: ${JSON.stringify(opts.entryName)}: ${path.join(...current, part)} does not exist in the layer`);
      fs.mkdirSync(hostPath, 0o755);
      current.push(part);
      continue;
    }
    if (st.isSymbolicLink()) {
      if (++hops > MAX_SYMLINK_HOPS) throw invalid(`invalid tar header: ${JSON.stringify(opts.entryName)}: too many levels of symbolic links`);
      const target = fs.readlinkSync(hostPath);
      if (target.startsWith('/')) {
        if (opts.refuseEscapingSymlinks) throw unsafe(opts.entryName, 'goes through a symlink that leaves the layer');
        current.length = 0;
      }
      pending.unshift(...target.split('/'));
      continue;
    }
    if (!st.isDirectory()) {
      if (opts.missing === 'stop') return undefined;
      throw invalid(`invalid tar header: ${JSON.stringify(opts.entryName)}: ${path.join(...current, part)} is not a directory`);
    }
    current.push(part);
  }
  known?.remember(components, current);
  return path.join(root, ...current);
}

/** Where an entry goes: the real parent directory and the entry's own name in it. */
export interface Placement {
  parentDir: string;
  base: string;
  hostPath: string;
}

export function placeEntry(root: string, components: string[], entryName: string, known?: ResolvedDirs): Placement {
  const base = components[components.length - 1];
  const parentDir = resolveDir(root, components.slice(0, -1), { missing: 'create', entryName, known });
  return { parentDir, base, hostPath: path.join(parentDir, base) };
}
