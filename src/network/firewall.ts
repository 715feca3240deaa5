import { run } from '../common/exec';
import type { NetworkRecord } from './model';

/**
 * berthd's iptables rules, in chains of its own so that they are rebuilt whole whenever the
 * set of networks changes (iptables-restore --noflush replaces just these chains):
 *
 *   filter BERTH-FORWARD      networks apart from each other; internal networks kept in;
 *                             then traffic of berth's bridges accepted (hosts whose FORWARD
 *                             policy is DROP, as Docker leaves it, still forward for berth)
 *   nat BERTH-POSTROUTING     outbound NAT for every non-internal network
 *
 * Port mappings are the CNI portmap plugin's own chains.
 */
const FILTER_CHAIN = 'BERTH-FORWARD';
const NAT_CHAIN = 'BERTH-POSTROUTING';

export function rulesFor(networks: NetworkRecord[]): string {
  const bridges = networks.filter((n) => (n.Driver === 'bridge' || n.Driver === 'overlay') && n.bridge);
  const filter: string[] = [];
  const nat: string[] = [];
  for (const n of bridges) {
    const b = n.bridge!;
    if (n.Internal) {
      filter.push(`-A ${FILTER_CHAIN} -i ${b} ! -o ${b} -j DROP`, `-A ${FILTER_CHAIN} -o ${b} ! -i ${b} -j DROP`);
    }
    for (const other of bridges) if (other !== n) filter.push(`-A ${FILTER_CHAIN} -i ${b} -o ${other.bridge} -j DROP`);
  }
  for (const n of bridges) {
    filter.push(
      `-A ${FILTER_CHAIN} -i ${n.bridge} -j ACCEPT`,
      `-A ${FILTER_CHAIN} -o ${n.bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
      // published ports: connections the portmap plugin rewrote towards a container
      `-A ${FILTER_CHAIN} -o ${n.bridge} -m conntrack --ctstate DNAT -j ACCEPT`,
    );
    // IPv4 only: IPv6 subnets are routed, not masqueraded (as Docker does by default)
    if (!n.Internal) for (const c of n.IPAM.Config.filter((x) => !x.Subnet.includes(':'))) nat.push(`-A ${NAT_CHAIN} -s ${c.Subnet} ! -o ${n.bridge} -j MASQUERADE`);
  }
  return ['*filter', `:${FILTER_CHAIN} - [0:0]`, ...filter, 'COMMIT', '*nat', `:${NAT_CHAIN} - [0:0]`, ...nat, 'COMMIT', ''].join('\n');
}

async function ensureJump(table: string, chain: string, target: string): Promise<void> {
  try {
    await run('iptables', ['-w', '-t', table, '-C', chain, '-j', target]);
  } catch {
    await run('iptables', ['-w', '-t', table, '-I', chain, '1', '-j', target]);
  }
}

/** Replaces berth's chains with the rules for these networks. */
export async function applyFirewall(networks: NetworkRecord[]): Promise<void> {
  await run('iptables-restore', ['-w', '--noflush'], { input: rulesFor(networks) });
  await ensureJump('filter', 'FORWARD', FILTER_CHAIN);
  await ensureJump('nat', 'POSTROUTING', NAT_CHAIN);
}
