/**
 * The swarm's overlay networks: made and removed by the managers (`network create -d
 * overlay`), each with a subnet from the cluster's pool (10.0.0.0/8 in /24s unless the
 * swarm was made with another) and a VXLAN identifier; and the addresses of tasks on them,
 * which the leader gives when it makes a task, so that no two tasks of the cluster share one
 * whichever node runs them.
 */
import { BerthError, conflict, invalid, notFound } from '../../common/errors';
import { cidrSize, cidrString, contains, formatIPv4, overlaps, parseCidr, parseIPv4, type Cidr } from '../../network/subnets';
import { isTerminal, type ClusterNetwork, type NetworkAttachment, type NetworkAttachmentConfig, type ServiceSpec, type Task, type VirtualIP } from './model';
import { newObjectId } from './control';
import type { ClusterStore, Snapshot } from './store';

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const FIRST_VNI = 4097;
/** Docker's ingress network has VXLAN 4096, below the user networks' */
const INGRESS_VNI = 4096;
/** the ingress network `swarm init` makes, as Docker's */
export const INGRESS_NAME = 'ingress';

/** POST /networks/create for an overlay, as the API takes it. */
export interface OverlayCreateBody {
  Name?: string;
  Driver?: string;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  EnableIPv6?: boolean;
  Labels?: Record<string, string>;
  Options?: Record<string, string>;
  IPAM?: { Driver?: string; Config?: { Subnet?: string; Gateway?: string; IPRange?: string }[] };
}

