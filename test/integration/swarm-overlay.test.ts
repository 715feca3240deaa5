/**
 * Overlay networks across three berthd nodes (one manager, two workers), each in a network
 * namespace of its own on a bridge the test made: `network create -d overlay` on the
 * manager, a service's tasks on three nodes reaching each other by address, by service
 * name and by `tasks.<service>`, over VXLAN between the nodes; scale-down taking a task out
 * of the others' DNS; the network refused for removal while used, and gone from every node
 * after. The routing mesh for TCP and UDP from every node; a task with a health check
 * running only once healthy, and an unhealthy one failed and replaced. Docker's refusals:
 * an overlay on a worker, a name taken, a standalone container on a network that is not
 * attachable.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { labEtcd, labEtcdToken, labJson, SwarmLab, type LabNode } from '../helpers/swarm-lab';
import { NetnsRegistry } from '../helpers/registry';
import { until } from '../helpers/wait';

let lab: SwarmLab;
let n1: LabNode, n2: LabNode, n3: LabNode;
const nodeIds = new Map<LabNode, string>();

const json = labJson;

interface TaskView {
  ID: string;
  NodeID?: string;
  Status: { State: string; ContainerStatus?: { ContainerID?: string } };
  NetworksAttachments?: { Network: { ID: string }; Addresses: string[] }[];
}

async function running(service: string, count: number): Promise<TaskView[]> {
  return until(`${count} running tasks of ${service}`, async () => {
    const filters = encodeURIComponent(JSON.stringify({ service: [service], 'desired-state': ['running'] }));
    const tasks = ((await json(n1, 'GET', `/tasks?filters=${filters}`)) as TaskView[]).filter((t) => t.Status.State === 'running');
    return tasks.length === count ? tasks : undefined;
  }, 40_000);
}

function nodeOf(t: TaskView): LabNode {
  return [...nodeIds].find(([, id]) => id === t.NodeID)![0];
}

/** Runs a command in a task's container, on the node that runs it. */
async function inTask(t: TaskView, cmd: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return nodeOf(t).d.docker(['exec', t.Status.ContainerStatus!.ContainerID!, ...cmd]);
}

const addressOf = (t: TaskView) => t.NetworksAttachments![0].Addresses[0].split('/')[0];

/** The overlay addresses of nslookup's answer (not the server's own line), sorted. */
function addressesIn(nslookup: string): string[] {
  return [...nslookup.matchAll(/^Address(?: \d+)?:\s+(10\.0\.1\.\d+)\s*$/gm)].map((m) => m[1]).sort();
}

before(async () => {
  // the lab's addresses are 10.211.x.y: a registry there speaks plain HTTP
  lab = await SwarmLab.start(3, ['--insecure-registry', '10.211.0.0/16']);
  [n1, n2, n3] = lab.nodes;
  await json(n1, 'POST', '/swarm/init', { ListenAddr: '0.0.0.0:2377', AdvertiseAddr: n1.addr });
  const tokens = (await json(n1, 'GET', '/swarm')).JoinTokens;
  for (const n of [n2, n3]) await json(n, 'POST', '/swarm/join', { RemoteAddrs: [`${n1.addr}:2377`], JoinToken: tokens.Worker, AdvertiseAddr: n.addr, ListenAddr: '0.0.0.0:2377' });
  const nodes = await until('three ready nodes', async () => {
    const list = (await json(n1, 'GET', '/nodes')) as { ID: string; Status: { State: string; Addr: string } }[];
    return list.length === 3 && list.every((x) => x.Status.State === 'ready') ? list : undefined;
  });
  for (const n of lab.nodes) nodeIds.set(n, nodes.find((x) => x.Status.Addr === n.addr)!.ID);
});

after(async () => {
  await lab?.cleanup();
});

