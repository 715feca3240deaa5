/**
 * Swarm mode with four berthd nodes on one machine (three managers, one worker), each in a
 * network namespace of its own on a bridge the test made: init, join, placement spread,
 * scale, drain, a node killed (its tasks come back elsewhere, and it runs no stale tasks
 * when it returns), the leader killed (the other managers go on), and Docker's refusals.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { labEtcd, labEtcdToken, labJson, SwarmLab, type LabNode } from '../helpers/swarm-lab';
import { until } from '../helpers/wait';

let lab: SwarmLab;
let n1: LabNode, n2: LabNode, n3: LabNode, n4: LabNode;


const json = labJson;

interface TaskView {
  ID: string;
  NodeID?: string;
  Slot?: number;
  DesiredState: string;
  Status: { State: string; Err?: string };
}

async function runningTasks(n: LabNode, service: string): Promise<TaskView[]> {
  const filters = encodeURIComponent(JSON.stringify({ service: [service], 'desired-state': ['running'] }));
  const tasks = (await json(n, 'GET', `/tasks?filters=${filters}`)) as TaskView[];
  return tasks.filter((t) => t.Status.State === 'running');
}

/** Waits until `count` tasks of the service run; returns them. */
function converged(n: LabNode, service: string, count: number, timeoutMs = 30_000): Promise<TaskView[]> {
  return until(`${count} running tasks of ${service}`, async () => {
    const running = await runningTasks(n, service);
    return running.length === count ? running : undefined;
  }, timeoutMs);
}

function spread(tasks: TaskView[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of tasks) m.set(t.NodeID!, (m.get(t.NodeID!) ?? 0) + 1);
  return m;
}

/** Containers of a service a node runs, by its own API. */
async function localTaskContainers(n: LabNode, service: string): Promise<{ Id: string; Labels: Record<string, string> }[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`com.docker.swarm.service.name=${service}`], status: ['running'] }));
  return json(n, 'GET', `/containers/json?filters=${filters}`);
}

before(async () => {
  lab = await SwarmLab.start(4);
  [n1, n2, n3, n4] = lab.nodes;
});

after(async () => {
  await lab?.cleanup();
});

test('init, join as managers and as a worker; the managers see four ready nodes and one leader', async () => {
  const id = await json(n1, 'POST', '/swarm/init', { ListenAddr: '0.0.0.0:2377', AdvertiseAddr: n1.addr });
  assert.match(id, /^[a-z0-9]{25}$/);
  const swarm = await json(n1, 'GET', '/swarm');
  assert.match(swarm.JoinTokens.Worker, /^SWMTKN-1-/);
  assert.notEqual(swarm.JoinTokens.Worker, swarm.JoinTokens.Manager);

  const wrong = await n4.d.api('POST', '/swarm/join', { RemoteAddrs: [`${n1.addr}:2377`], JoinToken: swarm.JoinTokens.Worker.replace(/.{5}$/, 'aaaaa'), AdvertiseAddr: n4.addr, ListenAddr: '0.0.0.0:2377' });
  assert.equal(wrong.status, 400, wrong.body);
  assert.match(wrong.json().message, /A valid join token is necessary to join this cluster/);

  for (const n of [n2, n3]) await json(n, 'POST', '/swarm/join', { RemoteAddrs: [`${n1.addr}:2377`], JoinToken: swarm.JoinTokens.Manager, AdvertiseAddr: n.addr, ListenAddr: '0.0.0.0:2377' });
  await json(n4, 'POST', '/swarm/join', { RemoteAddrs: [`${n1.addr}:2377`], JoinToken: swarm.JoinTokens.Worker, AdvertiseAddr: n4.addr, ListenAddr: '0.0.0.0:2377' });

  const nodes = await until('four ready nodes', async () => {
    const list = (await json(n1, 'GET', '/nodes')) as { ID: string; Status: { State: string; Addr: string }; Spec: { Role: string }; ManagerStatus?: { Leader?: boolean } }[];
    return list.length === 4 && list.every((x) => x.Status.State === 'ready') ? list : undefined;
  });
  assert.deepEqual(nodes.map((x) => x.Spec.Role).sort(), ['manager', 'manager', 'manager', 'worker']);
  assert.equal(nodes.filter((x) => x.ManagerStatus?.Leader).length, 1);
  assert.deepEqual(nodes.map((x) => x.Status.Addr).sort(), [n1.addr, n2.addr, n3.addr, n4.addr].sort());
  const info = await json(n4, 'GET', '/info');
  assert.equal(info.Swarm.LocalNodeState, 'active');
  assert.equal(info.Swarm.ControlAvailable, false);
  const worker = await n4.d.api('GET', '/nodes');
  assert.equal(worker.status, 503);
  assert.match(worker.json().message, /This node is not a swarm manager/);
  // the docker CLI and berth's read the same
  const dockerNodes = await n1.d.docker(['node', 'ls', '--format', '{{.Hostname}} {{.Status}} {{.ManagerStatus}}']);
  assert.equal(dockerNodes.code, 0, dockerNodes.stderr);
  assert.equal(dockerNodes.stdout.trim().split('\n').length, 4);
  assert.equal(dockerNodes.stdout.split('\n').filter((l) => / Ready Leader$/.test(l)).length, 1);
  const berthNodes = await n2.d.berth(['node', 'ls']);
  assert.equal(berthNodes.code, 0, berthNodes.stderr);
  assert.match(berthNodes.stdout, /^ID\s+HOSTNAME\s+STATUS\s+AVAILABILITY\s+MANAGER STATUS\s+ENGINE VERSION\n/);
  assert.equal((berthNodes.stdout.match(/ Ready /g) ?? []).length, 4);
  const again = await n2.d.api('POST', '/swarm/init', { AdvertiseAddr: n2.addr });
  assert.equal(again.status, 503);
  assert.match(again.json().message, /already part of a swarm/);
});

