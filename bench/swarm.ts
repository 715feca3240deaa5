/**
 * Swarm benchmark: how fast replicas run, and how fast a lost node's tasks come back.
 *
 *   node dist/bench/swarm.js --lab [--nodes 3] [--replicas 30] [--runs 3] [--overlay]
 *   node dist/bench/swarm.js --host unix:///run/anchor/docker.sock [--replicas 30] [--runs 3] [--overlay]
 *
 * --lab makes its own swarm of berthd nodes on this machine (each in a network namespace
 * of its own, joined by a bridge; the first inits, the others join as workers) and measures:
 *   1. from POST /services/create with --replicas busybox tasks to all of them running;
 *   2. after SIGKILL of a worker's berthd, until as many tasks run on the other nodes.
 * --host measures only (1), against a daemon that is a swarm manager already (any
 * Docker-API engine). --overlay puts the tasks on an overlay network the bench makes (each
 * task then gets its address, VXLAN peers, DNS names and VIP rules on every node).
 * Everything the bench made is removed at the end.
 */
import * as http from 'node:http';
import { arg, median } from './lib';
import { SwarmLab } from '../test/helpers/swarm-lab';

interface Api {
  call(method: string, path: string, body?: unknown): Promise<any>;
}

function apiAt(host: string): Api {
  const socketPath = host.replace(/^unix:\/\//, '');
  return {
    call: (method, path, body) =>
      new Promise((resolve, reject) => {
        const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
        const req = http.request({ socketPath, path, method, headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {} }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => ((res.statusCode ?? 500) >= 300 ? reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`)) : resolve(text ? JSON.parse(text) : undefined)));
        });
        req.on('error', reject);
        req.end(data);
      }),
  };
}

async function running(api: Api, service: string, notOn?: string): Promise<number> {
  const filters = encodeURIComponent(JSON.stringify({ service: [service], 'desired-state': ['running'] }));
  const tasks = (await api.call('GET', `/tasks?filters=${filters}`)) as { NodeID: string; Status: { State: string } }[];
  return tasks.filter((t) => t.Status.State === 'running' && t.NodeID !== notOn).length;
}

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const OVERLAY = 'benchnet';

async function createAndConverge(api: Api, name: string, replicas: number, overlay: boolean): Promise<number> {
  const t0 = Date.now();
  await api.call('POST', '/services/create', {
    Name: name,
    TaskTemplate: { ContainerSpec: { Image: 'busybox', Args: ['sleep', '100000'] }, ...(overlay ? { Networks: [{ Target: OVERLAY }] } : {}) },
    Mode: { Replicated: { Replicas: replicas } },
  });
  await waitFor(`${replicas} tasks of ${name}`, async () => (await running(api, name)) === replicas);
  return Date.now() - t0;
}

async function removeService(api: Api, name: string): Promise<void> {
  await api.call('DELETE', `/services/${name}`).catch(() => undefined);
  await waitFor(`${name} gone`, async () => ((await api.call('GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [name] }))}`)) as unknown[]).length === 0, 120_000).catch(() => undefined);
}

async function main(): Promise<void> {
  const replicas = Number(arg('--replicas', '30'));
  const runs = Number(arg('--runs', '3'));
  const creates: number[] = [];
  const recoveries: number[] = [];
  const overlay = process.argv.includes('--overlay');
  if (process.argv.includes('--lab')) {
    const nodes = Number(arg('--nodes', '3'));
    const lab = await SwarmLab.start(nodes);
    const stop = () => void lab.cleanup().then(() => process.exit(130));
    process.once('SIGINT', stop);
    try {
      const [first, ...rest] = lab.nodes;
      const api = apiAt(first.d.host);
      await api.call('POST', '/swarm/init', { AdvertiseAddr: first.addr, ListenAddr: '0.0.0.0:2377' });
      const tokens = (await api.call('GET', '/swarm')).JoinTokens;
      for (const n of rest) await apiAt(n.d.host).call('POST', '/swarm/join', { RemoteAddrs: [`${first.addr}:2377`], JoinToken: tokens.Worker, AdvertiseAddr: n.addr });
      await waitFor('all nodes ready', async () => ((await api.call('GET', '/nodes')) as { Status: { State: string } }[]).filter((x) => x.Status.State === 'ready').length === nodes);
      if (overlay) await api.call('POST', '/networks/create', { Name: OVERLAY, Driver: 'overlay' });
      for (let i = 0; i < runs; i++) {
        const name = `bench${i}`;
        creates.push(await createAndConverge(api, name, replicas, overlay));
        // a worker lost as a whole; its tasks must come back on the others
        const victim = rest[i % rest.length];
        const nodeList = (await api.call('GET', '/nodes')) as { ID: string; Status: { Addr: string } }[];
        const victimId = nodeList.find((x) => x.Status.Addr === victim.addr)!.ID;
        const t0 = Date.now();
        await victim.d.stopProcess('SIGKILL');
        await waitFor('tasks back elsewhere', async () => (await running(api, name, victimId)) === replicas);
        recoveries.push(Date.now() - t0);
        await victim.d.startProcess();
        await waitFor('the node back', async () => (await api.call('GET', `/nodes/${victimId}`)).Status.State === 'ready');
        await removeService(api, name);
        console.log(`run ${i + 1}: ${replicas} replicas running after ${creates[i]} ms; a lost node's tasks back after ${recoveries[i]} ms`);
      }
    } finally {
      await lab.cleanup();
    }
  } else {
    const api = apiAt(arg('--host', 'unix:///run/berth/berth.sock'));
    if (overlay) await api.call('POST', '/networks/create', { Name: OVERLAY, Driver: 'overlay' });
    try {
      for (let i = 0; i < runs; i++) {
        const name = `bench${i}-${Date.now()}`;
        try {
          creates.push(await createAndConverge(api, name, replicas, overlay));
        } finally {
          await removeService(api, name);
        }
        console.log(`run ${i + 1}: ${replicas} replicas running after ${creates[i]} ms`);
      }
    } finally {
      if (overlay) await api.call('DELETE', `/networks/${OVERLAY}`).catch(() => undefined);
    }
  }
  console.log(`service create --replicas ${replicas}${overlay ? ' --network (overlay)' : ''} to all running (median of ${creates.length})  ${(median(creates) / 1000).toFixed(2)} s`);
  if (recoveries.length) console.log(`a lost node's tasks running elsewhere (median of ${recoveries.length})   ${(median(recoveries) / 1000).toFixed(2)} s`);
  console.log('targets: 30 replicas within 5 s; recovery within 15 s');
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
