import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { BerthError, conflict, invalid, notFound } from '../common/errors';
import { readJSON, writeJSONAtomic } from '../common/fsutil';
import { run } from '../common/exec';
import type { EventBus } from '../daemon/events';
import { cniAdd, cniDel, CNI_VERSION, DEFAULT_CNI_PATH, type CniConfList, type CniResult } from './cni';
import { applyFirewall } from './firewall';
import type { Endpoint, EndpointRequest, NetworkRecord, PortMapping, SandboxState } from './model';
import { createNetns, removeNetns } from './netns';
import { cniPortMappings, PortAllocator, type PortRequest } from './ports';
import { cidr6String, contains6, firstHost6, formatIPv6, lastHost6, overlaps6, parseCidr6, parseIPv6, randomUla64, type Cidr6 } from './subnets6';
import { allocateSubnet, cidrString, contains, firstHost, overlaps, parseCidr, parseIPv4, type Cidr } from './subnets';
import { NetworkDns, type Member } from './dns-registry';
import { ensureVxlan, macForIP, overlayBridgeMac, OverlayPeers, OVERLAY_MTU, overlayBridgeName, vxlanName, type OverlayPeer } from './overlay';

/**
 * Networks and the containers' places on them. Bridge networks are CNI `bridge` + `host-local`
 * (+ `portmap` for published ports) on a Linux bridge per network; outbound NAT and the
 * separation of networks are iptables rules of berth's own (firewall.ts); user-defined
 * networks get a DNS server on their gateway address that knows the containers on them.
 */
export interface NetworkManagerOptions {
  dataRoot: string;
  execRoot: string;
  /** dockerd's --bip: the default bridge's gateway address with its prefix, "172.17.0.1/16" */
  bip?: string;
  /** dockerd's --fixed-cidr: the part of the default bridge's subnet containers get addresses from */
  fixedCidr?: string;
  /** daemon-wide --dns: the resolvers names are forwarded to, else the host's */
  dns: string[];
  events: EventBus;
  log: (msg: string) => void;
  cniPath?: string;
}

/** What the network side needs to know of a container. */
export interface SandboxRequest {
  containerId: string;
  /** without the leading slash */
  name: string;
  /** network (name or ID) → what the container asked for on it, in attach order */
  networks: [string, EndpointRequest][];
  ports: PortRequest[];
}

interface Attachment {
  name: string;
  state: SandboxState;
}

export const DEFAULT_BRIDGE = 'berth0';
const BUILTIN = ['bridge', 'host', 'none'];
// network names are free text, as in Docker ("test 01" is one): files and CNI use the ID

export class NetworkManager {
  private readonly networks = new Map<string, NetworkRecord>();
  private readonly attachments = new Map<string, Attachment>();
  private readonly ports = new PortAllocator();
  private readonly dns: NetworkDns;
  private readonly up = new Set<string>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly peers = new OverlayPeers();
  /** this node's swarm address, the source of its VXLAN traffic; unset outside a swarm */
  private overlayAddr?: string;
  /** the swarm's data path port: the VXLAN devices' UDP port */
  private overlayPort?: number;
  /** the endpoints of an overlay on other nodes, as the cluster knows them (for DNS) */
  private remoteMembers: (networkId: string) => Member[] = () => [];

  private constructor(private readonly o: NetworkManagerOptions) {
    this.dns = new NetworkDns({
      upstreams: () => this.upstreams(),
      log: o.log,
      members: (networkId) => this.dnsMembers(networkId),
    });
  }

  private get dir(): string {
    return path.join(this.o.dataRoot, 'network');
  }

  private get cniPath(): string {
    return this.o.cniPath ?? DEFAULT_CNI_PATH;
  }

  static async open(o: NetworkManagerOptions): Promise<NetworkManager> {
    const m = new NetworkManager(o);
    await fsp.mkdir(path.join(m.dir, 'networks'), { recursive: true });
    for (const f of await fsp.readdir(path.join(m.dir, 'networks'))) {
      if (!f.endsWith('.json')) continue;
      const rec = await readJSON<NetworkRecord>(path.join(m.dir, 'networks', f)).catch(() => undefined);
      if (rec?.Id) m.networks.set(rec.Id, rec);
    }
    await m.ensureBuiltins();
    return m;
  }

  /** Serializes changes to the set of networks and to the firewall. */
  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async ensureBuiltins(): Promise<void> {
    const defaultConfig = this.defaultBridgeConfig();
    for (const name of BUILTIN) {
      const existing = [...this.networks.values()].find((n) => n.builtin && n.Name === name);
      if (existing) {
        if (name === 'bridge' && JSON.stringify(existing.IPAM.Config) !== JSON.stringify(defaultConfig)) {
          // --bip or --fixed-cidr changed since the last start
          existing.IPAM.Config = defaultConfig;
          await this.persist(existing);
        }
        continue;
      }
      const rec: NetworkRecord = {
        Id: randomBytes(32).toString('hex'),
        Name: name,
        Created: new Date().toISOString(),
        Driver: name === 'bridge' ? 'bridge' : name === 'host' ? 'host' : 'null',
        Scope: 'local',
        Internal: false,
        Attachable: false,
        EnableIPv6: false,
        Labels: {},
        Options:
          name === 'bridge'
            ? {
                'com.docker.network.bridge.default_bridge': 'true',
                'com.docker.network.bridge.enable_icc': 'true',
                'com.docker.network.bridge.enable_ip_masquerade': 'true',
                'com.docker.network.bridge.name': DEFAULT_BRIDGE,
                'com.docker.network.driver.mtu': '1500',
              }
            : {},
        IPAM: { Driver: 'default', Options: null, Config: name === 'bridge' ? defaultConfig : [] },
        bridge: name === 'bridge' ? DEFAULT_BRIDGE : undefined,
        builtin: true,
      };
      await this.persist(rec);
      this.networks.set(rec.Id, rec);
    }
  }

