import type * as fs from 'node:fs';

/**
 * Docker's ContainerPathStat, carried base64-encoded in the X-Docker-Container-Path-Stat
 * header of HEAD and GET /containers/{id}/archive. `mode` is a Go os.FileMode: the
 * permission bits plus one high bit per file type and per special bit. The values pass
 * 2^31, beyond JavaScript's 32-bit bitwise operators: they are built by arithmetic.
 */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  /** RFC 3339 with nanoseconds, as Go's time.Time marshals */
  mtime: string;
  /** for a symlink: where it leads, resolved inside the container ("/usr/bin") */
  linkTarget: string;
}

export const STAT_HEADER = 'X-Docker-Container-Path-Stat';

export const GoMode = {
  dir: 2 ** 31,
  symlink: 2 ** 27,
  device: 2 ** 26,
  namedPipe: 2 ** 25,
  socket: 2 ** 24,
  setuid: 2 ** 23,
  setgid: 2 ** 22,
  charDevice: 2 ** 21,
  sticky: 2 ** 20,
  irregular: 2 ** 19,
} as const;

const S_IFMT = 0o170000;

/** st_mode → Go os.FileMode. */
export function goFileMode(stMode: number): number {
  let mode = stMode & 0o777;
  switch (stMode & S_IFMT) {
    case 0o040000:
      mode += GoMode.dir;
      break;
    case 0o120000:
      mode += GoMode.symlink;
      break;
    case 0o060000:
      mode += GoMode.device;
      break;
    case 0o020000:
      mode += GoMode.device + GoMode.charDevice;
      break;
    case 0o010000:
      mode += GoMode.namedPipe;
      break;
    case 0o140000:
      mode += GoMode.socket;
      break;
    case 0o100000:
      break;
    default:
      mode += GoMode.irregular;
  }
  if (stMode & 0o4000) mode += GoMode.setuid;
  if (stMode & 0o2000) mode += GoMode.setgid;
  if (stMode & 0o1000) mode += GoMode.sticky;
  return mode;
}

/** Whether a Go os.FileMode has the bit (one of GoMode's). */
export function hasModeBit(mode: number, bit: number): boolean {
  return Math.floor(mode / bit) % 2 === 1;
}

/** Go's time.Time JSON for a UTC instant in nanoseconds: "2024-05-01T10:00:00.5Z". */
export function goTime(ns: bigint): string {
  const seconds = ns / 1_000_000_000n;
  const frac = ns % 1_000_000_000n;
  const base = new Date(Number(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, '');
  const nanos = frac === 0n ? '' : `.${frac.toString().padStart(9, '0').replace(/0+$/, '')}`;
  return `${base}${nanos}Z`;
}

export function pathStat(name: string, st: fs.BigIntStats, linkTarget = ''): PathStat {
  return { name, size: Number(st.size), mode: goFileMode(Number(st.mode)), mtime: goTime(st.mtimeNs), linkTarget };
}

export function encodePathStat(s: PathStat): string {
  return Buffer.from(JSON.stringify(s)).toString('base64');
}

export function decodePathStat(header: string | string[] | undefined): PathStat | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (!v) return undefined;
  try {
    return JSON.parse(Buffer.from(v, 'base64').toString('utf8')) as PathStat;
  } catch {
    return undefined;
  }
}

/**
 * Go's filepath.Base of a path whose trailing "/." or "/" tells something:
 * "/etc/" → "etc", "/etc/." → ".", "/" → "/".
 */
export function goBase(p: string): string {
  const trimmed = p.replace(/\/+$/, '');
  if (trimmed === '') return p === '' ? '.' : '/';
  const i = trimmed.lastIndexOf('/');
  return trimmed.slice(i + 1);
}

/** A path that says "directory" by its ending: "dir/" or "dir/." (Docker's assertsDirectory). */
export function assertsDirectory(p: string): boolean {
  return p.endsWith('/') || p.endsWith('/.') || p === '.';
}

/** Whether a path ends in "/." (copy the contents of the directory, not the directory). */
export function endsWithDot(p: string): boolean {
  return p === '.' || p.endsWith('/.');
}
