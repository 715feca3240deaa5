/**
 * The flags of `run` and `create` (docker's container options) and their
 * translation into the body of POST /containers/create.
 */
import type { ContainerCreateBody, HostConfig, MountSpec, Ulimit } from '../../api/types';
import { FlagDef, ParsedFlags, parseInt64, parseUint } from '../flags';
import { StatusError } from '../errors';
import { parseNanoCpus, parseSize } from '../../common/units';
import { parseGoDuration } from '../../common/time';
import {
  NetworkAttachment,
  keyValueMap,
  parseDevice,
  parseExpose,
  parseMemBytes,
  parseMemSwapBytes,
  parseMount,
  parseNetworkOpt,
  parsePortSpec,
  parseRestartPolicy,
  parseSecurityOpts,
  parseTmpfs,
  parseUlimit,
  readKeyValueFile,
  validateAttach,
  validateEnv,
  validateExtraHost,
  validateIpAddress,
  validateLabel,
  validateSysctl,
} from './values';

const s = (name: string, short: string | undefined, help: string, def = ''): FlagDef => ({ name, short, type: 'string', help, default: def });
const b = (name: string, short: string | undefined, help: string, def = false): FlagDef => ({ name, short, type: 'bool', help, default: def });
const l = (name: string, short: string | undefined, help: string, parse?: (v: string) => unknown, type = 'list'): FlagDef => ({ name, short, type, help, parse });
const i = (name: string, short: string | undefined, help: string, def = 0, type = 'int'): FlagDef => ({ name, short, type, help, default: def, parse: (v) => parseInt64(v) });
const bytes = (name: string, short: string | undefined, help: string, parse = parseMemBytes): FlagDef => ({ name, short, type: 'bytes', help, default: 0, parse });
const dur = (name: string, help: string): FlagDef => ({ name, type: 'duration', help, default: 0, defaultText: '0s', parse: parseGoDuration });

