import { conflict, notFound } from '../common/errors';
import { parseLink } from '../network/endpoint-request';
import type { ContainerRecord } from './model';

/**
 * Legacy links (`--link name:alias`, HostConfig.Links) on the default bridge: the linking
 * container learns the linked one through environment variables (`ALIAS_PORT_80_TCP=...`,
 * `ALIAS_NAME`, `ALIAS_ENV_...`) and an /etc/hosts entry, both fixed when it starts, as in Docker.
 * On user-defined networks links are endpoint links instead, answered by the network's DNS.
 */
export interface ResolvedLink {
  alias: string;
  /** the linked container */
  child: ContainerRecord;
  /** its address on the default bridge */
  ip: string;
}

/** Finds each linked container, which must run and be on the default bridge (Docker's errors). */
export function resolveLegacyLinks(rec: ContainerRecord, find: (name: string) => ContainerRecord | undefined, bridgeId: string | undefined): ResolvedLink[] {
  const out: ResolvedLink[] = [];
  for (const link of rec.HostConfig.Links ?? []) {
    const { name, alias } = parseLink(link);
    const child = find(name);
    if (!child) throw notFound(`could not get container for ${name}: No such container: ${name}`);
    if (!child.State.Running) throw conflict(`Cannot link to a non running container: ${child.Name} AS ${rec.Name}/${alias}`);
    const ip = child.Sandbox?.endpoints.find((e) => e.networkId === bridgeId)?.ipAddress;
    if (!ip) throw conflict(`Cannot link to ${child.Name}, as it does not belong to the default network`);
    out.push({ alias, child, ip });
  }
  return out;
}

/** Checks the links of a container being created: their containers exist (they run at start). */
export function checkLegacyLinks(links: string[] | null | undefined, find: (name: string) => ContainerRecord | undefined): void {
  for (const link of links ?? []) {
    const { name } = parseLink(link);
    if (!find(name)) throw notFound(`could not get container for ${name}: No such container: ${name}`);
  }
}

/** The environment a link gives the linking container (`parentName` with its leading slash). */
export function linkEnv(parentName: string, link: ResolvedLink): string[] {
  const prefix = link.alias.toUpperCase().replace(/-/g, '_');
  const ports = Object.keys(link.child.Config.ExposedPorts ?? {})
    .map((key) => {
      const [port, proto = 'tcp'] = key.split('/');
      return { port: Number(port), proto };
    })
    .filter((p) => Number.isInteger(p.port))
    // by number, tcp before udp on the same one: the first is the link's default port
    .sort((a, b) => a.port - b.port || (a.proto === 'tcp' ? -1 : b.proto === 'tcp' ? 1 : a.proto.localeCompare(b.proto)));
  const env: string[] = [];
  if (ports.length) env.push(`${prefix}_PORT=${ports[0].proto}://${link.ip}:${ports[0].port}`);
  for (const { port, proto } of ports) {
    const key = `${prefix}_PORT_${port}_${proto.toUpperCase()}`;
    env.push(`${key}=${proto}://${link.ip}:${port}`, `${key}_ADDR=${link.ip}`, `${key}_PORT=${port}`, `${key}_PROTO=${proto}`);
  }
  env.push(`${prefix}_NAME=${parentName}/${link.alias}`);
  for (const entry of link.child.Config.Env ?? []) {
    const at = entry.indexOf('=');
    if (at < 0) continue;
    const name = entry.slice(0, at);
    // set by images and builds, not the linked service's own
    if (name === 'HOME' || name === 'PATH') continue;
    env.push(`${prefix}_ENV_${name}=${entry.slice(at + 1)}`);
  }
  return env;
}

/** The /etc/hosts line of a link: the alias, the linked container's hostname and its name. */
export function linkHostsEntry(link: ResolvedLink): { ip: string; names: string[] } {
  const name = link.child.Name.slice(1);
  const names = [link.alias, link.child.Config.Hostname ?? '', ...(link.alias === name ? [] : [name])].filter(Boolean);
  return { ip: link.ip, names };
}

/** HostConfig.Links without the link of this alias; undefined when it has no such link. */
export function withoutLink(links: string[] | null | undefined, alias: string): string[] | undefined {
  const list = links ?? [];
  const kept = list.filter((l) => parseLink(l).alias !== alias);
  return kept.length === list.length ? undefined : kept;
}
