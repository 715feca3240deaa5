import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { system } from '../common/errors';
import type { Mount } from './snapshotter';
import { MNT_DETACH, native } from '../native';

/**
 * Mounting what a snapshotter describes, through mount(8)/umount(8) (util-linux).
 *
 * mount(2) takes its options in one page (4096 bytes). When an overlay's options are
 * longer, the lower/upper/work paths are rewritten relative to their common directory
 * and mount(8) runs there, as Docker's overlay2 driver does; with the snapshotter's
 * short `l/` links that holds a couple of hundred layers.
 *
 * With the native addon (src/native/), an overlay whose options are all overlay's own and
 * fit the page, and every unmount, are system calls made in the daemon instead.
 */
const PAGE_SIZE = 4096;
const PATH_OPTIONS = ['lowerdir', 'upperdir', 'workdir'];
/** overlay's own options: passed to mount(2) as its data, with no mount flags to derive */
const OVERLAY_DATA = new Set([...PATH_OPTIONS, 'index', 'redirect_dir', 'metacopy', 'xino', 'userxattr', 'volatile', 'nfs_export', 'uuid', 'default_permissions']);

/** Mounts each in turn on `target` (later ones on top); undoes them all if one fails. */
export async function mountAll(mounts: Mount[], target: string): Promise<void> {
  let done = 0;
  try {
    for (const m of mounts) {
      await mountOne(m, target);
      done++;
    }
  } catch (e) {
    for (; done > 0; done--) await unmount(target).catch(() => undefined);
    throw e;
  }
}

async function mountOne(m: Mount, target: string): Promise<void> {
  if (m.type === 'bind') {
    // mount(8) turns "bind,ro" into a bind followed by a read-only remount.
    await mountCommand(['-o', m.options.join(','), '--', m.source, target]);
    return;
  }
  let options = m.options.join(',');
  if (native && m.type === 'overlay' && options.length < PAGE_SIZE && m.options.every((o) => OVERLAY_DATA.has(splitOption(o)[0]))) {
    await native.mount(m.source, target, 'overlay', 0, options).catch((e: Error) => {
      throw system(`mounting: ${e.message}`, e);
    });
    return;
  }
  let cwd: string | undefined;
  if (options.length >= PAGE_SIZE) ({ options, cwd } = relativeOptions(m.options));
  await mountCommand(['-t', m.type, '-o', options, '--', m.source, target], cwd);
}

function relativeOptions(options: string[]): { options: string; cwd: string } {
  const paths: string[] = [];
  for (const o of options) {
    const [key, value] = splitOption(o);
    if (PATH_OPTIONS.includes(key)) paths.push(...value.split(':'));
  }
  const cwd = commonDir(paths);
  const rewritten = options.map((o) => {
    const [key, value] = splitOption(o);
    if (!PATH_OPTIONS.includes(key)) return o;
    return `${key}=${value
      .split(':')
      .map((p) => path.relative(cwd, p) || '.')
      .join(':')}`;
  });
  const joined = rewritten.join(',');
  if (joined.length >= PAGE_SIZE) throw system(`mount options too long (${joined.length} bytes even with relative paths): too many layers`);
  return { options: joined, cwd };
}

function splitOption(o: string): [string, string] {
  const i = o.indexOf('=');
  return i < 0 ? [o, ''] : [o.slice(0, i), o.slice(i + 1)];
}

function commonDir(paths: string[]): string {
  let common = path.dirname(paths[0] ?? '/');
  for (const p of paths) {
    while (common !== '/' && p !== common && !p.startsWith(common + '/')) common = path.dirname(common);
  }
  return common;
}

/**
 * Unmounts `target`. Not being mounted (or not existing) counts as success; a busy
 * mount is detached lazily (MNT_DETACH), so that it goes once its last user does.
 */
export async function unmount(target: string): Promise<void> {
  if (native) return unmountNative(target);
  try {
    await runMount('umount', ['--', target]);
  } catch (e) {
    const msg = (e as Error).message;
    if (/not mounted|no mount point specified|No such file or directory/i.test(msg)) return;
    if (/busy/i.test(msg)) {
      await runMount('umount', ['-l', '--', target]);
      return;
    }
    throw system(`unmounting ${target}: ${msg}`, e);
  }
}

async function unmountNative(target: string): Promise<void> {
  const n = native!;
  try {
    await n.umount(target, 0);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // not a mount point (EINVAL) or not there: as umount(8) says "not mounted"
    if (code === 'EINVAL' || code === 'ENOENT') return;
    if (code === 'EBUSY') {
      await n.umount(target, MNT_DETACH).catch((e2: Error) => {
        throw system(`unmounting ${target}: ${e2.message}`, e2);
      });
      return;
    }
    throw system(`unmounting ${target}: ${(e as Error).message}`, e);
  }
}

async function mountCommand(args: string[], cwd?: string): Promise<void> {
  try {
    await runMount('mount', args, cwd);
  } catch (e) {
    throw system(`mounting: ${(e as Error).message}`, e);
  }
}

function runMount(cmd: string, args: string[], cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, timeout: 60_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
  });
}
