/**
 * `berth swarm ...`, `berth node ...` and `berth service ...` run in-process against a
 * fake Engine API on a temp unix socket: the requests they make (method, path, query,
 * body: the ServiceSpec field names of the API, durations in nanoseconds), the tables
 * they print for canned answers, their messages and exit statuses.
 */
import { test, before, after, beforeEach } from 'node:test';
import * as assert from 'node:assert/strict';
import type * as http from 'node:http';
import { FakeEngine, json, noContent, runCli } from '../helpers/fake-engine';
import { encodeFrame } from '../../src/client/frames';

const engine = new FakeEngine('berth-cli-swarm-');
const { seen, answers } = engine;

before(() => engine.listen());
after(() => engine.stop());
beforeEach(() => engine.reset());

const berth = (args: string[], env: Record<string, string> = {}) => runCli(['-H', engine.host, ...args], { env });
const calls = () => seen.map((s) => `${s.method} ${s.url}`);
const find = (method: string, prefix: string) => seen.find((s) => s.method === method && s.url.startsWith(prefix));
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

const SVC_ID = 'kq2sbm8t3o2ntkdh9t4sfo6lr';

// ---------------------------------------------------------------- service create

test('service create -d: the ServiceSpec docker would send, durations in ns, sizes in bytes, CPUs in nano-CPUs', async () => {
  answers['POST /services/create'] = (_s, res) => json(res, 201, { ID: SVC_ID, Warnings: null });
  const r = await berth([
    'service', 'create', '-d', '--name', 'web', '--replicas', '3',
    '-e', 'A=1', '--env', 'B=two words', '--label', 'tier=front', '--container-label', 'c=1',
    '--constraint', 'node.labels.zone==a', '--placement-pref', 'spread=node.labels.rack',
    '--restart-condition', 'on-failure', '--restart-delay', '2s', '--restart-max-attempts', '4', '--restart-window', '1m30s',
    '--update-parallelism', '2', '--update-delay', '10s', '--update-failure-action', 'rollback', '--update-order', 'start-first',
    '--rollback-parallelism', '0', '--rollback-delay', '500ms',
    '--reserve-memory', '64m', '--reserve-cpu', '0.25', '--limit-cpu', '0.5', '--limit-memory', '1g',
    '-p', '8080:80', '--publish', 'mode=host,target=53,published=5353,protocol=udp', '-p', '9000',
    '--network', 'backend', '--network', 'name=front,alias=web1',
    '--mount', 'type=volume,source=data,target=/data', '--mount', 'type=bind,src=/etc/hosts,dst=/h,readonly',
    '--hostname', 'web-host', '--workdir', '/srv', '--user', 'nobody', '--entrypoint', 'sh -c',
    '--health-cmd', 'true', '--health-interval', '5s', '--health-retries', '3',
    '--stop-grace-period', '20s',
    'busybox:1.36', 'sleep', '10',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${SVC_ID}\n`);
  assert.deepEqual(calls(), ['POST /services/create']);
  assert.deepEqual(JSON.parse(seen[0].body), {
    Name: 'web',
    Labels: { tier: 'front' },
    TaskTemplate: {
      ContainerSpec: {
        Image: 'busybox:1.36',
        Command: ['sh', '-c'],
        Args: ['sleep', '10'],
        Env: ['A=1', 'B=two words'],
        Labels: { c: '1' },
        Mounts: [
          { Type: 'volume', Source: 'data', Target: '/data' },
          { Type: 'bind', Source: '/etc/hosts', Target: '/h', ReadOnly: true },
        ],
        Hostname: 'web-host',
        Dir: '/srv',
        User: 'nobody',
        StopGracePeriod: 20e9,
        Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 5e9, Retries: 3 },
      },
      Placement: { Constraints: ['node.labels.zone==a'], Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.rack' } }] },
      Networks: [{ Target: 'backend' }, { Target: 'front', Aliases: ['web1'] }],
      Resources: { Limits: { NanoCPUs: 5e8, MemoryBytes: 1024 ** 3 }, Reservations: { NanoCPUs: 2.5e8, MemoryBytes: 64 * 1024 ** 2 } },
      RestartPolicy: { Condition: 'on-failure', Delay: 2e9, MaxAttempts: 4, Window: 90e9 },
    },
    Mode: { Replicated: { Replicas: 3 } },
    UpdateConfig: { Parallelism: 2, Delay: 10e9, FailureAction: 'rollback', MaxFailureRatio: 0, Order: 'start-first' },
    RollbackConfig: { Parallelism: 0, Delay: 5e8, FailureAction: 'pause', MaxFailureRatio: 0, Order: 'stop-first' },
    EndpointSpec: {
      Mode: 'vip',
      Ports: [
        { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' },
        { Protocol: 'udp', TargetPort: 53, PublishedPort: 5353, PublishMode: 'host' },
        { Protocol: 'tcp', TargetPort: 9000, PublishMode: 'ingress' },
      ],
    },
  });
});

test('service create: the smallest spec, global mode, and the refusals made before asking', async () => {
  answers['POST /services/create'] = (_s, res) => json(res, 201, { ID: SVC_ID, Warnings: ['image busybox could not be accessed on a registry'] });
  const r = await berth(['service', 'create', '-d', '--mode', 'global', 'busybox']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${SVC_ID}\n`);
  assert.equal(r.stderr, 'image busybox could not be accessed on a registry\n');
  assert.deepEqual(JSON.parse(seen[0].body), {
    TaskTemplate: { ContainerSpec: { Image: 'busybox' } },
    Mode: { Global: {} },
    UpdateConfig: { Parallelism: 1, FailureAction: 'pause', MaxFailureRatio: 0, Order: 'stop-first' },
    RollbackConfig: { Parallelism: 1, FailureAction: 'pause', MaxFailureRatio: 0, Order: 'stop-first' },
    EndpointSpec: { Mode: 'vip' },
  });
  seen.length = 0;

  const g = await berth(['service', 'create', '-d', '--mode', 'global', '--replicas', '2', 'busybox']);
  assert.equal(g.code, 1);
  assert.equal(g.stderr, 'replicas can only be used with replicated or replicated-job mode\n');
  const m = await berth(['service', 'create', '-d', '--mode', 'sometimes', 'busybox']);
  assert.equal(m.code, 1);
  assert.equal(m.stderr, 'invalid service mode: sometimes\n');
  const p = await berth(['service', 'create', '-d', '-p', '1.2.3.4:80:80', 'busybox']);
  assert.equal(p.code, 125);
  assert.match(p.stderr, /^invalid argument "1\.2\.3\.4:80:80" for "-p, --publish" flag: hostip is not supported\n/);
  const n = await berth(['service', 'create', '-d', '--replicas', '-1', 'busybox']);
  assert.equal(n.code, 125);
  assert.match(n.stderr, /^invalid argument "-1" for "--replicas" flag: strconv.ParseUint: parsing "-1": invalid syntax\n/);
  assert.equal(seen.length, 0);
});

/** A service whose tasks start running after `after` polls. */
function convergingService(replicas: number, after: number) {
  let polls = 0;
  answers['POST /services/create'] = (_s, res) => json(res, 201, { ID: SVC_ID, Warnings: null });
  answers[`GET /services/${SVC_ID}`] = (_s, res) =>
    json(res, 200, { ID: SVC_ID, Version: { Index: 12 }, Spec: { Name: 'web', Mode: { Replicated: { Replicas: replicas } }, TaskTemplate: { ContainerSpec: { Image: 'busybox' } } } });
  answers['GET /tasks'] = (_s, res) => {
    polls++;
    const state = polls > after ? 'running' : 'preparing';
    json(
      res,
      200,
      Array.from({ length: replicas }, (_, i) => ({ ID: `t${i}`, ServiceID: SVC_ID, Slot: i + 1, DesiredState: 'running', Status: { State: state, Timestamp: ago(0) } })),
    );
  };
}

test('service create without -d waits for the tasks to run and says the service converged', async () => {
  convergingService(2, 2);
  const r = await berth(['service', 'create', '--replicas', '2', 'busybox'], { BERTH_CONVERGE_INTERVAL_MS: '5' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${SVC_ID}\noverall progress: 0 out of 2 tasks\noverall progress: 2 out of 2 tasks\nverify: Service ${SVC_ID} converged\n`);
  const poll = find('GET', '/tasks')!;
  assert.deepEqual(JSON.parse(poll.query.get('filters')!), { service: [SVC_ID], 'desired-state': ['running'], '_up-to-date': ['true'] });
});

test('service create: a service that does not converge in time is exit 1; --quiet hides the progress', async () => {
  convergingService(1, 1000);
  const r = await berth(['service', 'create', 'busybox'], { BERTH_CONVERGE_INTERVAL_MS: '5', BERTH_CONVERGE_TIMEOUT_MS: '40' });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, `${SVC_ID}\noverall progress: 0 out of 1 tasks\n`);
  assert.equal(r.stderr, 'service web did not converge: 0 out of 1 tasks running\n');
  convergingService(1, 0);
  const q = await berth(['service', 'create', '-q', 'busybox'], { BERTH_CONVERGE_INTERVAL_MS: '5' });
  assert.equal(q.code, 0, q.stderr);
  assert.equal(q.stdout, `${SVC_ID}\n`);
});

// ---------------------------------------------------------------- service ls / ps / inspect

test('service ls: docker\'s table, replicas from ServiceStatus, ingress ports, image without its digest', async () => {
  answers['GET /services'] = (_s, res) =>
    json(res, 200, [
      {
        ID: 'zz1ofq1ii8dhtgfnb96p1qevf',
        Spec: { Name: 'web', Mode: { Replicated: { Replicas: 3 } }, TaskTemplate: { ContainerSpec: { Image: 'nginx:alpine@sha256:0123abcd' } } },
        Endpoint: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }, { Protocol: 'udp', TargetPort: 53, PublishedPort: 53, PublishMode: 'host' }] },
        ServiceStatus: { RunningTasks: 2, DesiredTasks: 3 },
      },
      {
        ID: 'aa0p1xbyyvq8n0a4vbf0b9xjw',
        Spec: { Name: 'agent', Mode: { Global: {} }, TaskTemplate: { ContainerSpec: { Image: 'busybox' } } },
        ServiceStatus: { RunningTasks: 4, DesiredTasks: 4 },
      },
    ]);
  const r = await berth(['service', 'ls', '--filter', 'name=web']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    'ID             NAME      MODE         REPLICAS   IMAGE          PORTS\n' +
      'aa0p1xbyyvq8   agent     global       4/4        busybox        \n' +
      'zz1ofq1ii8dh   web       replicated   2/3        nginx:alpine   *:8080->80/tcp\n',
  );
  assert.equal(seen[0].query.get('status'), '1');
  assert.deepEqual(JSON.parse(seen[0].query.get('filters')!), { name: ['web'] });
  const q = await berth(['service', 'ls', '-q']);
  assert.equal(q.stdout, 'aa0p1xbyyvq8\nzz1ofq1ii8dh\n');
  const f = await berth(['service', 'ls', '--format', '{{.Name}}: {{.Replicas}} {{.Mode}}']);
  assert.equal(f.stdout, 'agent: 4/4 global\nweb: 2/3 replicated\n');
});

test('service ls without ServiceStatus counts the running tasks', async () => {
  answers['GET /services'] = (_s, res) => json(res, 200, [{ ID: 'w1', Spec: { Name: 'web', Mode: { Replicated: { Replicas: 2 } }, TaskTemplate: { ContainerSpec: { Image: 'x' } } } }]);
  answers['GET /tasks'] = (_s, res) =>
    json(res, 200, [
      { ID: 'a', ServiceID: 'w1', DesiredState: 'running', Status: { State: 'running' } },
      { ID: 'b', ServiceID: 'w1', DesiredState: 'running', Status: { State: 'starting' } },
      { ID: 'c', ServiceID: 'w1', DesiredState: 'shutdown', Status: { State: 'running' } },
    ]);
  const r = await berth(['service', 'ls', '--format', '{{.Replicas}}']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '1/2\n');
});

function tasksOfWeb(res: http.ServerResponse) {
  json(res, 200, [
    { ID: 'oldtask1xxxxxxxxxxxxxxxxx', ServiceID: SVC_ID, Slot: 1, NodeID: 'n1', DesiredState: 'shutdown', CreatedAt: ago(60_000), Spec: { ContainerSpec: { Image: 'nginx:1.26@sha256:aaaa' } }, Status: { State: 'shutdown', Timestamp: ago(30_500) } },
    { ID: 'newtask1xxxxxxxxxxxxxxxxx', ServiceID: SVC_ID, Slot: 1, NodeID: 'n1', DesiredState: 'running', CreatedAt: ago(30_000), Spec: { ContainerSpec: { Image: 'nginx:1.27@sha256:bbbb' } }, Status: { State: 'running', Timestamp: ago(5_500) } },
    { ID: 'rejected10xxxxxxxxxxxxxxx', ServiceID: SVC_ID, Slot: 10, NodeID: 'n2', DesiredState: 'shutdown', CreatedAt: ago(50_000), Spec: { ContainerSpec: { Image: 'nginx:1.27' } }, Status: { State: 'rejected', Timestamp: ago(45_500), Err: 'No such image: nginx@sha256:6a692a76c2081888b589e26e6ec835743119fe453d67ecf03df7de5b73d69842' } },
    { ID: 'task2xxxxxxxxxxxxxxxxxxxx', ServiceID: SVC_ID, Slot: 2, NodeID: 'n2', DesiredState: 'running', CreatedAt: ago(20_000), Spec: { ContainerSpec: { Image: 'nginx:1.27' } }, Status: { State: 'running', Timestamp: ago(2 * 60_000 + 500), PortStatus: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 30000, PublishMode: 'host' }] } } },
  ]);
}

test('service ps: newest task of a slot first, older ones as "\\_" history, node hostnames, errors quoted and cut', async () => {
  answers['GET /services/web'] = (_s, res) => json(res, 200, { ID: SVC_ID, Version: { Index: 3 }, Spec: { Name: 'web' } });
  answers[`GET /services/${SVC_ID}`] = (_s, res) => json(res, 200, { ID: SVC_ID, Version: { Index: 3 }, Spec: { Name: 'web' } });
  answers['GET /nodes/n1'] = (_s, res) => json(res, 200, { ID: 'n1', Description: { Hostname: 'manager1' } });
  answers['GET /nodes/n2'] = (_s, res) => json(res, 200, { ID: 'n2', Description: { Hostname: 'worker2' } });
  answers['GET /tasks'] = (_s, res) => tasksOfWeb(res);
  const r = await berth(['service', 'ps', '-f', 'desired-state=running', 'web']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    'ID             NAME        IMAGE        NODE       DESIRED STATE   CURRENT STATE             ERROR                              PORTS\n' +
      'newtask1xxxx   web.1       nginx:1.27   manager1   Running         Running 5 seconds ago                                        \n' +
      'oldtask1xxxx    \\_ web.1   nginx:1.26   manager1   Shutdown        Shutdown 30 seconds ago                                      \n' +
      'task2xxxxxxx   web.2       nginx:1.27   worker2    Running         Running 2 minutes ago                                        *:30000->80/tcp\n' +
      // docker's 30-column cut: 29 characters and the ellipsis
      'rejected10xx   web.10      nginx:1.27   worker2    Shutdown        Rejected 45 seconds ago   "No such image: nginx@sha256:6…"   \n',
  );
  const taskQuery = find('GET', '/tasks')!;
  assert.deepEqual(JSON.parse(taskQuery.query.get('filters')!), { 'desired-state': ['running'], service: [SVC_ID] });

  const q = await berth(['service', 'ps', '-q', 'web']);
  assert.equal(q.stdout, 'newtask1xxxx\noldtask1xxxx\ntask2xxxxxxx\nrejected10xx\n');
  const nt = await berth(['service', 'ps', '--no-trunc', '--format', '{{.ID}} {{.Image}} {{.Error}}', 'web']);
  assert.equal(nt.stdout.split('\n')[0], 'newtask1xxxxxxxxxxxxxxxxx nginx:1.27@sha256:bbbb ');
  assert.equal(nt.stdout.split('\n')[3], 'rejected10xxxxxxxxxxxxxxx nginx:1.27 "No such image: nginx@sha256:6a692a76c2081888b589e26e6ec835743119fe453d67ecf03df7de5b73d69842"');
});

test('service ps: an unknown service is exit 1 without listing', async () => {
  const r = await berth(['service', 'ps', 'nope']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'no such service: nope\n');
  assert.deepEqual(calls(), ['GET /services/nope?insertDefaults=1']);
});

test('service inspect: a JSON array, --format, and the missing ones reported after, exit 1', async () => {
  answers['GET /services/web'] = (_s, res) => json(res, 200, { ID: SVC_ID, Version: { Index: 3 }, Spec: { Name: 'web', Mode: { Replicated: { Replicas: 10 } } } });
  const r = await berth(['service', 'inspect', 'web', 'gone']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, `[\n    {\n        "ID": "${SVC_ID}",\n        "Version": {\n            "Index": 3\n        },\n        "Spec": {\n            "Name": "web",\n            "Mode": {\n                "Replicated": {\n                    "Replicas": 10\n                }\n            }\n        }\n    }\n]\n`);
  assert.equal(r.stderr, 'no such service: gone\n');
  const f = await berth(['service', 'inspect', '--format', '{{.Spec.Mode.Replicated.Replicas}}', 'web']);
  assert.equal(f.code, 0, f.stderr);
  assert.equal(f.stdout, '10\n');
  const pr = await berth(['service', 'inspect', '--pretty', 'web']);
  assert.equal(pr.code, 0, pr.stderr);
  assert.match(pr.stdout, /^ID:\s+kq2sbm8t3o2ntkdh9t4sfo6lr\nName:\s+web\nService Mode:\s+Replicated\n Replicas:\s+10\n/);
});

// ---------------------------------------------------------------- service update / rollback / scale / rm

const webService = (res: http.ServerResponse) =>
  json(res, 200, {
    ID: SVC_ID,
    Version: { Index: 41 },
    Spec: {
      Name: 'web',
      Labels: { a: '1', b: '2' },
      Mode: { Replicated: { Replicas: 2 } },
      TaskTemplate: {
        ContainerSpec: { Image: 'nginx:1.26', Env: ['A=1', 'B=2'] },
        Placement: { Constraints: ['node.role==worker'] },
        ForceUpdate: 1,
      },
      UpdateConfig: { Parallelism: 1, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'stop-first' },
      EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }] },
    },
  });

test('service update: GETs the service, POSTs the changed spec at its version', async () => {
  answers['GET /services/web'] = (_s, res) => webService(res);
  answers[`POST /services/${SVC_ID}/update`] = (_s, res) => json(res, 200, { Warnings: null });
  const r = await berth([
    'service', 'update', '-d', '--image', 'nginx:1.27', '--replicas', '5', '--env-add', 'B=3', '--env-add', 'C=4', '--env-rm', 'A',
    '--label-add', 'c=3', '--label-rm', 'a', '--constraint-rm', 'node.role==worker', '--constraint-add', 'node.labels.ssd==true',
    '--publish-rm', '80', '--publish-add', '9090:90/udp', '--force', '--update-delay', '1m', '--update-parallelism', '3', '--limit-memory', '512m',
    'web',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'web\n');
  assert.deepEqual(calls(), ['GET /services/web?insertDefaults=1', `POST /services/${SVC_ID}/update?version=41`]);
  assert.deepEqual(JSON.parse(seen[1].body), {
    Name: 'web',
    Labels: { b: '2', c: '3' },
    Mode: { Replicated: { Replicas: 5 } },
    TaskTemplate: {
      ContainerSpec: { Image: 'nginx:1.27', Env: ['B=3', 'C=4'] },
      Placement: { Constraints: ['node.labels.ssd==true'] },
      Resources: { Limits: { MemoryBytes: 512 * 1024 ** 2 } },
      ForceUpdate: 2,
    },
    UpdateConfig: { Parallelism: 3, Delay: 60e9, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'stop-first' },
    EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'udp', TargetPort: 90, PublishedPort: 9090, PublishMode: 'ingress' }] },
  });
});

test('service update --rollback and service rollback send the current spec with rollback=previous', async () => {
  answers['GET /services/web'] = (_s, res) => webService(res);
  answers[`POST /services/${SVC_ID}/update`] = (_s, res) => json(res, 200, { Warnings: null });
  const u = await berth(['service', 'update', '-d', '--rollback', 'web']);
  assert.equal(u.code, 0, u.stderr);
  assert.equal(u.stdout, 'web\n');
  const r = await berth(['service', 'rollback', '-d', 'web']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'web\n');
  const updates = seen.filter((s) => s.method === 'POST');
  assert.equal(updates.length, 2);
  for (const s of updates) {
    assert.equal(s.url, `/services/${SVC_ID}/update?version=41&rollback=previous`);
    assert.equal(JSON.parse(s.body).TaskTemplate.ContainerSpec.Image, 'nginx:1.26');
  }
  const mixed = await berth(['service', 'update', '-d', '--rollback', '--image', 'x', 'web']);
  assert.equal(mixed.code, 1);
  assert.equal(mixed.stderr, 'other flags may not be combined with --rollback\n');
});

test('service update: the daemon\'s refusal is docker\'s "Error response from daemon", exit 1', async () => {
  answers['GET /services/web'] = (_s, res) => webService(res);
  answers[`POST /services/${SVC_ID}/update`] = (_s, res) => json(res, 500, { message: 'update out of sequence' });
  const r = await berth(['service', 'update', '-d', '--image', 'x', 'web']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'Error response from daemon: update out of sequence\n');
});

test('service scale: counts checked before asking; per-service errors; the rest still scaled', async () => {
  const bad = await berth(['service', 'scale', 'web=-1']);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, 'invalid replicas value -1: strconv.ParseUint: parsing "-1": invalid syntax\n');
  const spec = await berth(['service', 'scale', 'web']);
  assert.equal(spec.code, 1);
  assert.equal(
    spec.stderr,
    "Invalid scale specifier 'web'.\nSee 'berth service scale --help'.\n\nUsage:  berth service scale SERVICE=REPLICAS [SERVICE=REPLICAS...]\n\nScale one or multiple replicated services\n",
  );
  assert.equal(seen.length, 0);

  answers['GET /services/agent'] = (_s, res) => json(res, 200, { ID: 'g1', Version: { Index: 7 }, Spec: { Name: 'agent', Mode: { Global: {} }, TaskTemplate: { ContainerSpec: { Image: 'x' } } } });
  answers['GET /services/web'] = (_s, res) => webService(res);
  answers[`POST /services/${SVC_ID}/update`] = (_s, res) => json(res, 200, { Warnings: null });
  const r = await berth(['service', 'scale', '-d', 'agent=3', 'web=10', 'ghost=1']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, 'web scaled to 10\n');
  assert.equal(r.stderr, 'agent: scale can only be used with replicated or replicated-job mode\nghost: Error response from daemon: page not found\n');
  const update = find('POST', `/services/${SVC_ID}/update`)!;
  assert.equal(update.query.get('version'), '41');
  assert.deepEqual(JSON.parse(update.body).Mode, { Replicated: { Replicas: 10 } });
});

test('service rm: prints each removed name; failures are reported and exit 1', async () => {
  answers['DELETE /services/web'] = (_s, res) => noContent(res, 200);
  answers['DELETE /services/db'] = (_s, res) => json(res, 404, { message: 'service db not found' });
  const r = await berth(['service', 'rm', 'web', 'db']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, 'web\n');
  assert.equal(r.stderr, 'Error response from daemon: service db not found\n');
});

test('service logs: the multiplexed stream, each line named service.slot.task@node', async () => {
  answers['GET /services/web'] = (_s, res) => json(res, 200, { ID: SVC_ID, Spec: { Name: 'web' } });
  answers[`GET /services/${SVC_ID}`] = (_s, res) => json(res, 200, { ID: SVC_ID, Spec: { Name: 'web' } });
  answers['GET /tasks/task1xxxxxxxxxxxxxxxxxxxx'] = (_s, res) => json(res, 200, { ID: 'task1xxxxxxxxxxxxxxxxxxxx', ServiceID: SVC_ID, Slot: 1 });
  answers['GET /nodes/n1'] = (_s, res) => json(res, 200, { ID: 'n1', Description: { Hostname: 'manager1' } });
  answers[`GET /services/${SVC_ID}/logs`] = (_s, res) => {
    res.writeHead(200, { 'Content-Type': 'application/vnd.docker.multiplexed-stream' });
    const ctxAttrs = `com.docker.swarm.node.id=n1,com.docker.swarm.service.id=${SVC_ID},com.docker.swarm.task.id=task1xxxxxxxxxxxxxxxxxxxx`;
    res.write(encodeFrame(1, `${ctxAttrs} hello\n`));
    res.end(encodeFrame(2, `${ctxAttrs} oops\n`));
  };
  const r = await berth(['service', 'logs', '--tail', '5', 'web']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'web.1.task1xxxxxxx@manager1    | hello\n');
  assert.equal(r.stderr, 'web.1.task1xxxxxxx@manager1    | oops\n');
  const logs = find('GET', `/services/${SVC_ID}/logs`)!;
  assert.equal(logs.query.get('tail'), '5');
  assert.equal(logs.query.get('details'), '1');
  const missing = await berth(['service', 'logs', 'nothing']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'no such task or service: nothing\n');
});

// ---------------------------------------------------------------- node

const nodes = [
  { ID: 'n2xxxxxxxxxxxxxxxxxxxxxxx', Version: { Index: 20 }, Spec: { Role: 'worker', Availability: 'drain' }, Description: { Hostname: 'worker10', Engine: { EngineVersion: '0.1.0' } }, Status: { State: 'down', Addr: '10.0.0.3' } },
  { ID: 'n3xxxxxxxxxxxxxxxxxxxxxxx', Version: { Index: 21 }, Spec: { Role: 'manager', Availability: 'active' }, Description: { Hostname: 'worker2', Engine: { EngineVersion: '0.1.0' } }, Status: { State: 'ready', Addr: '10.0.0.2' }, ManagerStatus: { Reachability: 'unreachable', Addr: '10.0.0.2:2377' } },
  { ID: 'n1xxxxxxxxxxxxxxxxxxxxxxx', Version: { Index: 22 }, Spec: { Role: 'manager', Availability: 'active' }, Description: { Hostname: 'manager1', Engine: { EngineVersion: '0.1.0' } }, Status: { State: 'ready', Addr: '10.0.0.1' }, ManagerStatus: { Leader: true, Reachability: 'reachable', Addr: '10.0.0.1:2377' } },
];

test('node ls: docker\'s table, hostnames in natural order, the current node starred', async () => {
  answers['GET /info'] = (_s, res) => json(res, 200, { Swarm: { NodeID: 'n1xxxxxxxxxxxxxxxxxxxxxxx' } });
  answers['GET /nodes'] = (_s, res) => json(res, 200, nodes);
  const r = await berth(['node', 'ls', '-f', 'role=manager']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    'ID                            HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION\n' +
      'n1xxxxxxxxxxxxxxxxxxxxxxx *   manager1   Ready     Active         Leader           0.1.0\n' +
      'n3xxxxxxxxxxxxxxxxxxxxxxx     worker2    Ready     Active         Unreachable      0.1.0\n' +
      'n2xxxxxxxxxxxxxxxxxxxxxxx     worker10   Down      Drain                           0.1.0\n',
  );
  assert.deepEqual(JSON.parse(find('GET', '/nodes')!.query.get('filters')!), { role: ['manager'] });
  const q = await berth(['node', 'ls', '-q']);
  assert.equal(q.stdout, 'n1xxxxxxxxxxxxxxxxxxxxxxx\nn3xxxxxxxxxxxxxxxxxxxxxxx\nn2xxxxxxxxxxxxxxxxxxxxxxx\n');
  const j = await berth(['node', 'ls', '--format', 'json']);
  assert.deepEqual(JSON.parse(j.stdout.split('\n')[0]), {
    Availability: 'Active',
    EngineVersion: '0.1.0',
    Hostname: 'manager1',
    ID: 'n1xxxxxxxxxxxxxxxxxxxxxxx',
    ManagerStatus: 'Leader',
    Self: true,
    Status: 'Ready',
    TLSStatus: 'Ready',
  });
});

test('node update: the whole spec back at the node\'s version, labels added and removed', async () => {
  answers['GET /nodes/worker1'] = (_s, res) => json(res, 200, { ID: 'n9', Version: { Index: 33 }, Spec: { Role: 'worker', Availability: 'active', Labels: { zone: 'a', old: 'x' } } });
  answers['POST /nodes/n9/update'] = (_s, res) => noContent(res, 200);
  const r = await berth(['node', 'update', '--availability', 'drain', '--label-add', 'ssd=true', '--label-add', 'gpu', '--label-rm', 'old', 'worker1']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'worker1\n');
  assert.deepEqual(calls(), ['GET /nodes/worker1', 'POST /nodes/n9/update?version=33']);
  assert.deepEqual(JSON.parse(seen[1].body), { Role: 'worker', Availability: 'drain', Labels: { zone: 'a', ssd: 'true', gpu: '' } });
  const bad = await berth(['node', 'update', '--availability', 'gone', 'worker1']);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, 'invalid availability "gone", only active, pause and drain are supported\n');
  const rm = await berth(['node', 'update', '--label-rm', 'nope', 'worker1']);
  assert.equal(rm.code, 1);
  assert.equal(rm.stderr, "key nope doesn't exist in node's labels\n");
});

test('node promote / demote: docker\'s messages; a node already in the role is not updated', async () => {
  answers['GET /nodes/w1'] = (_s, res) => json(res, 200, { ID: 'w1', Version: { Index: 5 }, Spec: { Role: 'worker', Availability: 'active' } });
  answers['GET /nodes/m1'] = (_s, res) => json(res, 200, { ID: 'm1', Version: { Index: 6 }, Spec: { Role: 'manager', Availability: 'active' } });
  answers['POST /nodes/w1/update'] = (_s, res) => noContent(res, 200);
  answers['POST /nodes/m1/update'] = (_s, res) => noContent(res, 200);
  const p = await berth(['node', 'promote', 'w1', 'm1']);
  assert.equal(p.code, 0, p.stderr);
  assert.equal(p.stdout, 'Node w1 promoted to a manager in the swarm.\nNode m1 is already a manager.\n');
  assert.deepEqual(JSON.parse(find('POST', '/nodes/w1/update?version=5')!.body), { Role: 'manager', Availability: 'active' });
  assert.equal(find('POST', '/nodes/m1/update'), undefined);
  const d = await berth(['node', 'demote', 'm1', 'nobody']);
  assert.equal(d.code, 1);
  assert.equal(d.stdout, 'Manager m1 demoted in the swarm.\n');
  assert.equal(d.stderr, 'Error response from daemon: page not found\n');
});

test('node rm, node inspect and node ps', async () => {
  answers['DELETE /nodes/w1'] = (_s, res) => noContent(res, 200);
  const r = await berth(['node', 'rm', '-f', 'w1']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'w1\n');
  assert.equal(seen[0].url, '/nodes/w1?force=1');

  // "self" is resolved by the CLI, through /info, as docker's does
  answers['GET /info'] = (_s, res) => json(res, 200, { Swarm: { NodeID: 'n1' } });
  answers['GET /nodes/n1'] = (_s, res) => json(res, 200, { ID: 'n1', Version: { Index: 2 }, Spec: { Role: 'manager' }, Description: { Hostname: 'manager1' } });
  const i = await berth(['node', 'inspect', '--format', '{{.ID}} {{.Spec.Role}}', 'self']);
  assert.equal(i.code, 0, i.stderr);
  assert.equal(i.stdout, 'n1 manager\n');
  const missing = await berth(['node', 'inspect', 'ghost']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stdout, '[]\n');
  assert.equal(missing.stderr, 'Error: No such node: ghost\n');

  seen.length = 0;
  answers[`GET /services/${SVC_ID}`] = (_s, res) => json(res, 200, { ID: SVC_ID, Spec: { Name: 'web' } });
  answers['GET /tasks'] = (_s, res) =>
    json(res, 200, [{ ID: 'abcdefghijklmnopqrstuvwxy', ServiceID: SVC_ID, Slot: 3, NodeID: 'n1', DesiredState: 'running', CreatedAt: ago(1000), Spec: { ContainerSpec: { Image: 'nginx' } }, Status: { State: 'running', Timestamp: ago(500) } }]);
  const ps = await berth(['node', 'ps']);
  assert.equal(ps.code, 0, ps.stderr);
  assert.equal(
    ps.stdout,
    'ID             NAME      IMAGE     NODE       DESIRED STATE   CURRENT STATE                    ERROR     PORTS\n' +
      'abcdefghijkl   web.3     nginx     manager1   Running         Running less than a second ago             \n',
  );
  assert.deepEqual(JSON.parse(find('GET', '/tasks')!.query.get('filters')!), { node: ['n1'] });
});

// ---------------------------------------------------------------- swarm

test('swarm init: the request, then docker\'s messages with the worker token and this manager\'s address', async () => {
  answers['POST /swarm/init'] = (_s, res) => json(res, 200, 'nodeid0000000000000000001');
  answers['GET /swarm'] = (_s, res) => json(res, 200, { ID: 'sw', Version: { Index: 1 }, Spec: {}, JoinTokens: { Worker: 'SWMTKN-1-worker', Manager: 'SWMTKN-1-manager' } });
  answers['GET /info'] = (_s, res) =>
    json(res, 200, { Swarm: { NodeID: 'nodeid0000000000000000001', NodeAddr: '192.168.1.5', RemoteManagers: [{ NodeID: 'nodeid0000000000000000001', Addr: '192.168.1.5:2377' }] } });
  const r = await berth(['swarm', 'init', '--advertise-addr', '192.168.1.5', '--task-history-limit', '3', '--cert-expiry', '48h', '--default-addr-pool', '10.20.0.0/16']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    'Swarm initialized: current node (nodeid0000000000000000001) is now a manager.\n\n' +
      'To add a worker to this swarm, run the following command:\n\n' +
      '    berth swarm join --token SWMTKN-1-worker 192.168.1.5:2377\n\n' +
      "To add a manager to this swarm, run 'berth swarm join-token manager' and follow the instructions.\n\n",
  );
  assert.deepEqual(JSON.parse(find('POST', '/swarm/init')!.body), {
    ListenAddr: '0.0.0.0:2377',
    AdvertiseAddr: '192.168.1.5',
    DataPathAddr: '',
    DataPathPort: 0,
    ForceNewCluster: false,
    Spec: { Orchestration: { TaskHistoryRetentionLimit: 3 }, CAConfig: { NodeCertExpiry: 48 * 3600e9 } },
    AutoLockManagers: false,
    Availability: 'active',
    DefaultAddrPool: ['10.20.0.0/16'],
    SubnetSize: 24,
  });
  answers['POST /swarm/init'] = (_s, res) => json(res, 503, { message: 'This node is already part of a swarm.' });
  const again = await berth(['swarm', 'init']);
  assert.equal(again.code, 1);
  assert.equal(again.stderr, 'Error response from daemon: This node is already part of a swarm.\n');
});

test('autolock: init --autolock and update --autolock=true print the key; unlock-key [-q] [--rotate]; unlock reads the key only when locked', async () => {
  const KEY = 'SWMKEY-1-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ';
  const hint = (key: string) =>
    `To unlock a swarm manager after it restarts, run the \`berth swarm unlock\`\ncommand and provide the following key:\n\n    ${key}\n\n` +
    'Remember to store this key in a password manager, since without it you\nwill not be able to restart the manager.\n';
  let locked = false;
  let key = KEY;
  answers['POST /swarm/init'] = (_s, res) => json(res, 200, 'nodeid0000000000000000001');
  answers['GET /swarm'] = (_s, res) => json(res, 200, { ID: 'sw', Version: { Index: 4 }, Spec: { Name: 'default', EncryptionConfig: { AutoLockManagers: locked } }, JoinTokens: { Worker: 'SWMTKN-1-worker', Manager: 'SWMTKN-1-manager' } });
  answers['GET /info'] = (_s, res) => json(res, 200, { Swarm: { NodeID: 'n', NodeAddr: '192.168.1.5', LocalNodeState: locked ? 'locked' : 'active', RemoteManagers: [{ NodeID: 'n', Addr: '192.168.1.5:2377' }] } });
  answers['GET /swarm/unlockkey'] = (_s, res) => json(res, 200, { UnlockKey: key });
  answers['POST /swarm/update'] = (_s, res) => noContent(res, 200);
  answers['POST /swarm/unlock'] = (_s, res) => noContent(res, 200);

  const init = await berth(['swarm', 'init', '--autolock']);
  assert.equal(init.code, 0, init.stderr);
  assert.ok(init.stdout.endsWith(`follow the instructions.\n\n${hint(KEY)}`), init.stdout);
  assert.deepEqual(JSON.parse(find('POST', '/swarm/init')!.body).Spec, { EncryptionConfig: { AutoLockManagers: true } });

  const q = await berth(['swarm', 'unlock-key', '-q']);
  assert.equal(q.stdout, `${KEY}\n`);
  assert.equal((await berth(['swarm', 'unlock-key'])).stdout, hint(KEY));
  const notOn = await berth(['swarm', 'unlock-key', '--rotate']);
  assert.equal(notOn.code, 1);
  assert.equal(notOn.stderr, 'cannot rotate because autolock is not turned on\n');

  seen.length = 0;
  const on = await berth(['swarm', 'update', '--autolock=true']);
  assert.equal(on.code, 0, on.stderr);
  assert.equal(on.stdout, `Swarm updated.\n${hint(KEY)}`);
  assert.deepEqual(JSON.parse(find('POST', '/swarm/update')!.body), { Name: 'default', EncryptionConfig: { AutoLockManagers: true } });

  locked = true;
  seen.length = 0;
  key = 'SWMKEY-1-rotatedrotatedrotatedrotatedrotatedrotat';
  const rot = await berth(['swarm', 'unlock-key', '--rotate']);
  assert.equal(rot.code, 0, rot.stderr);
  assert.equal(rot.stdout, `Successfully rotated manager unlock key.\n\n${hint(key)}`);
  assert.equal(find('POST', '/swarm/update')!.url, '/swarm/update?version=4&rotateManagerUnlockKey=true');

  seen.length = 0;
  const un = await runCli(['-H', engine.host, 'swarm', 'unlock'], { stdin: `${key}\n` });
  assert.equal(un.code, 0, un.stderr);
  assert.deepEqual(JSON.parse(find('POST', '/swarm/unlock')!.body), { UnlockKey: key });
  locked = false;
  const not = await runCli(['-H', engine.host, 'swarm', 'unlock'], { stdin: `${key}\n` });
  assert.equal(not.code, 1);
  assert.equal(not.stderr, 'Error: swarm is not locked\n');

  key = '';
  const none = await berth(['swarm', 'unlock-key']);
  assert.equal(none.code, 1);
  assert.equal(none.stderr, 'no unlock key is set\n');
});

test('swarm join: worker or manager as /info says after joining', async () => {
  answers['POST /swarm/join'] = (_s, res) => noContent(res, 200);
  let manager = false;
  answers['GET /info'] = (_s, res) => json(res, 200, { Swarm: { ControlAvailable: manager } });
  const w = await berth(['swarm', 'join', '--token', 'SWMTKN-1-worker', '10.0.0.1:2377']);
  assert.equal(w.code, 0, w.stderr);
  assert.equal(w.stdout, 'This node joined a swarm as a worker.\n');
  assert.deepEqual(JSON.parse(seen[0].body), {
    ListenAddr: '0.0.0.0:2377',
    AdvertiseAddr: '',
    DataPathAddr: '',
    RemoteAddrs: ['10.0.0.1:2377'],
    JoinToken: 'SWMTKN-1-worker',
    Availability: 'active',
  });
  manager = true;
  const m = await berth(['swarm', 'join', '--token', 'SWMTKN-1-manager', '--advertise-addr', '10.0.0.2', '10.0.0.1:2377']);
  assert.equal(m.stdout, 'This node joined a swarm as a manager.\n');
  const noAddr = await berth(['swarm', 'join', '--token', 'x']);
  assert.equal(noAddr.code, 1);
});

test('swarm join-token, rotation at the swarm\'s version, leave, and what berth does not support', async () => {
  let rotated = false;
  answers['GET /swarm'] = (_s, res) => json(res, 200, { Version: { Index: 9 }, Spec: { Name: 'default' }, JoinTokens: { Worker: rotated ? 'SWMTKN-1-new' : 'SWMTKN-1-w', Manager: 'SWMTKN-1-m' } });
  answers['GET /info'] = (_s, res) => json(res, 200, { Swarm: { NodeID: 'x', NodeAddr: '10.0.0.1' } });
  answers['POST /swarm/update'] = (_s, res) => {
    rotated = true;
    noContent(res, 200);
  };
  const m = await berth(['swarm', 'join-token', 'manager']);
  assert.equal(m.code, 0, m.stderr);
  assert.equal(m.stdout, 'To add a manager to this swarm, run the following command:\n\n    berth swarm join --token SWMTKN-1-m 10.0.0.1:2377\n\n');
  const q = await berth(['swarm', 'join-token', '-q', 'worker']);
  assert.equal(q.stdout, 'SWMTKN-1-w\n');
  const rot = await berth(['swarm', 'join-token', '--rotate', 'worker']);
  assert.equal(rot.stdout, 'Successfully rotated worker join token.\n\nTo add a worker to this swarm, run the following command:\n\n    berth swarm join --token SWMTKN-1-new 10.0.0.1:2377\n\n');
  const upd = find('POST', '/swarm/update')!;
  assert.equal(upd.url, '/swarm/update?version=9&rotateWorkerToken=true');
  assert.deepEqual(JSON.parse(upd.body), { Name: 'default' });
  const bad = await berth(['swarm', 'join-token', 'boss']);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, 'unknown role boss\n');

  answers['POST /swarm/leave'] = (_s, res) => noContent(res, 200);
  const l = await berth(['swarm', 'leave', '--force']);
  assert.equal(l.code, 0, l.stderr);
  assert.equal(l.stdout, 'Node left the swarm.\n');
  assert.equal(find('POST', '/swarm/leave')!.url, '/swarm/leave?force=1');

  seen.length = 0;
  const su = await berth(['swarm', 'update', '--task-history-limit', '10']);
  assert.equal(su.code, 0, su.stderr);
  assert.equal(su.stdout, 'Swarm updated.\n');
  const post = find('POST', '/swarm/update')!;
  assert.equal(post.url, '/swarm/update?version=9');
  assert.deepEqual(JSON.parse(post.body), { Name: 'default', Orchestration: { TaskHistoryRetentionLimit: 10 } });

  for (const cmd of [['ca', '--rotate']]) {
    const u = await berth(['swarm', ...cmd]);
    assert.equal(u.code, 1, cmd.join(' '));
    assert.match(u.stderr, new RegExp(`^berth swarm ${cmd[0]}: not supported: `));
  }
});

test('service scale and update without -d: the wait names the service as given; a paused update is exit 1', async () => {
  let status: Record<string, unknown> = { State: 'updating' };
  let polls = 0;
  answers['GET /services/web'] = (_s, res) =>
    json(res, 200, { ID: SVC_ID, Version: { Index: 4 }, Spec: { Name: 'web', Mode: { Replicated: { Replicas: 1 } }, TaskTemplate: { ContainerSpec: { Image: 'x' } } }, UpdateStatus: status });
  answers[`GET /services/${SVC_ID}`] = answers['GET /services/web'];
  answers[`POST /services/${SVC_ID}/update`] = (_s, res) => json(res, 200, { Warnings: null });
  answers['GET /tasks'] = (_s, res) => {
    if (++polls > 1) status = { State: 'completed' };
    json(res, 200, [{ ID: 't', ServiceID: SVC_ID, Slot: 1, DesiredState: 'running', Status: { State: 'running' } }]);
  };
  const s = await berth(['service', 'scale', 'web=2'], { BERTH_CONVERGE_INTERVAL_MS: '5' });
  assert.equal(s.code, 0, s.stderr);
  assert.equal(s.stdout, 'web scaled to 2\noverall progress: 1 out of 1 tasks\nverify: Service web converged\n');
  assert.ok(polls >= 2, 'waited while the update was in progress');

  status = { State: 'paused', Message: 'update paused due to failure or early termination of task t' };
  answers['GET /tasks'] = (_s, res) => json(res, 200, []);
  const u = await berth(['service', 'update', '--image', 'y', 'web'], { BERTH_CONVERGE_INTERVAL_MS: '5' });
  assert.equal(u.code, 1);
  assert.equal(u.stdout, 'web\noverall progress: 0 out of 1 tasks\n');
  assert.equal(u.stderr, 'update paused due to failure or early termination of task t\n');
});

test('service create --secret/--config and update --secret-add/--secret-rm: docker\'s references, by name', async () => {
  answers['POST /services/create'] = (_s, res) => json(res, 201, { ID: SVC_ID, Warnings: null });
  const r = await berth(['service', 'create', '-d', '--name', 'api', '--secret', 'dbpass', '--secret', 'source=apikey,target=key,uid=100,gid=101,mode=0400', '--config', 'src=appconf,target=/etc/app.conf', 'busybox']);
  assert.equal(r.code, 0, r.stderr);
  const c = JSON.parse(find('POST', '/services/create')!.body).TaskTemplate.ContainerSpec;
  assert.deepEqual(c.Secrets, [
    { SecretName: 'dbpass', File: { Name: 'dbpass', UID: '0', GID: '0', Mode: 0o444 } },
    { SecretName: 'apikey', File: { Name: 'key', UID: '100', GID: '101', Mode: 0o400 } },
  ]);
  assert.deepEqual(c.Configs, [{ ConfigName: 'appconf', File: { Name: '/etc/app.conf', UID: '0', GID: '0', Mode: 0o444 } }]);
  const bad = await berth(['service', 'create', '-d', '--secret', 'target=x', 'busybox']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /source is required/);
  const badMode = await berth(['service', 'create', '-d', '--secret', 'source=a,mode=999', 'busybox']);
  assert.equal(badMode.code, 125);

  engine.reset();
  answers['GET /services/api'] = (_s, res) =>
    json(res, 200, { ID: SVC_ID, Version: { Index: 7 }, Spec: { Name: 'api', TaskTemplate: { ContainerSpec: { Image: 'busybox', Secrets: [{ SecretID: 's1', SecretName: 'dbpass', File: { Name: 'dbpass', UID: '0', GID: '0', Mode: 292 } }] } } } });
  answers[`POST /services/${SVC_ID}/update`] = (_s, res) => json(res, 200, { Warnings: null });
  const u = await berth(['service', 'update', '-d', '--secret-rm', 'dbpass', '--secret-add', 'source=other,target=o', 'api']);
  assert.equal(u.code, 0, u.stderr);
  assert.deepEqual(JSON.parse(seen[1].body).TaskTemplate.ContainerSpec.Secrets, [{ SecretName: 'other', File: { Name: 'o', UID: '0', GID: '0', Mode: 0o444 } }]);
});
