/**
 * Resolving `Config.User` ("", "name", "uid", "uid:gid", "name:group") to numeric ids using
 * the container's own /etc/passwd and /etc/group, as Docker does at container start.
 *
 * The files belong to the image, so they are untrusted: a symlink such as
 * /etc/passwd -> /etc/passwd or -> ../../../../etc/shadow must be followed as if the
 * rootfs were `/`, never reaching the host's files: they are read through the one
 * resolver of paths inside a root, src/archive/scoped-fs.ts.
 */
import * as fs from 'node:fs';
import { closeQuietly, ScopedFS, ScopeError, type Location } from '../archive/scoped-fs';
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

/** Larger account files are refused: a real one is kilobytes, and the daemon reads it whole. */
const MAX_ACCOUNT_FILE = 4 << 20;
const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

/**
 * Reads /etc/passwd or /etc/group of a rootfs through the scoped resolver
 * (src/archive/scoped-fs.ts): links are followed inside the rootfs, component by
 * component through directory fds, so neither `passwd -> /etc/shadow` nor `etc -> /`
 * nor a directory swapped by a running container leads to the host's files. Only a
 * regular file is read (O_NONBLOCK: a FIFO there cannot hang the daemon; a device such as
 * /dev/zero is not read at all); anything else counts as absent, as a missing file does.
 */
function readInRoot(rootfs: string, file: string): string | undefined {
  const sfs = ScopedFS.open(rootfs);
  try {
    let loc: Location;
    try {
      loc = sfs.resolve(file, { followLast: true });
    } catch (e) {
      if (e instanceof ScopeError && e.code !== 'ELOOP') return undefined;
      if (e instanceof ScopeError) throw invalid(`unable to read ${file} in the container: ${e.message}`);
      throw e;
    }
    try {
      if (!loc.exists || loc.isDirFrame) return undefined;
      let fd: number;
      try {
        fd = fs.openSync(loc.fsPath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
      } catch (e) {
        if (isErrno(e, 'ENOENT') || isErrno(e, 'ELOOP') || isErrno(e, 'ENXIO')) return undefined; // swapped meanwhile
        throw e;
      }
      try {
        const st = fs.fstatSync(fd);
        if (!st.isFile()) return undefined;
        const buf = Buffer.alloc(Math.min(st.size, MAX_ACCOUNT_FILE) + 1);
        let n = 0;
        for (let got = -1; got !== 0 && n < buf.length; n += got) got = fs.readSync(fd, buf, n, buf.length - n, n);
        if (n > MAX_ACCOUNT_FILE) throw invalid(`unable to read ${file} in the container: larger than ${MAX_ACCOUNT_FILE} bytes`);
        return buf.subarray(0, n).toString('utf8');
      } finally {
        closeQuietly(fd);
      }
    } finally {
      loc.close();
    }
  } finally {
    sfs.close();
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

  const passwd = parsePasswd(readInRoot(rootfs, '/etc/passwd'));
  const groups = parseGroup(readInRoot(rootfs, '/etc/group'));

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

/**
 * The OCI process user of a resolved user, as dockerd (25 and later) writes it: the primary
 * group is also the first supplementary one, so `id` lists it in `groups=` and a process
 * keeps it across a setgid.
 */
export function processUser(u: ResolvedUser): { uid: number; gid: number; additionalGids: number[] } {
  return { uid: u.uid, gid: u.gid, additionalGids: [...new Set([u.gid, ...u.additionalGids])] };
}
