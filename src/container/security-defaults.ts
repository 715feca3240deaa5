/**
 * What Docker confines a container with when the user asks for nothing special: its
 * capability set, the /proc and /sys paths it hides or makes read-only, and the device
 * nodes the devices cgroup lets through. Also the two user knobs on top of them:
 * CapAdd/CapDrop and SecurityOpt.
 */
import { readFileSync } from 'node:fs';
import { invalid } from '../common/errors';

/** Every capability Linux defines, in bit order (CAP_CHOWN is bit 0). */
const CAPABILITIES_BY_BIT = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

/** Docker's default capability set (moby's oci/caps defaults), in Docker's order. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi',
  '/sys/firmware', '/sys/devices/virtual/powercap',
];

export const DEFAULT_READONLY_PATHS: readonly string[] = [
  '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger',
];

/** One entry of `linux.resources.devices`: the devices cgroup's allow/deny list. */
export interface OciDeviceCgroupRule {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  access?: string;
}

/**
 * Deny everything, then let through what Docker lets every container use: mknod of any
 * node (so images can ship device files), and the character devices a process expects.
 */
export function defaultDeviceCgroupRules(): OciDeviceCgroupRule[] {
  const allowChar = (major: number | undefined, minor: number | undefined, access = 'rwm'): OciDeviceCgroupRule =>
    ({ allow: true, type: 'c', ...(major === undefined ? {} : { major }), ...(minor === undefined ? {} : { minor }), access });
  return [
    { allow: false, access: 'rwm' },
    allowChar(undefined, undefined, 'm'),
    { allow: true, type: 'b', access: 'm' },
    allowChar(1, 3), // /dev/null
    allowChar(1, 8), // /dev/random
    allowChar(1, 7), // /dev/full
    allowChar(5, 0), // /dev/tty
    allowChar(1, 5), // /dev/zero
    allowChar(1, 9), // /dev/urandom
    allowChar(136, undefined), // /dev/pts/*
    allowChar(5, 2), // /dev/ptmx
    allowChar(10, 200), // /dev/net/tun
  ];
}

/** Parses a `--device-cgroup-rule` such as `c 1:3 rwm` or `a *:* rwm`. */
export function parseDeviceCgroupRule(rule: string): OciDeviceCgroupRule {
  const m = /^([acb]) (\d+|\*):(\d+|\*) ([rwm]{1,3})$/.exec(rule.trim());
  if (!m) throw invalid(`invalid device cgroup format '${rule}'`);
  const num = (s: string) => (s === '*' ? undefined : Number(s));
  const major = num(m[2]);
  const minor = num(m[3]);
  return {
    allow: true,
    type: m[1] as 'a' | 'c' | 'b',
    ...(major === undefined ? {} : { major }),
    ...(minor === undefined ? {} : { minor }),
    access: m[4],
  };
}

let availableCache: string[] | undefined;

/**
 * The capabilities this daemon can hand out: those in its own bounding set. A container
 * cannot be given a capability its runtime lacks (this machine has no CAP_SYS_RESOURCE),
 * so "ALL" and privileged mean "all of these", as Docker does since 23.0.
 */
export function availableCapabilities(): string[] {
  if (availableCache) return availableCache;
  let bounding: bigint | undefined;
  try {
    const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) bounding = BigInt('0x' + m[1]);
  } catch {
    // not Linux, or /proc hidden: assume every capability is there
  }
  availableCache = CAPABILITIES_BY_BIT.filter((_, bit) => bounding === undefined || ((bounding >> BigInt(bit)) & 1n) === 1n);
  return availableCache;
}

/**
 * Upper-cases and adds the CAP_ prefix, as Docker accepts `net_admin`, `NET_ADMIN`,
 * `CAP_NET_ADMIN`. Docker also refuses to drop a capability the daemon lacks; dropping
 * one is harmless, so only adding one is refused here (compose files drop long lists).
 */
function normalizeCapabilityNames(names: readonly string[] | null | undefined, mustBeAvailable: boolean): string[] {
  const known = new Set<string>(CAPABILITIES_BY_BIT);
  const available = new Set(availableCapabilities());
  return (names ?? []).map((raw) => {
    let c = raw.trim().toUpperCase();
    if (c === 'ALL') return c;
    if (!c.startsWith('CAP_')) c = 'CAP_' + c;
    if (!known.has(c)) throw invalid(`unknown capability: "${c}"`);
    if (mustBeAvailable && !available.has(c)) throw invalid(`capability not supported by your kernel or not available in the current environment: "${c}"`);
    return c;
  });
}

/**
 * The container's capability set: Docker's defaults adjusted by CapAdd/CapDrop. "ALL" in
 * CapAdd means every available capability minus CapDrop; "ALL" in CapDrop means only
 * CapAdd; otherwise a capability both dropped and added stays (adds are applied last).
 */
export function containerCapabilities(capAdd: readonly string[] | null | undefined, capDrop: readonly string[] | null | undefined, privileged: boolean): string[] {
  if (privileged) return [...availableCapabilities()];
  const adds = normalizeCapabilityNames(capAdd, true);
  const drops = normalizeCapabilityNames(capDrop, false);
  let caps: string[];
  if (adds.includes('ALL')) {
    caps = availableCapabilities().filter((c) => !drops.includes(c));
  } else if (drops.includes('ALL')) {
    caps = [...adds];
  } else {
    caps = [...DEFAULT_CAPABILITIES.filter((c) => !drops.includes(c)), ...adds];
  }
  return [...new Set(caps)];
}

/** What `HostConfig.SecurityOpt` asks for, after parsing. */
export interface SecurityOptions {
  noNewPrivileges: boolean;
  /** undefined: Docker's default profile; 'unconfined': none; otherwise a profile's JSON text. */
  seccompProfile?: string;
  /** Accepted and recorded; this host has no AppArmor or SELinux to apply them with. */
  apparmorProfile?: string;
  labelOptions: string[];
}

function parseBoolean(v: string): boolean | undefined {
  // Go's strconv.ParseBool, which Docker uses for these values
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false;
  return undefined;
}

/** Parses SecurityOpt entries the way dockerd does, with its error messages. */
export function parseSecurityOptions(opts: readonly string[] | null | undefined): SecurityOptions {
  const out: SecurityOptions = { noNewPrivileges: false, labelOptions: [] };
  for (const opt of opts ?? []) {
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    if (opt === 'disable') {
      out.labelOptions.push('disable');
      continue;
    }
    // `=` is the separator; `:` is the deprecated one Docker still accepts
    const sep = opt.includes('=') ? '=' : opt.includes(':') ? ':' : undefined;
    if (!sep) throw invalid(`invalid --security-opt 1: "${opt}"`);
    const at = opt.indexOf(sep);
    const key = opt.slice(0, at);
    const value = opt.slice(at + 1);
    switch (key) {
      case 'label':
        out.labelOptions.push(value);
        break;
      case 'apparmor':
        out.apparmorProfile = value;
        break;
      case 'seccomp':
        out.seccompProfile = value;
        break;
      case 'no-new-privileges': {
        const b = parseBoolean(value);
        if (b === undefined) throw invalid(`invalid --security-opt 2: "${opt}"`);
        out.noNewPrivileges = b;
        break;
      }
      default:
        throw invalid(`invalid --security-opt 2: "${opt}"`);
    }
  }
  return out;
}