  private defaultBridgeConfig(): NetworkRecord['IPAM']['Config'] {
    let subnet = '172.17.0.0/16';
    let gateway = '172.17.0.1';
    if (this.o.bip) {
      const [ip, bits] = this.o.bip.split('/');
      if (parseIPv4(ip) === undefined || !bits) throw invalid(`invalid --bip: ${this.o.bip} (want an address with its prefix, like 172.17.0.1/16)`);
      subnet = cidrString(parseCidr(this.o.bip));
      gateway = ip;
    }
    const config: NetworkRecord['IPAM']['Config'][number] = { Subnet: subnet, Gateway: gateway };
    if (this.o.fixedCidr) {
      const fixed = parseCidr(this.o.fixedCidr);
      if (!overlaps(fixed, parseCidr(subnet)) || fixed.bits < parseCidr(subnet).bits) throw invalid(`--fixed-cidr ${this.o.fixedCidr} is not inside the bridge subnet ${subnet}`);
      config.IPRange = cidrString(fixed);
    }
    return [config];
  }

  private persist(rec: NetworkRecord): Promise<void> {
    return writeJSONAtomic(path.join(this.dir, 'networks', `${rec.Id}.json`), rec);
  }

  // ---- networks --------------------------------------------------------------------

  list(): NetworkRecord[] {
    return [...this.networks.values()];
  }

  find(idOrName: string): NetworkRecord | undefined {
    const all = this.list();
    return (
      all.find((n) => n.Id === idOrName) ??
      all.find((n) => n.Name === idOrName) ??
      (() => {
        const byPrefix = /^[0-9a-f]+$/.test(idOrName) ? all.filter((n) => n.Id.startsWith(idOrName)) : [];
        return byPrefix.length === 1 ? byPrefix[0] : undefined;
      })()
    );
  }

  get(idOrName: string): NetworkRecord {
    const n = this.find(idOrName);
    if (!n) throw notFound(`network ${idOrName} not found`);
    return n;
  }

  create(body: NetworkCreateBody): Promise<{ Id: string; Warning: string }> {
    return this.locked(async () => {
      const name = body.Name ?? '';
      if (!name) throw invalid('network name is required');
      if (this.list().some((n) => n.Name === name)) throw conflict(`network with name ${name} already exists`);
      const driver = body.Driver || 'bridge';
      if (driver !== 'bridge') {
        if (driver === 'host' || driver === 'null') throw new BerthError('FORBIDDEN', `only one instance of "${driver}" network is allowed`);
        throw notFound(`plugin "${driver}" not found`);
      }
      if (body.IPAM?.Driver && body.IPAM.Driver !== 'default') throw notFound(`plugin "${body.IPAM.Driver}" not found`);
      const inUse = this.list().flatMap((n) => v4Configs(n).map((c) => parseCidr(c.Subnet)));
      const requested = body.IPAM?.Config ?? [];
      const ipv4 = requested.filter((c) => !c.Subnet || !c.Subnet.includes(':'));
      const config: NetworkRecord['IPAM']['Config'] = [];
      if (ipv4.length > 1) throw invalid('berth supports one IPv4 subnet per network');
      for (const c of ipv4.length ? ipv4 : [{}]) {
        let subnet: Cidr;
        if (c.Subnet) {
          subnet = parseCidr(c.Subnet);
          if (subnet.bits > 30) throw invalid(`invalid subnet ${c.Subnet}: too small for containers`);
          if (inUse.some((u) => overlaps(u, subnet))) throw new BerthError('FORBIDDEN', 'invalid pool request: Pool overlaps with other one on this address space');
        } else {
          if (c.Gateway || c.IPRange) throw invalid('every ip-range or gateway must have a corresponding subnet');
          subnet = allocateSubnet(inUse);
        }
        const gateway = c.Gateway || firstHost(subnet);
        const gw = parseIPv4(gateway);
        if (gw === undefined) throw invalid(`invalid gateway address ${gateway}`);
        if (!contains(subnet, gw)) throw invalid(`no matching subnet for gateway ${gateway}`);
        const entry: NetworkRecord['IPAM']['Config'][number] = { Subnet: cidrString(subnet), Gateway: gateway };
        if (c.IPRange) {
          const r = parseCidr(c.IPRange);
          if (!overlaps(r, subnet) || r.bits < subnet.bits) throw invalid(`no matching subnet for range ${c.IPRange}`);
          entry.IPRange = cidrString(r);
        }
        if (c.AuxiliaryAddresses) entry.AuxiliaryAddresses = c.AuxiliaryAddresses;
        config.push(entry);
      }
      if (body.EnableIPv6) config.push(...this.ipv6Config(requested.filter((c) => c.Subnet?.includes(':'))));
      const id = randomBytes(32).toString('hex');
      const options = body.Options ?? {};
      const bridge = options['com.docker.network.bridge.name'] || `br-${id.slice(0, 12)}`;
      if (bridge.length > 15 || !/^[a-zA-Z0-9_.-]+$/.test(bridge)) throw invalid(`invalid bridge name ${bridge}`);
      if (this.list().some((n) => n.bridge === bridge)) throw conflict(`bridge ${bridge} is used by another network`);
      const rec: NetworkRecord = {
        Id: id,
        Name: name,
        Created: new Date().toISOString(),
        Driver: 'bridge',
        Scope: 'local',
        Internal: body.Internal === true,
        Attachable: body.Attachable === true,
        EnableIPv6: body.EnableIPv6 === true,
        Labels: body.Labels ?? {},
        Options: options,
        // Options as sent: null when the client sent none, as Docker keeps it
        IPAM: { Driver: 'default', Options: body.IPAM?.Options ?? null, Config: config },
        bridge,
      };
      await this.persist(rec);
      this.networks.set(id, rec);
      this.o.events.publish('network', 'create', id, { name, type: 'bridge' });
      return { Id: id, Warning: '' };
    });
  }

