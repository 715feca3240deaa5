import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { ContainerConfig, HostConfig } from '../api/types';
import { BerthError, invalid } from '../common/errors';
import type { PortMapping } from './model';

/**
 * Published ports. The kernel forwards them (the CNI portmap plugin's DNAT rules); berthd
 * holds a socket on each host port as well, as docker-proxy does: it makes "port is already
 * allocated" true also for ports that programs of the host hold, and it relays TCP
 * connections that reach it without passing the NAT rules.
 *
 * A binding without a host IP is published on both families, as Docker 20.10+ does: on
 * 0.0.0.0 and, where the daemon's namespace has IPv6, on [::] (IPv6 only) with the same port
 * number; both are relayed to the container's IPv4 address and recorded as two mappings.
 * An explicit address, 0.0.0.0 included, binds that address alone.
 */
export interface PortRequest {
  /** '' = unspecified: 0.0.0.0 and [::] */
  hostIP: string;
  /** 0 = any free port; from..to = a free port in that range */
  hostPortFrom: number;
  hostPortTo: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
}

const EPHEMERAL_FROM = 49153;
const EPHEMERAL_TO = 60999;

function parsePortKey(key: string): { port: number; protocol: PortRequest['protocol'] } {
  const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/.exec(key);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw invalid(`invalid port specification: "${key}"`);
  return { port: Number(m[1]), protocol: (m[2] ?? 'tcp') as PortRequest['protocol'] };
}

/** The host side of a binding: [0, 0] for any free port, which Docker reads from "" and "0" alike. */
function parseHostPort(text: string | undefined): [number, number] {
  if (!text) return [0, 0];
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  const from = Number(m?.[1]);
  const to = Number(m?.[2] ?? m?.[1]);
  if (m && from === 0 && to === 0) return [0, 0];
  if (!m || from < 1 || to > 65535 || to < from) throw invalid(`invalid port specification: "${text}"`);
  return [from, to];
}

/** The ports a container asks for: its PortBindings, and with PublishAllPorts every exposed port. */
export function portRequests(hc: HostConfig, config: ContainerConfig): PortRequest[] {
  const out: PortRequest[] = [];
  const bindings = (hc.PortBindings ?? {}) as Record<string, { HostIp?: string; HostPort?: string }[] | null>;
  for (const [key, list] of Object.entries(bindings)) {
    const { port, protocol } = parsePortKey(key);
    for (const b of list ?? [{}]) {
      const [from, to] = parseHostPort(b.HostPort);
      const hostIP = b.HostIp ?? '';
      if (hostIP && !net.isIP(hostIP)) throw invalid(`invalid host IP: ${hostIP}`);
      out.push({ hostIP, hostPortFrom: from, hostPortTo: to, containerPort: port, protocol });
    }
  }
  if (hc.PublishAllPorts) {
    for (const key of Object.keys((config.ExposedPorts ?? {}) as Record<string, unknown>)) {
      const { port, protocol } = parsePortKey(key);
      if (out.some((r) => r.containerPort === port && r.protocol === protocol)) continue;
      out.push({ hostIP: '', hostPortFrom: 0, hostPortTo: 0, containerPort: port, protocol });
    }
  }
  return out;
}

/** Whether the daemon's network namespace has IPv6 (the module loaded and not disabled by sysctl). */
export function namespaceHasIPv6(): boolean {
  try {
    return fs.readFileSync('/proc/sys/net/ipv6/conf/all/disable_ipv6', 'utf8').trim() === '0';
  } catch {
    return false;
  }
}

/**
 * The port mappings the CNI portmap plugin is given: 0.0.0.0 as '' (both families, for the
 * container's addresses of each), so the [::] twin of an unspecified binding is already covered.
 */
export function cniPortMappings(ports: readonly PortMapping[]): { hostPort: number; containerPort: number; protocol: string; hostIP: string }[] {
  const twinOfWildcard = (p: PortMapping) =>
    p.hostIP === '::' && ports.some((q) => q.hostIP === '0.0.0.0' && q.hostPort === p.hostPort && q.containerPort === p.containerPort && q.protocol === p.protocol);
  return ports
    .filter((p) => !twinOfWildcard(p))
    .map((p) => ({ hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol, hostIP: p.hostIP === '0.0.0.0' ? '' : p.hostIP }));
}

type Holder = { close(): void };

const isWildcard = (ip: string) => ip === '0.0.0.0' || ip === '::';
const family = (ip: string) => (net.isIPv6(ip) ? 6 : 4);
/** The bind errors of a namespace without IPv6: the [::] twin is then left out, as Docker does. */
const noIPv6 = (e: unknown) => ['EADDRNOTAVAIL', 'EAFNOSUPPORT'].includes((e as NodeJS.ErrnoException).code ?? '');

export class PortAllocator {
  /** "proto/port" → the bindings holding it */
  private readonly taken = new Map<string, { hostIP: string; owner: string; holder: Holder }[]>();
  private nextEphemeral = EPHEMERAL_FROM;

  private conflicts(hostIP: string, port: number, protocol: string): boolean {
    const list = this.taken.get(`${protocol}/${port}`) ?? [];
    // [::] is held IPv6-only, so a wildcard blocks only addresses of its own family
    return list.some((t) => t.hostIP === hostIP || (family(t.hostIP) === family(hostIP) && (isWildcard(t.hostIP) || isWildcard(hostIP))));
  }

