import * as fs from 'node:fs';
import * as path from 'node:path';
import { system } from '../common/errors';
import type { PathChange } from './snapshotter';
import { joinRel, lstatIfExists, readXattrTree, sortedNames, Stat, TarSink, Xattrs } from './tar-export';

/**
 * From a snapshot back to a layer: which paths changed, and the layer tar of them.
 *
 * overlay2: the upper dir *is* the change set. Every path in it is written (so the
 * parents of changed paths appear as directory entries, as Docker's overlay2 diff has
 * them); a 0/0 character device is a deletion (`.wh.NAME`), a directory with
 * trusted.overlay.opaque=y replaced a lower one (the directory, then `.wh..wh..opq`).
 * The lower dirs are only read to tell added from modified for `changes`.
 *
 * vfs: the snapshot is a full copy, so it is compared with its parent's copy, path by
 * path, as Docker's naive diff does: a path changed when its type, mode, owner, xattrs
 * or symlink target differ, or (not for directories, whose size depends on the file
 * system's history) its size, mtime or device number; a directory also when its mtime
 * differs. A path only in the parent is a deletion. A replaced directory is written as
 * plain whiteouts of what it lost, never as opaque. Unchanged directories that hold
 * changes are written too, so their metadata comes back on apply.
 *
 * Within a directory, deletions come first (the OCI layer spec asks whiteouts to
 * precede their siblings), then the entries sorted by name, each directory followed by
 * its own contents.
 */
const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
const OPAQUE_XATTR = 'trusted.overlay.opaque';
/** Written by overlayfs only with redirect_dir / metacopy on: upper dirs then lie about content. */
const UNSUPPORTED_OVERLAY_XATTRS = ['trusted.overlay.redirect', 'trusted.overlay.metacopy'];
const DEFAULT_ROOT = { mode: 0o40755n, uid: 0n, gid: 0n };

function isWhiteout(st: Stat): boolean {
  return st.isCharacterDevice() && st.rdev === 0n;
}

function isOpaque(xattrs: Xattrs | undefined): boolean {
  return xattrs?.get(OPAQUE_XATTR)?.toString() === 'y';
}

function markerName(rel: string): string {
  return path.posix.join(path.posix.dirname(rel), WHITEOUT_PREFIX + path.posix.basename(rel));
}

/**
 * The root's own entry ("./") is written only when its mode or owner differ from the
 * parent's root (or, with no parent, from a root-owned 0755 directory): its mtime
 * changes with every top-level change and says nothing.
 */
function rootChanged(st: Stat, parentRoot: string | undefined): boolean {
  const p = parentRoot === undefined ? DEFAULT_ROOT : fs.lstatSync(parentRoot, { bigint: true });
  return st.mode !== p.mode || st.uid !== p.uid || st.gid !== p.gid;
}

// ---------------------------------------------------------------- overlay2

function checkOverlayFeatures(upper: string, xattrs: Map<string, Xattrs>): void {
  for (const [rel, attrs] of xattrs) {
    for (const name of UNSUPPORTED_OVERLAY_XATTRS) {
      if (attrs.has(name)) throw system(`cannot diff ${path.join(upper, rel)}: it carries ${name} (overlayfs redirect_dir/metacopy are not supported)`);
    }
  }
}

/** Writes the layer tar of an overlay upper dir; `parentRoot` is the topmost lower dir, if any. */
export async function writeOverlayDiff(sink: TarSink, upper: string, parentRoot: string | undefined): Promise<void> {
  const xattrs = await readXattrTree(upper);
  checkOverlayFeatures(upper, xattrs);
  const rootStat = fs.lstatSync(upper, { bigint: true });
  if (rootChanged(rootStat, parentRoot)) await sink.node('.', upper, rootStat, xattrs.get(''));
  const walk = async (rel: string): Promise<void> => {
    const entries = sortedNames(path.join(upper, rel)).map((name) => {
      const r = joinRel(rel, name);
      return { r, st: fs.lstatSync(path.join(upper, r), { bigint: true }) };
    });
    for (const e of entries) if (isWhiteout(e.st)) await sink.marker(markerName(e.r));
    for (const { r, st } of entries) {
      if (isWhiteout(st)) continue;
      await sink.node(r, path.join(upper, r), st, xattrs.get(r));
      if (!st.isDirectory()) continue;
      if (isOpaque(xattrs.get(r))) await sink.marker(`${r}/${OPAQUE_MARKER}`);
      await walk(r);
    }
  };
  await walk('');
}

