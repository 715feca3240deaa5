import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { system } from '../common/errors';
import { PackEntry, packTar } from '../layer/tar-pack';

/**
 * The built-in `busybox` image's only layer, made from Debian's busybox-static with no
 * network: /bin/busybox, a symlink per applet at the path busybox itself lists
 * (`--list-full`: bin/sh, usr/bin/awk, sbin/ifconfig ...), the usual directories and
 * the account files of the busybox image on Docker Hub.
 *
 * Nothing comes from the clock or the host's file metadata: fixed mtimes, owners,
 * modes, entries in sorted order. The same busybox binary therefore gives the same
 * tar, and the same image ID, on every run.
 */
export const BUSYBOX_BINARY = '/bin/busybox';

const MTIME = new Date('2024-01-01T00:00:00Z');

const DIRECTORIES: Record<string, number> = {
  bin: 0o755,
  dev: 0o755,
  etc: 0o755,
  home: 0o755,
  proc: 0o755,
  root: 0o700,
  sbin: 0o755,
  sys: 0o755,
  tmp: 0o1777,
  usr: 0o755,
  'usr/bin': 0o755,
  'usr/sbin': 0o755,
  var: 0o755,
  'var/spool': 0o755,
  'var/spool/mail': 0o755,
  'var/tmp': 0o1777,
  'var/www': 0o755,
};

const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
`;

const GROUP = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
`;

/** Paths of the applets, relative to the root, as busybox lists them. */
export function busyboxApplets(binary = BUSYBOX_BINARY): string[] {
  let out: string;
  try {
    out = execFileSync(binary, ['--list-full'], { encoding: 'utf8' });
  } catch (e) {
    throw system(`cannot list busybox applets from ${binary} (Debian package busybox-static): ${(e as Error).message}`, e);
  }
  return out
    .split('\n')
    .map((l) => l.trim().replace(/^\/+/, ''))
    .filter((l) => l !== '' && l !== 'bin/busybox' && !l.split('/').includes('..'));
}

/** The layer as a tar in memory (a few MB). */
export async function busyboxRootfsTarBuffer(binary = BUSYBOX_BINARY): Promise<Buffer> {
  const entries = new Map<string, PackEntry>();
  const addDir = (name: string, mode = 0o755) => {
    if (!entries.has(name)) entries.set(name, { name, type: 'directory', mode });
  };
  for (const [name, mode] of Object.entries(DIRECTORIES)) addDir(name, mode);
  let data: Buffer;
  try {
    data = readFileSync(binary);
  } catch (e) {
    throw system(`cannot read ${binary} (Debian package busybox-static): ${(e as Error).message}`, e);
  }
  entries.set('bin/busybox', { name: 'bin/busybox', data, mode: 0o755 });
  for (const applet of busyboxApplets(binary)) {
    const parts = applet.split('/');
    for (let i = 1; i < parts.length; i++) addDir(parts.slice(0, i).join('/'));
    // busybox picks the applet from argv[0], so a symlink to the binary is enough.
    entries.set(applet, { name: applet, type: 'symlink', linkname: '/bin/busybox', mode: 0o777 });
  }
  entries.set('etc/passwd', { name: 'etc/passwd', data: PASSWD, mode: 0o644 });
  entries.set('etc/group', { name: 'etc/group', data: GROUP, mode: 0o644 });

  const sorted = [...entries.values()].sort((a, b) => comparePaths(a.name, b.name));
  return packTar(sorted.map((e) => ({ ...e, uid: 0, gid: 0, mtime: MTIME })));
}

/** The same, as a stream, for APIs that take a layer as one. */
export function busyboxRootfsTar(binary = BUSYBOX_BINARY): Readable {
  return Readable.from(
    (async function* () {
      yield await busyboxRootfsTarBuffer(binary);
    })(),
  );
}

/** "1.35.0", from the first line of `busybox --help` ("BusyBox v1.35.0 (Debian ...) ..."). */
export function busyboxVersion(binary = BUSYBOX_BINARY): string {
  let out: string;
  try {
    out = execFileSync(binary, ['--help'], { encoding: 'utf8' });
  } catch (e) {
    // Some builds exit non-zero from --help but still print it.
    out = String((e as { stdout?: string }).stdout ?? '');
  }
  const m = /BusyBox v(\S+)/.exec(out.split('\n')[0] ?? '');
  if (!m) throw system(`cannot tell the version of ${binary}`);
  return m[1];
}

/** Orders paths component by component, so that a directory comes right before its contents. */
function comparePaths(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] !== pb[i]) return pa[i] < pb[i] ? -1 : 1;
  }
  return pa.length - pb.length;
}