test('network create -d overlay on a manager: a swarm-scoped network with a subnet of the pool; Docker\'s refusals', async () => {
  const created = await n1.d.docker(['network', 'create', '-d', 'overlay', 'appnet']);
  assert.equal(created.code, 0, created.stderr);
  const id = created.stdout.trim();
  assert.match(id, /^[a-z0-9]{25}$/);

  const ls = await n1.d.docker(['network', 'ls', '--filter', 'driver=overlay', '--format', '{{.Name}} {{.Driver}} {{.Scope}}']);
  assert.equal(ls.code, 0, ls.stderr);
  // the swarm's ingress network is listed too, as Docker's
  assert.equal(ls.stdout.trim(), 'appnet overlay swarm\ningress overlay swarm');
  const inspect = await json(n1, 'GET', '/networks/appnet');
  assert.equal(inspect.Id, id);
  assert.equal(inspect.Scope, 'swarm');
  assert.equal(inspect.IPAM.Config[0].Subnet, '10.0.1.0/24');
  assert.equal(inspect.Options['com.docker.network.driver.overlay.vxlanid_list'], '4097');

  const again = await n1.d.api('POST', '/networks/create', { Name: 'appnet', Driver: 'overlay' });
  assert.equal(again.status, 409, again.body);
  const onWorker = await n2.d.api('POST', '/networks/create', { Name: 'other', Driver: 'overlay' });
  assert.equal(onWorker.status, 503, onWorker.body);
  assert.match(onWorker.json().message, /not a swarm manager/);
  // a second overlay takes the next subnet and identifier
  const second = await json(n1, 'POST', '/networks/create', { Name: 'backnet', Driver: 'overlay' });
  const back = await json(n1, 'GET', `/networks/${second.Id}`);
  assert.equal(back.IPAM.Config[0].Subnet, '10.0.2.0/24');
  assert.equal(back.Options['com.docker.network.driver.overlay.vxlanid_list'], '4098');
  const rm = await n1.d.docker(['network', 'rm', 'backnet']);
  assert.equal(rm.code, 0, rm.stderr);
});