/** Flags shared by run and create, in docker's help order. */
export const containerFlags: FlagDef[] = [
  l('add-host', undefined, 'Add a custom host-to-IP mapping (host:ip)', validateExtraHost),
  l('annotation', undefined, 'Add an annotation to the container (passed through to the OCI runtime)', undefined, 'map'),
  l('attach', 'a', 'Attach to STDIN, STDOUT or STDERR', validateAttach),
  { name: 'blkio-weight', type: 'uint16', help: 'Block IO (relative weight), between 10 and 1000, or 0 to disable', default: 0, defaultText: '0', parse: (v) => parseUint(v, 16) },
  l('blkio-weight-device', undefined, 'Block IO weight (relative device weight)'),
  l('cap-add', undefined, 'Add Linux capabilities'),
  l('cap-drop', undefined, 'Drop Linux capabilities'),
  s('cgroup-parent', undefined, 'Optional parent cgroup for the container'),
  s('cgroupns', undefined, 'Cgroup namespace to use (host|private)'),
  s('cidfile', undefined, 'Write the container ID to the file'),
  i('cpu-count', undefined, 'CPU count (Windows only)'),
  i('cpu-percent', undefined, 'CPU percent (Windows only)'),
  i('cpu-period', undefined, 'Limit CPU CFS (Completely Fair Scheduler) period'),
  i('cpu-quota', undefined, 'Limit CPU CFS (Completely Fair Scheduler) quota'),
  i('cpu-rt-period', undefined, 'Limit CPU real-time period in microseconds'),
  i('cpu-rt-runtime', undefined, 'Limit CPU real-time runtime in microseconds'),
  i('cpu-shares', 'c', 'CPU shares (relative weight)'),
  { name: 'cpus', type: 'decimal', help: 'Number of CPUs', default: 0, parse: parseNanoCpus },
  s('cpuset-cpus', undefined, 'CPUs in which to allow execution (0-3, 0,1)'),
  s('cpuset-mems', undefined, 'MEMs in which to allow execution (0-3, 0,1)'),
  l('device', undefined, 'Add a host device to the container', parseDevice),
  l('device-cgroup-rule', undefined, 'Add a rule to the cgroup allowed devices list'),
  l('device-read-bps', undefined, 'Limit read rate (bytes per second) from a device'),
  l('device-read-iops', undefined, 'Limit read rate (IO per second) from a device'),
  l('device-write-bps', undefined, 'Limit write rate (bytes per second) to a device'),
  l('device-write-iops', undefined, 'Limit write rate (IO per second) to a device'),
  b('disable-content-trust', undefined, 'Skip image verification', true),
  l('dns', undefined, 'Set custom DNS servers', validateIpAddress),
  l('dns-option', undefined, 'Set DNS options'),
  l('dns-search', undefined, 'Set custom DNS search domains'),
  s('domainname', undefined, 'Container NIS domain name'),
  s('entrypoint', undefined, 'Overwrite the default ENTRYPOINT of the image'),
  // Only checked here; a bare KEY is resolved against the caller's environment when the body is built.
  l('env', 'e', 'Set environment variables', (v) => (validateEnv(v, {}), v)),
  l('env-file', undefined, 'Read in a file of environment variables'),
  l('expose', undefined, 'Expose a port or a range of ports'),
  s('gpus', undefined, "GPU devices to add to the container ('all' to pass all GPUs)"),
  l('group-add', undefined, 'Add additional groups to join'),
  s('health-cmd', undefined, 'Command to run to check health'),
  dur('health-interval', 'Time between running the check (ms|s|m|h)'),
  i('health-retries', undefined, 'Consecutive failures needed to report unhealthy'),
  dur('health-start-interval', 'Time between running the check during the start period (ms|s|m|h)'),
  dur('health-start-period', 'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h)'),
  dur('health-timeout', 'Maximum time to allow one check to run (ms|s|m|h)'),
  s('hostname', 'h', 'Container host name'),
  b('init', undefined, 'Run an init inside the container that forwards signals and reaps processes'),
  b('interactive', 'i', 'Keep STDIN open even if not attached'),
  bytes('io-maxbandwidth', undefined, 'Maximum IO bandwidth limit for the system drive (Windows only)'),
  { name: 'io-maxiops', type: 'uint', help: 'Maximum IOps limit for the system drive (Windows only)', default: 0, parse: (v) => parseUint(v) },
  s('ip', undefined, 'IPv4 address (e.g., 172.30.100.104)'),
  s('ip6', undefined, 'IPv6 address (e.g., 2001:db8::33)'),
  s('ipc', undefined, 'IPC mode to use'),
  s('isolation', undefined, 'Container isolation technology'),
  bytes('kernel-memory', undefined, 'Kernel memory limit'),
  l('label', 'l', 'Set meta data on a container', validateLabel),
  l('label-file', undefined, 'Read in a line delimited file of labels'),
  l('link', undefined, 'Add link to another container'),
  l('link-local-ip', undefined, 'Container IPv4/IPv6 link-local addresses'),
  s('log-driver', undefined, 'Logging driver for the container'),
  l('log-opt', undefined, 'Log driver options'),
  s('mac-address', undefined, 'Container MAC address (e.g., 92:d0:c6:0a:29:33)'),
  bytes('memory', 'm', 'Memory limit'),
  bytes('memory-reservation', undefined, 'Memory soft limit'),
  bytes('memory-swap', undefined, "Swap limit equal to memory plus swap: '-1' to enable unlimited swap", parseMemSwapBytes),
  i('memory-swappiness', undefined, 'Tune container memory swappiness (0 to 100)', -1),
  l('mount', undefined, 'Attach a filesystem mount to the container', parseMount, 'mount'),
  s('name', undefined, 'Assign a name to the container'),
  { name: 'network', type: 'network', help: 'Connect a container to a network', parse: parseNetworkOpt },
  { name: 'net', type: 'network', help: 'Connect a container to a network', parse: parseNetworkOpt, hidden: true },
  l('network-alias', undefined, 'Add network-scoped alias for the container'),
  { name: 'net-alias', type: 'list', help: 'Add network-scoped alias for the container', hidden: true },
  b('no-healthcheck', undefined, 'Disable any container-specified HEALTHCHECK'),
  b('oom-kill-disable', undefined, 'Disable OOM Killer'),
  i('oom-score-adj', undefined, "Tune host's OOM preferences (-1000 to 1000)"),
  s('pid', undefined, 'PID namespace to use'),
  i('pids-limit', undefined, 'Tune container pids limit (set -1 for unlimited)'),
  s('platform', undefined, 'Set platform if server is multi-platform capable'),
  b('privileged', undefined, 'Give extended privileges to this container'),
  l('publish', 'p', "Publish a container's port(s) to the host"),
  b('publish-all', 'P', 'Publish all exposed ports to random ports'),
  s('pull', undefined, 'Pull image before running ("always", "missing", "never")', 'missing'),
  b('quiet', 'q', 'Suppress the pull output'),
  b('read-only', undefined, "Mount the container's root filesystem as read only"),
  s('restart', undefined, 'Restart policy to apply when a container exits', 'no'),
  b('rm', undefined, 'Automatically remove the container and its associated anonymous volumes when it exits'),
  s('runtime', undefined, 'Runtime to use for this container'),
  l('security-opt', undefined, 'Security Options'),
  bytes('shm-size', undefined, 'Size of /dev/shm'),
  s('stop-signal', undefined, 'Signal to stop the container'),
  i('stop-timeout', undefined, 'Timeout (in seconds) to stop a container'),
  l('storage-opt', undefined, 'Storage driver options for the container'),
  l('sysctl', undefined, 'Sysctl options', validateSysctl, 'map'),
  l('tmpfs', undefined, 'Mount a tmpfs directory'),
  b('tty', 't', 'Allocate a pseudo-TTY'),
  l('ulimit', undefined, 'Ulimit options', parseUlimit, 'ulimit'),
  b('use-api-socket', undefined, 'Bind mount Docker API socket and required auth'),
  s('user', 'u', 'Username or UID (format: <name|uid>[:<group|gid>])'),
  s('userns', undefined, 'User namespace to use'),
  s('uts', undefined, 'UTS namespace to use'),
  l('volume', 'v', 'Bind mount a volume'),
  s('volume-driver', undefined, 'Optional volume driver for the container'),
  l('volumes-from', undefined, 'Mount volumes from the specified container(s)'),
  s('workdir', 'w', 'Working directory inside the container'),
];