/** etcd at the first manager, from a node's namespace (swarm-lab.ts). */
const etcdFrom = (n: LabNode, path: string, body: unknown, o: { token?: string; named?: boolean } = {}) => labEtcd(n, n1.addr, path, body, o);
const etcdToken = (n: LabNode, nodeId: string) => labEtcdToken(n, n1.addr, nodeId);

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('etcd access control: a worker reads the cluster and writes its tasks, never the secrets; managers read them', async () => {
  const nodes = (await json(n1, 'GET', '/nodes')) as { ID: string; Status: { Addr: string } }[];
  const idOf = (n: LabNode) => nodes.find((x) => x.Status.Addr === n.addr)!.ID;
  const worker = etcdToken(n4, idOf(n4));
  const secrets = { key: b64('/berth/secrets/cluster') };
  const denied = etcdFrom(n4, '/v3/kv/range', secrets, { token: worker });
  assert.match(JSON.stringify(denied.body), /permission denied/);
  const nodesRange = etcdFrom(n4, '/v3/kv/range', { key: b64('/berth/swarm/nodes/'), range_end: b64('/berth/swarm/nodes0') }, { token: worker });
  assert.equal(Number(nodesRange.body.count), 4, JSON.stringify(nodesRange.body));
  const write = etcdFrom(n4, '/v3/kv/put', { key: b64(`/berth/swarm/nodes/${idOf(n4)}`), value: b64('{}') }, { token: worker });
  assert.match(JSON.stringify(write.body), /permission denied/);
  // the objects every node reads hold no private key and no join token
  const clusterObject = etcdFrom(n4, '/v3/kv/range', { key: b64('/berth/swarm/cluster') }, { token: worker });
  const text = Buffer.from(clusterObject.body.kvs[0].value, 'base64').toString();
  assert.ok(!/PRIVATE KEY|SWMTKN/.test(text), 'no secret in the cluster object');
  // no token, no access; a named certificate is refused on the JSON gateway, so its name is no way in
  assert.match(JSON.stringify(etcdFrom(n4, '/v3/kv/range', secrets).body), /user name is empty/);
  const named = etcdFrom(n1, '/v3/kv/range', secrets, { named: true });
  assert.equal(named.status, 400);
  // a manager reads the secrets
  const manager = etcdToken(n1, idOf(n1));
  const read = etcdFrom(n1, '/v3/kv/range', secrets, { token: manager });
  assert.equal(Number(read.body.count), 1, JSON.stringify(read.body));
  assert.match(Buffer.from(read.body.kvs[0].value, 'base64').toString(), /PRIVATE KEY/);
});