test('tasks on three nodes reach each other over the overlay by address, by service name and by tasks.<service>', async () => {
  const create = await n1.d.docker([
    'service', 'create', '--detach', '--name', 'web', '--replicas', '3', '--replicas-max-per-node', '1', '--network', 'appnet',
    'busybox', 'sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www',
  ]);
  assert.equal(create.code, 0, create.stderr);
  const tasks = await running('web', 3);
  assert.equal(new Set(tasks.map((t) => t.NodeID)).size, 3, 'one task per node');
  const addrs = tasks.map(addressOf);
  assert.equal(new Set(addrs).size, 3, `distinct addresses ${addrs}`);
  for (const a of addrs) assert.match(a, /^10\.0\.1\.\d+$/);

  // the container's interface is on the overlay, with room for the VXLAN header
  const link = await inTask(tasks[0], ['ip', '-o', 'addr', 'show', 'eth0']);
  assert.equal(link.code, 0, link.stderr);
  assert.ok(link.stdout.includes(`inet ${addrs[0]}/24`), link.stdout);
  const mtu = await inTask(tasks[0], ['cat', '/sys/class/net/eth0/mtu']);
  assert.equal(mtu.stdout.trim(), '1450');

  // every task reaches every other one on its node, by address
  for (const from of tasks) {
    for (const to of tasks) {
      if (from === to) continue;
      const r = await until(`${addressOf(from)} reaches ${addressOf(to)}`, async () => {
        const got = await inTask(from, ['timeout', '5', 'wget', '-qO-', `http://${addressOf(to)}:8080/`]);
        return got.code === 0 ? got : undefined;
      }, 15_000);
      assert.equal(r.stdout.trim(), to.Status.ContainerStatus!.ContainerID!.slice(0, 12));
    }
  }

  // tasks.web: every task's address, wherever it runs
  const lookup = await inTask(tasks[0], ['nslookup', 'tasks.web']);
  assert.equal(lookup.code, 0, lookup.stderr + lookup.stdout);
  for (const a of addrs) assert.ok(lookup.stdout.includes(a), `tasks.web has ${a}:\n${lookup.stdout}`);

  // the service's name is its virtual IP, balanced over the tasks on every node
  const svc = await json(n1, 'GET', '/services/web');
  const netId = (await json(n1, 'GET', '/networks/appnet')).Id as string;
  assert.equal(svc.Endpoint.VirtualIPs.length, 1);
  assert.equal(svc.Endpoint.VirtualIPs[0].NetworkID, netId);
  const vip = svc.Endpoint.VirtualIPs[0].Addr.split('/')[0] as string;
  assert.match(vip, /^10\.0\.1\.\d+$/);
  assert.ok(!addrs.includes(vip), 'the VIP is no task\'s address');
  const named = await inTask(tasks[1], ['nslookup', 'web']);
  assert.deepEqual(addressesIn(named.stdout), [vip], named.stdout);
  const seen = new Set<string>();
  await until('the service name answered by the tasks of three nodes', async () => {
    const r = await inTask(tasks[1], ['timeout', '5', 'wget', '-qO-', 'http://web:8080/']);
    if (r.code === 0) seen.add(r.stdout.trim());
    return seen.size === 3 ? true : undefined;
  }, 30_000);
  assert.deepEqual([...seen].sort(), tasks.map((t) => t.Status.ContainerStatus!.ContainerID!.slice(0, 12)).sort());

  // endpoint mode dnsrr: the service's name gives the tasks' addresses, and no VIP
  const rr = await n1.d.docker(['service', 'create', '--detach', '--name', 'rr', '--replicas', '2', '--endpoint-mode', 'dnsrr', '--network', 'appnet', 'busybox', 'sleep', '100000']);
  assert.equal(rr.code, 0, rr.stderr);
  try {
    const rrTasks = await running('rr', 2);
    assert.equal((await json(n1, 'GET', '/services/rr')).Endpoint.VirtualIPs, undefined);
    let seenRr = '';
    await until('rr named by its tasks\' addresses', async () => {
      const r = await inTask(tasks[0], ['nslookup', 'rr']);
      seenRr = `${r.stdout}${r.stderr} (want ${rrTasks.map(addressOf).sort()}, asked on ${nodeOf(tasks[0]).addr}, rr on ${rrTasks.map((t) => nodeOf(t).addr)})`;
      return JSON.stringify(addressesIn(r.stdout)) === JSON.stringify(rrTasks.map(addressOf).sort()) ? true : undefined;
    }, 30_000).catch(async (e) => {
      // what the asking container and its node see of the gateway, for a DNS server that does not answer
      const neigh = await inTask(tasks[0], ['ip', 'neigh']);
      const links = execFileSync('nsenter', [`--net=/run/netns/${nodeOf(tasks[0]).d.netns}`, 'ip', '-br', 'link']).toString();
      throw new Error(`${(e as Error).message}: ${seenRr}\n${neigh.stdout}\n${links}\n${lab.nodes.map((n) => n.d.output.split('\n').filter((l) => /swarm|network|dns/.test(l)).slice(-12).join('\n')).join('\n--\n')}`);
    });
  } finally {
    // the tests after this one count the network's users and the tasks on it
    await json(n1, 'DELETE', '/services/rr');
  }

  // VXLAN between the nodes: the other nodes' endpoints are programmed, not learned
  const id = (await json(n1, 'GET', '/networks/appnet')).Id as string;
  const fdb = execFileSync('nsenter', [`--net=/run/netns/${n1.d.netns}`, 'bridge', 'fdb', 'show', 'dev', `vx-${id.slice(0, 12)}`]).toString();
  const remote = tasks.filter((t) => nodeOf(t) !== n1);
  for (const t of remote) assert.ok(fdb.includes(`dst ${nodeOf(t).addr}`), `fdb on the manager points at ${nodeOf(t).addr}:\n${fdb}`);
});