  /** An IPv6 network's subnet (one), checked as Docker does; a unique local /64 when none was asked for. */
  private ipv6Config(requested: IpamConfigBody[]): NetworkRecord['IPAM']['Config'] {
    if (requested.length > 1) throw invalid('berth supports one IPv6 subnet per network');
    const inUse = this.list().flatMap((n) => v6Configs(n).map((c) => parseCidr6(c.Subnet)));
    const c = requested[0] ?? {};
    let subnet: Cidr6;
    if (c.Subnet) {
      subnet = parseCidr6(c.Subnet);
      if (subnet.bits > 126) throw invalid(`invalid subnet ${c.Subnet}: too small for containers`);
      if (inUse.some((u) => overlaps6(u, subnet))) throw new BerthError('FORBIDDEN', 'invalid pool request: Pool overlaps with other one on this address space');
    } else {
      subnet = randomUla64(inUse);
    }
    const gateway = c.Gateway || firstHost6(subnet);
    const gw = parseIPv6(gateway);
    if (gw === undefined) throw invalid(`invalid gateway address ${gateway}`);
    if (!contains6(subnet, gw)) throw invalid(`no matching subnet for gateway ${gateway}`);
    const entry: NetworkRecord['IPAM']['Config'][number] = { Subnet: cidr6String(subnet), Gateway: gateway };
    if (c.IPRange) {
      const r = parseCidr6(c.IPRange);
      if (!overlaps6(r, subnet) || r.bits < subnet.bits) throw invalid(`no matching subnet for range ${c.IPRange}`);
      entry.IPRange = cidr6String(r);
    }
    if (c.AuxiliaryAddresses) entry.AuxiliaryAddresses = c.AuxiliaryAddresses;
    return [entry];
  }

  /** Containers with an endpoint on the network (running ones: endpoints exist while they run). */
  endpointsOn(networkId: string): { containerId: string; name: string; endpoint: Endpoint }[] {
    const out: { containerId: string; name: string; endpoint: Endpoint }[] = [];
    for (const [cid, a] of this.attachments) for (const ep of a.state.endpoints) if (ep.networkId === networkId) out.push({ containerId: cid, name: a.name, endpoint: ep });
    return out;
  }

  remove(idOrName: string, usedBy: (networkId: string) => string[]): Promise<void> {
    return this.locked(async () => {
      const n = this.get(idOrName);
      if (n.builtin) throw new BerthError('FORBIDDEN', `${n.Name} is a pre-defined network and cannot be removed`);
      await this.settle();
      const users = [...new Set([...this.endpointsOn(n.Id).map((e) => e.containerId), ...usedBy(n.Id)])];
      if (users.length) throw new BerthError('FORBIDDEN', `error while removing network: network ${n.Name} id ${n.Id} has active endpoints`);
      await this.teardownNetwork(n);
      this.networks.delete(n.Id);
      await fsp.rm(path.join(this.dir, 'networks', `${n.Id}.json`), { force: true });
      await applyFirewall(this.activeNetworks()).catch((e: unknown) => this.o.log(`firewall: ${(e as Error).message}`));
      this.o.events.publish('network', 'destroy', n.Id, { name: n.Name, type: n.Driver });
    });
  }

