/**
 * What `berth container move` reads of a container, and the create request that makes the
 * same container elsewhere.
 */
import * as path from 'node:path';

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
    Binds?: string[] | null;
    Mounts?: { Type: string; Source?: string; Target: string }[] | null;
    PortBindings?: Record<string, { HostIp?: string; HostPort?: string }[] | null> | null;
    LogConfig?: { Type?: string };
    Runtime?: string;
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

/** Every volume the container mounts, named or anonymous: what --with-volumes moves. */
export function volumeNames(c: ContainerInfo): string[] {
  const names = (c.Mounts ?? []).filter((m) => m.Type === 'volume' && m.Name).map((m) => m.Name!);
  return [...new Set(names)];
}

/**
 * The anonymous volumes the container mounts, by destination ({"/data": NAME}): those it got
 * for `-v /path`, `--mount` without a source, or its image's VOLUMEs, not those named by the user.
 */
export function anonymousVolumes(c: ContainerInfo): Record<string, string> {
  const declared = new Set<string>();
  for (const d of Object.keys((c.Config.Volumes as Record<string, unknown> | null | undefined) ?? {})) declared.add(destination(d));
  // a bind or a named volume at a declared place takes it (a colon never starts a Windows drive here)
  for (const b of c.HostConfig.Binds ?? []) declared.delete(destination(b.split(':')[1] ?? ''));
  for (const m of c.HostConfig.Mounts ?? []) {
    if (m.Type === 'volume' && !m.Source) declared.add(destination(m.Target));
    else declared.delete(destination(m.Target));
  }
  const out: Record<string, string> = {};
  for (const m of c.Mounts ?? []) if (m.Type === 'volume' && m.Name && declared.has(destination(m.Destination))) out[destination(m.Destination)] = m.Name;
  return out;
}

function destination(p: string): string {
  const n = path.posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
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

/**
 * The create request for the same container: its configuration, limits, mounts, ports and
 * networks. `anonymousByName` mounts its anonymous volumes by name (a Docker target, which
 * cannot be told to give an anonymous volume a name: there they become named ones).
 */
export function createBody(c: ContainerInfo, image: string, anonymousByName?: Record<string, string>): Record<string, unknown> {
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
  let hostConfig = c.HostConfig;
  if (anonymousByName && Object.keys(anonymousByName).length) {
    const kept = (c.HostConfig.Mounts ?? []).filter((m) => !(m.Type === 'volume' && !m.Source && Object.hasOwn(anonymousByName, destination(m.Target))));
    hostConfig = { ...c.HostConfig, Mounts: [...kept, ...Object.entries(anonymousByName).map(([Target, Source]) => ({ Type: 'volume', Source, Target }))] };
  }
  return { ...c.Config, Image: image, HostConfig: hostConfig, NetworkingConfig: { EndpointsConfig: endpoints } };
}