test('a rotated token no longer admits a node', async () => {
  const old = (await json(n1, 'GET', '/swarm')).JoinTokens.Worker;
  const rotate = await n1.d.docker(['swarm', 'join-token', '--rotate', '-q', 'worker']);
  assert.equal(rotate.code, 0, rotate.stderr);
  const fresh = rotate.stdout.trim();
  assert.match(fresh, /^SWMTKN-1-/);
  assert.notEqual(fresh, old);
  const attempt = (token: string) =>
    execFileSync('nsenter', [`--net=/run/netns/${n4.d.netns}`, 'curl', '-sk', '--max-time', '10', '-X', 'POST', `https://${n1.addr}:2377/join`, '-H', 'Content-Type: application/json', '-d', JSON.stringify({ token, advertiseAddr: '10.9.9.9', hostname: 'x', nanoCPUs: 1e9, memoryBytes: 1e9, engineVersion: 'x' })]).toString();
  assert.match(JSON.parse(attempt(old)).message, /A valid join token is necessary to join this cluster/);
});

test('replicas spread evenly and run as containers on their nodes; scale up and down', async () => {
  const created = await json(n2, 'POST', '/services/create', {
    Name: 'web',
    TaskTemplate: { ContainerSpec: { Image: 'busybox', Args: ['sleep', '100000'] }, RestartPolicy: { Condition: 'any', Delay: 100_000_000 } },
    Mode: { Replicated: { Replicas: 6 } },
  });
  assert.match(created.ID, /^[a-z0-9]{25}$/);
  const tasks = await converged(n1, 'web', 6);
  const counts = [...spread(tasks).values()];
  assert.equal(counts.length, 4);
  assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `spread ${counts}`);
  const nodes = (await json(n1, 'GET', '/nodes')) as { ID: string; Status: { Addr: string } }[];
  for (const n of lab.nodes) {
    const id = nodes.find((x) => x.Status.Addr === n.addr)!.ID;
    const local = await localTaskContainers(n, 'web');
    assert.equal(local.length, tasks.filter((t) => t.NodeID === id).length, `containers on ${n.addr}`);
  }
  const svc = await json(n1, 'GET', '/services/web');
  await json(n1, 'POST', `/services/${svc.ID}/update?version=${svc.Version.Index}`, { ...svc.Spec, Mode: { Replicated: { Replicas: 9 } } });
  const nine = await converged(n3, 'web', 9);
  const c9 = [...spread(nine).values()];
  assert.ok(Math.max(...c9) - Math.min(...c9) <= 1, `spread ${c9}`);
  const stale = await n1.d.api('POST', `/services/${svc.ID}/update?version=${svc.Version.Index}`, svc.Spec);
  assert.equal(stale.status, 400, 'an update with an old version is refused');
  assert.match(stale.json().message, /update out of sequence$/);
  const now = await json(n1, 'GET', '/services/web');
  await json(n1, 'POST', `/services/web/update?version=${now.Version.Index}`, { ...now.Spec, Mode: { Replicated: { Replicas: 4 } } });
  await converged(n1, 'web', 4);
  await until('the other containers gone', async () => {
    let total = 0;
    for (const n of lab.nodes) total += (await localTaskContainers(n, 'web')).length;
    return total === 4 ? true : undefined;
  });
  const ls = await n3.d.berth(['service', 'ls']);
  assert.match(ls.stdout, /\sweb\s+replicated\s+4\/4\s+busybox\s/);
  const dockerPs = await n1.d.docker(['service', 'ps', '--filter', 'desired-state=running', '--format', '{{.Name}} {{.CurrentState}}', 'web']);
  assert.equal(dockerPs.code, 0, dockerPs.stderr);
  assert.equal(dockerPs.stdout.trim().split('\n').filter((l) => /^web\.\d+ Running /.test(l)).length, 4, dockerPs.stdout);
  const listed = await json(n1, 'GET', '/services?status=true');
  assert.deepEqual(listed.map((s: any) => [s.Spec.Name, s.ServiceStatus.RunningTasks, s.ServiceStatus.DesiredTasks]), [['web', 4, 4]]);
});

