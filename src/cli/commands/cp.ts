/** `berth cp`: files and folders between a container and the local file system, as `docker cp`. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline as pipe, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CommandContext, CommandSpec } from '../command';
import { StatusError } from '../errors';
import { EngineError, errorMessageFromBody, type EngineClient } from '../../client/engine';
import { humanSize } from '../../common/units';
import { extractTar } from '../../archive/extract';
import { packLocation } from '../../archive/pack';
import { assertsDirectory, decodePathStat, endsWithDot, GoMode, hasModeBit, STAT_HEADER, type PathStat } from '../../archive/path-stat';
import { ScopedFS } from '../../archive/scoped-fs';

interface CopyConfig {
  container: string;
  followLink: boolean;
  copyUIDGID: boolean;
  quiet: boolean;
}

/** What is known of one side of a copy: docker's CopyInfo. */
interface CopyInfo {
  path: string;
  exists: boolean;
  isDir: boolean;
  /** the name the top entry must get (a followed symlink keeps the link's name) */
  rebaseName?: string;
}

export const cp: CommandSpec = {
  usage: '[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
  summary:
    "Copy files/folders between a container and the local filesystem\n\nUse '-' as the source to read a tar archive from stdin\nand extract it to a directory destination in a container.\nUse '-' as the destination to stream a tar archive of a\ncontainer source to stdout.",
  aliases: ['container cp', 'cp'],
  args: { min: 2, max: 2 },
  flags: [
    { name: 'archive', short: 'a', type: 'bool', help: 'Archive mode (copy all uid/gid information)' },
    { name: 'follow-link', short: 'L', type: 'bool', help: 'Always follow symbol link in SRC_PATH' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress progress output during copy. Progress\noutput is automatically suppressed if no terminal\nis attached' },
  ],
  async run(ctx, p) {
    const [source, destination] = p.args;
    if (source === '') throw new StatusError('source can not be empty');
    if (destination === '') throw new StatusError('destination can not be empty');
    const src = splitCpArg(source);
    const dst = splitCpArg(destination);
    if (src.container && dst.container) throw new StatusError('copying between containers is not supported');
    const base = {
      followLink: p.values['follow-link'] === true,
      copyUIDGID: p.values.archive === true,
      // docker prints its summary only when its standard output is a terminal
      quiet: p.values.quiet === true || !ctx.stdout.isTTY,
    };
    if (src.container) return copyFromContainer(ctx, src.path, dst.path, { ...base, container: src.container });
    if (dst.container) return copyToContainer(ctx, src.path, dst.path, { ...base, container: dst.container });
    throw new StatusError('must specify at least one container source');
  },
};

/** "web:/etc" → container and path; an absolute path or one starting with "." is local ("./a:b"). */
export function splitCpArg(arg: string): { container?: string; path: string } {
  if (arg.startsWith('/')) return { path: arg };
  const i = arg.indexOf(':');
  if (i < 0 || arg.startsWith('.')) return { path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) };
}

// ---------------------------------------------------------------- out of a container

async function copyFromContainer(ctx: CommandContext, srcPath: string, dstPath: string, cfg: CopyConfig): Promise<number> {
  let dst = dstPath;
  if (dst !== '-') {
    dst = keepEnding(path.resolve(dst), dstPath);
    validateOutputPath(dst);
  }
  const client = ctx.client();
  let rebaseName: string | undefined;
  if (cfg.followLink) {
    const st = await statPath(client, cfg.container, srcPath).catch(() => undefined);
    if (st && hasModeBit(st.mode, GoMode.symlink)) {
      const target = st.linkTarget.startsWith('/') ? st.linkTarget : path.posix.join(splitDirEntry(srcPath).dir, st.linkTarget);
      ({ path: srcPath, rebaseName } = rebaseForLink(srcPath, target));
    }
  }
  const res = await client.request('GET', `/containers/${encodeURIComponent(cfg.container)}/archive`, { query: { path: srcPath } });
  if (res.status !== 200) throw new EngineError(res.status, errorMessageFromBody(res.status, await res.text()));
  if (dst === '-') {
    await pipeline(res.stream, ctx.stdout);
    return 0;
  }
  const stat = decodePathStat(res.headers[STAT_HEADER.toLowerCase()]);
  const srcInfo: CopyInfo = { path: srcPath, exists: true, isDir: stat ? hasModeBit(stat.mode, GoMode.dir) : false, rebaseName };
  const counter = new ByteCounter();
  await copyToLocal(pipe(res.stream, counter, () => undefined), srcInfo, dst, cfg.copyUIDGID);
  if (!cfg.quiet) ctx.err(`Successfully copied ${humanSize(counter.bytes)} to ${dst}\n`);
  return 0;
}