test('a task scaled away leaves the other nodes\' DNS and forwarding tables', async () => {
  const svc = await json(n1, 'GET', '/services/web');
  await json(n1, 'POST', `/services/${svc.ID}/update?version=${svc.Version.Index}`, { ...svc.Spec, Mode: { Replicated: { Replicas: 2 } } });
  const tasks = await running('web', 2);
  const kept = new Set(tasks.map(addressOf));
  let lastLookup = '';
  await until('tasks.web down to two addresses', async () => {
    const r = await inTask(tasks[0], ['nslookup', 'tasks.web']);
    const found = addressesIn(r.stdout);
    lastLookup = `${r.stdout} on ${nodeOf(tasks[0]).addr}; kept ${[...kept]}\n${lab.nodes.map((n) => n.d.output.split('\n').filter((l) => /swarm|network|dns/.test(l)).slice(-12).join('\n')).join('\n--\n')}`;
    return found.length === 2 && found.every((a) => kept.has(a)) ? true : undefined;
  }, 15_000).catch((e) => {
    throw new Error(`${(e as Error).message}: ${lastLookup}`);
  });
  const id = (await json(n1, 'GET', '/networks/appnet')).Id as string;
  const gone = [...nodeIds.keys()].find((n) => !tasks.some((t) => nodeOf(t) === n))!;
  for (const t of tasks) {
    await until(`the node without a task is out of ${nodeOf(t).addr}'s table`, async () => {
      const fdb = execFileSync('nsenter', [`--net=/run/netns/${nodeOf(t).d.netns}`, 'bridge', 'fdb', 'show', 'dev', `vx-${id.slice(0, 12)}`]).toString();
      return fdb.includes(`dst ${gone.addr}`) ? undefined : true;
    }, 15_000);
  }
});

test('a standalone container is refused on an overlay that is not attachable', async () => {
  // the manager knows the network (it made it): the refusal is the attachable check's, in the words of swarmkit's answer
  const r = await n1.d.docker(['run', '--rm', '--network', 'appnet', 'busybox', 'true']);
  assert.equal(r.code, 125, r.stderr);
  assert.match(r.stderr, /^docker: Error response from daemon: Could not attach to network appnet: rpc error: code = PermissionDenied desc = network appnet not manually attachable\.?$/m);
  // an overlay no task has brought to this node yet: the manager still knows it from the cluster
  assert.equal((await n1.d.docker(['network', 'create', '-d', 'overlay', 'lonely'])).code, 0);
  try {
    const lonely = await n1.d.docker(['run', '--rm', '--network', 'lonely', 'busybox', 'true']);
    assert.equal(lonely.code, 125, lonely.stderr);
    assert.match(lonely.stderr, /network lonely not manually attachable/);
  } finally {
    await n1.d.docker(['network', 'rm', 'lonely']);
  }
});

/** Sends one datagram from a new socket (a new flow) inside a node's namespace; the answer. */
function udpAsk(from: LabNode, host: string, port: number, text: string): string {
  const script = `const s=require('dgram').createSocket('udp4');const t=setTimeout(()=>{console.log('');process.exit(0)},3000);s.on('message',(m)=>{clearTimeout(t);console.log(m.toString());process.exit(0)});s.send(${JSON.stringify(text)},${port},${JSON.stringify(host)});`;
  return execFileSync('nsenter', [`--net=/run/netns/${from.d.netns}`, process.execPath, '-e', script]).toString().trim();
}

test('a worker\'s berthd restarted: its tasks stay on the overlay, reachable by address and by the service\'s name', async () => {
  const tasks = await running('web', 2);
  const onWorker = tasks.find((t) => nodeOf(t) !== n1) ?? tasks[0];
  const other = tasks.find((t) => t !== onWorker)!;
  const node = nodeOf(onWorker);
  await node.d.stopProcess('SIGKILL');
  await node.d.startProcess();
  // the same container, with the overlay working both ways
  for (const [from, to] of [[onWorker, other], [other, onWorker]]) {
    await until(`${addressOf(from)} reaches ${addressOf(to)} after the restart`, async () => {
      const got = await inTask(from, ['timeout', '5', 'wget', '-qO-', `http://${addressOf(to)}:8080/`]);
      return got.code === 0 && got.stdout.trim() === to.Status.ContainerStatus!.ContainerID!.slice(0, 12) ? true : undefined;
    }, 30_000);
  }
  let last = '';
  await until('the service name from the restarted node', async () => {
    const got = await inTask(onWorker, ['timeout', '5', 'wget', '-qO-', 'http://web:8080/']);
    const ns = await inTask(onWorker, ['nslookup', 'web']);
    last = `${got.code} ${got.stdout} ${got.stderr}\n${ns.stdout}\n${lab.nodes.map((n) => n.d.output.split('\n').filter((l) => /swarm|network|dns/.test(l)).slice(-12).join('\n')).join('\n--\n')}`;
    return got.code === 0 ? true : undefined;
  }, 30_000).catch((e) => {
    throw new Error(`${(e as Error).message}: ${last}`);
  });
  const after = await running('web', 2);
  assert.deepEqual(after.map((t) => t.ID).sort(), tasks.map((t) => t.ID).sort(), 'no task was replaced');
});

