/**
 * Parsers and validators for the values of container flags (env, labels, ports,
 * mounts, ulimits, restart policies ...), with the error texts docker prints.
 * Flag-level validators throw plain Errors (the flag parser wraps them in
 * `invalid argument "x" for "--flag" flag: ...`).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { MountSpec, RestartPolicy, Ulimit } from '../../api/types';
import { parseSize } from '../../common/units';
import { parseInt64 } from '../flags';
import { parseKeySequence } from '../../common/detach-keys';

/** -e KEY=value, or -e KEY to copy KEY from the caller's environment. */
export function validateEnv(val: string, env: NodeJS.ProcessEnv = process.env): string {
  const eq = val.indexOf('=');
  const key = eq >= 0 ? val.slice(0, eq) : val;
  if (key === '') throw new Error(`invalid environment variable: ${val}`);
  if (eq >= 0) return val;
  const v = env[key];
  return v !== undefined ? `${key}=${v}` : val;
}

/** -l key=value; a label needs a name. */
export function validateLabel(val: string): string {
  const key = val.split('=', 1)[0];
  if (key.trim() === '') throw new Error(`invalid label '${val}': empty name`);
  return val;
}

/**
 * Reads an --env-file or --label-file: KEY=value lines, blank lines and '#'
 * comments skipped; a bare KEY takes its value from the environment (dropped when
 * unset) for env files.
 */
export function readKeyValueFile(file: string, lookupEnv: boolean, env: NodeJS.ProcessEnv = process.env): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file or directory' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'is a directory' : err.message;
    throw new Error(`open ${file}: ${why}`);
  }
  const out: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const key = eq >= 0 ? line.slice(0, eq) : line.trimEnd();
    if (key === '') throw new Error(`no variable name on line '${line}'`);
    if (/\s/.test(key)) throw new Error(`variable '${key}' contains whitespaces`);
    if (eq >= 0) out.push(line);
    else if (lookupEnv) {
      if (env[key] !== undefined) out.push(`${key}=${env[key]}`);
    } else out.push(line);
    void i;
  });
  return out;
}

/** ["a=1", "b"] → {a: "1", b: ""} */
export function keyValueMap(items: readonly string[]): Record<string, string> {
  const m: Record<string, string> = {};
  for (const it of items) {
    const eq = it.indexOf('=');
    if (eq >= 0) m[it.slice(0, eq)] = it.slice(eq + 1);
    else m[it] = '';
  }
  return m;
}

/** -m, --shm-size ...: sizes in binary units (docker's RAMInBytes). */
export function parseMemBytes(v: string): number {
  return parseSize(v, true);
}

/** --memory-swap: like -m, plus -1 for unlimited. */
export function parseMemSwapBytes(v: string): number {
  return v === '-1' ? -1 : parseSize(v, true);
}

export function validateIpAddress(v: string): string {
  const ip = v.trim();
  if (isIP(ip)) return ip;
  throw new Error(`IP address is not correctly formatted: ${v}`);
}

/** --add-host host:ip (or host=ip); "host-gateway" is a valid ip. */
export function validateExtraHost(v: string): string {
  const m = /^([^=:]+)[=:](.+)$/.exec(v);
  if (!m) throw new Error(`bad format for add-host: ${JSON.stringify(v)}`);
  const ip = m[2].replace(/^\[(.*)\]$/, '$1');
  if (ip !== 'host-gateway' && !isIP(ip)) throw new Error(`invalid IP address in add-host: ${JSON.stringify(m[2])}`);
  return `${m[1]}:${ip}`;
}

/** --ulimit name=soft[:hard] */
export function parseUlimit(v: string): Ulimit {
  const eq = v.indexOf('=');
  if (eq < 0) throw new Error(`invalid ulimit argument: ${v}`);
  const name = v.slice(0, eq);
  const known = ['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack'];
  if (!known.includes(name)) throw new Error(`invalid ulimit type: ${name}`);
  const parts = v.slice(eq + 1).split(':');
  if (parts.length > 2) throw new Error(`too many limit value arguments - ${v.slice(eq + 1)}, can only have up to two, \`soft[:hard]\``);
  const soft = parseInt64(parts[0]);
  const hard = parts.length === 2 ? parseInt64(parts[1]) : soft;
  if (soft > hard) throw new Error(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: name, Soft: soft, Hard: hard };
}

