import type { HostConfig } from '../api/types';
import { humanDuration } from '../common/units';
import type { ContainerRecord } from './model';
import type { Endpoint, EndpointRequest } from '../network/model';

/**
 * The container as the Engine API shows it: the summary of GET /containers/json and the
 * full object of GET /containers/{id}/json.
 */

/** `Up 3 minutes`, `Exited (0) 2 seconds ago`, `Created`: the STATUS column of `ps`. */
export function statusText(rec: ContainerRecord, now = Date.now()): string {
  const s = rec.State;
  if (s.Running) {
    if (s.Paused) return `Up ${humanDuration(now - Date.parse(s.StartedAt))} (Paused)`;
    if (s.Restarting) return `Restarting (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
    const health = s.Health ? (s.Health.Status === 'starting' ? ' (health: starting)' : ` (${s.Health.Status})`) : '';
    return `Up ${humanDuration(now - Date.parse(s.StartedAt))}${health}`;
  }
  if (s.Status === 'removing') return 'Removal In Progress';
  if (s.Dead) return 'Dead';
  if (s.Status === 'created' || s.FinishedAt.startsWith('0001')) return 'Created';
  return `Exited (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
}

/** Mounts as inspect shows them; a volume's Source is its folder on the host. */
export function mountsView(rec: ContainerRecord, volumeDir?: (name: string) => string): Record<string, unknown>[] {
  return (rec.MountPoints ?? []).map((p) =>
    p.Type === 'volume'
      ? { Type: 'volume', Name: p.Name, Source: volumeDir?.(p.Name!) ?? '', Destination: p.Destination, Driver: 'local', Mode: p.Mode, RW: p.RW, Propagation: '' }
      : { Type: p.Type, Source: p.Source, Destination: p.Destination, Mode: p.Mode, RW: p.RW, Propagation: p.Propagation },
  );
}

/** How present.ts learns network names from IDs (the network manager answers). */
export interface NetworkView {
  find(idOrName: string): { Id: string; Name: string } | undefined;
}

interface NetworkEntryData {
  name: string;
  networkId: string;
  ep?: Endpoint;
  req?: EndpointRequest;
}

/** The networks a container is on: its endpoints while it runs, else what it asked for. */
function networksOf(rec: ContainerRecord, nets?: NetworkView): NetworkEntryData[] {
  const mode = rec.HostConfig.NetworkMode ?? 'bridge';
  if (mode.startsWith('container:')) return [];
  const requested = rec.EndpointsConfig ?? { [mode === 'default' ? 'bridge' : mode]: {} };
  const out: NetworkEntryData[] = [];
  for (const [key, req] of Object.entries(requested)) {
    const n = nets?.find(key);
    const ep = n ? rec.Sandbox?.endpoints.find((e) => e.networkId === n.Id) : undefined;
    out.push({ name: n?.Name ?? key, networkId: n?.Id ?? '', ep, req });
  }
  if (mode === 'host' || mode === 'none') return [{ name: mode, networkId: nets?.find(mode)?.Id ?? '' }];
  return out;
}

function networkEntry(d: NetworkEntryData, rec: Pick<ContainerRecord, 'ID' | 'Name' | 'Config'>): Record<string, unknown> {
  const ep = d.ep;
  const aliases = d.req?.Aliases?.length ? d.req.Aliases : null;
  return {
    IPAMConfig: d.req?.IPAMConfig ? { ...d.req.IPAMConfig } : null,
    Links: d.req?.Links?.length ? d.req.Links : null,
    Aliases: aliases,
    // what the endpoint has while it runs, else what was asked for
    MacAddress: ep?.mac ?? d.req?.MacAddress ?? '',
    DriverOpts: d.req?.DriverOpts ?? null,
    GwPriority: 0,
    NetworkID: d.networkId,
    EndpointID: ep?.endpointId ?? '',
    Gateway: ep?.gateway ?? '',
    IPAddress: ep?.ipAddress ?? '',
    IPPrefixLen: ep?.prefixLen ?? 0,
    IPv6Gateway: ep?.ipv6Gateway ?? '',
    GlobalIPv6Address: ep?.ipv6Address ?? '',
    GlobalIPv6PrefixLen: ep?.ipv6PrefixLen ?? 0,
    // the names the network's DNS answers for this container, in Docker's order (the first
    // one answers reverse lookups), each once
    DNSNames: ep && d.name !== 'bridge' ? [...new Set([rec.Name.slice(1), ...(ep.aliases ?? []), rec.ID.slice(0, 12), rec.Config.Hostname ?? ''].filter(Boolean))] : null,
  };
}

/** NetworkSettings.Ports: every port the container exposes or publishes, with its bindings. */
function portsView(rec: ContainerRecord): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  if (!rec.State.Running) return out;
  for (const key of Object.keys((rec.Config.ExposedPorts ?? {}) as Record<string, unknown>)) out[key.includes('/') ? key : `${key}/tcp`] = null;
  for (const key of Object.keys(rec.HostConfig.PortBindings ?? {})) out[key.includes('/') ? key : `${key}/tcp`] ??= null;
  for (const p of rec.Sandbox?.ports ?? []) {
    const key = `${p.containerPort}/${p.protocol}`;
    (out[key] ??= []).push({ HostIp: p.hostIP, HostPort: String(p.hostPort) });
  }
  return out;
}

/** The `Ports` of the container list: one entry per binding, and exposed ports unbound. */
export function portList(rec: ContainerRecord): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const [key, bindings] of Object.entries(portsView(rec))) {
    const [port, type] = key.split('/');
    if (!bindings) out.push({ PrivatePort: Number(port), Type: type });
    else for (const b of bindings) out.push({ IP: b.HostIp, PrivatePort: Number(port), PublicPort: Number(b.HostPort), Type: type });
  }
  return out;
}

