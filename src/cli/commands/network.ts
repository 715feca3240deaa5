/**
 * network create, ls, rm, prune, connect and disconnect (network inspect is with
 * the other inspect commands). Flags, checks, messages and exit statuses are
 * docker's; the daemon does the work through the /networks endpoints.
 */
import type { CommandSpec } from '../command';
import { formatFlagHelp, validateFilter, filtersJson } from '../command';
import type { FlagDef } from '../flags';
import { parseInt64 } from '../flags';
import { StatusError } from '../errors';
import { EngineError } from '../../client/engine';
import { prepareFormat, renderList } from '../format/render';
import { NetworkContext, NetworkSummary, networkFormat, networkListFormat } from '../format/networks';
import { goQuote, naturalCompare } from '../format/strings';
import { validateLabel, keyValueMap } from '../opts/values';
import { IpNet, ipNetContains, ipNetString, ipString, parseCidr, parseIp } from '../opts/ip';
import { confirm, describeError } from './shared';

const netPath = (name: string) => `/networks/${encodeURIComponent(name)}`;

// ---------------------------------------------------------------- flag values

/** pflag's stringSlice: comma-separated values; an empty value adds none. */
const splitList = (v: string): string[] => (v === '' ? [] : v.split(','));

/** pflag's ip flag: one address, written back in Go's form. */
function parseIpFlag(v: string): string {
  const ip = parseIp(v.trim());
  if (!ip) throw new Error(`failed to parse IP: ${goQuote(v)}`);
  return ipString(ip);
}