/** Flags only `run` has. */
export const runOnlyFlags: FlagDef[] = [
  b('detach', 'd', 'Run container in background and print container ID'),
  s('detach-keys', undefined, 'Override the key sequence for detaching a container'),
  b('sig-proxy', undefined, 'Proxy received signals to the process', true),
];

export type PullPolicy = 'missing' | 'never' | 'always';

/** Everything `run`/`create` need beyond the request body. */
export interface ContainerRequest {
  image: string;
  name: string;
  platform: string;
  pull: PullPolicy;
  quiet: boolean;
  cidfile: string;
  body: ContainerCreateBody;
}

/** A validation failure: docker prints these as "docker: <msg>" and exits 125. */
function fail(msg: string): never {
  throw new StatusError(msg, 125, true);
}

const ms2ns = (ms: number) => Math.round(ms * 1_000_000);

/**
 * Builds the create request from parsed flags and positional arguments
 * (IMAGE [COMMAND] [ARG...]). `env` is the caller's environment, for `-e KEY`
 * and env files. `isTerminal` tells whether stdout is a TTY (console size).
 */
export function buildContainerRequest(p: ParsedFlags, env: NodeJS.ProcessEnv, terminalSize?: [number, number]): ContainerRequest {
  const v = p.values;
  const str = (k: string) => v[k] as string;
  const bool = (k: string) => v[k] as boolean;
  const num = (k: string) => v[k] as number;
  const list = <T = string>(k: string) => v[k] as T[];
  const [image, ...cmd] = p.args;

  const pull = str('pull') as PullPolicy;
  if (!['missing', 'never', 'always'].includes(pull)) fail(`invalid pull option: '${pull}': must be one of "always", "missing" or "never"`);

  const swappiness = num('memory-swappiness');
  if (swappiness !== -1 && (swappiness < 0 || swappiness > 100)) fail(`invalid value: ${swappiness}. Valid memory swappiness range is 0-100`);

  let envList: string[];
  let labelList: string[];
  try {
    envList = [...list('env-file').flatMap((f) => readKeyValueFile(f, true, env)), ...list('env').map((e) => validateEnv(e, env))];
    labelList = [...list('label-file').flatMap((f) => readKeyValueFile(f, false, env)), ...list('label')];
  } catch (e) {
    fail((e as Error).message);
  }

  // Ports: -p bindings and --expose both become exposed ports.
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const spec of list('publish')) {
    let maps;
    try {
      maps = parsePortSpec(spec);
    } catch (e) {
      fail((e as Error).message);
    }
    for (const m of maps) {
      exposed[m.port] = {};
      (bindings[m.port] ??= []).push(m.binding);
    }
  }
  for (const e of list('expose')) {
    try {
      for (const port of parseExpose(e)) exposed[port] = {};
    } catch (err) {
      fail((err as Error).message);
    }
  }

  // -v: host:container[:mode] binds; a lone path is an anonymous volume.
  const binds: string[] = [];
  const volumes: Record<string, object> = {};
  for (const vol of list('volume')) {
    if (vol === '') fail('invalid empty volume spec');
    if (splitVolume(vol).length > 1) binds.push(vol);
    else volumes[vol] = {};
  }

  const tmpfs: Record<string, string> = {};
  for (const t of list('tmpfs')) {
    const [path, opts] = parseTmpfs(t);
    tmpfs[path] = opts;
  }

  let restart;
  try {
    restart = parseRestartPolicy(str('restart'));
  } catch (e) {
    fail((e as Error).message);
  }
  if (bool('rm') && restart.Name !== 'no' && restart.Name !== ('' as string)) fail('conflicting options: cannot specify both --restart and --rm');

  const attach = new Set(list('attach'));
  const interactive = bool('interactive');
  if (p.values.detach && attach.size > 0) throw new StatusError('conflicting options: cannot specify both --attach and --detach', 1);

  let securityOpt: string[];
  try {
    securityOpt = parseSecurityOpts(list('security-opt'));
  } catch (e) {
    fail((e as Error).message);
  }

  const networks = [...list<NetworkAttachment>('network'), ...list<NetworkAttachment>('net')];
  const netAliases = [...list('network-alias'), ...list('net-alias')];
  const endpoints: Record<string, unknown> = {};
  networks.forEach((n, idx) => {
    // Container-level network flags apply to the first network only, as in docker.
    const first = idx === 0;
    const aliases = [...n.aliases, ...(first ? netAliases : [])];
    const ipv4 = n.ipv4 ?? (first ? str('ip') : '');
    const ipv6 = n.ipv6 ?? (first ? str('ip6') : '');
    const linkLocal = [...n.linkLocalIps, ...(first ? list('link-local-ip') : [])];
    const ep: Record<string, unknown> = {};
    if (aliases.length) ep.Aliases = aliases;
    if (ipv4 || ipv6 || linkLocal.length) ep.IPAMConfig = { IPv4Address: ipv4 || undefined, IPv6Address: ipv6 || undefined, LinkLocalIPs: linkLocal.length ? linkLocal : undefined };
    const mac = n.macAddress ?? (first ? str('mac-address') : '');
    if (mac) ep.MacAddress = mac;
    if (Object.keys(n.driverOpts).length) ep.DriverOpts = n.driverOpts;
    if (n.gwPriority !== undefined) ep.GwPriority = n.gwPriority;
    if (first && list('link').length) ep.Links = list('link');
    endpoints[n.target] = ep;
  });
  if (networks.length === 0) {
    // Like docker: the default network gets an endpoint entry too, named "default".
    const ep: Record<string, unknown> = {};
    if (netAliases.length) ep.Aliases = netAliases;
    if (str('ip') || str('ip6')) ep.IPAMConfig = { IPv4Address: str('ip') || undefined, IPv6Address: str('ip6') || undefined };
    if (str('mac-address')) ep.MacAddress = str('mac-address');
    if (list('link').length) ep.Links = list('link');
    endpoints.default = ep;
  }

  let entrypoint: string[] | undefined;
  if (str('entrypoint') !== '') entrypoint = [str('entrypoint')];
  else if (p.changed.has('entrypoint')) entrypoint = [''];

  let healthcheck: ContainerCreateBody['Healthcheck'];
  if (bool('no-healthcheck')) {
    if (str('health-cmd') || num('health-interval') || num('health-timeout') || num('health-retries')) fail('--no-healthcheck conflicts with --health-* options');
    healthcheck = { Test: ['NONE'] };
  } else if (str('health-cmd') || ['health-interval', 'health-timeout', 'health-start-period', 'health-start-interval', 'health-retries'].some((k) => p.changed.has(k))) {
    for (const k of ['health-interval', 'health-timeout', 'health-start-period', 'health-start-interval']) if (num(k) < 0) fail(`--${k} cannot be negative`);
    if (num('health-retries') < 0) fail('--health-retries cannot be negative');
    healthcheck = {
      Test: str('health-cmd') ? ['CMD-SHELL', str('health-cmd')] : undefined,
      Interval: ms2ns(num('health-interval')),
      Timeout: ms2ns(num('health-timeout')),
      StartPeriod: ms2ns(num('health-start-period')),
      StartInterval: ms2ns(num('health-start-interval')),
      Retries: num('health-retries'),
    };
  }

  const logOpts = keyValueMap(list('log-opt'));
  const storageOpts = keyValueMap(list('storage-opt'));
  const tty = bool('tty');

  const host: HostConfig = {
    Binds: binds.length ? binds : undefined,
    ContainerIDFile: str('cidfile') || undefined,
    LogConfig: str('log-driver') || Object.keys(logOpts).length ? { Type: str('log-driver'), Config: logOpts } : undefined,
    NetworkMode: networks.length ? networks[0].target : 'default',
    PortBindings: Object.keys(bindings).length ? bindings : undefined,
    RestartPolicy: restart,
    AutoRemove: bool('rm'),
    VolumeDriver: str('volume-driver') || undefined,
    VolumesFrom: list('volumes-from').length ? list('volumes-from') : undefined,
    Mounts: list<MountSpec>('mount').length ? list<MountSpec>('mount') : undefined,
    CapAdd: list('cap-add').length ? normalizeCaps(list('cap-add')) : undefined,
    CapDrop: list('cap-drop').length ? normalizeCaps(list('cap-drop')) : undefined,
    CgroupnsMode: (str('cgroupns') || undefined) as HostConfig['CgroupnsMode'],
    Dns: list('dns').length ? list('dns') : undefined,
    DnsOptions: list('dns-option').length ? list('dns-option') : undefined,
    DnsSearch: list('dns-search').length ? list('dns-search') : undefined,
    ExtraHosts: list('add-host').length ? list('add-host') : undefined,
    GroupAdd: list('group-add').length ? list('group-add') : undefined,
    IpcMode: str('ipc') || undefined,
    Links: list('link').length ? list('link') : undefined,
    OomScoreAdj: num('oom-score-adj') || undefined,
    PidMode: str('pid') || undefined,
    Privileged: bool('privileged'),
    PublishAllPorts: bool('publish-all'),
    ReadonlyRootfs: bool('read-only'),
    SecurityOpt: securityOpt.length ? securityOpt : undefined,
    StorageOpt: Object.keys(storageOpts).length ? storageOpts : undefined,
    Tmpfs: Object.keys(tmpfs).length ? tmpfs : undefined,
    UTSMode: str('uts') || undefined,
    UsernsMode: str('userns') || undefined,
    ShmSize: num('shm-size') || undefined,
    Sysctls: list('sysctl').length ? keyValueMap(list('sysctl')) : undefined,
    Runtime: str('runtime') || undefined,
    Isolation: str('isolation') || undefined,
    Annotations: list('annotation').length ? keyValueMap(list('annotation')) : undefined,
    ConsoleSize: tty && terminalSize ? terminalSize : undefined,
    // Resources
    CpuShares: num('cpu-shares') || undefined,
    Memory: num('memory') || undefined,
    NanoCpus: num('cpus') || undefined,
    CgroupParent: str('cgroup-parent') || undefined,
    BlkioWeight: num('blkio-weight') || undefined,
    CpuPeriod: num('cpu-period') || undefined,
    CpuQuota: num('cpu-quota') || undefined,
    CpuRealtimePeriod: num('cpu-rt-period') || undefined,
    CpuRealtimeRuntime: num('cpu-rt-runtime') || undefined,
    CpusetCpus: str('cpuset-cpus') || undefined,
    CpusetMems: str('cpuset-mems') || undefined,
    Devices: list<{ PathOnHost: string; PathInContainer: string; CgroupPermissions: string }>('device').length ? list('device') : undefined,
    DeviceCgroupRules: list('device-cgroup-rule').length ? list('device-cgroup-rule') : undefined,
    MemoryReservation: num('memory-reservation') || undefined,
    MemorySwap: num('memory-swap') || undefined,
    MemorySwappiness: swappiness,
    OomKillDisable: p.changed.has('oom-kill-disable') ? bool('oom-kill-disable') : undefined,
    Init: p.changed.has('init') ? bool('init') : undefined,
    PidsLimit: p.changed.has('pids-limit') ? num('pids-limit') : undefined,
    Ulimits: list<Ulimit>('ulimit').length ? list<Ulimit>('ulimit') : undefined,
  };
  const throttleFlags = ['device-read-bps', 'device-write-bps', 'device-read-iops', 'device-write-iops'];
  if (throttleFlags.some((k) => p.changed.has(k))) {
    const throttles = (k: string) =>
      list(k).map((spec) => {
        const colon = spec.lastIndexOf(':');
        const path = spec.slice(0, colon);
        const rate = spec.slice(colon + 1);
        if (colon <= 0) fail(`bad format: ${spec}`);
        return { Path: path, Rate: k.endsWith('bps') ? parseSize(rate, true) : Number(rate) };
      });
    Object.assign(host, {
      BlkioDeviceReadBps: throttles('device-read-bps'),
      BlkioDeviceWriteBps: throttles('device-write-bps'),
      BlkioDeviceReadIOps: throttles('device-read-iops'),
      BlkioDeviceWriteIOps: throttles('device-write-iops'),
    });
  }

  const attachStdin = attach.has('stdin') || interactive;
  const noAttachFlag = attach.size === 0;
  const body: ContainerCreateBody = {
    Hostname: str('hostname') || undefined,
    Domainname: str('domainname') || undefined,
    User: str('user') || undefined,
    AttachStdin: attachStdin,
    AttachStdout: noAttachFlag || attach.has('stdout'),
    AttachStderr: noAttachFlag || attach.has('stderr'),
    ExposedPorts: Object.keys(exposed).length ? exposed : undefined,
    Tty: tty,
    OpenStdin: interactive,
    // docker: with stdin open and attached, the client's EOF closes the container's stdin
    StdinOnce: interactive && attachStdin,
    Env: envList.length ? envList : undefined,
    Cmd: cmd.length ? cmd : undefined,
    Healthcheck: healthcheck,
    Image: image,
    Volumes: Object.keys(volumes).length ? volumes : undefined,
    WorkingDir: str('workdir') || undefined,
    Entrypoint: entrypoint,
    Labels: labelList.length ? keyValueMap(labelList) : undefined,
    StopSignal: str('stop-signal') || undefined,
    StopTimeout: p.changed.has('stop-timeout') ? num('stop-timeout') : undefined,
    HostConfig: dropUndefined(host),
    NetworkingConfig: Object.keys(endpoints).length ? { EndpointsConfig: endpoints } : undefined,
  };
  return {
    image,
    name: str('name'),
    platform: str('platform'),
    pull,
    quiet: bool('quiet'),
    cidfile: str('cidfile'),
    body: dropUndefined(body),
  };
}

/** "net_admin" → "CAP_NET_ADMIN", as docker's client sends capabilities ("ALL" stays). */
export function normalizeCaps(caps: readonly string[]): string[] {
  return caps.map((c) => {
    const u = c.trim().toUpperCase();
    return u === 'ALL' || u.startsWith('CAP_') ? u : `CAP_${u}`;
  });
}

/** Splits host:container[:mode] the way docker does on Linux (a lone path has one part). */
function splitVolume(spec: string): string[] {
  return spec.split(':').filter((part, idx, all) => part !== '' || idx < all.length - 1);
}

function dropUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}