/** The list's Command as dockerd writes it: the path and its arguments, those holding a space in single quotes (not escaped). */
export function commandSummary(path: string, args: string[]): string {
  return [path, ...args.map((a) => (a.includes(' ') ? `'${a}'` : a))].join(' ');
}

export function containerSummary(rec: ContainerRecord, sizes?: { rw: number; rootFs: number }, nets?: NetworkView, volumeDir?: (name: string) => string): Record<string, unknown> {
  const out: Record<string, unknown> = {
    Id: rec.ID,
    Names: [rec.Name],
    Image: rec.Config.Image ?? rec.Image,
    ImageID: rec.Image,
    Command: commandSummary(rec.Path, rec.Args),
    Created: Math.floor(Date.parse(rec.Created) / 1000),
    Ports: portList(rec),
    Labels: rec.Config.Labels ?? {},
    State: rec.State.Status,
    Status: statusText(rec),
    HostConfig: { NetworkMode: rec.HostConfig.NetworkMode ?? 'bridge' },
    NetworkSettings: { Networks: Object.fromEntries(networksOf(rec, nets).map((n) => [n.name, networkEntry(n, rec)])) },
    Mounts: mountsView(rec, volumeDir),
  };
  if (sizes) {
    out.SizeRw = sizes.rw;
    out.SizeRootFs = sizes.rootFs;
  }
  return out;
}