test('a published port answers on every node and reaches the tasks on any node (the routing mesh)', async () => {
  await json(n1, 'POST', '/services/create', {
    Name: 'site',
    TaskTemplate: { ContainerSpec: { Image: 'busybox', Args: ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www'] } },
    Mode: { Replicated: { Replicas: 2 } },
    EndpointSpec: { Ports: [{ TargetPort: 8080, PublishedPort: 18080 }] },
  });
  const tasks = await converged(n1, 'site', 2);
  assert.equal(new Set(tasks.map((t) => t.NodeID)).size, 2, 'the two replicas run on two nodes');
  const auto = await json(n1, 'POST', '/services/create', { Name: 'auto', TaskTemplate: { ContainerSpec: { Image: 'busybox', Args: ['sleep', '1000'] } }, EndpointSpec: { Ports: [{ TargetPort: 80 }] } });
  const autoSvc = await json(n1, 'GET', `/services/${auto.ID}`);
  assert.equal(autoSvc.Endpoint.Ports[0].PublishedPort, 30000, 'a port from 30000 when none is given');
  const taken = await n1.d.api('POST', '/services/create', { Name: 'clash', TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 18080 }] } });
  assert.equal(taken.status, 400);
  assert.match(taken.json().message, /port '18080' is already in use by another service/);
  // every node answers, from every node's address, with one of the tasks
  const answers = new Set<string>();
  for (const from of lab.nodes) {
    for (const to of lab.nodes) {
      const body = await until(`an answer of ${to.addr}:18080 from ${from.addr}`, async () => {
        try {
          return execFileSync('nsenter', [`--net=/run/netns/${from.d.netns}`, 'curl', '-s', '--max-time', '3', `http://${to.addr}:18080/`]).toString().trim() || undefined;
        } catch {
          return undefined;
        }
      }, 15_000);
      answers.add(body);
    }
  }
  assert.equal(answers.size, 2, `both tasks answered: ${[...answers]}`);
  await json(n1, 'DELETE', '/services/site');
  await json(n1, 'DELETE', '/services/auto');
});

test('service logs gather the tasks\' output from the nodes that run them', async () => {
  await json(n2, 'POST', '/services/create', {
    Name: 'talker',
    TaskTemplate: { ContainerSpec: { Image: 'busybox', Args: ['sh', '-c', 'echo hello from $HOSTNAME; echo oops >&2; sleep 1000'] } },
    Mode: { Replicated: { Replicas: 2 } },
  });
  const tasks = await converged(n1, 'talker', 2);
  assert.equal(new Set(tasks.map((t) => t.NodeID)).size, 2);
  const docker = await until('both tasks in docker service logs', async () => {
    const r = await n1.d.docker(['service', 'logs', 'talker']);
    return (r.stdout.match(/hello from/g) ?? []).length === 2 ? r : undefined;
  });
  for (const t of tasks) assert.match(docker.stdout, new RegExp(`^talker\\.${t.Slot}\\.${t.ID.slice(0, 12)}\\S*@\\S+\\s+\\| hello from `, 'm'));
  assert.equal((docker.stderr.match(/\| oops/g) ?? []).length, 2);
  const mine = await n3.d.berth(['service', 'logs', '--raw', 'talker']);
  assert.equal(mine.code, 0, mine.stderr);
  assert.equal((mine.stdout.match(/^hello from /gm) ?? []).length, 2);
  const one = await n3.d.berth(['service', 'logs', tasks[0].ID]);
  assert.match(one.stdout, new RegExp(`^talker\\.${tasks[0].Slot}\\.${tasks[0].ID.slice(0, 12)}@\\S+\\s+\\| hello from `));
  await json(n1, 'DELETE', '/services/talker');
});