/** --sysctl key=value, only the namespaced keys docker allows. */
export function validateSysctl(v: string): string {
  const eq = v.indexOf('=');
  const key = eq >= 0 ? v.slice(0, eq) : '';
  const allowed = ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'];
  if (eq > 0 && (allowed.includes(key) || key.startsWith('fs.mqueue.') || key.startsWith('net.'))) return v;
  throw new Error(`sysctl '${v}' is not allowed`);
}

/** --restart no|always|unless-stopped|on-failure[:N] */
export function parseRestartPolicy(v: string): RestartPolicy {
  if (v === '') return { Name: 'no' };
  const [name, count, extra] = v.split(':');
  if (extra !== undefined) throw new Error(`invalid restart policy format: maximum retry count must be an integer`);
  const policy: RestartPolicy = { Name: name as RestartPolicy['Name'] };
  if (count !== undefined) {
    if (!/^-?\d+$/.test(count)) throw new Error('invalid restart policy format: maximum retry count must be an integer');
    policy.MaximumRetryCount = Number(count);
  }
  return policy;
}

/** --mount type=...,source=...,target=...[,readonly][,...] */
export function parseMount(v: string): MountSpec {
  const mount: MountSpec = { Type: 'volume', Target: '' };
  const fields = splitCsv(v);
  const volumeOptions = () => (mount.VolumeOptions ??= {});
  const bool = (key: string, val: string | undefined) => {
    if (val === undefined) return true;
    const l = val.toLowerCase();
    if (['1', 'true', 't'].includes(l)) return true;
    if (['0', 'false', 'f'].includes(l)) return false;
    throw new Error(`invalid value for ${key}: ${val}`);
  };
  for (const f of fields) {
    const eq = f.indexOf('=');
    const key = (eq >= 0 ? f.slice(0, eq) : f).toLowerCase().trim();
    const val = eq >= 0 ? f.slice(eq + 1) : undefined;
    if (val === undefined && !['readonly', 'ro', 'volume-nocopy', 'bind-nonrecursive', 'bind-create-src'].includes(key)) {
      throw new Error(`invalid field '${f}' must be a key=value pair`);
    }
    switch (key) {
      case 'type':
        mount.Type = val as MountSpec['Type'];
        break;
      case 'source':
      case 'src':
        mount.Source = val;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        mount.Target = val!;
        break;
      case 'readonly':
      case 'ro':
        mount.ReadOnly = bool(key, val);
        break;
      case 'consistency':
        mount.Consistency = val;
        break;
      case 'bind-propagation':
        (mount.BindOptions ??= {}).Propagation = val;
        break;
      case 'bind-nonrecursive':
        (mount.BindOptions ??= {}).NonRecursive = bool(key, val);
        break;
      case 'bind-create-src':
        (mount.BindOptions ??= {}).CreateMountpoint = bool(key, val);
        break;
      case 'volume-nocopy':
        volumeOptions().NoCopy = bool(key, val);
        break;
      case 'volume-subpath':
        volumeOptions().Subpath = val;
        break;
      case 'volume-label': {
        const [lk, ...lv] = val!.split('=');
        volumeOptions().Labels = { ...(volumeOptions().Labels ?? {}), [lk]: lv.join('=') };
        break;
      }
      case 'volume-driver':
        volumeOptions().DriverConfig = { ...(volumeOptions().DriverConfig ?? {}), Name: val };
        break;
      case 'volume-opt': {
        const [ok, ...ov] = val!.split('=');
        const dc = (volumeOptions().DriverConfig ??= {});
        dc.Options = { ...(dc.Options ?? {}), [ok]: ov.join('=') };
        break;
      }
      case 'tmpfs-size':
        (mount.TmpfsOptions ??= {}).SizeBytes = parseSize(val!, true);
        break;
      case 'tmpfs-mode':
        (mount.TmpfsOptions ??= {}).Mode = parseInt(val!, 8);
        break;
      default:
        throw new Error(`unexpected key '${key}' in '${f}'`);
    }
  }
  if (!mount.Target) throw new Error('target is required');
  if (!['bind', 'volume', 'tmpfs', 'npipe', 'cluster', 'image'].includes(mount.Type)) throw new Error(`invalid mount type: ${mount.Type}`);
  if (mount.VolumeOptions && mount.Type !== 'volume') throw new Error(`cannot mix 'volume-*' options with mount type '${mount.Type}'`);
  if (mount.BindOptions && mount.Type !== 'bind') throw new Error(`cannot mix 'bind-*' options with mount type '${mount.Type}'`);
  if (mount.TmpfsOptions && mount.Type !== 'tmpfs') throw new Error(`cannot mix 'tmpfs-*' options with mount type '${mount.Type}'`);
  return mount;
}