  private async teardownNetwork(n: NetworkRecord): Promise<void> {
    await this.dns.stop(n.Id);
    if (n.Driver === 'overlay') {
      await run('ip', ['link', 'del', vxlanName(n.Id)]).catch(() => undefined);
      this.peers.forget(vxlanName(n.Id));
    }
    if (n.bridge) await run('ip', ['link', 'del', n.bridge]).catch(() => undefined);
    await fsp.rm(path.join(this.dir, 'ipam', n.Id), { recursive: true, force: true });
    this.up.delete(n.Id);
  }

  private activeNetworks(): NetworkRecord[] {
    return this.list().filter((n) => this.up.has(n.Id));
  }

  /**
   * Brings a bridge network's infrastructure up: the bridge with its gateway address (made
   * here, before any container, so the DNS server can listen on it), the firewall rules,
   * and for user-defined networks the DNS server.
   */
  private ensureUp(n: NetworkRecord): Promise<void> {
    if (this.up.has(n.Id)) return Promise.resolve();
    return this.locked(async () => {
      if (this.up.has(n.Id)) return;
      const c = n.IPAM.Config[0];
      const prefix = c.Subnet.split('/')[1];
      const exists = await run('ip', ['link', 'show', n.bridge!]).then(() => true, () => false);
      if (!exists) await run('ip', ['link', 'add', 'name', n.bridge!, ...(n.Driver === 'overlay' ? ['mtu', String(OVERLAY_MTU)] : []), 'type', 'bridge']);
      await run('ip', ['addr', 'replace', `${c.Gateway}/${prefix}`, 'dev', n.bridge!]);
      for (const c6 of v6Configs(n)) {
        await fsp.writeFile(`/proc/sys/net/ipv6/conf/${n.bridge}/disable_ipv6`, '0').catch(() => undefined);
        await run('ip', ['-6', 'addr', 'replace', `${c6.Gateway}/${c6.Subnet.split('/')[1]}`, 'dev', n.bridge!, 'nodad']);
      }
      // A bridge left to itself takes the lowest MAC of its ports, so it changes whenever a
      // container comes or goes, and the others keep sending to the old one until their ARP
      // entry expires: no DNS, no gateway for seconds after a recreate. Fixed, as Docker's
      // (an overlay's per node: overlay.ts).
      const mac = n.Driver === 'overlay' ? overlayBridgeMac(c.Gateway, this.overlayAddr ?? '') : macForIP(c.Gateway);
      await run('ip', ['link', 'set', n.bridge!, 'address', mac]);
      if (n.Driver === 'overlay') {
        if (!this.overlayAddr) throw new BerthError('UNAVAILABLE', `network ${n.Name} is an overlay network: this node is not part of a swarm`);
        await ensureVxlan(vxlanName(n.Id), n.bridge!, n.vni!, this.overlayAddr, this.overlayPort);
        this.peers.reset(vxlanName(n.Id));
      }
      await run('ip', ['link', 'set', n.bridge!, 'up']);
      await fsp.writeFile('/proc/sys/net/ipv4/ip_forward', '1').catch(() => undefined);
      if (v6Configs(n).length) await fsp.writeFile('/proc/sys/net/ipv6/conf/all/forwarding', '1').catch(() => undefined);
      this.up.add(n.Id);
      await applyFirewall(this.activeNetworks());
      if (!n.builtin) await this.dns.start(n.Id, c.Gateway, !n.Internal);
    });
  }

  private confList(n: NetworkRecord, withPorts: boolean): CniConfList {
    const c = n.IPAM.Config[0];
    const range: Record<string, string> = { subnet: c.Subnet, gateway: c.Gateway };
    if (c.IPRange) {
      const r = parseCidr(c.IPRange);
      range.rangeStart = firstHost(r);
      range.rangeEnd = formatLast(r);
    }
    const ranges: Record<string, string>[][] = [[range]];
    const routes: { dst: string }[] = n.Internal ? [] : [{ dst: '0.0.0.0/0' }];
    for (const c6 of v6Configs(n)) {
      const r6: Record<string, string> = { subnet: c6.Subnet, gateway: c6.Gateway };
      if (c6.IPRange) {
        const r = parseCidr6(c6.IPRange);
        r6.rangeStart = formatIPv6(r.base + 1n);
        r6.rangeEnd = lastHost6(r);
      }
      ranges.push([r6]);
      if (!n.Internal) routes.push({ dst: '::/0' });
    }
    const plugins: CniConfList['plugins'] = [
      {
        type: 'bridge',
        bridge: n.bridge,
        isGateway: true,
        ipMasq: false, // one rule per network instead, in firewall.ts
        hairpinMode: true,
        ...(n.Driver === 'overlay' ? { mtu: OVERLAY_MTU } : {}),
        ipam: {
          type: 'host-local',
          dataDir: path.join(this.dir, 'ipam'),
          ranges,
          routes,
        },
        capabilities: { ips: true, mac: true },
      },
    ];
    if (withPorts) plugins.push({ type: 'portmap', snat: true, capabilities: { portMappings: true } });
    // host-local keeps its leases per network name: the ID keeps two generations of one name apart
    return { cniVersion: CNI_VERSION, name: n.Id, plugins };
  }

  // ---- overlay networks (swarm) ----------------------------------------------------