test('a global service runs one task per node; a rolling update goes two at a time and rolls back', async () => {
  await json(n1, 'POST', '/services/create', { Name: 'everywhere', TaskTemplate: { ContainerSpec: { Image: 'busybox', Args: ['sleep', '100000'], StopGracePeriod: 1e9 } }, Mode: { Global: {} } });
  const global = await converged(n1, 'everywhere', 4);
  assert.equal(new Set(global.map((t) => t.NodeID)).size, 4);
  assert.ok(global.every((t) => t.Slot === undefined || t.Slot === 0));
  await json(n1, 'DELETE', '/services/everywhere');

  for (const n of lab.nodes) assert.equal((await n.d.api('POST', '/images/busybox/tag?repo=bb&tag=2')).status, 201);
  await json(n1, 'POST', '/services/create', {
    Name: 'roll',
    TaskTemplate: { ContainerSpec: { Image: 'busybox', Args: ['sleep', '100000'], StopGracePeriod: 1e9 } },
    Mode: { Replicated: { Replicas: 4 } },
    UpdateConfig: { Parallelism: 2, Delay: 1e9, Monitor: 1e9 },
    RollbackConfig: { Parallelism: 0, Monitor: 1e9 },
  });
  await converged(n1, 'roll', 4);
  const update = await n1.d.docker(['service', 'update', '--image', 'bb:2', 'roll']);
  assert.equal(update.code, 0, update.stderr);
  assert.match(update.stdout, /verify: Service roll converged/);
  const all = (await json(n1, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: ['roll'] }))}`)) as (TaskView & { CreatedAt: string; Spec: { ContainerSpec: { Image: string } } })[];
  const fresh = all.filter((t) => t.DesiredState === 'running').sort((a, b) => Date.parse(a.CreatedAt) - Date.parse(b.CreatedAt));
  assert.equal(fresh.length, 4);
  assert.ok(fresh.every((t) => t.Spec.ContainerSpec.Image === 'bb:2'));
  // two batches: the second began at least the update delay after the first
  const gap = Date.parse(fresh[2].CreatedAt) - Date.parse(fresh[1].CreatedAt);
  assert.ok(gap >= 900, `batches ${gap} ms apart`);
  assert.equal(all.filter((t) => t.DesiredState !== 'running' && t.Spec.ContainerSpec.Image === 'busybox').length, 4, 'the old tasks are history');
  const rollback = await n1.d.docker(['service', 'rollback', 'roll']);
  assert.equal(rollback.code, 0, rollback.stderr);
  const back = await converged(n1, 'roll', 4);
  const images = (await json(n1, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: ['roll'], 'desired-state': ['running'] }))}`)) as { Spec: { ContainerSpec: { Image: string } } }[];
  assert.equal(back.length, 4);
  assert.ok(images.every((t) => t.Spec.ContainerSpec.Image === 'busybox'));
  assert.equal((await json(n1, 'GET', '/services/roll')).UpdateStatus.State, 'rollback_completed');
  await json(n1, 'DELETE', '/services/roll');
});

test('a constraint no node satisfies leaves tasks pending with the reason; labels make it placeable', async () => {
  await json(n1, 'POST', '/services/create', {
    Name: 'zoned',
    TaskTemplate: { ContainerSpec: { Image: 'busybox', Args: ['sleep', '100000'] }, Placement: { Constraints: ['node.labels.zone==a'] } },
    Mode: { Replicated: { Replicas: 2 } },
  });
  const pending = await until('a pending task with a reason', async () => {
    const tasks = (await json(n1, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: ['zoned'] }))}`)) as TaskView[];
    return tasks.length === 2 && tasks.every((t) => t.Status.State === 'pending' && t.Status.Err) ? tasks : undefined;
  });
  assert.match(pending[0].Status.Err!, /^no suitable node \(scheduling constraints not satisfied on 4 nodes\)$/);
  const nodes = (await json(n1, 'GET', '/nodes')) as { ID: string; Version: { Index: number }; Spec: Record<string, unknown>; Status: { Addr: string } }[];
  const target = nodes.find((x) => x.Status.Addr === n3.addr)!;
  await json(n1, 'POST', `/nodes/${target.ID}/update?version=${target.Version.Index}`, { ...target.Spec, Labels: { zone: 'a' } });
  const placed = await converged(n1, 'zoned', 2);
  assert.ok(placed.every((t) => t.NodeID === target.ID));
  await json(n1, 'DELETE', '/services/zoned');
  await until('zoned containers gone', async () => ((await localTaskContainers(n3, 'zoned')).length === 0 ? true : undefined));
});

test('an image that cannot be pulled: the task is rejected with the reason and retried', async () => {
  await json(n1, 'POST', '/services/create', {
    Name: 'nopull',
    TaskTemplate: { ContainerSpec: { Image: 'no-such-image:1' }, RestartPolicy: { Condition: 'any', Delay: 300_000_000 } },
    Mode: { Replicated: { Replicas: 1 } },
  });
  const rejected = await until('two rejected attempts', async () => {
    const tasks = (await json(n1, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: ['nopull'] }))}`)) as TaskView[];
    const r = tasks.filter((t) => t.Status.State === 'rejected');
    return r.length >= 2 ? r : undefined;
  });
  assert.ok(rejected.every((t) => t.Status.Err && t.Status.Err.length > 0), JSON.stringify(rejected.map((t) => t.Status.Err)));
  const ps = await n1.d.docker(['service', 'ps', '--no-trunc', '--format', '{{.CurrentState}}|{{.Error}}', 'nopull']);
  assert.match(ps.stdout, /^Rejected .*\|.+$/m);
  await json(n1, 'DELETE', '/services/nopull');
});