test('an overlay service\'s published TCP and UDP ports answer on every node through the routing mesh', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-udp-'));
  try {
    execFileSync('gcc', ['-static', '-O2', '-o', path.join(dir, 'udp-echo'), path.join(__dirname, '../../../test/helpers/udp-echo.c')]);
    const create = await n1.d.docker([
      'service', 'create', '--detach', '--name', 'echo', '--replicas', '2', '--network', 'appnet',
      '--publish', '19999:9999/udp', '--publish', '18080:8080',
      '--mount', `type=bind,source=${dir}/udp-echo,target=/udp-echo,readonly`,
      'busybox', 'sh', '-c', 'mkdir -p /www && hostname > /www/index.html && httpd -p 8080 -h /www && exec /udp-echo 9999 --name',
    ]);
    assert.equal(create.code, 0, create.stderr);
    const tasks = await running('echo', 2);
    const names = tasks.map((t) => t.Status.ContainerStatus!.ContainerID!.slice(0, 12)).sort();
    for (const from of lab.nodes) {
      for (const at of lab.nodes) {
        const answered = new Set<string>();
        await until(`UDP through ${at.addr}:19999 from ${from.addr} reaching both tasks`, async () => {
          const answer = udpAsk(from, at.addr, 19999, 'ping');
          const m = /^(\S+) ping$/.exec(answer);
          if (m) answered.add(m[1]);
          return answered.size === 2 ? true : undefined;
        }, 20_000);
        assert.deepEqual([...answered].sort(), names);
        const tcp = execFileSync('nsenter', [`--net=/run/netns/${from.d.netns}`, 'curl', '-s', '--max-time', '5', `http://${at.addr}:18080/`]).toString().trim();
        assert.ok(names.includes(tcp), `TCP through ${at.addr}:18080 answered ${tcp}`);
      }
    }
    await json(n1, 'DELETE', '/services/echo');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a task with a health check runs once healthy; an unhealthy one fails and is replaced', async () => {
  const ok = await n1.d.docker([
    'service', 'create', '--detach', '--name', 'slow', '--network', 'appnet',
    '--health-cmd', 'test -f /tmp/ok', '--health-interval', '300ms', '--health-retries', '50',
    'busybox', 'sh', '-c', 'sleep 3; touch /tmp/ok; exec sleep 100000',
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  const starting = await until('the task started but not yet healthy', async () => {
    const list = (await json(n1, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: ['slow'] }))}`)) as TaskView[];
    return list.find((t) => t.Status.State === 'starting' && t.Status.ContainerStatus?.ContainerID);
  }, 20_000);
  const healthy = (await running('slow', 1))[0];
  assert.equal(healthy.ID, starting.ID);

  const sick = await n1.d.docker([
    'service', 'create', '--detach', '--name', 'sick', '--restart-delay', '200ms',
    '--health-cmd', 'false', '--health-interval', '300ms', '--health-retries', '1',
    'busybox', 'sleep', '100000',
  ]);
  assert.equal(sick.code, 0, sick.stderr);
  await until('an unhealthy task failed and another made', async () => {
    const list = (await json(n1, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: ['sick'] }))}`)) as (TaskView & { Status: { Err?: string } })[];
    const failed = list.filter((t) => t.Status.State === 'failed' && /unhealthy container/.test(t.Status.Err ?? ''));
    return failed.length >= 1 && list.length >= 2 ? true : undefined;
  }, 30_000);
  // never counted as running: the mesh and VIPs never reached it
  const ps = await n1.d.docker(['service', 'ps', 'sick', '--no-trunc', '--format', '{{.CurrentState}} {{.Error}}']);
  assert.match(ps.stdout, /Failed .*dockerexec: unhealthy container/);
  await json(n1, 'DELETE', '/services/slow');
  await json(n1, 'DELETE', '/services/sick');
});

