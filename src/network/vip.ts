import { run } from '../common/exec';

/**
 * A service's virtual IP, balanced inside each client container's own network namespace (as
 * Docker balances with IPVS in the container's sandbox): a connection the container opens
 * to the VIP is DNATed, in the namespace's nat OUTPUT, to one of the service's running
 * tasks, chosen at random and evenly, and stays with it (conntrack). The packets leave with
 * the container's own address and come back to it, so nothing on the way needs to know the
 * VIP: no address for it on any node, no SNAT, no route.
 */
export const VIP_CHAIN = 'BERTH-VIP';

export interface VipEntry {
  vip: string;
  /** the addresses of the service's running tasks */
  backends: string[];
}

/** The nat table of a container's namespace, whole, for iptables-restore. */
export function vipRules(entries: VipEntry[]): string {
  const lines = ['*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', `:${VIP_CHAIN} - [0:0]`, `-A OUTPUT -j ${VIP_CHAIN}`];
  for (const e of [...entries].sort((a, b) => a.vip.localeCompare(b.vip))) {
    const backends = [...e.backends].sort();
    backends.forEach((b, i) => {
      const left = backends.length - i;
      // each rule takes its share of what the ones before it left: 1/n, 1/(n-1), ... 1
      const pick = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(8)}` : '';
      lines.push(`-A ${VIP_CHAIN} -d ${e.vip}/32${pick} -j DNAT --to-destination ${b}`);
    });
  }
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** Replaces the nat table of the namespace at `netns` (a container's: berth's rules are all it holds). */
export async function applyVipRules(netns: string, rules: string): Promise<void> {
  await run('nsenter', [`--net=${netns}`, 'iptables-restore', '-w'], { input: rules });
}