  /**
   * Joins the swarm's data plane: `addr` is this node's swarm address, `port` the swarm's
   * data path port. Overlays that running containers were found on at start-up (before the
   * swarm was back) come up now.
   */
  async joinOverlayPlane(addr: string, remoteMembers: (networkId: string) => Member[], port?: number): Promise<void> {
    this.overlayAddr = addr;
    this.overlayPort = port;
    this.remoteMembers = remoteMembers;
    for (const { network, inUse } of this.overlays()) {
      if (!inUse) continue;
      await this.ensureUp(network).then(
        () => this.o.log(`network ${network.Name}: overlay up again from ${addr}`),
        (e: unknown) => this.o.log(`network ${network.Name}: ${(e as Error).message}`),
      );
    }
  }

  /** Leaves the data plane: overlays no container uses any more go. */
  async leaveOverlayPlane(): Promise<void> {
    this.overlayAddr = undefined;
    this.remoteMembers = () => [];
    for (const { network, inUse } of this.overlays()) if (!inUse) await this.dropOverlay(network.Id);
  }

  /**
   * Makes an overlay network of the cluster known here, under the cluster's ID, so that a
   * task's container can join it like any network (an overlay's definition never changes).
   * Its bridge and VXLAN device are made when the first endpoint joins.
   */
  ensureOverlay(def: Pick<NetworkRecord, 'Id' | 'Name' | 'Created' | 'Labels' | 'Options' | 'Internal' | 'Attachable'> & { subnet: string; gateway: string; vni: number }): Promise<NetworkRecord> {
    return this.locked(async () => {
      const existing = this.networks.get(def.Id);
      if (existing) return existing;
      const clash = this.list().find((n) => n.Name === def.Name && n.Scope === 'local');
      if (clash) throw conflict(`network with name ${def.Name} already exists on this node`);
      // the manager checked its own networks only: one of this node's may hold the subnet
      const subnet = parseCidr(def.subnet);
      const taken = this.list().find((n) => v4Configs(n).some((c) => overlaps(parseCidr(c.Subnet), subnet)));
      if (taken) throw new BerthError('FORBIDDEN', `overlay network ${def.Name} (${def.subnet}) overlaps network ${taken.Name} (${taken.IPAM.Config[0].Subnet}) on this node`);
      const rec: NetworkRecord = {
        Id: def.Id,
        Name: def.Name,
        Created: def.Created,
        Driver: 'overlay',
        Scope: 'swarm',
        Internal: def.Internal,
        Attachable: def.Attachable,
        EnableIPv6: false,
        Labels: def.Labels,
        Options: { ...def.Options, 'com.docker.network.driver.overlay.vxlanid_list': String(def.vni) },
        IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: def.subnet, Gateway: def.gateway }] },
        bridge: overlayBridgeName(def.Id),
        vni: def.vni,
      };
      await this.persist(rec);
      this.networks.set(rec.Id, rec);
      return rec;
    });
  }

  /** Overlays known here, and whether an endpoint of this node is on each. */
  overlays(): { network: NetworkRecord; inUse: boolean }[] {
    return this.list()
      .filter((n) => n.Driver === 'overlay')
      .map((n) => ({ network: n, inUse: this.endpointsOn(n.Id).length > 0 }));
  }

  /** Forgets an overlay this node no longer needs (the cluster removed it, or the node left). */
  dropOverlay(id: string): Promise<void> {
    return this.locked(async () => {
      const n = this.networks.get(id);
      if (!n || n.Driver !== 'overlay' || this.endpointsOn(id).length) return;
      await this.teardownNetwork(n);
      this.networks.delete(id);
      await fsp.rm(path.join(this.dir, 'networks', `${id}.json`), { force: true });
      await applyFirewall(this.activeNetworks()).catch((e: unknown) => this.o.log(`firewall: ${(e as Error).message}`));
    });
  }

  /** Programs the endpoints other nodes have on an overlay that is up here. */
  async syncOverlayPeers(networkId: string, peers: OverlayPeer[]): Promise<void> {
    if (!this.up.has(networkId)) return;
    await this.peers.sync(vxlanName(networkId), peers.filter((p) => p.nodeAddr !== this.overlayAddr));
  }

  // ---- containers ------------------------------------------------------------------

  /**
   * Each run of a container has a sandbox of its own name (container ID and a nonce): the
   * teardown of the last run may still be going on in the background when the next starts,
   * and must not touch the new namespace or address lease. The name is also the CNI
   * container ID, which host-local writes into the lease.
   */
  private newSandboxName(containerId: string): string {
    return `${containerId}-${randomBytes(4).toString('hex')}`;
  }

  /**
   * Makes the container's network namespace and its endpoints, and publishes its ports (on
   * its first network). On failure everything made so far is undone.
   */
  async setupSandbox(req: SandboxRequest): Promise<SandboxState> {
    const sandboxName = this.newSandboxName(req.containerId);
    const netns = path.join(this.o.execRoot, 'netns', sandboxName);
    const state: SandboxState = { netns, endpoints: [], ports: [] };
    await createNetns(netns);
    this.attachments.set(req.containerId, { name: req.name, state });
    try {
      for (let i = 0; i < req.networks.length; i++) {
        const [net, epReq] = req.networks[i];
        const withPorts = i === 0 && req.ports.length > 0;
        if (withPorts) {
          state.ports = await this.ports.allocate(req.containerId, req.ports, () => state.endpoints[0]?.ipAddress);
        }
        state.endpoints.push(await this.attach(req.containerId, netns, this.get(net), epReq, `eth${i}`, withPorts ? state.ports : []));
      }
      return state;
    } catch (e) {
      await this.teardownSandbox(req.containerId, state);
      throw e;
    }
  }

  private async attach(containerId: string, netns: string, n: NetworkRecord, epReq: EndpointRequest, ifName: string, ports: PortMapping[]): Promise<Endpoint> {
    if (n.Driver !== 'bridge' && n.Driver !== 'overlay') throw invalid(`container cannot be connected to network ${n.Name}: ${n.Driver} networks take no endpoints`);
    await this.ensureUp(n);
    const capabilityArgs: Record<string, unknown> = {};
    const ips: string[] = [];
    const ip = epReq.IPAMConfig?.IPv4Address;
    if (ip) {
      const addr = parseIPv4(ip);
      const subnet = parseCidr(n.IPAM.Config[0].Subnet);
      if (addr === undefined) throw invalid(`invalid IPv4 address: ${ip}`);
      if (n.builtin) throw invalid('user specified IP address is supported on user defined networks only');
      if (!contains(subnet, addr)) throw invalid(`no configured subnet or ip-range contain the IP address ${ip}`);
      if (this.endpointsOn(n.Id).some((e) => e.endpoint.ipAddress === ip)) throw new BerthError('FORBIDDEN', 'Address already in use');
      ips.push(`${ip}/${subnet.bits}`);
      // the peers of an overlay know an endpoint's MAC from its address
      if (n.Driver === 'overlay') capabilityArgs.mac = macForIP(ip);
    }
    const ip6 = epReq.IPAMConfig?.IPv6Address;
    if (ip6) {
      const addr = parseIPv6(ip6);
      const subnet = v6Configs(n).map((c) => parseCidr6(c.Subnet))[0];
      if (addr === undefined) throw invalid(`invalid IPv6 address: ${ip6}`);
      if (n.builtin) throw invalid('user specified IP address is supported on user defined networks only');
      if (!subnet || !contains6(subnet, addr)) throw invalid(`no configured subnet or ip-range contain the IP address ${ip6}`);
      if (this.endpointsOn(n.Id).some((e) => e.endpoint.ipv6Address && parseIPv6(e.endpoint.ipv6Address) === addr)) throw new BerthError('FORBIDDEN', 'Address already in use');
      ips.push(`${formatIPv6(addr)}/${subnet.bits}`);
    }
    if (ips.length) capabilityArgs.ips = ips;
    // an overlay's MAC is its address's (its peers are programmed so); a bridge takes the one asked for
    if (epReq.MacAddress && n.Driver === 'bridge') capabilityArgs.mac = epReq.MacAddress;
    if (ports.length) capabilityArgs.portMappings = cniPortMappings(ports);
    let result: CniResult;
    try {
      result = await cniAdd(this.confList(n, ports.length > 0), { containerId: path.basename(netns), netns, ifName, capabilityArgs }, this.cniPath);
    } catch (e) {
      const msg = (e as Error).message;
      if (/requested IP address .* is not available|already reserved|already allocated/i.test(msg)) throw new BerthError('FORBIDDEN', 'Address already in use');
      if (/no IP addresses available/i.test(msg)) throw new BerthError('FORBIDDEN', `no available IPv4 addresses on this network's address pools: ${n.Name} (${n.Id})`);
      throw e;
    }
    const addr = result.ips?.find((a) => !a.address.includes(':'));
    const addr6 = result.ips?.find((a) => a.address.includes(':'));
    if (!addr) throw new BerthError('SYSTEM', `network ${n.Name}: the CNI plugins gave no address`);
    // link-local addresses are the endpoint's too, beside the one IPAM gave (not leased: link-local)
    for (const ll of epReq.IPAMConfig?.LinkLocalIPs ?? []) {
      await run('nsenter', [`--net=${netns}`, 'ip', 'addr', 'add', `${ll}/${ll.includes(':') ? 64 : 16}`, 'dev', ifName]);
    }
    const [ipAddress, prefix] = addr.address.split('/');
    const iface = result.interfaces?.find((i) => i.name === ifName && i.sandbox);
    const endpoint: Endpoint = {
      networkId: n.Id,
      endpointId: randomBytes(32).toString('hex'),
      ifName,
      ipAddress,
      prefixLen: Number(prefix),
      gateway: addr.gateway ?? n.IPAM.Config[0].Gateway,
      mac: iface?.mac ?? '',
      ...(addr6
        ? { ipv6Address: formatIPv6(parseIPv6(addr6.address.split('/')[0])!), ipv6PrefixLen: Number(addr6.address.split('/')[1]), ipv6Gateway: addr6.gateway ?? v6Configs(n)[0]?.Gateway ?? '' }
        : {}),
      aliases: n.builtin ? [] : [...(epReq.Aliases ?? [])],
      links: n.builtin || !epReq.Links?.length ? undefined : [...epReq.Links],
      result,
    };
    this.o.events.publish('network', 'connect', n.Id, { container: containerId, name: n.Name, type: n.Driver });
    return endpoint;
  }

  private async detach(containerId: string, netns: string, ep: Endpoint, ports: PortMapping[]): Promise<void> {
    const n = this.networks.get(ep.networkId);
    if (n) {
      const capabilityArgs: Record<string, unknown> = {};
      if (ports.length) capabilityArgs.portMappings = cniPortMappings(ports);
      await cniDel(this.confList(n, ports.length > 0), { containerId: path.basename(netns), netns, ifName: ep.ifName, capabilityArgs }, ep.result, this.cniPath).catch((e: unknown) =>
        this.o.log(`network ${n.Name}: releasing ${containerId.slice(0, 12)}: ${(e as Error).message}`),
      );
      this.o.events.publish('network', 'disconnect', n.Id, { container: containerId, name: n.Name, type: n.Driver });
    }
  }

  /**
   * Undoes setupSandbox: endpoints, ports, the namespace. Safe to call twice. Without
   * published ports the CNI teardown need not hold up the caller (an exit, a `run --rm`): the
   * container is off the network's books at once, its address lease goes a moment later, and
   * a crash meanwhile is mended by reconcile(). With ports it is waited for, so that a new
   * container taking the same host port never meets the old one's forwarding rules.
   */
  async teardownSandbox(containerId: string, state: SandboxState | undefined): Promise<void> {
    const s = state ?? this.attachments.get(containerId)?.state;
    this.attachments.delete(containerId);
    this.ports.release(containerId);
    if (!s) return;
    const work = (async () => {
      for (const ep of [...s.endpoints].reverse()) await this.detach(containerId, s.netns, ep, ep === s.endpoints[0] ? s.ports : []);
      await removeNetns(s.netns);
    })();
    this.pendingTeardowns.add(work);
    void work.finally(() => this.pendingTeardowns.delete(work));
    if (s.ports.length) await work;
  }

  private readonly pendingTeardowns = new Set<Promise<void>>();

  /** Waits for teardowns still running in the background (before removing a network). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.pendingTeardowns]);
  }

  /** A running container found at start-up: its endpoints are known again (DNS, inspect). */
  async restoreSandbox(containerId: string, name: string, state: SandboxState): Promise<void> {
    this.attachments.set(containerId, { name, state });
    for (const ep of state.endpoints) {
      const n = this.networks.get(ep.networkId);
      if (n) await this.ensureUp(n).catch((e: unknown) => this.o.log(`network ${n.Name}: ${(e as Error).message}`));
    }
    if (state.ports.length) {
      const reqs = state.ports.map((p) => ({ hostIP: p.hostIP, hostPortFrom: p.hostPort, hostPortTo: p.hostPort, containerPort: p.containerPort, protocol: p.protocol }));
      await this.ports.allocate(containerId, reqs, () => state.endpoints[0]?.ipAddress).catch((e: unknown) => this.o.log(`ports of ${containerId.slice(0, 12)}: ${(e as Error).message}`));
    }
  }

  /**
   * After the containers are restored: what a crash left half made goes (namespaces and
   * address leases that no running container holds), and the firewall is rebuilt for the
   * networks in use, dropping rules of networks removed meanwhile.
   */
  async reconcile(): Promise<void> {
    // sandboxes by name (container ID + nonce), which is also the owner host-local records
    const live = new Set([...this.attachments.values()].map((a) => path.basename(a.state.netns)));
    const netnsDir = path.join(this.o.execRoot, 'netns');
    for (const f of await fsp.readdir(netnsDir).catch(() => [] as string[])) {
      if (live.has(f)) continue;
      this.o.log(`removing the network namespace of ${f.slice(0, 12)}, which no running container holds`);
      await removeNetns(path.join(netnsDir, f));
    }
    const ipamDir = path.join(this.dir, 'ipam');
    for (const net of await fsp.readdir(ipamDir).catch(() => [] as string[])) {
      const dir = path.join(ipamDir, net);
      if (!this.networks.has(net)) {
        await fsp.rm(dir, { recursive: true, force: true });
        continue;
      }
      for (const f of await fsp.readdir(dir).catch(() => [] as string[])) {
        // host-local's lease files are named by the address (IPv4 or IPv6)
        if (!/^\d+\.\d+\.\d+\.\d+$/.test(f) && !/^[0-9a-f:]+$/i.test(f)) continue;
        const owner = (await fsp.readFile(path.join(dir, f), 'utf8').catch(() => '')).split(/\s/)[0];
        if (owner && !live.has(owner)) await fsp.rm(path.join(dir, f), { force: true });
      }
    }
    await applyFirewall(this.activeNetworks()).catch((e: unknown) => this.o.log(`firewall: ${(e as Error).message}`));
  }

  /**
   * Connects a running container's sandbox to one more network. A sandbox left on no network
   * (its last one disconnected) takes this one as its first, and its published ports with it.
   */
  async connectRunning(containerId: string, n: NetworkRecord, req: EndpointRequest, ports: PortRequest[] = []): Promise<Endpoint> {
    const a = this.attachments.get(containerId);
    if (!a) throw conflict('container is not running');
    if (a.state.endpoints.some((e) => e.networkId === n.Id)) throw new BerthError('FORBIDDEN', `endpoint with name ${a.name} already exists in network ${n.Name}`);
    const used = new Set(a.state.endpoints.map((e) => e.ifName));
    let i = 0;
    while (used.has(`eth${i}`)) i++;
    const state = a.state;
    const withPorts = state.endpoints.length === 0 && ports.length > 0;
    if (withPorts) state.ports = await this.ports.allocate(containerId, ports, () => state.endpoints[0]?.ipAddress);
    let ep: Endpoint;
    try {
      ep = await this.attach(containerId, state.netns, n, req, `eth${i}`, withPorts ? state.ports : []);
    } catch (e) {
      if (withPorts) {
        this.ports.release(containerId);
        state.ports = [];
      }
      throw e;
    }
    state.endpoints.push(ep);
    return ep;
  }

  async disconnectRunning(containerId: string, n: NetworkRecord): Promise<void> {
    const a = this.attachments.get(containerId);
    if (!a) return;
    const ep = a.state.endpoints.find((e) => e.networkId === n.Id);
    if (!ep) return;
    const isFirst = ep === a.state.endpoints[0];
    await this.detach(containerId, a.state.netns, ep, isFirst ? a.state.ports : []);
    a.state.endpoints = a.state.endpoints.filter((e) => e !== ep);
    if (isFirst) {
      this.ports.release(containerId);
      a.state.ports = [];
    }
  }

  /** A renamed container answers to its new name in the networks' DNS. */
  renameSandbox(containerId: string, name: string): void {
    const a = this.attachments.get(containerId);
    if (a) a.name = name;
  }

  sandboxOf(containerId: string): SandboxState | undefined {
    return this.attachments.get(containerId)?.state;
  }

  // ---- DNS -------------------------------------------------------------------------

  private members(networkId: string): { id: string; name: string; aliases: string[]; ip: string }[] {
    return this.endpointsOn(networkId).map((e) => ({ id: e.containerId, name: e.name, aliases: e.endpoint.aliases, ip: e.endpoint.ipAddress, links: e.endpoint.links }));
  }

  /** An overlay's DNS also knows the endpoints on other nodes; a local one wins a shared address. */
  private dnsMembers(networkId: string): Member[] {
    const local = this.members(networkId);
    if (this.networks.get(networkId)?.Driver !== 'overlay') return local;
    const ips = new Set(local.map((m) => m.ip));
    return [...local, ...this.remoteMembers(networkId).filter((m) => !ips.has(m.ip))];
  }

  private upstreams(): string[] {
    if (this.o.dns.length) return this.o.dns;
    return this.hostResolvers;
  }

  private hostResolvers: string[] = [];

  /** The host's resolvers, re-read at start-up; the DNS servers forward to them. */
  async loadHostResolvers(): Promise<void> {
    const text = await fsp.readFile('/etc/resolv.conf', 'utf8').catch(() => '');
    this.hostResolvers = text
      .split('\n')
      .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
      .filter((x): x is string => !!x);
  }

  /** The embedded DNS server address a container on this network uses, if it has one. */
  dnsServerFor(n: NetworkRecord): string | undefined {
    return n.builtin || (n.Driver !== 'bridge' && n.Driver !== 'overlay') ? undefined : n.IPAM.Config[0]?.Gateway;
  }

  async close(): Promise<void> {
    await this.settle();
    await this.dns.stopAll();
    for (const a of this.attachments.keys()) this.ports.release(a);
  }
}