test('tasks pull the image from the registry the service names, on every node', async () => {
  const reg = await NetnsRegistry.berth(n1.d.netns, 5000, [], n1.addr);
  try {
    const image = `${n1.addr}:5000/team/app:1`;
    for (const args of [['tag', 'busybox', image], ['push', image]]) {
      const r = await n1.d.docker(args);
      assert.equal(r.code, 0, r.stderr);
    }
    for (const n of [n2, n3]) assert.equal((await n.d.api('GET', `/images/${encodeURIComponent(image)}/json`)).status, 404, 'not on the workers yet');
    const create = await n1.d.docker(['service', 'create', '--detach', '--name', 'pulled', '--replicas', '3', '--replicas-max-per-node', '1', image, 'sleep', '100000']);
    assert.equal(create.code, 0, create.stderr);
    const tasks = await running('pulled', 3);
    assert.equal(new Set(tasks.map((t) => t.NodeID)).size, 3);
    for (const n of [n2, n3]) assert.equal((await n.d.api('GET', `/images/${encodeURIComponent(image)}/json`)).status, 200, `pulled on ${n.addr}`);
    await json(n1, 'DELETE', '/services/pulled');
  } finally {
    await reg.stop();
  }
});

test('secrets and configs: files in the tasks on every node; a node gets only its own tasks\' secrets', async () => {
  const secret = await n1.d.docker(['secret', 'create', '--label', 'team=a', 'dbpass', '-'], { input: 's3cr3t-value' });
  assert.equal(secret.code, 0, secret.stderr);
  const secretId = secret.stdout.trim();
  const config = await n1.d.docker(['config', 'create', 'appconf', '-'], { input: 'mode=fast\n' });
  assert.equal(config.code, 0, config.stderr);
  const inspected = await json(n1, 'GET', '/secrets/dbpass');
  assert.equal(inspected.ID, secretId);
  assert.equal(inspected.Spec.Data, undefined, 'a secret is never shown with its data');
  assert.deepEqual(inspected.Spec.Labels, { team: 'a' });
  assert.equal(Buffer.from((await json(n1, 'GET', '/configs/appconf')).Spec.Data, 'base64').toString(), 'mode=fast\n');
  const dup = await n1.d.api('POST', '/secrets/create', { Name: 'dbpass', Data: Buffer.from('x').toString('base64') });
  assert.equal(dup.status, 409, dup.body);
  const dataChange = await n1.d.api('POST', `/secrets/${secretId}/update?version=${inspected.Version.Index}`, { Name: 'dbpass', Data: Buffer.from('other').toString('base64') });
  assert.equal(dataChange.status, 400, dataChange.body);
  assert.match(dataChange.json().message, /only updates to Labels are allowed/);

  const create = await n1.d.docker([
    'service', 'create', '--detach', '--name', 'sec', '--replicas', '3', '--replicas-max-per-node', '1',
    '--secret', 'dbpass', '--secret', 'source=dbpass,target=other,mode=0400', '--config', 'source=appconf,target=/etc/app.conf',
    'busybox', 'sleep', '100000',
  ]);
  assert.equal(create.code, 0, create.stderr);
  const tasks = await running('sec', 3);
  for (const t of tasks) {
    const r = await inTask(t, ['sh', '-c', 'cat /run/secrets/dbpass; echo; stat -c %a /run/secrets/other; cat /etc/app.conf']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 's3cr3t-value\n400\nmode=fast\n', `in the task on ${nodeOf(t).addr}`);
  }

  // a worker asks a manager for a secret: for its own task it gets it, for another node's it does not
  const mine = tasks.find((t) => nodeOf(t) === n2)!;
  const theirs = tasks.find((t) => nodeOf(t) === n3)!;
  const ask = (taskId: string) => {
    const certs = `${n2.d.dataRoot}/swarm/certs`;
    return execFileSync('nsenter', [`--net=/run/netns/${n2.d.netns}`, 'curl', '-sk', '--max-time', '10', '--cert', `${certs}/node.crt`, '--key', `${certs}/node.key`, `https://${n1.addr}:2377/task-secret/${taskId}/${secretId}`]).toString();
  };
  assert.equal(Buffer.from(JSON.parse(ask(mine.ID)).data, 'base64').toString(), 's3cr3t-value');
  assert.match(ask(theirs.ID), /not found/);
  assert.doesNotMatch(ask(theirs.ID), /s3cr3t/);
  // nor by rewriting that task as its own: workers may write tasks, not the leader's placements
  const token = labEtcdToken(n2, n1.addr, nodeIds.get(n2)!);
  const key = Buffer.from(`/berth/swarm/tasks/${theirs.ID}`).toString('base64');
  const stored = labEtcd(n2, n1.addr, '/v3/kv/range', { key }, { token }).body.kvs[0];
  const forged = { ...JSON.parse(Buffer.from(stored.value, 'base64').toString()), NodeID: nodeIds.get(n2) };
  const put = labEtcd(n2, n1.addr, '/v3/kv/put', { key, value: Buffer.from(JSON.stringify(forged)).toString('base64') }, { token });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.match(ask(theirs.ID), /not found/);

  const inUse = await n1.d.docker(['secret', 'rm', 'dbpass']);
  assert.notEqual(inUse.code, 0);
  assert.match(inUse.stderr, /secret 'dbpass' is in use by the following service: sec/);
  await json(n1, 'DELETE', '/services/sec');
  // the files go with the tasks' containers
  for (const n of lab.nodes) {
    await until(`the task files gone from ${n.addr}`, async () => {
      const left = await readdir(`${n.d.execRoot}/swarm/task-files`).catch(() => [] as string[]);
      return left.length === 0 ? true : undefined;
    }, 20_000);
  }
  const rmSecret = await n1.d.docker(['secret', 'rm', 'dbpass']);
  assert.equal(rmSecret.code, 0, rmSecret.stderr);
  const rmConfig = await n1.d.docker(['config', 'rm', 'appconf']);
  assert.equal(rmConfig.code, 0, rmConfig.stderr);
  assert.deepEqual(await json(n1, 'GET', '/secrets'), []);
});