/**
 * The changed paths of an overlay upper dir, as Docker's overlay2 driver reports them:
 * whiteouts are deletions; a path found in the lower dirs is modified, else added; a
 * directory present below whose mode, owner and mtime are unchanged is not listed
 * (it only holds changes); an opaque directory that replaced a lower one is reported
 * deleted (its new contents as added), as dockerd does.
 * `lowers` are the parent's layers, topmost first.
 */
export async function overlayChanges(upper: string, lowers: string[]): Promise<PathChange[]> {
  const xattrs = await readXattrTree(upper);
  checkOverlayFeatures(upper, xattrs);
  const lowerView = new LowerView(lowers, await Promise.all(lowers.map((l) => readXattrTree(l, `^${OPAQUE_XATTR.replace(/\./g, '\\.')}$`))));
  const out: PathChange[] = [];
  // `hidden`: the lower dirs have nothing under this path (opaque, or new in the upper).
  const walk = (rel: string, hidden: boolean): void => {
    for (const name of sortedNames(path.join(upper, rel))) {
      const r = joinRel(rel, name);
      const st = fs.lstatSync(path.join(upper, r), { bigint: true });
      if (isWhiteout(st)) {
        out.push({ path: '/' + r, kind: 'deleted' });
        continue;
      }
      const lower = hidden ? undefined : lowerView.stat(r);
      if (!st.isDirectory()) {
        out.push({ path: '/' + r, kind: lower ? 'modified' : 'added' });
        continue;
      }
      const opaque = isOpaque(xattrs.get(r));
      if (lower === undefined) out.push({ path: '/' + r, kind: 'added' });
      else if (opaque) out.push({ path: '/' + r, kind: 'deleted' });
      else if (!lower.isDirectory() || dirMetaDiffers(st, lower)) out.push({ path: '/' + r, kind: 'modified' });
      walk(r, hidden || opaque || lower === undefined || !lower.isDirectory());
    }
  };
  walk('', false);
  return out;
}

function dirMetaDiffers(a: Stat, b: Stat): boolean {
  return a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid || a.mtimeNs !== b.mtimeNs;
}

/** Looks paths up in a stack of overlay lower dirs the way overlayfs merges them. */
class LowerView {
  constructor(
    private readonly layers: string[],
    /** Per layer, its opaque directories (as readXattrTree gives them). */
    private readonly opaque: Map<string, Xattrs>[],
  ) {}

  /** The path's lstat in the merged lower view, or undefined when it is absent or deleted there. */
  stat(rel: string): Stat | undefined {
    const parts = rel.split('/');
    for (let l = 0; l < this.layers.length; l++) {
      let cur = '';
      for (let i = 0; i < parts.length; i++) {
        cur = joinRel(cur, parts[i]);
        const st = lstatIfExists(path.join(this.layers[l], cur));
        if (st === undefined) {
          // Absent here: lower layers decide, unless the last directory found here is opaque.
          if (i > 0 && isOpaque(this.opaque[l].get(parts.slice(0, i).join('/')))) return undefined;
          break;
        }
        if (isWhiteout(st)) return undefined;
        if (i === parts.length - 1) return st;
        if (!st.isDirectory()) return undefined; // a file here hides whatever lies below its path
      }
    }
    return undefined;
  }
}

// ---------------------------------------------------------------- vfs (two full trees)

/** One step of a tree comparison, in the order the layer tar is written. */
type TreeItem =
  | { kind: 'entry'; rel: string; st: Stat; change?: 'modified' | 'added' }
  | { kind: 'whiteout'; rel: string };

