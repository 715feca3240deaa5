/**
 * What `berth container move` reads of a container, and the create request that makes the
 * same container elsewhere.
 */

export interface EndpointInfo {
  Aliases?: string[] | null;
  IPAMConfig?: Record<string, unknown> | null;
  Links?: string[] | null;
  DriverOpts?: Record<string, string> | null;
  MacAddress?: string;
}

export interface MountInfo {
  Type: string;
  Name?: string;
  Source?: string;
  Destination: string;
}

export interface ContainerInfo {
  Id: string;
  Name: string;
  Image: string;
  SizeRw?: number;
  State: { Running: boolean; Paused: boolean; Restarting: boolean; Status: string };
  Config: Record<string, unknown> & { Image?: string; Labels?: Record<string, string> | null };
  HostConfig: Record<string, unknown> & {
    NetworkMode?: string;
    PortBindings?: Record<string, { HostIp?: string; HostPort?: string }[] | null> | null;
    LogConfig?: { Type?: string };
  };
  NetworkSettings: { Networks?: Record<string, EndpointInfo> | null };
  Mounts?: MountInfo[] | null;
}

export interface ImageInfo {
  Id: string;
  Size?: number;
  RootFS?: { Layers?: string[] };
}

/** Docker's built-in networks, which every daemon has and nobody creates. */
export const BUILTIN_NETWORKS = new Set(['bridge', 'host', 'none', 'default']);

/** The networks a container is on that a target may have to create. */
export function userNetworks(c: ContainerInfo): string[] {
  return Object.keys(c.NetworkSettings.Networks ?? {}).filter((n) => !BUILTIN_NETWORKS.has(n) && !n.startsWith('container:'));
}

/** Named volumes (not anonymous ones, whose names are 64 hex digits) the container mounts. */
export function namedVolumes(c: ContainerInfo): string[] {
  const names = (c.Mounts ?? []).filter((m) => m.Type === 'volume' && m.Name && !/^[0-9a-f]{64}$/.test(m.Name)).map((m) => m.Name!);
  return [...new Set(names)];
}

/** Host ports the container publishes: "8080/tcp" with the address each is bound to. */
export function publishedPorts(c: ContainerInfo): { port: number; proto: string; ip: string }[] {
  const out: { port: number; proto: string; ip: string }[] = [];
  for (const [key, bindings] of Object.entries(c.HostConfig.PortBindings ?? {})) {
    const proto = key.split('/')[1] ?? 'tcp';
    for (const b of bindings ?? []) {
      const port = Number(b.HostPort);
      if (Number.isInteger(port) && port > 0) out.push({ port, proto, ip: b.HostIp ?? '' });
    }
  }
  return out;
}

/** Two listen addresses overlap when either is a wildcard or both are the same. */
export function addressesOverlap(a: string, b: string): boolean {
  const wild = (x: string) => x === '' || x === '0.0.0.0' || x === '::';
  return wild(a) || wild(b) || a === b;
}

/** The create request for the same container: its configuration, limits, mounts, ports and networks. */
export function createBody(c: ContainerInfo, image: string): Record<string, unknown> {
  const endpoints: Record<string, EndpointInfo> = {};
  for (const [net, ep] of Object.entries(c.NetworkSettings.Networks ?? {})) {
    if (net === 'host' || net === 'none') continue;
    endpoints[net] = {
      // Docker adds the container's short ID to its aliases on user networks; the target adds its own
      Aliases: (ep.Aliases ?? []).filter((a) => a !== c.Id.slice(0, 12)),
      IPAMConfig: ep.IPAMConfig ?? null,
      Links: ep.Links ?? null,
      DriverOpts: ep.DriverOpts ?? null,
    };
  }
  return { ...c.Config, Image: image, HostConfig: c.HostConfig, NetworkingConfig: { EndpointsConfig: endpoints } };
}
