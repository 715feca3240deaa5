/**
 * The OCI runtime spec (the bundle's config.json, reference/oci-runtime-spec/config.md and
 * config-linux.md) for one container, built from its merged Config and its HostConfig the
 * way dockerd builds it: Docker's default mounts, namespaces, capabilities, masked paths,
 * device rules and seccomp profile, adjusted by what the user asked for.
 *
 * `buildSpec` is pure apart from reading a few host facts (the daemon's RLIMIT_NOFILE
 * hard limit and capability set, host device nodes named in HostConfig.Devices, the
 * seccomp profile file). Everything decided elsewhere comes in through `SpecInput`: the
 * rootfs is already mounted, the user already resolved, /etc files already written.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { ContainerConfig, HostConfig, Ulimit } from '../api/types';
import { invalid } from '../common/errors';
import type { CgroupVersion } from './cgroups';
import { commandLine } from './config-merge';
import { OciSeccomp, seccompForContainer } from './seccomp';
import {
  containerCapabilities,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  defaultDeviceCgroupRules,
  OciDeviceCgroupRule,
  parseDeviceCgroupRule,
  parseSecurityOptions,
} from './security-defaults';
import { processUser, type ResolvedUser } from './user';

export const OCI_VERSION = '1.0.2';
export const DEFAULT_PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Docker's /dev/shm size when HostConfig.ShmSize is 0. */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;
/** Docker's usual RLIMIT_NOFILE (dockerd's own, which containers inherit). */
export const DOCKER_NOFILE_LIMIT = 1048576;

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

/**
 * An rlimit value. RLIM_INFINITY (2^64-1) does not fit a JS number, so it is a bigint:
 * write the spec with `specToJSON`, which prints bigints as plain JSON numbers.
 */
export type RlimitValue = number | bigint;
export const RLIM_INFINITY: bigint = (1n << 64n) - 1n;

export interface OciRlimit {
  type: string;
  hard: RlimitValue;
  soft: RlimitValue;
}

export interface OciCapabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export interface OciProcess {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: { uid: number; gid: number; additionalGids?: number[]; umask?: number };
  args: string[];
  env: string[];
  cwd: string;
  capabilities?: OciCapabilities;
  rlimits?: OciRlimit[];
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
}

export type NamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';

export interface OciNamespace {
  type: NamespaceType;
  path?: string;
}

export interface OciLinuxDevice {
  path: string;
  type: 'c' | 'b' | 'u' | 'p';
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface OciResources {
  devices?: OciDeviceCgroupRule[];
  memory?: { limit?: number; reservation?: number; swap?: number; swappiness?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; period?: number; realtimeRuntime?: number; realtimePeriod?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  blockIO?: { weight?: number };
}

export interface OciLinux {
  namespaces: OciNamespace[];
  devices?: OciLinuxDevice[];
  resources: OciResources;
  cgroupsPath: string;
  sysctl?: Record<string, string>;
  seccomp?: OciSeccomp;
  maskedPaths?: string[];
  readonlyPaths?: string[];
}

export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly?: boolean };
  hostname?: string;
  domainname?: string;
  mounts: OciMount[];
  annotations?: Record<string, string>;
  linux: OciLinux;
}

/**
 * The container's network namespace: 'new' for an empty one runc creates (Docker's
 * `none`, and bridge networks before CNI has run), 'host' to share the host's, or the
 * path of one prepared beforehand (/run/netns/NAME, /proc/PID/ns/net).
 */
export type NetworkNamespace = 'new' | 'host' | { path: string };

export interface SpecInput {
  id: string;
  /** the Config after mergeWithImage */
  config: ContainerConfig;
  hostConfig: HostConfig;
  /** absolute path of the mounted root filesystem */
  rootfs: string;
  user: ResolvedUser;
  /** host paths of the files prepared for the container, bind-mounted at /etc/... */
  etcFiles: { hosts: string; hostname: string; resolvConf: string };
  netns: NetworkNamespace;
  cgroupsPath: string;
  cgroupVersion: CgroupVersion;
  terminal: boolean;
  /** volumes and binds prepared elsewhere; a default mount at the same destination gives way */
  extraMounts?: OciMount[];
  /** namespaces to join for `container:<id>` modes (PidMode, IpcMode), already resolved to paths */
  joinNamespaces?: Partial<Record<'pid' | 'ipc' | 'uts', string>>;
  /** false when the kernel has no swap accounting: MemorySwap is then dropped, as Docker does */
  swapLimitSupported?: boolean;
}