/** pflag's ipSlice: comma-separated addresses. */
function parseIpSlice(v: string): string[] {
  return splitList(v.replace(/["'`]/g, '')).map((s) => {
    const ip = parseIp(s.trim());
    if (!ip) throw new Error(`invalid string being converted to IP address: ${s}`);
    return ipString(ip);
  });
}

/** pflag's ipNetSlice: comma-separated CIDRs, kept as their networks ("10.1.2.3/16" → "10.1.0.0/16"). */
function parseIpNetSlice(v: string): string[] {
  return splitList(v.replace(/["'`]/g, '')).map((s) => {
    const n = parseCidr(s.trim());
    if (!n) throw new Error(`invalid string being converted to CIDR: ${s}`);
    return ipNetString(n);
  });
}

/** --link name[:alias], checked as docker's ValidateLink does. */
function validateLink(v: string): string {
  if (v === '') throw new Error('empty string specified for links');
  if (v.split(':').length > 2) throw new Error(`bad format for links: ${v}`);
  return v;
}

/** MapOpts values ("k=v", or "k" for an empty value) as a map; later keys win. */
const mapFlag = (name: string, help: string, short?: string): FlagDef => ({ name, short, type: 'map', help, defaultText: 'map[]' });

// ---------------------------------------------------------------- create

interface IpamConfig {
  Subnet?: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

/** Go's net.ParseCIDR on a subnet, with the error texts docker's checks print. */
function subnetNet(subnet: string): IpNet {
  const n = parseCidr(subnet);
  if (!n) throw new StatusError(`invalid subnet: invalid CIDR address: ${subnet}`, 1);
  return n;
}

/** Whether `data` (an address, or a CIDR whose address is used) lies in `subnet`. */
function subnetMatches(subnet: string, data: string): boolean {
  const net = subnetNet(subnet);
  let ip;
  if (data.includes('/')) {
    const slash = data.indexOf('/');
    if (!parseCidr(data)) throw new StatusError(`invalid CIDR address: ${data}`, 1);
    ip = parseIp(data.slice(0, slash));
  } else ip = parseIp(data);
  return ip !== undefined && ipNetContains(net, ip);
}

/** netip.ParseAddr's error text for what docker reports of a bad address. */
function parseAddrError(s: string): string {
  const slash = s.indexOf('/');
  if (slash >= 0 && parseIp(s.slice(0, slash))?.length === 4) return `ParseAddr(${goQuote(s)}): unexpected character (at ${goQuote(s.slice(slash))})`;
  return `ParseAddr(${goQuote(s)}): unable to parse IP`;
}

/** A subnet as the API gets it: a prefix as written (address not masked), or a bare address as a /32 or /128. */
function subnetPrefix(s: string): string {
  const slash = s.indexOf('/');
  if (slash >= 0) {
    const ip = parseIp(s.slice(0, slash));
    const bits = s.slice(slash + 1);
    if (ip && /^(0|[1-9][0-9]{0,2})$/.test(bits) && Number(bits) <= ip.length * 8) return `${ipString(ip)}/${bits}`;
  } else {
    const ip = parseIp(s);
    if (ip) return `${ipString(ip)}/${ip.length * 8}`;
  }
  throw new StatusError(`invalid address: ${parseAddrError(s)}`, 1);
}

/**
 * Groups --subnet, --ip-range, --gateway and --aux-address into one IPAM config
 * per subnet, with docker's client-side checks: every range and gateway needs a
 * subnet that contains it, subnets may not overlap, one range and one gateway a
 * subnet.
 */
export function ipamConfigs(subnets: readonly string[], ranges: readonly string[], gateways: readonly string[], aux: readonly [string, string][]): IpamConfig[] {
  if (subnets.length < ranges.length || subnets.length < gateways.length) {
    throw new StatusError('every ip-range or gateway must have a corresponding subnet', 1);
  }
  const bySubnet = new Map<string, IpamConfig>();
  for (const s of subnets) {
    for (const k of bySubnet.keys()) {
      if (subnetMatches(s, k) || subnetMatches(k, s)) throw new StatusError('multiple overlapping subnet configuration is not supported', 1);
    }
    bySubnet.set(s, { Subnet: subnetPrefix(s) });
  }
  const assign = (value: string, field: 'IPRange' | 'Gateway', clash: (old: string, s: string) => string, none: string) => {
    let matched = false;
    for (const s of subnets) {
      if (!subnetMatches(s, value)) continue;
      const cfg = bySubnet.get(s)!;
      const old = cfg[field];
      if (old) throw new StatusError(clash(old, s), 1);
      cfg[field] = value;
      matched = true;
    }
    if (!matched) throw new StatusError(none, 1);
  };
  for (const r of ranges) assign(r, 'IPRange', (old, s) => `cannot configure multiple ranges (${r}, ${old}) on the same subnet (${s})`, `no matching subnet for range ${r}`);
  for (const g of gateways) assign(g, 'Gateway', (old, s) => `cannot configure multiple gateways (${g}, ${old}) for the same subnet (${s})`, `no matching subnet for gateway ${g}`);
  for (const [key, aa] of aux) {
    const ip = aa.includes('/') ? undefined : parseIp(aa);
    if (!ip) throw new StatusError(parseAddrError(aa), 1);
    const addr = ipString(ip);
    let matched = false;
    for (const s of subnets) {
      if (!subnetMatches(s, addr)) continue;
      const cfg = bySubnet.get(s)!;
      (cfg.AuxiliaryAddresses ??= {})[key] = addr;
      matched = true;
    }
    if (!matched) throw new StatusError(`no matching subnet for aux-address ${aa}`, 1);
  }
  return [...bySubnet.values()];
}

/** MapOpts entries in the order given, a later key replacing an earlier one. */
function mapEntries(items: readonly string[]): [string, string][] {
  return Object.entries(keyValueMap(items));
}

export const networkCreate: CommandSpec = {
  usage: '[OPTIONS] NETWORK',
  summary: 'Create a network',
  args: { min: 1, max: 1 },
  flags: [
    { name: 'attachable', type: 'bool', help: 'Enable manual container attachment' },
    mapFlag('aux-address', 'Auxiliary IPv4 or IPv6 addresses used by Network driver'),
    { name: 'config-from', type: 'string', help: 'The network from which to copy the configuration', default: '' },
    { name: 'config-only', type: 'bool', help: 'Create a configuration only network' },
    { name: 'driver', short: 'd', type: 'string', help: 'Driver to manage the Network', default: 'bridge' },
    { name: 'gateway', type: 'ipSlice', help: 'IPv4 or IPv6 Gateway for the master subnet', repeat: true, parse: parseIpSlice },
    { name: 'ingress', type: 'bool', help: 'Create swarm routing-mesh network' },
    { name: 'internal', type: 'bool', help: 'Restrict external access to the network' },
    { name: 'ip-range', type: 'ipNetSlice', help: 'Allocate container ip from a sub-range', repeat: true, parse: parseIpNetSlice },
    { name: 'ipam-driver', type: 'string', help: 'IP Address Management Driver', default: 'default' },
    mapFlag('ipam-opt', 'Set IPAM driver specific options'),
    { name: 'ipv4', type: 'bool', help: 'Enable or disable IPv4 address assignment', default: true },
    { name: 'ipv6', type: 'bool', help: 'Enable or disable IPv6 address assignment' },
    { name: 'label', type: 'list', help: 'Set metadata on a network', parse: validateLabel },
    mapFlag('opt', 'Set driver specific options', 'o'),
    { name: 'scope', type: 'string', help: "Control the network's scope", default: '' },
    { name: 'subnet', type: 'strings', help: 'Subnet in CIDR format that represents a network segment', parse: splitList },
  ],
  async run(ctx, p) {
    const v = p.values;
    const config = ipamConfigs(
      v.subnet as string[],
      (v['ip-range'] as string[][]).flat(),
      (v.gateway as string[][]).flat(),
      mapEntries(v['aux-address'] as string[]),
    );
    const configFrom = v['config-from'] as string;
    const body: Record<string, unknown> = {
      Name: p.args[0],
      Driver: v.driver as string,
      Scope: v.scope as string,
      IPAM: { Driver: v['ipam-driver'] as string, Config: config, Options: keyValueMap(v['ipam-opt'] as string[]) },
      Internal: !!v.internal,
      Attachable: !!v.attachable,
      Ingress: !!v.ingress,
      ConfigOnly: !!v['config-only'],
      ConfigFrom: configFrom ? { Network: configFrom } : null,
      Options: keyValueMap(v.opt as string[]),
      Labels: keyValueMap(v.label as string[]),
    };
    // Sent only when given, so that the daemon's defaults apply otherwise.
    if (p.changed.has('ipv4')) body.EnableIPv4 = !!v.ipv4;
    if (p.changed.has('ipv6')) body.EnableIPv6 = !!v.ipv6;
    const res = await ctx.client().call<{ Id: string; Warning?: string }>('POST', '/networks/create', { body });
    ctx.out(`${res.Id}\n`);
    return 0;
  },
};

// ---------------------------------------------------------------- ls

export const networkLs: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'List networks',
  aliases: ['network ls', 'network list'],
  args: { max: 0 },
  flags: [
    { name: 'filter', short: 'f', type: 'filter', help: 'Provide filter values (e.g. "driver=bridge")', parse: validateFilter },
    { name: 'format', type: 'string', help: formatFlagHelp, default: '' },
    { name: 'no-trunc', type: 'bool', help: 'Do not truncate the output' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Only display network IDs' },
  ],
  async run(ctx, p) {
    const list = await ctx.client().call<NetworkSummary[] | null>('GET', '/networks', {
      query: { filters: filtersJson(p.values.filter as string[]) },
    });
    const networks = [...(list ?? [])].sort((a, b) => naturalCompare(a.Name ?? '', b.Name ?? ''));
    const prepared = prepareFormat(networkFormat(p.values.format as string, p.values.quiet as boolean), networkListFormat);
    const trunc = !(p.values['no-trunc'] as boolean);
    ctx.out(renderList(prepared, networks.map((n) => new NetworkContext(n, trunc)), networkListFormat));
    return 0;
  },
};

// ---------------------------------------------------------------- rm

const ingressWarning =
  'WARNING! Before removing the routing-mesh network, make sure all the nodes in your swarm run the same docker engine version. ' +
  'Otherwise, removal may not be effective and functionality of newly create ingress networks will be impaired.';

export const networkRm: CommandSpec = {
  usage: 'NETWORK [NETWORK...]',
  summary: 'Remove one or more networks',
  aliases: ['network rm', 'network remove'],
  args: { min: 1 },
  flags: [{ name: 'force', short: 'f', type: 'bool', help: 'Do not error if the network does not exist' }],
  async run(ctx, p) {
    const client = ctx.client();
    const force = !!p.values.force;
    let status = 0;
    for (const name of p.args) {
      // docker asks before removing a swarm's routing-mesh network; a failed look-up is left to the removal to report.
      let ingress = false;
      try {
        ingress = !!(await client.call<{ Ingress?: boolean }>('GET', netPath(name)))?.Ingress;
      } catch {
        ingress = false;
      }
      if (ingress && !(await confirm(ctx, ingressWarning))) continue;
      try {
        await client.call('DELETE', netPath(name));
      } catch (e) {
        if (force && e instanceof EngineError && e.status === 404) continue;
        ctx.err(`${describeError(e)}\n`);
        status = 1;
        continue;
      }
      ctx.out(`${name}\n`);
    }
    return status;
  },
};

// ---------------------------------------------------------------- prune

export const networkPrune: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'Remove all unused networks',
  args: { max: 0 },
  flags: [
    { name: 'filter', type: 'filter', help: 'Provide filter values (e.g. "until=<timestamp>")', parse: validateFilter },
    { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
  ],
  async run(ctx, p) {
    if (!p.values.force && !(await confirm(ctx, 'WARNING! This will remove all custom networks not used by at least one container.'))) return 0;
    const res = await ctx.client().call<{ NetworksDeleted?: string[] | null }>('POST', '/networks/prune', {
      query: { filters: filtersJson(p.values.filter as string[]) },
    });
    const deleted = res?.NetworksDeleted ?? [];
    // docker prints the report with Println, hence the blank line after it.
    if (deleted.length) ctx.out(`Deleted Networks:\n${deleted.join('\n')}\n\n`);
    return 0;
  },
};

// ---------------------------------------------------------------- connect / disconnect

/** --driver-opt k=v pairs, trimmed, as docker reads them. */
function driverOptions(items: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const it of items) {
    const eq = it.indexOf('=');
    const key = (eq >= 0 ? it.slice(0, eq) : it).trim();
    if (eq < 0 || key === '') throw new StatusError('invalid key/value pair format in driver options', 1);
    out[key] = it.slice(eq + 1).trim();
  }
  return out;
}

export const networkConnect: CommandSpec = {
  usage: '[OPTIONS] NETWORK CONTAINER',
  summary: 'Connect a container to a network',
  args: { min: 2, max: 2 },
  flags: [
    { name: 'alias', type: 'strings', help: 'Add network-scoped alias for the container', parse: splitList },
    { name: 'driver-opt', type: 'strings', help: 'driver options for the network', parse: splitList },
    { name: 'gw-priority', type: 'int', help: 'Highest gw-priority provides the default gateway. Accepts positive and negative values.', default: 0, parse: (v) => parseInt64(v) },
    { name: 'ip', type: 'ip', help: 'IPv4 address (e.g., "172.30.100.104")', parse: parseIpFlag },
    { name: 'ip6', type: 'ip', help: 'IPv6 address (e.g., "2001:db8::33")', parse: parseIpFlag },
    { name: 'link', type: 'list', help: 'Add link to another container', parse: validateLink },
    { name: 'link-local-ip', type: 'ipSlice', help: 'Add a link-local address for the container', repeat: true, parse: parseIpSlice },
  ],
  async run(ctx, p) {
    const [network, container] = p.args;
    const v = p.values;
    const driverOpts = driverOptions(v['driver-opt'] as string[]);
    const ipam: Record<string, unknown> = {};
    if (v.ip) ipam.IPv4Address = v.ip as string;
    if (v.ip6) ipam.IPv6Address = v.ip6 as string;
    const linkLocal = (v['link-local-ip'] as string[][]).flat();
    if (linkLocal.length) ipam.LinkLocalIPs = linkLocal;
    const links = v.link as string[];
    const endpoint: Record<string, unknown> = {
      IPAMConfig: ipam,
      Links: links.length ? links : null,
      Aliases: v.alias as string[],
      DriverOpts: driverOpts,
    };
    if (v['gw-priority']) endpoint.GwPriority = v['gw-priority'] as number;
    await ctx.client().call('POST', `${netPath(network)}/connect`, { body: { Container: container, EndpointConfig: endpoint } });
    return 0;
  },
};

export const networkDisconnect: CommandSpec = {
  usage: '[OPTIONS] NETWORK CONTAINER',
  summary: 'Disconnect a container from a network',
  args: { min: 2, max: 2 },
  flags: [{ name: 'force', short: 'f', type: 'bool', help: 'Force the container to disconnect from a network' }],
  async run(ctx, p) {
    const [network, container] = p.args;
    await ctx.client().call('POST', `${netPath(network)}/disconnect`, { body: { Container: container, Force: !!p.values.force } });
    return 0;
  },
};
