/**
 * Resolving `Config.User` ("", "name", "uid", "uid:gid", "name:group") to numeric ids using
 * the container's own /etc/passwd and /etc/group, as Docker does at container start.
 *
 * The files belong to the image, so they are untrusted: a symlink such as
 * /etc/passwd -> /etc/passwd or -> ../../../../etc/shadow must be followed as if the
 * rootfs were `/`, never reaching the host's files. `resolveInRoot` does that walk.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { invalid, isErrno } from '../common/errors';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  /** the user's home directory from passwd, "/" when there is no entry */
  home: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** Linux's limit on symlinks followed while resolving one path. */
const MAX_SYMLINKS = 40;

/**
 * Resolves `unsafePath` inside `root` the way the kernel would after chroot(root): `..`
 * stops at the root, and absolute symlink targets start again from the root. Returns a
 * host path under `root` (the final component may not exist).
 */
export async function resolveInRoot(root: string, unsafePath: string): Promise<string> {
  const rootAbs = path.resolve(root);
  let pending = unsafePath.split('/').filter((p) => p !== '' && p !== '.');
  const resolved: string[] = [];
  let linksFollowed = 0;
  while (pending.length) {
    const part = pending.shift()!;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = path.join(rootAbs, ...resolved, part);
    let target: string | undefined;
    try {
      const st = await fsp.lstat(candidate);
      if (st.isSymbolicLink()) target = await fsp.readlink(candidate);
    } catch (e) {
      if (!isErrno(e, 'ENOENT') && !isErrno(e, 'ENOTDIR')) throw e;
    }
    if (target === undefined) {
      resolved.push(part);
      continue;
    }
    if (++linksFollowed > MAX_SYMLINKS) throw invalid(`too many levels of symbolic links resolving ${unsafePath} in the container`);
    if (target.startsWith('/')) resolved.length = 0;
    pending = [...target.split('/').filter((p) => p !== '' && p !== '.'), ...pending];
  }
  return path.join(rootAbs, ...resolved);
}

/** Reads a file inside the rootfs, or returns undefined when it is absent. */
async function readInRoot(rootfs: string, file: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(await resolveInRoot(rootfs, file), 'utf8');
  } catch (e) {
    if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR') || isErrno(e, 'EISDIR')) return undefined;
    throw e;
  }
}

const isNumeric = (s: string) => /^\d+$/.test(s);

function parsePasswd(text: string | undefined): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const l = line.trim();
    if (!l || l.startsWith('#')) continue;
    const f = l.split(':');
    if (f.length < 4 || !isNumeric(f[2]) || !isNumeric(f[3])) continue;
    out.push({ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' });
  }
  return out;
}

function parseGroup(text: string | undefined): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const l = line.trim();
    if (!l || l.startsWith('#')) continue;
    const f = l.split(':');
    if (f.length < 3 || !isNumeric(f[2])) continue;
    out.push({ name: f[0], gid: Number(f[2]), members: (f[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean) });
  }
  return out;
}

function findGroup(groups: GroupEntry[], spec: string): number {
  const byName = groups.find((g) => g.name === spec);
  if (byName) return byName.gid;
  if (isNumeric(spec)) return Number(spec);
  throw invalid(`unable to find group ${spec}: no matching entries in group file`);
}

/**
 * Resolves `user` (Config.User) plus `groupAdd` (HostConfig.GroupAdd) against the
 * rootfs. Names must exist; numeric ids need no entry (gid 0, home "/"). Supplementary
 * groups come from /etc/group membership when no group was given explicitly.
 */
export async function resolveUser(rootfs: string, user: string | undefined, groupAdd?: readonly string[] | null): Promise<ResolvedUser> {
  const spec = (user ?? '').trim();
  const colon = spec.indexOf(':');
  const userPart = colon >= 0 ? spec.slice(0, colon) : spec;
  const groupPart = colon >= 0 ? spec.slice(colon + 1) : '';

  const passwd = parsePasswd(await readInRoot(rootfs, '/etc/passwd'));
  const groups = parseGroup(await readInRoot(rootfs, '/etc/group'));

  let entry: PasswdEntry | undefined;
  let uid: number;
  if (userPart === '') {
    entry = passwd.find((p) => p.uid === 0);
    uid = 0;
  } else if (isNumeric(userPart)) {
    uid = Number(userPart);
    entry = passwd.find((p) => p.uid === uid);
  } else {
    entry = passwd.find((p) => p.name === userPart);
    if (!entry) throw invalid(`unable to find user ${userPart}: no matching entries in passwd file`);
    uid = entry.uid;
  }
  if (uid > 0x7fffffff) throw invalid(`uid ${uid} is out of range`);

  let gid = entry?.gid ?? 0;
  let additionalGids: number[] = [];
  if (groupPart !== '') {
    gid = findGroup(groups, groupPart);
  } else if (entry) {
    additionalGids = groups.filter((g) => g.members.includes(entry!.name) && g.gid !== gid).map((g) => g.gid);
  }
  for (const g of groupAdd ?? []) additionalGids.push(findGroup(groups, g));
  return { uid, gid, additionalGids: [...new Set(additionalGids)], home: entry?.home || '/' };
}