export function findNetwork(snap: Snapshot, ref: string): ClusterNetwork | undefined {
  const exact = snap.networks.find((n) => n.ID === ref) ?? snap.networks.find((n) => n.Spec.Name === ref);
  if (exact) return exact;
  const prefixed = ref ? snap.networks.filter((n) => n.ID.startsWith(ref)) : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/**
 * Makes an overlay network. `localSubnets` and `localNames` are the manager's own
 * networks: an overlay must not take a subnet or a name one of them has.
 */
export async function createNetwork(store: ClusterStore, body: OverlayCreateBody, localSubnets: string[], localNames: string[]): Promise<{ Id: string; Warning: string }> {
  const name = body.Name ?? '';
  if (!name) throw invalid('network name is required');
  if (!NAME.test(name)) throw invalid(`invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  if (body.Ingress && body.Attachable) throw invalid('rpc error: code = InvalidArgument desc = ingress network cannot be attachable');
  if (body.IPAM?.Driver && body.IPAM.Driver !== 'default') throw notFound(`plugin "${body.IPAM.Driver}" not found`);
  const snap = await store.snapshot();
  if (snap.networks.some((n) => n.Spec.Name === name) || localNames.includes(name)) throw conflict(`network with name ${name} already exists`);
  // one ingress network per swarm (berth's routing mesh forwards in user space and does not
  // attach tasks to it: it is kept and shown as Docker's is)
  const ingress = body.Ingress ? snap.networks.find((n) => n.Spec.Ingress) : undefined;
  if (ingress) throw conflict(`rpc error: code = AlreadyExists desc = ingress network (${ingress.ID}) is already present`);
  const taken = [...snap.networks.flatMap((n) => n.IPAMOptions.Configs.map((c) => parseCidr(c.Subnet))), ...localSubnets.map(parseCidr)];
  const ipv4 = (body.IPAM?.Config ?? []).filter((c) => !c.Subnet?.includes(':'));
  if (ipv4.length > 1) throw invalid('berth supports one IPv4 subnet per network');
  const want = ipv4[0] ?? {};
  let subnet: Cidr;
  if (want.Subnet) {
    subnet = parseCidr(want.Subnet);
    if (subnet.bits > 29) throw invalid(`invalid subnet ${want.Subnet}: too small for tasks`);
    if (taken.some((t) => overlaps(t, subnet))) throw new BerthError('FORBIDDEN', 'invalid pool request: Pool overlaps with other one on this address space');
  } else {
    if (want.Gateway || want.IPRange) throw invalid('every ip-range or gateway must have a corresponding subnet');
    subnet = poolSubnet(snap, taken);
  }
  const gateway = want.Gateway || formatIPv4(subnet.base + 1);
  const gw = parseIPv4(gateway);
  if (gw === undefined || !contains(subnet, gw)) throw invalid(`no matching subnet for gateway ${gateway}`);
  const usedVnis = new Set(snap.networks.map((n) => n.VNI));
  let vni = body.Ingress && !usedVnis.has(INGRESS_VNI) ? INGRESS_VNI : FIRST_VNI;
  while (usedVnis.has(vni)) vni++;
  const now = new Date().toISOString();
  const ipam = { Driver: { Name: 'default' }, Configs: [{ Subnet: cidrString(subnet), Gateway: gateway }] };
  const net: ClusterNetwork = {
    ID: newObjectId(),
    Version: { Index: 0 },
    CreatedAt: now,
    UpdatedAt: now,
    Spec: {
      Name: name,
      Labels: body.Labels ?? {},
      DriverConfiguration: { Name: 'overlay', Options: body.Options ?? {} },
      IPAMOptions: ipam,
      Internal: body.Internal === true,
      Attachable: body.Attachable === true,
      Ingress: body.Ingress === true,
      Scope: 'swarm',
    },
    DriverState: { Name: 'overlay', Options: { 'com.docker.network.driver.overlay.vxlanid_list': String(vni) } },
    IPAMOptions: ipam,
    VNI: vni,
  };
  if (!(await store.create('networks', net))) throw conflict(`network ${net.ID} already exists`);
  return { Id: net.ID, Warning: body.EnableIPv6 ? 'IPv6 is not supported by berth yet: the network has IPv4 only' : '' };
}

/** The first free subnet of the cluster's pool (Docker's default: 10.0.0.0/8 in /24s). */
function poolSubnet(snap: Snapshot, taken: Cidr[]): Cidr {
  const pools = snap.cluster?.DefaultAddrPool ?? [];
  const own = pools.length && !(pools.length === 1 && pools[0] === '10.0.0.0/8') ? pools : undefined;
  const size = snap.cluster?.SubnetSize || 24;
  for (const p of own ?? ['10.0.0.0/8']) {
    const pool = parseCidr(p);
    if (size < pool.bits) continue;
    const step = 2 ** (32 - size);
    // the pool's first subnet is the ingress network's, made at init (10.0.0.0/24 by default)
    for (let base = pool.base; base < pool.base + cidrSize(pool); base += step) {
      const c = { base, bits: size };
      if (!taken.some((t) => overlaps(t, c))) return c;
    }
  }
  throw new BerthError('FORBIDDEN', 'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
}

export async function removeNetwork(store: ClusterStore, ref: string): Promise<ClusterNetwork> {
  const snap = await store.snapshot();
  const net = findNetwork(snap, ref);
  if (!net) throw notFound(`network ${ref} not found`);
  if (net.Spec.Ingress) {
    const publishing = snap.services.find((s) => (s.Spec.EndpointSpec?.Ports ?? []).some((p) => p.PublishMode !== 'host'));
    if (publishing) throw new BerthError('FORBIDDEN', `rpc error: code = FailedPrecondition desc = ingress network cannot be removed because service ${publishing.ID} depends on it`);
  }
  const user = snap.services.find((s) => (s.Spec.TaskTemplate.Networks ?? []).some((n) => n.Target === net.ID));
  if (user) throw new BerthError('FORBIDDEN', `rpc error: code = FailedPrecondition desc = network ${net.ID} is in use by service ${user.ID}`);
  // as swarmkit's: only a task still meant to run holds it; a removed service's tasks are
  // stopping, also before the orchestrator has told them so
  const services = new Set(snap.services.map((s) => s.ID));
  const task = snap.tasks.find((t) => t.DesiredState === 'running' && services.has(t.ServiceID) && !isTerminal(t.Status.State) && t.NetworksAttachments?.some((a) => a.Network.ID === net.ID));
  if (task) throw new BerthError('FORBIDDEN', `rpc error: code = FailedPrecondition desc = network ${net.ID} is in use by task ${task.ID}`);
  await store.remove('networks', net.ID);
  return net;
}

/** A service's networks named by ID, as Docker keeps them; an unknown one is refused. */
export function resolveServiceNetworks(spec: ServiceSpec, snap: Snapshot): void {
  // the deprecated top-level Networks mean the same as the task template's
  const all = [...(spec.TaskTemplate.Networks ?? []), ...(spec.Networks ?? [])] as NetworkAttachmentConfig[];
  delete spec.Networks;
  if (!all.length) return;
  const seen = new Set<string>();
  const out: NetworkAttachmentConfig[] = [];
  for (const n of all) {
    const net = findNetwork(snap, n.Target);
    if (!net) throw notFound(`network ${n.Target} not found`);
    if (seen.has(net.ID)) throw invalid(`rpc error: code = InvalidArgument desc = duplicate network attachment ${n.Target}`);
    seen.add(net.ID);
    out.push({ Target: net.ID, ...(n.Aliases?.length ? { Aliases: n.Aliases } : {}), ...(n.DriverOpts && Object.keys(n.DriverOpts).length ? { DriverOpts: n.DriverOpts } : {}) });
  }
  spec.TaskTemplate.Networks = out;
}

/** Addresses on a network that tasks or services hold. */
function addressesInUse(snap: Snapshot, networkId: string): Set<number> {
  const s = new Set<number>();
  const add = (addr: string) => s.add(parseIPv4(addr.split('/')[0]) ?? 0);
  for (const t of snap.tasks) {
    if (isTerminal(t.Status.State)) continue;
    for (const a of t.NetworksAttachments ?? []) if (a.Network.ID === networkId) a.Addresses.forEach(add);
  }
  for (const svc of snap.services) for (const v of svc.Endpoint?.VirtualIPs ?? []) if (v.NetworkID === networkId) add(v.Addr);
  return s;
}

/**
 * A service's virtual IPs, one on each of its networks (none in endpoint mode dnsrr): kept
 * from before where the network stays, new ones taken from the top of the subnet down, so
 * they do not meet the tasks' addresses, given by the leader from the bottom up.
 */
export function serviceVips(spec: ServiceSpec, snap: Snapshot, serviceId: string, previous: VirtualIP[] | undefined): VirtualIP[] | undefined {
  if (spec.EndpointSpec?.Mode === 'dnsrr') return undefined;
  const out: VirtualIP[] = [];
  for (const want of spec.TaskTemplate.Networks ?? []) {
    const kept = previous?.find((v) => v.NetworkID === want.Target);
    if (kept) {
      out.push(kept);
      continue;
    }
    const net = snap.networks.find((n) => n.ID === want.Target);
    if (!net) continue;
    const cfg = net.IPAMOptions.Configs[0];
    const subnet = parseCidr(cfg.Subnet);
    const taken = addressesInUse({ ...snap, services: snap.services.filter((x) => x.ID !== serviceId) }, net.ID);
    taken.add(parseIPv4(cfg.Gateway) ?? 0);
    let ip = subnet.base + cidrSize(subnet) - 2;
    while (ip > subnet.base && taken.has(ip)) ip--;
    if (ip <= subnet.base) throw new BerthError('FORBIDDEN', `no available IPv4 addresses on network ${net.Spec.Name}`);
    out.push({ NetworkID: net.ID, Addr: `${formatIPv4(ip)}/${subnet.bits}` });
  }
  return out.length ? out : undefined;
}

/**
 * Gives each new task an address on every network of its service: the next free one after
 * the last given on that network (`cursors`, kept by the leader), so an address that was
 * just freed, whose container may still be going away, is not handed out again at once.
 */
export function allocateAddresses(newTasks: Task[], snap: Snapshot, cursors: Map<string, number>): void {
  const used = new Map<string, Set<number>>();
  const usedOn = (id: string) => {
    let s = used.get(id);
    if (!s) used.set(id, (s = addressesInUse(snap, id)));
    return s;
  };
  for (const t of newTasks) {
    const attachments: NetworkAttachment[] = [];
    for (const want of t.Spec.Networks ?? []) {
      const net = snap.networks.find((n) => n.ID === want.Target);
      if (!net) continue;
      const cfg = net.IPAMOptions.Configs[0];
      const subnet = parseCidr(cfg.Subnet);
      const gw = parseIPv4(cfg.Gateway);
      const taken = usedOn(net.ID);
      const first = subnet.base + 1;
      const last = subnet.base + cidrSize(subnet) - 2;
      const count = last - first + 1;
      let pick: number | undefined;
      const from = cursors.get(net.ID) ?? first - 1;
      for (let i = 1; i <= count; i++) {
        const ip = first + ((from - first + i) % count + count) % count;
        if (ip !== gw && !taken.has(ip)) {
          pick = ip;
          break;
        }
      }
      if (pick === undefined) {
        // not started without its network: rejected, and its restart policy tries again later
        t.Status = { ...t.Status, State: 'rejected', Message: 'allocating network addresses', Err: `no available IPv4 addresses on network ${net.Spec.Name}` };
        break;
      }
      taken.add(pick);
      cursors.set(net.ID, pick);
      attachments.push({
        Network: { ID: net.ID, Spec: { Name: net.Spec.Name } },
        Addresses: [`${formatIPv4(pick)}/${subnet.bits}`],
        ...(want.Aliases?.length ? { Aliases: want.Aliases } : {}),
      });
    }
    if (attachments.length && t.Status.State !== 'rejected') t.NetworksAttachments = attachments;
  }
}

/** The API's Network object for an overlay of the swarm, as a manager lists it. */
export function overlayJSON(n: ClusterNetwork): Record<string, unknown> {
  return {
    Name: n.Spec.Name,
    Id: n.ID,
    Created: n.CreatedAt,
    Scope: 'swarm',
    Driver: 'overlay',
    EnableIPv4: true,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: n.IPAMOptions.Configs.map((c) => ({ Subnet: c.Subnet, Gateway: c.Gateway })) },
    Internal: n.Spec.Internal === true,
    Attachable: n.Spec.Attachable === true,
    Ingress: n.Spec.Ingress === true,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: null,
    Options: { ...(n.Spec.DriverConfiguration.Options ?? {}), ...n.DriverState.Options },
    Labels: n.Spec.Labels ?? {},
  };
}
