import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, createReadStream, lchownSync, lstatSync, lutimesSync, mkdirSync, promises as fsp, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import { invalid } from '../common/errors';

/**
 * The build context on disk (the tar the client sent, unpacked into a folder of the
 * build's own) and what COPY and ADD need of it: source patterns resolved inside the
 * context, a digest of the content they name (the cache key), and the copy itself.
 */
export type Excluded = (relPath: string) => boolean;

const GLOB = /[*?[\\]/;

export function globToRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw invalid(`syntax error in pattern: ${pattern}`);
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^')) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i]}`;
    else re += c.replace(/[.+^${}()|]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** A source of COPY/ADD, cleaned and checked to stay inside the context. */
function cleanSource(src: string): string {
  const cleaned = path.posix.normalize(`/${src}`).slice(1);
  if (path.posix.normalize(src).startsWith('../') || path.posix.normalize(src) === '..') {
    throw invalid(`forbidden path outside the build context: ${src} ()`);
  }
  return cleaned === '' ? '.' : cleaned;
}

/** Expands one source pattern to the context-relative paths it names (sorted). */
export async function resolveSource(contextDir: string, src: string, excluded: Excluded): Promise<string[]> {
  const clean = cleanSource(src);
  if (!GLOB.test(clean)) {
    const abs = path.join(contextDir, clean);
    await assertInside(contextDir, abs, src);
    try {
      await fsp.lstat(abs);
    } catch {
      throw invalid(`COPY failed: file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`);
    }
    if (clean !== '.' && excluded(clean)) throw invalid(`COPY failed: file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`);
    return [clean];
  }
  const parts = clean.split('/');
  let current = [''];
  for (const part of parts) {
    const next: string[] = [];
    for (const base of current) {
      if (!GLOB.test(part)) {
        next.push(base ? `${base}/${part}` : part);
        continue;
      }
      const re = globToRegex(part);
      const entries = await fsp.readdir(path.join(contextDir, base)).catch(() => [] as string[]);
      for (const e of entries.sort()) if (re.test(e)) next.push(base ? `${base}/${e}` : e);
    }
    current = next;
  }
  const found: string[] = [];
  for (const rel of current) {
    try {
      await fsp.lstat(path.join(contextDir, rel));
      if (!excluded(rel)) found.push(rel);
    } catch {
      /* no such path */
    }
  }
  if (found.length === 0) throw invalid(`COPY failed: no source files were specified`);
  return found;
}

async function assertInside(contextDir: string, abs: string, shown: string): Promise<void> {
  const real = await fsp.realpath(abs).catch(() => abs);
  const root = await fsp.realpath(contextDir);
  if (real !== root && !real.startsWith(`${root}/`)) throw invalid(`forbidden path outside the build context: ${shown} ()`);
}

/**
 * A digest of what the sources name: paths, types, modes, link targets and file content,
 * never times, so an unchanged context gives the same cache key on every build.
 */
export async function digestSources(contextDir: string, sources: string[], excluded: Excluded): Promise<string> {
  const h = createHash('sha256');
  // Synchronous calls: a context is thousands of small files, and one await per file costs
  // more than the reads themselves. Large files are streamed.
  const visit = async (rel: string): Promise<void> => {
    const abs = path.join(contextDir, rel);
    const st = lstatSync(abs);
    h.update(`${rel}\0${st.mode}\0`);
    if (st.isSymbolicLink()) h.update(`link:${readlinkSync(abs)}\0`);
    else if (st.isFile()) {
      h.update(`size:${st.size}\0`);
      if (st.size < 1 << 20) h.update(readFileSync(abs));
      else for await (const chunk of createReadStream(abs)) h.update(chunk as Buffer);
    } else if (st.isDirectory()) {
      for (const e of readdirSync(abs).sort()) {
        const child = rel === '.' ? e : `${rel}/${e}`;
        if (!excluded(child)) await visit(child);
      }
    }
  };
  for (const s of sources) await visit(s);
  return h.digest('hex');
}

export interface CopyOptions {
  uid?: number;
  gid?: number;
  mode?: number;
}

/**
 * Copies a context path to `dest` (a host path already resolved inside the step's root):
 * a directory's content goes into `dest`, a file becomes `dest`. Symlinks are copied as
 * links, never followed. Owners are root unless --chown says otherwise, as Docker does.
 */
export async function copyPath(contextDir: string, rel: string, dest: string, excluded: Excluded, o: CopyOptions): Promise<void> {
  copyPathSync(contextDir, rel, dest, excluded, o);
}

// Synchronous for the same reason as digestSources: one await per small file is the cost.
function copyPathSync(contextDir: string, rel: string, dest: string, excluded: Excluded, o: CopyOptions): void {
  const abs = path.join(contextDir, rel);
  const st = lstatSync(abs);
  if (st.isDirectory()) {
    ensureDir(dest, st, o);
    for (const e of readdirSync(abs).sort()) {
      const child = rel === '.' ? e : `${rel}/${e}`;
      if (excluded(child)) continue;
      copyPathSync(contextDir, child, path.join(dest, e), excluded, o);
    }
    return;
  }
  mkdirSync(path.dirname(dest), { recursive: true });
  const existing = lstatIfExists(dest);
  if (existing) rmSync(dest, { recursive: true, force: true });
  if (st.isSymbolicLink()) {
    symlinkSync(readlinkSync(abs), dest);
  } else if (st.isFile()) {
    copyFileSync(abs, dest);
    chmodSync(dest, o.mode ?? st.mode & 0o7777);
  } else {
    return; // sockets, devices and fifos in a context are not copied
  }
  lchownSync(dest, o.uid ?? 0, o.gid ?? 0);
  lutimesSync(dest, st.atime, st.mtime);
}

function lstatIfExists(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

function ensureDir(dest: string, st: Stats, o: CopyOptions): void {
  const existing = lstatIfExists(dest);
  if (existing && !existing.isDirectory()) rmSync(dest, { force: true });
  if (!existing || !existing.isDirectory()) {
    mkdirSync(dest, { recursive: true });
    chmodSync(dest, o.mode ?? st.mode & 0o7777);
    lchownSync(dest, o.uid ?? 0, o.gid ?? 0);
  }
}