/** Splits a CSV field list as encoding/csv does (double quotes protect commas). */
function splitCsv(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quoted) {
      if (c === '"' && s[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"' && cur === '') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

export interface PortMapping {
  /** "80/tcp" */
  port: string;
  binding: { HostIp: string; HostPort: string };
}

function parsePortRange(s: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw new Error('invalid range');
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (a > 65535 || b > 65535 || b < a) throw new Error('invalid range');
  return [a, b];
}

/** -p [ip:][hostPort:]containerPort[/proto], with ranges (docker's nat.ParsePortSpec). */
export function parsePortSpec(spec: string): PortMapping[] {
  let rest = spec;
  let proto = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    proto = rest.slice(slash + 1).toLowerCase();
    rest = rest.slice(0, slash);
    if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new Error(`invalid proto: ${proto}`);
  }
  let ip = '';
  let hostPart = '';
  let containerPart: string;
  const bracket = /^\[([^\]]*)\]:(.*)$/.exec(rest);
  if (bracket) {
    ip = bracket[1];
    const parts = bracket[2].split(':');
    if (parts.length !== 2) throw new Error(`invalid port format: ${spec}`);
    [hostPart, containerPart] = parts;
  } else {
    const parts = rest.split(':');
    if (parts.length === 1) containerPart = parts[0];
    else if (parts.length === 2) [hostPart, containerPart] = parts;
    else {
      containerPart = parts[parts.length - 1];
      hostPart = parts[parts.length - 2];
      ip = parts.slice(0, -2).join(':');
    }
  }
  if (ip && !isIP(ip)) throw new Error(`invalid IP address: ${ip}`);
  if (!containerPart) throw new Error(`no port specified: ${spec}<empty>`);
  let cStart: number, cEnd: number;
  try {
    [cStart, cEnd] = parsePortRange(containerPart);
  } catch {
    throw new Error(`invalid containerPort: ${containerPart}`);
  }
  let hStart = 0;
  let hEnd = 0;
  if (hostPart) {
    try {
      [hStart, hEnd] = parsePortRange(hostPart);
    } catch {
      throw new Error(`invalid hostPort: ${hostPart}`);
    }
  }
  const cCount = cEnd - cStart;
  const hCount = hEnd - hStart;
  if (hostPart && cCount !== hCount && hCount !== 0 && cCount !== 0) throw new Error(`invalid ranges specified for container and host Ports: ${containerPart} and ${hostPart}`);
  const out: PortMapping[] = [];
  for (let i = 0; i <= cCount; i++) {
    let hostPort = '';
    if (hostPart) hostPort = hCount === 0 ? String(hStart) : cCount === 0 ? `${hStart}-${hEnd}` : String(hStart + i);
    out.push({ port: `${cStart + i}/${proto}`, binding: { HostIp: ip, HostPort: hostPort } });
  }
  return out;
}

/** --expose port[-port][/proto] → "80/tcp" keys. */
export function parseExpose(spec: string): string[] {
  const slash = spec.lastIndexOf('/');
  const proto = slash >= 0 ? spec.slice(slash + 1) : 'tcp';
  const range = slash >= 0 ? spec.slice(0, slash) : spec;
  const m = /^(\d+)(?:-(\d+))?$/.exec(range);
  if (!m) {
    const bad = range.split('-').find((p) => !/^\d+$/.test(p)) ?? range;
    throw new Error(`invalid range format for --expose: ${spec}, error: strconv.ParseUint: parsing ${JSON.stringify(bad)}: invalid syntax`);
  }
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  const out: string[] = [];
  for (let p = a; p <= b; p++) out.push(`${p}/${proto}`);
  return out;
}

/** --detach-keys "ctrl-p,ctrl-q" → the bytes that detach, in the docker CLI's words when bad. */
export function parseDetachKeys(keys: string): Buffer {
  const bytes = parseKeySequence(keys);
  if (!bytes) throw new Error(`Invalid escape keys (${keys}) provided`);
  return bytes;
}

/** --attach STDIN|STDOUT|STDERR */
export function validateAttach(v: string): string {
  const l = v.toLowerCase();
  if (l === 'stdin' || l === 'stdout' || l === 'stderr') return l;
  throw new Error('valid streams are STDIN, STDOUT and STDERR');
}

/** --network NAME or name=NAME,alias=A,ip=...,driver-opt=k=v (docker's advanced syntax). */
export interface NetworkAttachment {
  target: string;
  aliases: string[];
  ipv4?: string;
  ipv6?: string;
  macAddress?: string;
  linkLocalIps: string[];
  driverOpts: Record<string, string>;
  gwPriority?: number;
}

export function parseNetworkOpt(v: string): NetworkAttachment {
  const att: NetworkAttachment = { target: v, aliases: [], linkLocalIps: [], driverOpts: {} };
  if (!v.includes('=')) return att;
  att.target = '';
  for (const field of splitCsv(v)) {
    const eq = field.indexOf('=');
    if (eq < 0) throw new Error(`invalid field ${field}`);
    const key = field.slice(0, eq).toLowerCase();
    const val = field.slice(eq + 1);
    switch (key) {
      case 'name':
        att.target = val;
        break;
      case 'alias':
        att.aliases.push(val);
        break;
      case 'ip':
        att.ipv4 = val;
        break;
      case 'ip6':
        att.ipv6 = val;
        break;
      case 'mac-address':
        att.macAddress = val;
        break;
      case 'link-local-ip':
        att.linkLocalIps.push(val);
        break;
      case 'driver-opt': {
        const [k, ...rest] = val.split('=');
        if (rest.length === 0) throw new Error(`invalid key value pair format in driver options`);
        att.driverOpts[k] = rest.join('=');
        break;
      }
      case 'gw-priority':
        att.gwPriority = parseInt64(val);
        break;
      default:
        throw new Error(`invalid field key ${key}`);
    }
  }
  if (!att.target) throw new Error('network name/id is not specified');
  return att;
}

/** --security-opt: seccomp=<file> is read and sent as the profile's JSON, as docker does. */
export function parseSecurityOpts(opts: readonly string[]): string[] {
  return opts.map((opt) => {
    const eq = opt.indexOf('=');
    const sep = eq >= 0 ? eq : opt.indexOf(':');
    const key = sep >= 0 ? opt.slice(0, sep) : opt;
    const val = sep >= 0 ? opt.slice(sep + 1) : '';
    if (key === 'seccomp' && val !== 'unconfined' && val !== 'builtin' && val !== '') {
      let text: string;
      try {
        text = readFileSync(val, 'utf8');
      } catch (e) {
        throw new Error(`opening seccomp profile (${val}) failed: ${(e as Error).message}`);
      }
      try {
        return `seccomp=${JSON.stringify(JSON.parse(text))}`;
      } catch {
        throw new Error(`compacting json for seccomp profile (${val}) failed`);
      }
    }
    if (key === 'no-new-privileges' && sep < 0) return 'no-new-privileges=true';
    return opt;
  });
}

/** --tmpfs /path[:options] */
export function parseTmpfs(v: string): [string, string] {
  const colon = v.indexOf(':');
  return colon >= 0 ? [v.slice(0, colon), v.slice(colon + 1)] : [v, ''];
}

/** --device /host[:/container[:rwm]] */
export function parseDevice(v: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const parts = v.split(':');
  const host = parts[0];
  let container = host;
  let perms = 'rwm';
  if (parts.length === 2) {
    if (/^[rwm]+$/.test(parts[1])) perms = parts[1];
    else container = parts[1];
  } else if (parts.length === 3) {
    container = parts[1];
    perms = parts[2];
  } else if (parts.length > 3) throw new Error(`invalid device specification: ${v}`);
  return { PathOnHost: host, PathInContainer: container, CgroupPermissions: perms };
}