/** Serializes a spec for config.json, printing RLIM_INFINITY and other bigints exactly. */
export function specToJSON(spec: OciSpec): string {
  // a per-call marker, so that no string in the spec (an env value) can look like one
  const marker = `__bigint_${randomBytes(8).toString('hex')}__`;
  return JSON.stringify(spec, (_k, v) => (typeof v === 'bigint' ? `${marker}${v}` : v)).replace(new RegExp(`"${marker}(\\d+)"`, 'g'), '$1');
}

// ---------------------------------------------------------------- process

/**
 * Env in Docker's order: PATH, HOSTNAME, TERM (for a tty), then the Config's variables,
 * each replacing a default of the same name in place ("NAME" without "=" removes it),
 * then HOME from passwd when nothing set it.
 */
export function containerEnv(config: ContainerConfig, hostname: string, tty: boolean, home: string): string[] {
  const env = [`PATH=${DEFAULT_PATH_ENV}`, `HOSTNAME=${hostname}`];
  if (tty) env.push('TERM=xterm');
  const key = (e: string) => e.split('=')[0];
  for (const entry of config.Env ?? []) {
    const at = env.findIndex((e) => key(e) === key(entry));
    if (!entry.includes('=')) {
      if (at >= 0) env.splice(at, 1);
      continue;
    }
    if (at >= 0) env[at] = entry;
    else env.push(entry);
  }
  if (!env.some((e) => key(e) === 'HOME')) env.push(`HOME=${home}`);
  return env;
}

const RLIMIT_TYPES = new Set([
  'as', 'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile',
  'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack',
]);

let nofileHardCache: number | undefined;

/** The daemon's own RLIMIT_NOFILE hard limit (`ulimit -Hn`), from /proc/self/limits. */
export function currentNofileHardLimit(): number {
  if (nofileHardCache !== undefined) return nofileHardCache;
  try {
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    nofileHardCache = m && m[2] !== 'unlimited' ? Number(m[2]) : DOCKER_NOFILE_LIMIT;
  } catch {
    nofileHardCache = DOCKER_NOFILE_LIMIT;
  }
  return nofileHardCache;
}

/**
 * HostConfig.Ulimits as OCI rlimits, -1 meaning unlimited. Without a `nofile` ulimit the
 * container gets Docker's 1048576, lowered to the daemon's hard limit: raising it needs
 * CAP_SYS_RESOURCE, which a daemon may lack (this machine's does), and runc would fail.
 */
export function containerRlimits(ulimits: readonly Ulimit[] | null | undefined, nofileHard = currentNofileHardLimit()): OciRlimit[] {
  const value = (n: number): RlimitValue => (n < 0 ? RLIM_INFINITY : n);
  const out: OciRlimit[] = [];
  for (const u of ulimits ?? []) {
    const name = u.Name.toLowerCase();
    if (!RLIMIT_TYPES.has(name)) throw invalid(`invalid ulimit type: ${u.Name}`);
    out.push({ type: `RLIMIT_${name.toUpperCase()}`, hard: value(u.Hard), soft: value(u.Soft) });
  }
  if (!out.some((r) => r.type === 'RLIMIT_NOFILE')) {
    const limit = Math.min(DOCKER_NOFILE_LIMIT, nofileHard);
    out.push({ type: 'RLIMIT_NOFILE', hard: limit, soft: limit });
  }
  return out;
}

// ---------------------------------------------------------------- mounts

