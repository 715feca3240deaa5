import { createHash } from 'node:crypto';
import { run } from '../common/exec';

/**
 * The data plane of an overlay network on one node: a Linux bridge that carries the
 * network's gateway address (as a bridge network's does: the node's DNS server and outbound
 * NAT sit on it), with a VXLAN device as one more port. The VXLAN device learns nothing and
 * floods nothing: every remote endpoint is programmed into it (`bridge fdb`: the endpoint's
 * MAC lives behind that node's address; `ip neigh`: the endpoint's IP has that MAC), and it
 * answers ARP itself from those entries (`proxy`). So an ARP for the gateway never crosses
 * to the other nodes, whose bridges carry the same address, and no broadcast ever does.
 *
 * Endpoints' MACs follow from their addresses (02:42 and the four bytes of the IPv4
 * address, as Docker's), so a node can program a peer from the cluster's task list alone.
 */
/** the swarm's data path port unless it was made with another (`swarm init --data-path-port`) */
export const VXLAN_PORT = 4789;
/** 1500 less the VXLAN, UDP, IP and Ethernet headers */
export const OVERLAY_MTU = 1450;

export function overlayBridgeName(networkId: string): string {
  return `ov-${networkId.slice(0, 12)}`;
}

export function vxlanName(networkId: string): string {
  return `vx-${networkId.slice(0, 12)}`;
}

export function macForIP(ip: string): string {
  return ['02', '42', ...ip.split('.').map((b) => Number(b).toString(16).padStart(2, '0'))].join(':');
}

/**
 * The MAC of an overlay's bridge on one node: fixed, so that it does not follow the lowest
 * MAC of the bridge's ports as containers come and go (the containers would keep sending to
 * the old one, and lose their DNS server and gateway, until their ARP entry expired), and
 * different on each node, whose bridges all carry the gateway address, so that a frame one
 * node's bridge sends over VXLAN never arrives at another's with that one's own MAC. 02:43
 * keeps it apart from the endpoints' 02:42.
 */
export function overlayBridgeMac(gateway: string, nodeAddr: string): string {
  const h = createHash('sha256').update(`${gateway} ${nodeAddr}`).digest();
  return ['02', '43', ...[...h.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** Makes the VXLAN device of an overlay (VNI `vni`, sending from `localAddr` to UDP `port`) a port of its bridge. */
export async function ensureVxlan(dev: string, bridge: string, vni: number, localAddr: string, port = VXLAN_PORT): Promise<void> {
  const existing = await run('ip', ['-d', '-j', 'link', 'show', dev]).then((r) => r.stdout, () => undefined);
  if (existing) {
    // made by an earlier run for another address (the node rejoined elsewhere): made again
    const info = (JSON.parse(existing) as { linkinfo?: { info_data?: { id?: number; local?: string; port?: number } } }[])[0]?.linkinfo?.info_data;
    if (info?.id !== vni || info?.local !== localAddr || info?.port !== port) await run('ip', ['link', 'del', dev]);
    else return setPort(dev, bridge);
  }
  await run('ip', ['link', 'add', dev, 'mtu', String(OVERLAY_MTU), 'type', 'vxlan', 'id', String(vni), 'local', localAddr, 'dstport', String(port), 'nolearning', 'proxy']);
  await setPort(dev, bridge);
}

async function setPort(dev: string, bridge: string): Promise<void> {
  await run('ip', ['link', 'set', dev, 'master', bridge]);
  await run('ip', ['link', 'set', dev, 'up']);
}

export interface OverlayPeer {
  /** the endpoint's address on the overlay */
  ip: string;
  /** the address of the node it runs on */
  nodeAddr: string;
}

/**
 * The remote endpoints programmed into each VXLAN device, changed to match what the cluster
 * says: new ones added, moved ones replaced, gone ones removed, in one `ip -batch` and one
 * `bridge -batch` per change.
 */
export class OverlayPeers {
  /** device → ip → node address */
  private readonly programmed = new Map<string, Map<string, string>>();

  /** The device was (re)made: whatever it held is gone. */
  reset(dev: string): void {
    this.programmed.delete(dev);
  }

  async sync(dev: string, peers: OverlayPeer[]): Promise<void> {
    const have = this.programmed.get(dev) ?? new Map<string, string>();
    const want = new Map(peers.map((p) => [p.ip, p.nodeAddr]));
    const neigh: string[] = [];
    const fdb: string[] = [];
    for (const [ip, node] of want) {
      if (have.get(ip) === node) continue;
      neigh.push(`neigh replace ${ip} lladdr ${macForIP(ip)} dev ${dev} nud permanent`);
      fdb.push(`fdb replace ${macForIP(ip)} dev ${dev} dst ${node} self permanent`);
    }
    for (const ip of have.keys()) {
      if (want.has(ip)) continue;
      neigh.push(`neigh del ${ip} dev ${dev}`);
      fdb.push(`fdb del ${macForIP(ip)} dev ${dev} self`);
    }
    if (!neigh.length) return;
    try {
      // -force: one entry already gone must not stop the others
      await run('bridge', ['-force', '-batch', '-'], { input: fdb.join('\n') + '\n' });
      await run('ip', ['-force', '-batch', '-'], { input: neigh.join('\n') + '\n' });
      this.programmed.set(dev, want);
    } catch (e) {
      // the next sync programs every peer again (replace is idempotent)
      this.programmed.delete(dev);
      throw e;
    }
  }

  forget(dev: string): void {
    this.programmed.delete(dev);
  }
}