/** docker's ValidateOutputPath: the parent must exist; an existing path must be a directory or a file. */
function validateOutputPath(p: string): void {
  const dir = path.dirname(path.resolve(p));
  if (!fs.existsSync(dir)) throw new StatusError(`invalid output path: directory ${JSON.stringify(dir)} does not exist`);
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new StatusError(goError(e, 'stat', p));
  }
  if (st.isDirectory() || st.isFile()) return;
  throw new StatusError(`invalid output path: ${JSON.stringify(p)} must be a directory or a regular file: ${oddType(st)}`);
}

/** Extracts a container's tar at the local `dstPath`, with docker cp's rules for names. */
async function copyToLocal(content: Readable, src: CopyInfo, dstPath: string, keepOwners: boolean): Promise<void> {
  const dst = destinationInfo(dstPath);
  const srcTop = splitDirEntry(src.path).base;
  const srcName = src.rebaseName ?? srcTop;
  let into: string;
  let to: string;
  if (dst.exists && dst.isDir) {
    into = dst.path;
    to = srcName;
  } else if (dst.exists && src.isDir) {
    throw new StatusError('cannot copy directory');
  } else if (!dst.exists && !src.isDir && assertsDirectory(dst.path)) {
    throw new StatusError('no such directory');
  } else {
    into = splitDirEntry(dst.path).dir;
    to = splitDirEntry(dst.path).base;
  }
  const root = fs.realpathSync(into);
  const sfs = ScopedFS.open(root, [], 'refuse');
  try {
    await extractTar(sfs, sfs.rootLocation(), content, {
      noOverwriteDirNonDir: true,
      owner: keepOwners ? 'header' : 'none',
      rebase: { from: srcTop, to },
      displayRoot: root,
    });
  } catch (e) {
    throw new StatusError(e instanceof Error ? e.message : String(e));
  } finally {
    sfs.close();
  }
}

/** docker's CopyInfoDestinationPath: a symlink at the destination is followed (up to 10 times). */
function destinationInfo(p: string): CopyInfo {
  let current = p;
  for (let n = 0; ; n++) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(current);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new StatusError(goError(e, 'lstat', current));
      const parent = splitDirEntry(current).dir;
      let pst: fs.Stats;
      try {
        pst = fs.statSync(parent);
      } catch (err) {
        throw new StatusError(goError(err, 'stat', parent));
      }
      if (!pst.isDirectory()) throw new StatusError('not a directory');
      return { path: current, exists: false, isDir: false };
    }
    if (!st.isSymbolicLink()) return { path: current, exists: true, isDir: st.isDirectory() };
    if (n >= 10) throw new StatusError(`too many symlinks in ${p}`);
    const target = fs.readlinkSync(current);
    current = target.startsWith('/') ? target : path.join(splitDirEntry(current).dir, target);
  }
}

// ---------------------------------------------------------------- into a container

async function copyToContainer(ctx: CommandContext, srcPath: string, dstPath: string, cfg: CopyConfig): Promise<number> {
  const client = ctx.client();
  const dst: CopyInfo = { path: dstPath, exists: false, isDir: false };
  let st = await statPath(client, cfg.container, dstPath).catch(() => undefined);
  if (st && hasModeBit(st.mode, GoMode.symlink)) {
    const target = st.linkTarget.startsWith('/') ? st.linkTarget : path.posix.join(splitDirEntry(dstPath).dir, st.linkTarget);
    dst.path = target;
    st = await statPath(client, cfg.container, target).catch(() => undefined);
  }
  if (st) {
    const odd = oddGoMode(st.mode);
    if (odd) throw new StatusError(`destination "${cfg.container}:${dstPath}" must be a directory or a regular file: ${odd}`);
    dst.exists = true;
    dst.isDir = hasModeBit(st.mode, GoMode.dir);
  }

  let content: Readable;
  let putDir: string;
  const counter = new ByteCounter();
  if (srcPath === '-') {
    if (!dst.isDir) throw new StatusError(`destination "${cfg.container}:${dstPath}" must be a directory`);
    content = ctx.stdin;
    putDir = dst.path;
  } else {
    const src = sourceInfo(srcPath, cfg.followLink);
    const srcName = src.rebaseName ?? splitDirEntry(src.path).base;
    let top: string;
    if (dst.exists && dst.isDir) {
      putDir = dst.path;
      top = srcName;
    } else if (dst.exists && src.isDir) {
      throw new StatusError('cannot copy directory');
    } else if (!dst.exists && !src.isDir && assertsDirectory(dst.path)) {
      throw new StatusError('no such directory');
    } else {
      putDir = splitDirEntry(dst.path).dir;
      top = splitDirEntry(dst.path).base;
    }
    content = pipe(packLocal(src.path, top), counter, () => undefined);
  }
  const res = await client.request('PUT', `/containers/${encodeURIComponent(cfg.container)}/archive`, {
    query: { path: putDir, noOverwriteDirNonDir: true, copyUIDGID: cfg.copyUIDGID },
    body: content,
    headers: { 'Content-Type': 'application/x-tar' },
  });
  const body = await res.text();
  if (res.status < 200 || res.status >= 300) throw new EngineError(res.status, errorMessageFromBody(res.status, body));
  if (!cfg.quiet) ctx.err(`Successfully copied ${humanSize(counter.bytes)} to ${cfg.container}:${dst.path}\n`);
  return 0;
}