/** Docker's mounts every container gets, before the user's. */
function defaultMounts(shmSize: number, privileged: boolean, ipcMode: string): OciMount[] {
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    // a privileged container may write to /sys and its cgroups, as in Docker
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: [privileged ? 'rw' : 'ro', 'nosuid', 'noexec', 'nodev', 'relatime'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  ];
  // --ipc none: no /dev/shm at all; host: the host's (bind), otherwise a private tmpfs
  if (ipcMode === 'host') {
    mounts.push({ destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate'] });
  } else if (ipcMode !== 'none') {
    mounts.push({ destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmSize}`] });
  }
  return mounts;
}

/** Mount flags that cancel each other; a later one in the list wins. */
const OPPOSITE_FLAGS: Record<string, string> = {
  ro: 'rw', rw: 'ro', exec: 'noexec', noexec: 'exec', suid: 'nosuid', nosuid: 'suid',
  dev: 'nodev', nodev: 'dev', atime: 'noatime', noatime: 'atime', diratime: 'nodiratime', nodiratime: 'diratime',
};

/**
 * Docker's `--tmpfs` options: noexec,nosuid,nodev,rprivate by default, then the user's,
 * later ones winning (`exec` undoes `noexec`, the last `size=` counts).
 */
export function tmpfsOptions(userOptions: string): string[] {
  const all = ['noexec', 'nosuid', 'nodev', 'rprivate', ...userOptions.split(',').map((o) => o.trim()).filter(Boolean)];
  const out: string[] = [];
  for (const opt of all) {
    const eq = opt.indexOf('=');
    if (eq > 0) {
      const k = opt.slice(0, eq + 1);
      const at = out.findIndex((o) => o.startsWith(k));
      if (at >= 0) out.splice(at, 1);
    } else {
      const opposite = OPPOSITE_FLAGS[opt];
      for (const drop of [opt, opposite]) {
        const at = out.indexOf(drop);
        if (drop && at >= 0) out.splice(at, 1);
      }
    }
    out.push(opt);
  }
  return out;
}

const depth = (dest: string) => path.posix.normalize(dest).split('/').filter(Boolean).length;

/**
 * Default mounts, minus those a user mount replaces, then the container's own mounts
 * (tmpfs, /etc files, volumes) with parents before children.
 */
function containerMounts(input: SpecInput, privileged: boolean): OciMount[] {
  const hc = input.hostConfig;
  const own: OciMount[] = [];
  for (const [destination, options] of Object.entries(hc.Tmpfs ?? {})) {
    own.push({ destination, type: 'tmpfs', source: 'tmpfs', options: tmpfsOptions(options) });
  }
  const etc: [string, string][] = [
    ['/etc/resolv.conf', input.etcFiles.resolvConf],
    ['/etc/hostname', input.etcFiles.hostname],
    ['/etc/hosts', input.etcFiles.hosts],
  ];
  for (const [destination, source] of etc) {
    own.push({ destination, type: 'bind', source, options: ['rbind', 'rprivate'] });
  }
  own.push(...(input.extraMounts ?? []));
  // a user's mount at the same place replaces ours (e.g. a volume at /etc/hosts)
  const seen = new Map<string, OciMount>();
  for (const m of own) seen.set(path.posix.normalize(m.destination), m);
  const ownUnique = [...seen.values()];
  const taken = new Set(seen.keys());
  const defaults = defaultMounts(hc.ShmSize || DEFAULT_SHM_SIZE, privileged, hc.IpcMode ?? '').filter((m) => !taken.has(m.destination));
  return [...defaults, ...ownUnique.sort((a, b) => depth(a.destination) - depth(b.destination))];
}

// ---------------------------------------------------------------- namespaces

function namespaceFor(type: 'pid' | 'ipc' | 'uts', mode: string | undefined, join: SpecInput['joinNamespaces']): OciNamespace | undefined {
  if (mode === 'host') return undefined;
  if (mode?.startsWith('container:')) {
    const p = join?.[type];
    if (!p) throw invalid(`${type} namespace of ${mode} is not available`);
    return { type, path: p };
  }
  return { type };
}

function containerNamespaces(input: SpecInput): OciNamespace[] {
  const hc = input.hostConfig;
  const out: OciNamespace[] = [{ type: 'mount' }];
  for (const [type, mode] of [['pid', hc.PidMode], ['ipc', hc.IpcMode], ['uts', hc.UTSMode]] as const) {
    const ns = namespaceFor(type, mode, input.joinNamespaces);
    if (ns) out.push(ns);
  }
  if (input.netns === 'new') out.push({ type: 'network' });
  else if (input.netns !== 'host') out.push({ type: 'network', path: input.netns.path });
  // Docker's default cgroupns mode is private on cgroup v2 and host on v1
  const cgroupns = hc.CgroupnsMode || (input.cgroupVersion === 'v2' ? 'private' : 'host');
  if (cgroupns === 'private') out.push({ type: 'cgroup' });
  return out;
}

// ---------------------------------------------------------------- resources and devices

/** Linux's device number split (the kernel's new_decode_dev). */
function splitDeviceNumber(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return { major: Number(major), minor: Number(minor) };
}

/** HostConfig.Devices: the node made in the container, and the cgroup rule allowing it. */
function hostDevices(devices: HostConfig['Devices']): { nodes: OciLinuxDevice[]; rules: OciDeviceCgroupRule[] } {
  const nodes: OciLinuxDevice[] = [];
  const rules: OciDeviceCgroupRule[] = [];
  for (const d of devices ?? []) {
    let st;
    try {
      st = statSync(d.PathOnHost, { bigint: true });
    } catch (e) {
      throw invalid(`error gathering device information while adding custom device "${d.PathOnHost}": ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
    }
    const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
    if (!type) throw invalid(`error gathering device information while adding custom device "${d.PathOnHost}": not a device node`);
    const { major, minor } = splitDeviceNumber(st.rdev);
    const access = d.CgroupPermissions || 'rwm';
    if (!/^[rwm]{1,3}$/.test(access)) throw invalid(`invalid device cgroup permissions '${access}' for ${d.PathOnHost}`);
    nodes.push({ path: d.PathInContainer || d.PathOnHost, type, major, minor, fileMode: Number(st.mode & 0o777n), uid: 0, gid: 0 });
    rules.push({ allow: true, type, major, minor, access });
  }
  return { nodes, rules };
}

/**
 * HostConfig's limits as OCI resources. MemorySwap follows Docker: 0 with a memory limit
 * means as much swap as memory (OCI's swap is memory+swap, so twice the limit), -1 means
 * unlimited. Swappiness and the OOM-killer switch exist on cgroup v1 only.
 */
export function containerResources(hc: HostConfig, version: CgroupVersion, swapLimitSupported = true): OciResources {
  const r: OciResources = {};
  const memory: NonNullable<OciResources['memory']> = {};
  const limit = hc.Memory ?? 0;
  if (limit > 0) memory.limit = limit;
  let swap = hc.MemorySwap ?? 0;
  if (limit > 0 && swap === 0) swap = limit * 2;
  if (swap !== 0 && swapLimitSupported) memory.swap = swap < 0 ? -1 : swap;
  if ((hc.MemoryReservation ?? 0) > 0) memory.reservation = hc.MemoryReservation;
  if (version === 'v1') {
    const swappiness = hc.MemorySwappiness;
    if (swappiness !== undefined && swappiness !== null && swappiness >= 0) memory.swappiness = swappiness;
    if (hc.OomKillDisable) memory.disableOOMKiller = true;
  }
  if (Object.keys(memory).length) r.memory = memory;

  const cpu: NonNullable<OciResources['cpu']> = {};
  if ((hc.CpuShares ?? 0) > 0) cpu.shares = hc.CpuShares;
  if ((hc.NanoCpus ?? 0) > 0) {
    cpu.period = 100000;
    cpu.quota = Math.round((hc.NanoCpus! * cpu.period) / 1e9);
  } else {
    if ((hc.CpuPeriod ?? 0) > 0) cpu.period = hc.CpuPeriod;
    if ((hc.CpuQuota ?? 0) !== 0) cpu.quota = hc.CpuQuota;
  }
  if (version === 'v1') {
    if ((hc.CpuRealtimePeriod ?? 0) > 0) cpu.realtimePeriod = hc.CpuRealtimePeriod;
    if ((hc.CpuRealtimeRuntime ?? 0) > 0) cpu.realtimeRuntime = hc.CpuRealtimeRuntime;
  }
  if (hc.CpusetCpus) cpu.cpus = hc.CpusetCpus;
  if (hc.CpusetMems) cpu.mems = hc.CpusetMems;
  if (Object.keys(cpu).length) r.cpu = cpu;

  // 0 and -1 both mean "no limit" in the API; runc then leaves pids.max alone
  if ((hc.PidsLimit ?? 0) > 0) r.pids = { limit: hc.PidsLimit! };
  if ((hc.BlkioWeight ?? 0) > 0) r.blockIO = { weight: hc.BlkioWeight };
  return r;
}

// ---------------------------------------------------------------- the spec

export function buildSpec(input: SpecInput): OciSpec {
  const { config, hostConfig: hc } = input;
  const privileged = hc.Privileged === true;
  const security = parseSecurityOptions(hc.SecurityOpt);
  const caps = containerCapabilities(hc.CapAdd, hc.CapDrop, privileged);
  const utsHost = hc.UTSMode === 'host';
  const hostname = config.Hostname || input.id.slice(0, 12);

  const args = commandLine(config);
  if (!args.length) throw invalid('no command specified');

  const process: OciProcess = {
    terminal: input.terminal,
    user: processUser(input.user),
    args,
    env: containerEnv(config, hostname, input.terminal, input.user.home),
    cwd: config.WorkingDir || '/',
    // Docker 23+: a root process holds the set; a non-root one only keeps it as its bounding
    // set, which is what execve would leave it anyway. Never inheritable or ambient.
    capabilities: input.user.uid === 0 ? { bounding: caps, effective: [...caps], permitted: [...caps] } : { bounding: caps },
    rlimits: containerRlimits(hc.Ulimits),
    noNewPrivileges: security.noNewPrivileges,
  };
  if (input.terminal && hc.ConsoleSize && hc.ConsoleSize[0] > 0 && hc.ConsoleSize[1] > 0) {
    process.consoleSize = { height: hc.ConsoleSize[0], width: hc.ConsoleSize[1] };
  }
  // only when asked: lowering the score below the daemon's needs CAP_SYS_RESOURCE
  if (hc.OomScoreAdj) process.oomScoreAdj = hc.OomScoreAdj;

  const devices = hostDevices(hc.Devices);
  const resources = containerResources(hc, input.cgroupVersion, input.swapLimitSupported ?? true);
  // Privileged: every device allowed. Docker also creates every host device node in the
  // container's /dev; that listing is not done yet (only HostConfig.Devices are created).
  resources.devices = privileged
    ? [{ allow: true, access: 'rwm' }]
    : [...defaultDeviceCgroupRules(), ...devices.rules, ...(hc.DeviceCgroupRules ?? []).map(parseDeviceCgroupRule)];

  const linux: OciLinux = {
    namespaces: containerNamespaces(input),
    resources,
    cgroupsPath: input.cgroupsPath,
  };
  if (devices.nodes.length) linux.devices = devices.nodes;
  if (hc.Sysctls && Object.keys(hc.Sysctls).length) linux.sysctl = { ...hc.Sysctls };
  const seccomp = seccompForContainer(security.seccompProfile, caps, privileged);
  if (seccomp) linux.seccomp = seccomp;
  if (!privileged) {
    // HostConfig.MaskedPaths/ReadonlyPaths (set by the CLI for systempaths=unconfined) replace the defaults
    linux.maskedPaths = [...(hc.MaskedPaths ?? DEFAULT_MASKED_PATHS)];
    linux.readonlyPaths = [...(hc.ReadonlyPaths ?? DEFAULT_READONLY_PATHS)];
  }

  const spec: OciSpec = {
    ociVersion: OCI_VERSION,
    process,
    root: { path: input.rootfs, readonly: hc.ReadonlyRootfs === true },
    mounts: containerMounts(input, privileged),
    linux,
  };
  // with the host's UTS namespace runc may not set a hostname
  if (!utsHost) spec.hostname = hostname;
  if (!utsHost && config.Domainname) spec.domainname = config.Domainname;
  if (hc.Annotations && Object.keys(hc.Annotations).length) spec.annotations = { ...hc.Annotations };
  return spec;
}