/** Compares `newRoot` with `oldRoot` (absent: everything is added). */
async function compareTrees(newRoot: string, oldRoot: string | undefined): Promise<{ items: TreeItem[]; xattrs: Map<string, Xattrs> }> {
  const [newX, oldX] = await Promise.all([readXattrTree(newRoot), oldRoot === undefined ? new Map<string, Xattrs>() : readXattrTree(oldRoot)]);
  const differs = (rel: string, a: Stat, b: Stat): boolean => {
    // st_mode holds the type as well as the permission bits.
    if (a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid) return true;
    if (a.mtimeNs !== b.mtimeNs) return true;
    if (!a.isDirectory() && (a.size !== b.size || a.rdev !== b.rdev)) return true;
    if (a.isSymbolicLink() && fs.readlinkSync(path.join(newRoot, rel)) !== fs.readlinkSync(path.join(oldRoot as string, rel))) return true;
    return !sameXattrs(newX.get(rel), oldX.get(rel));
  };
  const walk = (rel: string, oldIsDir: boolean, out: TreeItem[]): void => {
    const names = sortedNames(path.join(newRoot, rel));
    if (oldIsDir && oldRoot !== undefined) {
      const present = new Set(names);
      for (const gone of sortedNames(path.join(oldRoot, rel))) {
        if (!present.has(gone)) out.push({ kind: 'whiteout', rel: joinRel(rel, gone) });
      }
    }
    for (const name of names) {
      const r = joinRel(rel, name);
      const st = fs.lstatSync(path.join(newRoot, r), { bigint: true });
      if (st.isSocket()) continue;
      const old = oldIsDir && oldRoot !== undefined ? lstatIfExists(path.join(oldRoot, r)) : undefined;
      const change = old === undefined ? 'added' : differs(r, st, old) ? 'modified' : undefined;
      if (!st.isDirectory()) {
        if (change) out.push({ kind: 'entry', rel: r, st, change });
        continue;
      }
      const inside: TreeItem[] = [];
      walk(r, old?.isDirectory() === true, inside);
      if (change || inside.length > 0) out.push({ kind: 'entry', rel: r, st, change }, ...inside);
    }
  };
  const items: TreeItem[] = [];
  walk('', oldRoot !== undefined, items);
  return { items, xattrs: newX };
}

function sameXattrs(a: Xattrs | undefined, b: Xattrs | undefined): boolean {
  const keys = (x: Xattrs | undefined) => [...(x?.keys() ?? [])].filter((k) => !k.startsWith('trusted.overlay.')).sort();
  const ka = keys(a);
  const kb = keys(b);
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && (a?.get(k) as Buffer).equals(b?.get(k) as Buffer));
}

/** Writes the layer tar of a full-copy snapshot `newRoot` against its parent's copy. */
export async function writeTreeDiff(sink: TarSink, newRoot: string, oldRoot: string | undefined): Promise<void> {
  const { items, xattrs } = await compareTrees(newRoot, oldRoot);
  const rootStat = fs.lstatSync(newRoot, { bigint: true });
  if (rootChanged(rootStat, oldRoot)) await sink.node('.', newRoot, rootStat, xattrs.get(''));
  for (const item of items) {
    if (item.kind === 'whiteout') await sink.marker(markerName(item.rel));
    else await sink.node(item.rel, path.join(newRoot, item.rel), item.st, xattrs.get(item.rel));
  }
}

/** The changed paths of a full-copy snapshot against its parent's copy (Docker's naive diff). */
export async function treeChanges(newRoot: string, oldRoot: string | undefined): Promise<PathChange[]> {
  const { items } = await compareTrees(newRoot, oldRoot);
  const out: PathChange[] = [];
  for (const item of items) {
    if (item.kind === 'whiteout') out.push({ path: '/' + item.rel, kind: 'deleted' });
    else if (item.change) out.push({ path: '/' + item.rel, kind: item.change });
  }
  return out;
}