  /**
   * Allocates every request of a container, or none: a failure releases what was taken.
   * `target` is where a relayed TCP connection goes (the container's address).
   */
  async allocate(owner: string, requests: PortRequest[], target: () => string | undefined): Promise<PortMapping[]> {
    const got: PortMapping[] = [];
    try {
      for (const r of requests) got.push(...(await this.allocateOne(owner, r, target)));
    } catch (e) {
      this.release(owner);
      throw e;
    }
    return got;
  }

  private async allocateOne(owner: string, r: PortRequest, target: () => string | undefined): Promise<PortMapping[]> {
    const fixed = r.hostPortFrom !== 0 && r.hostPortFrom === r.hostPortTo;
    const candidates = fixed ? [r.hostPortFrom] : r.hostPortFrom ? range(r.hostPortFrom, r.hostPortTo) : this.ephemeralOrder();
    const addresses = r.hostIP ? [r.hostIP] : ['0.0.0.0', ...(namespaceHasIPv6() ? ['::'] : [])];
    let lastError: unknown;
    for (const port of candidates) {
      if (addresses.some((a) => this.conflicts(a, port, r.protocol))) {
        lastError = undefined;
        continue;
      }
      try {
        const held = await holdAll(addresses, port, r, target, !r.hostIP);
        const key = `${r.protocol}/${port}`;
        this.taken.set(key, [...(this.taken.get(key) ?? []), ...held.map((h) => ({ hostIP: h.hostIP, owner, holder: h.holder }))]);
        return held.map((h) => ({ hostIP: h.hostIP, hostPort: port, containerPort: r.containerPort, protocol: r.protocol }));
      } catch (e) {
        lastError = e;
        if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' && (e as NodeJS.ErrnoException).code !== 'EACCES') break;
      }
    }
    const shown = `${addresses[0]}:${fixed || !r.hostPortFrom ? r.hostPortFrom || '' : `${r.hostPortFrom}-${r.hostPortTo}`}`;
    if (lastError && (lastError as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL') {
      throw invalid(`failed to bind port ${shown}/${r.protocol}: Error starting userland proxy: listen ${r.protocol} ${shown}: bind: cannot assign requested address`);
    }
    throw new BerthError('CONFLICT', `Bind for ${shown} failed: port is already allocated`);
  }

  private *ephemeralOrder(): Generator<number> {
    const span = EPHEMERAL_TO - EPHEMERAL_FROM + 1;
    for (let i = 0; i < span; i++) {
      const p = EPHEMERAL_FROM + ((this.nextEphemeral - EPHEMERAL_FROM + i) % span);
      this.nextEphemeral = p + 1 > EPHEMERAL_TO ? EPHEMERAL_FROM : p + 1;
      yield p;
    }
  }

  release(owner: string): void {
    for (const [key, list] of this.taken) {
      const kept = list.filter((t) => {
        if (t.owner !== owner) return true;
        t.holder.close();
        return false;
      });
      if (kept.length) this.taken.set(key, kept);
      else this.taken.delete(key);
    }
  }
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let p = from; p <= to; p++) out.push(p);
  return out;
}

/**
 * Holds one port on every address, or on none. With `optionalIPv6` (an unspecified host IP)
 * a namespace that cannot bind [::] keeps the IPv4 socket alone.
 */
async function holdAll(addresses: string[], port: number, r: PortRequest, target: () => string | undefined, optionalIPv6: boolean): Promise<{ hostIP: string; holder: Holder }[]> {
  const held: { hostIP: string; holder: Holder }[] = [];
  try {
    for (const hostIP of addresses) {
      try {
        held.push({ hostIP, holder: await hold(hostIP, port, r.protocol, target, r.containerPort) });
      } catch (e) {
        if (optionalIPv6 && hostIP === '::' && noIPv6(e)) continue;
        throw e;
      }
    }
  } catch (e) {
    for (const h of held) h.holder.close();
    throw e;
  }
  return held;
}

/** Binds the host port: a TCP listener that relays to the container, or a UDP socket. IPv6 addresses are held IPv6-only. */
function hold(hostIP: string, port: number, protocol: string, target: () => string | undefined, containerPort: number): Promise<Holder> {
  return new Promise((resolve, reject) => {
    if (protocol === 'udp') {
      const sock = net.isIPv6(hostIP) ? dgram.createSocket({ type: 'udp6', ipv6Only: true }) : dgram.createSocket('udp4');
      sock.once('error', reject);
      sock.bind({ address: hostIP, port, exclusive: true }, () => {
        sock.removeListener('error', reject);
        sock.on('error', () => undefined);
        resolve({ close: () => sock.close() });
      });
      return;
    }
    if (protocol === 'sctp') return resolve({ close: () => undefined });
    const server = net.createServer((client) => {
      const ip = target();
      if (!ip) return client.destroy();
      const upstream = net.connect({ host: ip, port: containerPort });
      client.pipe(upstream).pipe(client);
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end);
      upstream.on('error', end);
    });
    server.once('error', reject);
    server.listen({ host: hostIP, port, exclusive: true, ipv6Only: net.isIPv6(hostIP) }, () => {
      server.removeListener('error', reject);
      resolve({ close: () => server.close() });
    });
  });
}