function formatLast(c: Cidr): string {
  const last = c.base + 2 ** (32 - c.bits) - 2;
  return [last >>> 24, (last >>> 16) & 255, (last >>> 8) & 255, last & 255].join('.');
}

type IpamConfigBody = NonNullable<NonNullable<NetworkCreateBody['IPAM']>['Config']>[number];

/** POST /networks/create, as the API takes it. */
export interface NetworkCreateBody {
  Name?: string;
  Driver?: string;
  Internal?: boolean;
  Attachable?: boolean;
  EnableIPv6?: boolean;
  Labels?: Record<string, string>;
  Options?: Record<string, string>;
  IPAM?: { Driver?: string; Options?: Record<string, string>; Config?: { Subnet?: string; Gateway?: string; IPRange?: string; AuxiliaryAddresses?: Record<string, string> }[] };
  CheckDuplicate?: boolean;
}

/** A network's IPv4 subnets (the first is its main one: bridges and DNS live there). */
export function v4Configs(n: NetworkRecord): NetworkRecord['IPAM']['Config'] {
  return n.IPAM.Config.filter((c) => !c.Subnet.includes(':'));
}

export function v6Configs(n: NetworkRecord): NetworkRecord['IPAM']['Config'] {
  return n.IPAM.Config.filter((c) => c.Subnet.includes(':'));
}