test('docker stack deploy and rm: a compose file\'s services, network, secret and config', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-stack-'));
  try {
    writeFileSync(path.join(dir, 'token.txt'), 'tok-1');
    writeFileSync(
      path.join(dir, 'compose.yml'),
      [
        'version: "3.8"',
        'services:',
        '  api:',
        '    image: busybox',
        "    command: sh -c 'mkdir -p /www && cat /run/secrets/token > /www/index.html && exec httpd -f -p 8080 -h /www'",
        '    deploy: { replicas: 2 }',
        '    secrets: [token]',
        '    networks: [back]',
        '  client:',
        '    image: busybox',
        '    command: sleep 100000',
        '    networks: [back]',
        'networks:',
        '  back: {}',
        'secrets:',
        '  token:',
        `    file: ${path.join(dir, 'token.txt')}`,
        '',
      ].join('\n'),
    );
    const deploy = await n1.d.docker(['stack', 'deploy', '--detach=true', '-c', path.join(dir, 'compose.yml'), 'shop']);
    assert.equal(deploy.code, 0, deploy.stderr);
    await running('shop_api', 2);
    const [client] = await running('shop_client', 1);
    const ps = await n1.d.docker(['stack', 'ps', 'shop', '--format', '{{.Name}}']);
    assert.deepEqual(ps.stdout.trim().split('\n').sort(), ['shop_api.1', 'shop_api.2', 'shop_client.1']);
    // the compose name reaches the service
    await until('api by its compose name', async () => {
      const r = await inTask(client, ['timeout', '5', 'wget', '-qO-', 'http://api:8080/']);
      return r.code === 0 && r.stdout === 'tok-1' ? true : undefined;
    }, 20_000);
    const rm = await n1.d.docker(['stack', 'rm', 'shop']);
    assert.equal(rm.code, 0, rm.stderr + rm.stdout);
    assert.equal((await n1.d.docker(['network', 'ls', '--filter', 'name=shop_', '-q'])).stdout.trim(), '');
    assert.deepEqual(await json(n1, 'GET', '/secrets'), []);
    assert.deepEqual(((await json(n1, 'GET', '/services')) as { Spec: { Name: string } }[]).filter((x) => x.Spec.Name.startsWith('shop_')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the network is refused for removal while a service uses it, and leaves every node after', async () => {
  const refused = await n1.d.api('DELETE', '/networks/appnet');
  assert.equal(refused.status, 403, refused.body);
  assert.match(refused.json().message, /is in use by service/);
  const id = (await json(n1, 'GET', '/networks/appnet')).Id as string;
  await json(n1, 'DELETE', '/services/web');
  await until('the network removable', async () => ((await n1.d.api('DELETE', '/networks/appnet')).status === 204 ? true : undefined), 20_000);
  for (const n of lab.nodes) {
    await until(`the overlay gone from ${n.addr}`, async () => {
      const links = execFileSync('nsenter', [`--net=/run/netns/${n.d.netns}`, 'ip', '-o', 'link', 'show']).toString();
      const nets = (await json(n, 'GET', '/networks')) as { Id: string }[];
      return links.includes(id.slice(0, 12)) || nets.some((x) => x.Id === id) ? undefined : true;
    }, 15_000);
  }
});

test('a manager whose join fails (its etcd cannot start) leaves the cluster as it was, and can join after', async () => {
  const n4 = await lab.addNode();
  // something of the test's own holds the etcd peer port on the new node
  const blocker = spawn('nsenter', [`--net=/run/netns/${n4.d.netns}`, process.execPath, '-e', `require('net').createServer().listen(2380, '${n4.addr}', () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      blocker.stdout!.once('data', () => resolve());
      blocker.once('exit', (c) => reject(new Error(`the port blocker exited (${c})`)));
    });
    const tokens = (await json(n1, 'GET', '/swarm')).JoinTokens;
    const join = (token: string) => n4.d.api('POST', '/swarm/join', { RemoteAddrs: [`${n1.addr}:2377`], JoinToken: token, AdvertiseAddr: n4.addr, ListenAddr: '0.0.0.0:2377' });
    const failed = await join(tokens.Manager);
    assert.ok(failed.status >= 400, `the join failed: ${failed.status} ${failed.body}`);
    assert.match(failed.body, /etcd did not start/);
    assert.equal((await json(n4, 'GET', '/info')).Swarm.LocalNodeState, 'inactive');
    // the lone manager still has its quorum: it takes changes, and keeps no learner behind
    const svc = await n1.d.api('POST', '/services/create', { Name: 'after', TaskTemplate: { ContainerSpec: { Image: 'busybox', Args: ['sleep', '100000'] } } });
    assert.equal(svc.status, 201, svc.body);
    await running('after', 1);
    await json(n1, 'DELETE', '/services/after');
  } finally {
    blocker.kill('SIGKILL');
  }
  await until('the port free again', async () => {
    const r = execFileSync('nsenter', [`--net=/run/netns/${n4.d.netns}`, 'ss', '-Htln', 'sport = :2380']).toString();
    return r.trim() === '' ? true : undefined;
  }, 5000);
  const tokens = (await json(n1, 'GET', '/swarm')).JoinTokens;
  await json(n4, 'POST', '/swarm/join', { RemoteAddrs: [`${n1.addr}:2377`], JoinToken: tokens.Manager, AdvertiseAddr: n4.addr, ListenAddr: '0.0.0.0:2377' });
  await until('two reachable managers', async () => {
    const list = (await json(n4, 'GET', '/nodes')) as { Spec: { Role: string }; ManagerStatus?: { Reachability: string } }[];
    return list.filter((x) => x.Spec.Role === 'manager' && x.ManagerStatus?.Reachability === 'reachable').length === 2 ? true : undefined;
  }, 30_000);
});
