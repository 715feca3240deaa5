/**
 * Swarm mode through the Engine API as SDKs drive it (docker-py's suite), on one node:
 * what `swarm init` is given (address pools, subnet size, data path port) is kept and used,
 * a node's version stays put once init has answered, service specs are kept as sent (the
 * defaults only on request), network attachment options are kept, and templated configs
 * are rendered into the task as Docker renders them.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { TestDaemon } from '../helpers/daemon';
import { sleep, until } from '../helpers/wait';

let d: TestDaemon;

async function json(method: string, url: string, body?: unknown, status = 200): Promise<any> {
  const r = await d.api(method, url, body);
  assert.equal(r.status, status, `${method} ${url}: ${r.body}`);
  return r.body ? r.json() : undefined;
}

before(async () => {
  d = await TestDaemon.start();
});

after(async () => {
  await d?.api('POST', '/swarm/leave?force=1').catch(() => undefined);
  await d?.cleanup();
});

test('swarm init refuses a data path port out of range, in Docker\'s words', async () => {
  const r = await d.api('POST', '/swarm/init', { ListenAddr: '0.0.0.0:2377', AdvertiseAddr: '127.0.0.1', DataPathPort: 80 });
  assert.equal(r.status, 400, r.body);
  assert.match(r.json().message, /Datapath port number is not in valid range \(1024-49151\) : 80/);
});

test('swarm init keeps DefaultAddrPool, SubnetSize and DataPathPort; the node\'s version is stable once init answers', async () => {
  const nodeId = await json('POST', '/swarm/init', { ListenAddr: '0.0.0.0:2377', AdvertiseAddr: '127.0.0.1', DefaultAddrPool: ['10.123.0.0/16', '10.124.0.0/16'], SubnetSize: 26, DataPathPort: 7777 });
  // docker-py reads the node and updates it with that version: the leader's first writes
  // (the node's state, its leadership) came before init answered, none follows
  const node = await json('GET', `/nodes/${nodeId}`);
  assert.equal(node.ManagerStatus.Leader, true);
  assert.equal(node.Status.State, 'ready');
  for (let i = 0; i < 5; i++) {
    await sleep(200); // a window to watch, not a condition to wait for: nothing may write the node in it
    assert.equal((await json('GET', `/nodes/${nodeId}`)).Version.Index, node.Version.Index, 'the node changed by itself after init');
  }
  await json('POST', `/nodes/${nodeId}/update?version=${node.Version.Index}`, { ...node.Spec, Labels: { foo: 'bar' } });
  assert.deepEqual((await json('GET', `/nodes/${nodeId}`)).Spec.Labels, { foo: 'bar' });

  const swarm = await json('GET', '/swarm');
  assert.deepEqual(swarm.DefaultAddrPool, ['10.123.0.0/16', '10.124.0.0/16']);
  assert.equal(swarm.SubnetSize, 26);
  assert.equal(swarm.DataPathPort, 7777);
});

test('overlays take /SubnetSize subnets from the pool, the ingress network the first; their VXLAN devices use the data path port', async () => {
  const ingress = await json('GET', '/networks/ingress');
  assert.equal(ingress.IPAM.Config[0].Subnet, '10.123.0.0/26');
  const net = await json('POST', '/networks/create', { Name: 'poolnet', Driver: 'overlay' }, 201);
  const inspect = await json('GET', `/networks/${net.Id}`);
  assert.equal(inspect.IPAM.Config[0].Subnet, '10.123.0.64/26');

  const svc = await json('POST', '/services/create', { Name: 'onpool', TaskTemplate: { ContainerSpec: { Image: 'busybox', Command: ['sleep', '300'] }, Networks: [{ Target: 'poolnet' }] } }, 201);
  try {
    await until('a running task of onpool', async () => {
      const tasks = (await json('GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: ['onpool'] }))}`)) as { Status: { State: string } }[];
      return tasks.some((t) => t.Status.State === 'running') ? true : undefined;
    }, 60_000);
    const link = JSON.parse(execFileSync('nsenter', [`--net=/run/netns/${d.netns}`, 'ip', '-d', '-j', 'link', 'show', `vx-${net.Id.slice(0, 12)}`]).toString()) as { linkinfo: { info_data: { port: number } } }[];
    assert.equal(link[0].linkinfo.info_data.port, 7777);
  } finally {
    await d.api('DELETE', `/services/${svc.ID}`);
  }
});

test('the swarm has its ingress network; one only: another is refused until it is removed, and it cannot go while a service publishes a port', async () => {
  const ingress = await json('GET', '/networks/ingress');
  assert.equal(ingress.Ingress, true);
  assert.equal(ingress.Scope, 'swarm');
  assert.equal(ingress.Driver, 'overlay');
  assert.equal(ingress.Options['com.docker.network.driver.overlay.vxlanid_list'], '4096');
  const listed = (await json('GET', '/networks')) as { Name: string; Ingress: boolean }[];
  assert.deepEqual(listed.filter((n) => n.Ingress).map((n) => n.Name), ['ingress']);

  const second = await d.api('POST', '/networks/create', { Name: 'ingress-x', Driver: 'overlay', Ingress: true });
  assert.equal(second.status, 409, second.body);
  assert.equal(second.json().message, `rpc error: code = AlreadyExists desc = ingress network (${ingress.Id}) is already present`);

  const svc = await json('POST', '/services/create', { Name: 'publisher', TaskTemplate: { ContainerSpec: { Image: 'busybox', Command: ['sleep', '300'] } }, EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 18080 }] } }, 201);
  try {
    const held = await d.api('DELETE', '/networks/ingress');
    assert.equal(held.status, 403, held.body);
    assert.match(held.json().message, new RegExp(`ingress network cannot be removed because service ${svc.ID} depends on it`));
  } finally {
    await d.api('DELETE', `/services/${svc.ID}`);
  }
  await json('DELETE', '/networks/ingress', undefined, 204);
  // the docker CLI, as a user makes a new one
  const made = await d.docker(['network', 'create', '--ingress', '-d', 'overlay', 'ingress-x']);
  assert.equal(made.code, 0, made.stderr);
  const x = await json('GET', '/networks/ingress-x');
  assert.equal(x.Ingress, true);
  assert.equal((await d.docker(['network', 'inspect', '-f', '{{.Ingress}}', 'ingress-x'])).stdout.trim(), 'true');
  await json('DELETE', '/networks/ingress-x', undefined, 204);
  // and back as it was, for the tests after
  const back = await json('POST', '/networks/create', { Name: 'ingress', Driver: 'overlay', Ingress: true }, 201);
  assert.equal((await json('GET', `/networks/${back.Id}`)).Ingress, true);
});

test('an ingress network is refused without a swarm', async () => {
  const other = await TestDaemon.start();
  try {
    const r = await other.docker(['network', 'create', '--ingress', '-d', 'overlay', 'ingress-x']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /This node is not a swarm manager/);
  } finally {
    await other.cleanup();
  }
});

test('a service\'s spec is kept as sent; insertDefaults=true shows Docker\'s defaults', async () => {
  const svc = await json('POST', '/services/create', { Name: 'plain', TaskTemplate: { ContainerSpec: { Image: 'busybox', Command: ['sleep', '300'] } }, Mode: { Replicated: { Replicas: 0 } } }, 201);
  try {
    const plain = await json('GET', `/services/${svc.ID}`);
    assert.equal(plain.Spec.RollbackConfig, undefined);
    assert.equal(plain.Spec.UpdateConfig, undefined);
    const full = await json('GET', `/services/${svc.ID}?insertDefaults=true`);
    const update = { Parallelism: 1, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'stop-first' };
    assert.deepEqual(full.Spec.RollbackConfig, update);
    assert.deepEqual(full.Spec.UpdateConfig, update);
    assert.deepEqual(full.Spec.TaskTemplate.RestartPolicy, { Condition: 'any', Delay: 5e9, MaxAttempts: 0 });
    assert.equal(full.Spec.TaskTemplate.ContainerSpec.StopGracePeriod, 10e9);
    assert.deepEqual(full.Spec.TaskTemplate.ContainerSpec.Command, ['sleep', '300']);
  } finally {
    await d.api('DELETE', `/services/${svc.ID}`);
  }
});

test('a network attachment keeps its DriverOpts', async () => {
  const net = await json('POST', '/networks/create', { Name: 'optsnet', Driver: 'overlay' }, 201);
  const svc = await json('POST', '/services/create', {
    Name: 'withopts',
    TaskTemplate: { ContainerSpec: { Image: 'busybox', Command: ['true'] }, Networks: [{ Target: 'optsnet', Aliases: ['optsalias'], DriverOpts: { foo: 'bar' } }] },
    Mode: { Replicated: { Replicas: 0 } },
  }, 201);
  try {
    const spec = (await json('GET', `/services/${svc.ID}`)).Spec;
    assert.deepEqual(spec.TaskTemplate.Networks, [{ Target: net.Id, Aliases: ['optsalias'], DriverOpts: { foo: 'bar' } }]);
  } finally {
    await d.api('DELETE', `/services/${svc.ID}`);
  }
});

test('a templated config keeps its Templating and is rendered into the task as Docker renders it', async () => {
  const template = '{{ .Service.Name }} {{ .Task.Name }} {{ .Task.Slot }} {{ .Node.Hostname }} {{ env "GREETING" }} {{ config "plainconf" }}';
  const cfg = await json('POST', '/configs/create', { Name: 'tplconf', Data: Buffer.from(template).toString('base64'), Templating: { Name: 'golang' } }, 201);
  const plain = await json('POST', '/configs/create', { Name: 'plainconf', Data: Buffer.from('{{ not rendered }}').toString('base64') }, 201);
  assert.deepEqual((await json('GET', `/configs/${cfg.ID}`)).Spec.Templating, { Name: 'golang' });
  const bad = await d.api('POST', '/configs/create', { Name: 'badtpl', Data: 'eA==', Templating: { Name: 'jinja' } });
  assert.equal(bad.status, 400, bad.body);

  const svc = await json('POST', '/services/create', {
    Name: 'tpl',
    TaskTemplate: {
      ContainerSpec: {
        Image: 'busybox',
        Command: ['sleep', '300'],
        Env: ['GREETING=hello'],
        Configs: [
          { ConfigID: cfg.ID, ConfigName: 'tplconf', File: { Name: '/tpl.txt', UID: '0', GID: '0', Mode: 0o444 } },
          { ConfigID: plain.ID, ConfigName: 'plainconf', File: { Name: '/plain.txt', UID: '0', GID: '0', Mode: 0o444 } },
        ],
      },
    },
  }, 201);
  try {
    const task = await until('a running task of tpl', async () => {
      const tasks = (await json('GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: ['tpl'] }))}`)) as { ID: string; NodeID: string; Status: { State: string; ContainerStatus?: { ContainerID: string } } }[];
      return tasks.find((t) => t.Status.State === 'running');
    }, 60_000);
    const node = await json('GET', `/nodes/${task.NodeID}`);
    const cat = await d.docker(['exec', task.Status.ContainerStatus!.ContainerID, 'cat', '/tpl.txt', '/plain.txt']);
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, `tpl tpl.1.${task.ID} 1 ${node.Description.Hostname} hello {{ not rendered }}{{ not rendered }}`);
  } finally {
    await d.api('DELETE', `/services/${svc.ID}`);
  }
});

interface JobTask { ID: string; Slot?: number; NodeID: string; DesiredState: string; JobIteration?: { Index: number }; Status: { State: string } }

async function tasksOf(service: string): Promise<JobTask[]> {
  return json('GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`);
}

async function statusOf(name: string): Promise<{ RunningTasks: number; DesiredTasks: number; CompletedTasks: number }> {
  const all = (await json('GET', '/services?status=true')) as { Spec: { Name: string }; ServiceStatus: { RunningTasks: number; DesiredTasks: number; CompletedTasks: number } }[];
  return all.find((s) => s.Spec.Name === name)!.ServiceStatus;
}

test('a replicated job runs its tasks to TotalCompletions, at most MaxConcurrent at once; an update runs it again', async () => {
  const svc = await json('POST', '/services/create', {
    Name: 'repjob',
    TaskTemplate: { ContainerSpec: { Image: 'busybox', Command: ['sh', '-c', 'sleep 0.5'] } },
    Mode: { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 3 } },
  }, 201);
  try {
    const created = await json('GET', `/services/${svc.ID}`);
    assert.deepEqual(created.Spec.Mode, { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 3 } });
    assert.equal(created.JobStatus.JobIteration.Index, 0);
    assert.ok(Date.parse(created.JobStatus.LastExecution) > 0, created.JobStatus.LastExecution);
    let most = 0;
    await until('3 completed tasks of repjob', async () => {
      const tasks = await tasksOf('repjob');
      // counted by what the tasks report: a task that has completed may still be desired running
      // for a moment (below), while the next one starts in its place
      most = Math.max(most, tasks.filter((t) => t.DesiredState === 'running' && !['complete', 'failed', 'shutdown', 'rejected'].includes(t.Status.State)).length);
      // the orchestrator marks a completed task's desired state a moment after the task reports it
      return tasks.filter((t) => t.Status.State === 'complete' && t.DesiredState === 'shutdown').length >= 3 ? tasks : undefined;
    }, 60_000);
    assert.ok(most <= 2, `at most MaxConcurrent tasks at once, saw ${most}`);
    const tasks = await tasksOf('repjob');
    assert.equal(tasks.length, 3, 'no task beyond TotalCompletions');
    assert.deepEqual(tasks.map((t) => [t.Status.State, t.DesiredState, t.JobIteration?.Index]), Array(3).fill(['complete', 'shutdown', 0]));
    assert.deepEqual(tasks.map((t) => t.Slot).sort(), [1, 2, 3]);
    assert.deepEqual(await statusOf('repjob'), { RunningTasks: 0, DesiredTasks: 0, CompletedTasks: 3 });

    // as Docker's: updating a job runs it again, as a new iteration
    const r = await d.api('POST', `/services/${svc.ID}/update?version=${created.Version.Index}`, { ...created.Spec, Mode: { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } } });
    assert.equal(r.status, 200, r.body);
    const updated = await json('GET', `/services/${svc.ID}`);
    assert.equal(updated.JobStatus.JobIteration.Index, 1);
    await until('a completed task of the second iteration', async () => ((await tasksOf('repjob')).some((t) => t.JobIteration?.Index === 1 && t.Status.State === 'complete') ? true : undefined), 60_000);
    assert.equal((await statusOf('repjob')).CompletedTasks, 1);
  } finally {
    await d.api('DELETE', `/services/${svc.ID}`);
  }
});

test('a failed job task is retried; a global job runs once on the node; a job cannot become a service', async () => {
  // fails until its second try: the marker file lives on the host bind mount
  const dir = execFileSync('mktemp', ['-d', '/tmp/berth-job-XXXXXX']).toString().trim();
  const svc = await json('POST', '/services/create', {
    Name: 'retryjob',
    TaskTemplate: {
      ContainerSpec: { Image: 'busybox', Command: ['sh', '-c', 'test -e /m/tried || { touch /m/tried; exit 3; }'], Mounts: [{ Type: 'bind', Source: dir, Target: '/m' }] },
      RestartPolicy: { Delay: 0 },
    },
    Mode: { ReplicatedJob: {} },
  }, 201);
  const global = await json('POST', '/services/create', { Name: 'gjob', TaskTemplate: { ContainerSpec: { Image: 'busybox', Command: ['true'] } }, Mode: { GlobalJob: {} } }, 201);
  try {
    assert.deepEqual((await json('GET', `/services/${svc.ID}`)).Spec.Mode, { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } });
    const tasks = await until('retryjob completed after a failure', async () => {
      const ts = await tasksOf('retryjob');
      return ts.some((t) => t.Status.State === 'complete') ? ts : undefined;
    }, 60_000);
    assert.deepEqual(tasks.map((t) => t.Status.State).sort(), ['complete', 'failed']);
    await until('gjob completed on the node', async () => ((await tasksOf('gjob')).some((t) => t.Status.State === 'complete') ? true : undefined), 60_000);
    assert.equal((await tasksOf('gjob')).length, 1, 'once, not again');
    assert.deepEqual(await statusOf('gjob'), { RunningTasks: 0, DesiredTasks: 0, CompletedTasks: 1 });
    const g = await json('GET', `/services/${global.ID}`);
    const change = await d.api('POST', `/services/${global.ID}/update?version=${g.Version.Index}`, { ...g.Spec, Mode: { Global: {} } });
    assert.equal(change.status, 400, change.body);
    assert.match(change.body, /service mode change is not allowed/);
  } finally {
    await d.api('DELETE', `/services/${svc.ID}`);
    await d.api('DELETE', `/services/${global.ID}`);
    execFileSync('rm', ['-rf', dir]);
  }
});

test('jobs through the CLIs: --mode replicated-job --max-concurrent, --mode global-job; service ls shows completions as docker does', async () => {
  const created = await d.docker(['service', 'create', '--detach', '--name', 'clijob', '--mode', 'replicated-job', '--max-concurrent', '2', '--replicas', '3', 'busybox', 'true']);
  assert.equal(created.code, 0, created.stderr);
  const own = await d.berth(['service', 'create', '--detach', '--name', 'berthjob', '--mode', 'global-job', 'busybox', 'true']);
  assert.equal(own.code, 0, own.stderr);
  try {
    const spec = (await json('GET', '/services/clijob')).Spec;
    assert.deepEqual(spec.Mode, { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 3 } });
    const berthSpec = (await json('GET', '/services/berthjob')).Spec;
    assert.deepEqual(berthSpec.Mode, { GlobalJob: {} });
    const ls = await until('both jobs completed in service ls', async () => {
      const r = await d.docker(['service', 'ls', '--format', '{{.Name}} {{.Mode}} {{.Replicas}}']);
      if (r.stdout.includes('clijob replicated job 0/0 (3/3 completed)') && r.stdout.includes('berthjob global job 0/0 (1/1 completed)')) return r.stdout;
      throw new Error(r.stdout + r.stderr);
    }, 60_000);
    const mine = await d.berth(['service', 'ls', '--format', '{{.Name}} {{.Mode}} {{.Replicas}}']);
    assert.equal(mine.stdout.split('\n').filter((l) => l.includes('job')).sort().join('\n'), ls.split('\n').filter((l) => l.includes('job')).sort().join('\n'));
    const scale = await d.docker(['service', 'scale', 'berthjob=2']);
    assert.notEqual(scale.code, 0);
    assert.match(scale.stderr, /scale can only be used with replicated or replicated-job mode/);
    const wrong = await d.berth(['service', 'create', '--detach', '--max-concurrent', '2', 'busybox', 'true']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /max-concurrent can only be used with replicated-job mode/);
  } finally {
    await d.api('DELETE', '/services/clijob');
    await d.api('DELETE', '/services/berthjob');
  }
});