test('drain moves a node\'s tasks to the others', async () => {
  const nodes = (await json(n1, 'GET', '/nodes')) as { ID: string; Version: { Index: number }; Spec: Record<string, unknown>; Status: { Addr: string } }[];
  const worker = nodes.find((x) => x.Status.Addr === n4.addr)!;
  const rm = await n1.d.api('DELETE', `/nodes/${worker.ID}`);
  assert.equal(rm.status, 400);
  assert.match(rm.json().message, /is not down and can't be removed/);
  await json(n1, 'POST', `/nodes/${worker.ID}/update?version=${worker.Version.Index}`, { ...worker.Spec, Availability: 'drain' });
  const tasks = await until('web off the drained node', async () => {
    const running = await runningTasks(n1, 'web');
    return running.length === 4 && running.every((t) => t.NodeID !== worker.ID) ? running : undefined;
  });
  assert.equal(tasks.length, 4);
  await until('no web container on the drained node', async () => ((await localTaskContainers(n4, 'web')).length === 0 ? true : undefined));
  const back = (await json(n1, 'GET', `/nodes/${worker.ID}`)) as { Version: { Index: number }; Spec: Record<string, unknown> };
  await json(n1, 'POST', `/nodes/${worker.ID}/update?version=${back.Version.Index}`, { ...back.Spec, Availability: 'active' });
});

test('a node that stops answering has its tasks started elsewhere, and runs no stale task when it returns', async () => {
  const nodes = (await json(n1, 'GET', '/nodes')) as { ID: string; Status: { Addr: string } }[];
  const victimId = nodes.find((x) => x.Status.Addr === n4.addr)!.ID;
  // make sure the victim has work
  const svc = await json(n1, 'GET', '/services/web');
  await json(n1, 'POST', `/services/web/update?version=${svc.Version.Index}`, { ...svc.Spec, Mode: { Replicated: { Replicas: 8 } } });
  const before = await converged(n1, 'web', 8);
  assert.ok(before.some((t) => t.NodeID === victimId), 'the victim runs tasks');
  const killedAt = Date.now();
  await n4.d.stopProcess('SIGKILL');
  const after = await until('8 tasks running away from the lost node', async () => {
    const running = await runningTasks(n1, 'web');
    return running.length === 8 && running.every((t) => t.NodeID !== victimId) ? running : undefined;
  }, 30_000);
  const recovery = Date.now() - killedAt;
  assert.ok(recovery < 15_000, `recovered in ${recovery} ms`);
  assert.equal(after.length, 8);
  // back again: its old containers go, it runs only what it is now given
  await n4.d.startProcess();
  await until('the node ready again', async () => {
    const n = await json(n1, 'GET', `/nodes/${victimId}`);
    return n.Status.State === 'ready' ? true : undefined;
  });
  await until('no stale containers on the returned node', async () => {
    const tasks = await runningTasks(n1, 'web');
    const mine = new Set(tasks.filter((t) => t.NodeID === victimId).map((t) => t.ID));
    const local = await localTaskContainers(n4, 'web');
    return local.every((c) => mine.has(c.Labels['com.docker.swarm.task.id'])) ? true : undefined;
  });
});

test('the leader killed: another manager leads and the cluster still takes changes', async () => {
  const nodes = (await json(n2, 'GET', '/nodes')) as { ID: string; Status: { Addr: string }; ManagerStatus?: { Leader?: boolean } }[];
  const leader = nodes.find((x) => x.ManagerStatus?.Leader)!;
  const leaderNode = lab.nodes.find((n) => n.addr === leader.Status.Addr)!;
  const other = [n1, n2, n3].find((n) => n !== leaderNode)!;
  await leaderNode.d.stopProcess('SIGKILL');
  // its etcd member goes down with it (a manager lost as a whole)
  for (const pid of lab.etcdPids(leaderNode)) process.kill(pid, 'SIGKILL');
  await until('a new leader', async () => {
    const list = (await json(other, 'GET', '/nodes')) as { ID: string; ManagerStatus?: { Leader?: boolean } }[];
    return list.some((x) => x.ManagerStatus?.Leader && x.ID !== leader.ID) ? true : undefined;
  });
  const svc = await json(other, 'GET', '/services/web');
  await json(other, 'POST', `/services/web/update?version=${svc.Version.Index}`, { ...svc.Spec, Mode: { Replicated: { Replicas: 3 } } });
  await converged(other, 'web', 3);
  await leaderNode.d.startProcess();
});

test('promote a worker to a manager and demote it again', async () => {
  const nodes = (await json(n1, 'GET', '/nodes')) as { ID: string; Status: { Addr: string } }[];
  const workerId = nodes.find((x) => x.Status.Addr === n4.addr)!.ID;
  const promote = await n1.d.docker(['node', 'promote', workerId]);
  assert.equal(promote.code, 0, promote.stderr);
  assert.match(promote.stdout, /promoted to a manager in the swarm/);
  await until('the new manager to take part', async () => {
    const info = await json(n4, 'GET', '/info');
    const node = await json(n1, 'GET', `/nodes/${workerId}`);
    return info.Swarm.ControlAvailable && node.ManagerStatus?.Reachability === 'reachable' ? true : undefined;
  }, 30_000);
  // it answers the cluster's calls now, from its own etcd member, and may read the secrets
  assert.equal((await n4.d.api('GET', '/nodes')).status, 200);
  const secrets = { key: b64('/berth/secrets/cluster') };
  assert.equal(Number(etcdFrom(n4, '/v3/kv/range', secrets, { token: etcdToken(n4, workerId) }).body.count), 1);
  const demote = await n1.d.berth(['node', 'demote', workerId]);
  assert.equal(demote.code, 0, demote.stderr);
  await until('the node to be a worker again', async () => {
    const info = await json(n4, 'GET', '/info');
    const node = await json(n1, 'GET', `/nodes/${workerId}`);
    return !info.Swarm.ControlAvailable && !node.ManagerStatus && node.Spec.Role === 'worker' ? true : undefined;
  }, 30_000);
  assert.equal((await n4.d.api('GET', '/nodes')).status, 503);
  await until('its etcd access back to a worker\'s', async () => (/permission denied/.test(JSON.stringify(etcdFrom(n4, '/v3/kv/range', secrets, { token: etcdToken(n4, workerId) }).body)) ? true : undefined), 15_000);
  // three managers stay; the cluster keeps taking changes
  const svc = await json(n1, 'GET', '/services/web');
  await json(n2, 'POST', `/services/web/update?version=${svc.Version.Index}`, { ...svc.Spec, Mode: { Replicated: { Replicas: 4 } } });
  await converged(n3, 'web', 4);
});

test('losing the majority of managers: changes are refused with the reason, running tasks keep running', async () => {
  const managers = [n1, n2, n3];
  // the previous test restarted a manager: wait until all three answer again
  await until('three reachable managers', async () => {
    const list = (await json(n1, 'GET', '/nodes')) as { Spec: { Role: string }; Status: { State: string } }[];
    return list.filter((x) => x.Spec.Role === 'manager' && x.Status.State === 'ready').length === 3 ? true : undefined;
  }, 30_000);
  // and until the containers of tasks scaled away before have stopped (a stop takes up to 10 s)
  await until('four web containers over the nodes', async () => {
    let total = 0;
    for (const n of lab.nodes) total += (await localTaskContainers(n, 'web')).length;
    return total === 4 ? true : undefined;
  }, 30_000);
  const survivor = managers[2];
  const before = (await localTaskContainers(n4, 'web')).length + (await localTaskContainers(survivor, 'web')).length;
  for (const m of managers.slice(0, 2)) {
    await m.d.stopProcess('SIGKILL');
    for (const pid of lab.etcdPids(m)) process.kill(pid, 'SIGKILL');
  }
  const r = await until('a refusal', async () => {
    const res = await survivor.d.api('GET', '/services/web');
    return res.status === 503 ? res : undefined;
  }, 60_000);
  assert.match(r.json().message, /The swarm does not have a leader\. It's possible that too few managers are online\. Make sure more than half of the managers are online\./);
  const after = (await localTaskContainers(n4, 'web')).length + (await localTaskContainers(survivor, 'web')).length;
  assert.equal(after, before, 'the tasks on the remaining nodes keep running');
});