/** HostConfig with Docker's defaults filled in, as `inspect` shows it. */
function hostConfigView(hc: HostConfig): HostConfig {
  return {
    Binds: null,
    ContainerIDFile: '',
    LogConfig: { Type: 'json-file', Config: {} },
    NetworkMode: 'bridge',
    PortBindings: {},
    RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
    AutoRemove: false,
    VolumeDriver: '',
    VolumesFrom: null,
    ConsoleSize: [0, 0],
    CapAdd: null,
    CapDrop: null,
    CgroupnsMode: 'host',
    Dns: [],
    DnsOptions: [],
    DnsSearch: [],
    ExtraHosts: null,
    GroupAdd: null,
    IpcMode: 'private',
    Cgroup: '',
    Links: null,
    OomScoreAdj: 0,
    PidMode: '',
    Privileged: false,
    PublishAllPorts: false,
    ReadonlyRootfs: false,
    SecurityOpt: null,
    UTSMode: '',
    UsernsMode: '',
    ShmSize: 67108864,
    Runtime: 'runc',
    Isolation: '',
    CpuShares: 0,
    Memory: 0,
    NanoCpus: 0,
    CgroupParent: '',
    BlkioWeight: 0,
    CpuPeriod: 0,
    CpuQuota: 0,
    CpuRealtimePeriod: 0,
    CpuRealtimeRuntime: 0,
    CpusetCpus: '',
    CpusetMems: '',
    Devices: [],
    DeviceCgroupRules: null,
    MemoryReservation: 0,
    MemorySwap: 0,
    MemorySwappiness: null,
    OomKillDisable: null,
    PidsLimit: null,
    Ulimits: null,
    MaskedPaths: [],
    ReadonlyPaths: [],
    ...hc,
  };
}

export function containerInspect(rec: ContainerRecord, paths: { dir: string; logPath: string; graph: Record<string, string> }, sizes?: { rw: number; rootFs: number }, nets?: NetworkView, volumeDir?: (name: string) => string): Record<string, unknown> {
  const out: Record<string, unknown> = {
    Id: rec.ID,
    Created: rec.Created,
    Path: rec.Path,
    Args: rec.Args,
    State: { ...rec.State },
    Image: rec.Image,
    ResolvConfPath: `${paths.dir}/resolv.conf`,
    HostnamePath: `${paths.dir}/hostname`,
    HostsPath: `${paths.dir}/hosts`,
    LogPath: paths.logPath,
    Name: rec.Name,
    RestartCount: rec.RestartCount,
    Driver: rec.Driver,
    Platform: rec.Platform,
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: hostConfigView(rec.HostConfig),
    GraphDriver: { Name: rec.Driver, Data: paths.graph },
    Mounts: mountsView(rec, volumeDir),
    Config: {
      Hostname: '',
      Domainname: '',
      User: '',
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: null,
      Cmd: null,
      Image: '',
      Volumes: null,
      WorkingDir: '',
      Entrypoint: null,
      OnBuild: null,
      Labels: {},
      // a field the record holds as undefined (an image with no Env) shows as Docker's null
      ...Object.fromEntries(Object.entries(rec.Config).filter(([, v]) => v !== undefined)),
    },
    NetworkSettings: (() => {
      const networks = networksOf(rec, nets);
      // the top-level fields describe the default bridge endpoint, as in Docker
      const bridge = networks.find((n) => n.name === 'bridge')?.ep;
      return {
        Bridge: '',
        SandboxID: rec.Sandbox ? rec.ID : '',
        SandboxKey: rec.Sandbox?.netns ?? '',
        Ports: portsView(rec),
        HairpinMode: false,
        LinkLocalIPv6Address: '',
        LinkLocalIPv6PrefixLen: 0,
        SecondaryIPAddresses: null,
        SecondaryIPv6Addresses: null,
        EndpointID: bridge?.endpointId ?? '',
        Gateway: bridge?.gateway ?? '',
        GlobalIPv6Address: bridge?.ipv6Address ?? '',
        GlobalIPv6PrefixLen: bridge?.ipv6PrefixLen ?? 0,
        IPAddress: bridge?.ipAddress ?? '',
        IPPrefixLen: bridge?.prefixLen ?? 0,
        IPv6Gateway: bridge?.ipv6Gateway ?? '',
        MacAddress: bridge?.mac ?? '',
        Networks: Object.fromEntries(networks.map((n) => [n.name, networkEntry(n, rec)])),
      };
    })(),
  };
  if (sizes) {
    out.SizeRw = sizes.rw;
    out.SizeRootFs = sizes.rootFs;
  }
  return out;
}
