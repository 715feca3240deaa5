/**
 * Several berthd nodes on one machine, as a swarm test needs them: each TestDaemon in its
 * own network namespace, all joined to a bridge in a "hub" namespace the lab makes, with
 * an address each on 10.211.K.0/24. Nothing leaves the machine; cleanup removes the
 * daemons, their etcd members, the veths and the namespaces.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { TestDaemon } from './daemon';

export interface LabNode {
  d: TestDaemon;
  addr: string;
}

/** A node's API answer as JSON; a status of 300 or more throws with the body. */
export async function labJson(n: LabNode, method: string, path: string, body?: unknown): Promise<any> {
  const r = await n.d.api(method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.body}`);
  return r.body ? r.json() : undefined;
}

export class SwarmLab {
  readonly tag = randomBytes(3).toString('hex');
  readonly hub = `berth-hub-${this.tag}`;
  readonly subnet = `10.211.${Math.floor(Math.random() * 200) + 10}`;
  readonly nodes: LabNode[] = [];

  /** `daemonArgs` go to every node's berthd (an --insecure-registry for a registry on the lab's network) */
  static async start(count: number, daemonArgs: string[] = []): Promise<SwarmLab> {
    const lab = new SwarmLab(daemonArgs);
    try {
      execFileSync('ip', ['netns', 'add', lab.hub]);
      lab.inHub('ip', 'link', 'set', 'lo', 'up');
      lab.inHub('ip', 'link', 'add', 'br0', 'type', 'bridge');
      lab.inHub('ip', 'link', 'set', 'br0', 'up');
      for (let i = 0; i < count; i++) await lab.addNode();
    } catch (e) {
      await lab.cleanup();
      throw e;
    }
    return lab;
  }

  private inHub(...args: string[]): void {
    execFileSync('nsenter', [`--net=/run/netns/${this.hub}`, ...args]);
  }

  constructor(private readonly daemonArgs: string[] = []) {}

  async addNode(): Promise<LabNode> {
    const i = this.nodes.length + 1;
    const d = await TestDaemon.start(this.daemonArgs);
    const node: LabNode = { d, addr: `${this.subnet}.${i + 10}` };
    this.nodes.push(node);
    const hubSide = `vh${this.tag}${i}`;
    execFileSync('ip', ['link', 'add', hubSide, 'type', 'veth', 'peer', 'name', `vn${this.tag}${i}`]);
    execFileSync('ip', ['link', 'set', hubSide, 'netns', this.hub]);
    execFileSync('ip', ['link', 'set', `vn${this.tag}${i}`, 'netns', d.netns]);
    this.inHub('ip', 'link', 'set', hubSide, 'master', 'br0', 'up');
    const inNode = (...args: string[]) => execFileSync('nsenter', [`--net=/run/netns/${d.netns}`, ...args]);
    inNode('ip', 'link', 'set', `vn${this.tag}${i}`, 'name', 'swarm0');
    inNode('ip', 'addr', 'add', `${node.addr}/24`, 'dev', 'swarm0');
    inNode('ip', 'link', 'set', 'swarm0', 'up');
    return node;
  }

  /** etcd processes of the lab's daemons (their data dirs are under the daemons' data roots). */
  etcdPids(only?: LabNode): number[] {
    const roots = (only ? [only] : this.nodes).map((n) => n.d.dataRoot);
    const out: number[] = [];
    for (const p of readdirSync('/proc')) {
      if (!/^\d+$/.test(p)) continue;
      try {
        const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
        if (argv[0]?.endsWith('etcd') && argv.some((a) => roots.some((r) => a.startsWith(r)))) out.push(Number(p));
      } catch {
        // gone
      }
    }
    return out;
  }

  async cleanup(): Promise<void> {
    for (const n of this.nodes) {
      // leaving first stops the daemon's etcd member; whatever is left is killed below
      await n.d.api('POST', '/swarm/leave?force=1').catch(() => undefined);
    }
    for (const pid of this.etcdPids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const n of this.nodes) await n.d.cleanup();
    try {
      execFileSync('ip', ['netns', 'del', this.hub], { stdio: 'ignore' });
    } catch {
      // not made
    }
  }
}

/** One request to a manager's etcd from a node's namespace, with that node's certificate (or the named one) and token. */
export function labEtcd(n: LabNode, managerAddr: string, path: string, body: unknown, o: { token?: string; named?: boolean } = {}): { status: number; body: any } {
  const certs = `${n.d.dataRoot}/swarm/certs`;
  const cert = o.named ? 'node' : 'etcd-client';
  const out = execFileSync('nsenter', [
    `--net=/run/netns/${n.d.netns}`, 'curl', '-s', '--max-time', '10', '-w', '\n%{http_code}', '--cacert', `${certs}/ca.crt`, '--cert', `${certs}/${cert}.crt`, '--key', `${certs}/${cert}.key`,
    ...(o.token ? ['-H', `Authorization: ${o.token}`] : []), '-X', 'POST', `https://${managerAddr}:2379${path}`, '-d', JSON.stringify(body),
  ]).toString();
  const nl = out.lastIndexOf('\n');
  const text = out.slice(0, nl);
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // a plain-text refusal
  }
  return { status: Number(out.slice(nl + 1)), body: parsed };
}

export function labEtcdToken(n: LabNode, managerAddr: string, nodeId: string): string {
  const password = readFileSync(`${n.d.dataRoot}/swarm/certs/etcd.password`, 'utf8').trim();
  const r = labEtcd(n, managerAddr, '/v3/auth/authenticate', { name: nodeId, password });
  if (r.status !== 200) throw new Error(`etcd refused ${nodeId}: ${JSON.stringify(r.body)}`);
  return r.body.token;
}