/** docker's CopyInfoSourcePath: with -L a symlink is followed, and the copy keeps the link's name. */
function sourceInfo(srcPath: string, followLink: boolean): CopyInfo {
  let p = keepEnding(path.resolve(srcPath), srcPath);
  let rebaseName: string | undefined;
  if (followLink) {
    let real: string;
    try {
      real = fs.realpathSync(p);
    } catch (e) {
      throw new StatusError(goError(e, 'lstat', p));
    }
    ({ path: p, rebaseName } = rebaseForLink(p, keepEnding(real, p)));
  }
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch (e) {
    throw new StatusError(goError(e, 'lstat', p));
  }
  return { path: p, exists: true, isDir: st.isDirectory(), rebaseName };
}

/** A tar of a local path: the path itself named `top` ("." for its contents). */
function packLocal(localPath: string, top: string): Readable {
  const sfs = ScopedFS.open('/');
  let loc;
  try {
    loc = sfs.resolve(localPath, { followLast: endsWithDot(localPath) || localPath.endsWith('/') });
  } catch (e) {
    sfs.close();
    throw new StatusError(e instanceof Error ? e.message : String(e));
  }
  const tar = packLocation(sfs, loc, top);
  const done = () => {
    loc.close();
    sfs.close();
  };
  tar.once('close', done);
  return tar;
}

// ---------------------------------------------------------------- shared

async function statPath(client: EngineClient, container: string, p: string): Promise<PathStat> {
  const res = await client.request('HEAD', `/containers/${encodeURIComponent(container)}/archive`, { query: { path: p } });
  await res.buffer();
  const stat = decodePathStat(res.headers[STAT_HEADER.toLowerCase()]);
  if (res.status !== 200 || !stat) throw new EngineError(res.status, `stat ${container}:${p}: ${res.status}`);
  return stat;
}

/** docker's SplitPathDirEntry: "a/b/" → a, b; "a/b/." → a/b, "." */
export function splitDirEntry(p: string): { dir: string; base: string } {
  let clean = path.posix.normalize(p);
  if (clean.length > 1) clean = clean.replace(/\/+$/, '');
  if (endsWithDot(p) && clean !== '.') clean = clean === '/' ? '/.' : `${clean}/.`;
  return { dir: path.posix.dirname(clean), base: path.posix.basename(clean) || '/' };
}

/** A resolved path keeps the original's "/" or "/." ending (docker's PreserveTrailingDotOrSeparator). */
function keepEnding(resolved: string, original: string): string {
  if (endsWithDot(original) && !endsWithDot(resolved)) return `${resolved.replace(/\/$/, '')}/.`;
  if (original.endsWith('/') && !resolved.endsWith('/')) return `${resolved}/`;
  return resolved;
}

/** docker's GetRebaseName: follow a link, but name the copy as the link. */
function rebaseForLink(original: string, resolved: string): { path: string; rebaseName?: string } {
  const target = keepEnding(resolved, original);
  const a = splitDirEntry(original).base;
  const b = splitDirEntry(target).base;
  return { path: target, rebaseName: a !== b ? a : undefined };
}

function oddGoMode(mode: number): string | undefined {
  if (hasModeBit(mode, GoMode.namedPipe)) return 'got a named pipe';
  if (hasModeBit(mode, GoMode.device)) return 'got a device';
  if (hasModeBit(mode, GoMode.socket)) return 'got a socket';
  if (hasModeBit(mode, GoMode.irregular)) return 'got an irregular file';
  return undefined;
}

function oddType(st: fs.Stats): string {
  if (st.isFIFO()) return 'got a named pipe';
  if (st.isSocket()) return 'got a socket';
  if (st.isBlockDevice() || st.isCharacterDevice()) return 'got a device';
  return 'got an irregular file';
}

/** A Node fs error as Go words it: "lstat /x: no such file or directory". */
function goError(e: unknown, op: string, p: string): string {
  const msg = e instanceof Error ? e.message : String(e);
  const m = /^[A-Z0-9]+: ([^,]+)/.exec(msg);
  return `${op} ${p}: ${m ? m[1] : msg}`;
}

class ByteCounter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}
