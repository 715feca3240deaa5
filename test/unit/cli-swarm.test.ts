import { test, before, after, beforeEach } from 'node:test';
import * as assert from 'node:assert/strict';
import { FakeEngine, json, runCli } from '../helpers/fake-engine';

const engine = new FakeEngine('berth-cli-swarm-');
const { seen, answers } = engine;

before(() => engine.listen());
after(() => engine.stop());
beforeEach(() => engine.reset());

const berth = (args: string[]) => runCli(['-H', engine.host, ...args]);

test('service create -d sends the ServiceSpec docker would, in nanoseconds and bytes', async () => {
  answers['POST /services/create'] = (_s, res) => json(res, 201, { ID: 'abc', Warnings: null });
  const r = await berth([
    'service', 'create', '-d', '--name', 'web', '--replicas', '3', '-e', 'A=1', '--constraint', 'node.labels.zone==a',
    '--restart-condition', 'on-failure', '--restart-delay', '2s', '--restart-max-attempts', '4', '--update-parallelism', '2', '--update-delay', '1m',
    '--reserve-memory', '64m', '--limit-cpu', '0.5', '-p', '8080:80', 'busybox', 'sleep', '10',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'abc\n');
  assert.deepEqual(JSON.parse(seen[0].body), {
    Name: 'web',
    TaskTemplate: {
      ContainerSpec: { Image: 'busybox', Args: ['sleep', '10'], Env: ['A=1'] },
      Placement: { Constraints: ['node.labels.zone==a'] },
      RestartPolicy: { Condition: 'on-failure', Delay: 2e9, MaxAttempts: 4 },
      Resources: { Limits: { NanoCPUs: 5e8 }, Reservations: { MemoryBytes: 64 * 1024 * 1024 } },
    },
    Mode: { Replicated: { Replicas: 3 } },
    EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }] },
    UpdateConfig: { Parallelism: 2, Delay: 60e9 },
  });
});

test('node ls prints docker\'s table with the current node starred', async () => {
  answers['GET /info'] = (_s, res) => json(res, 200, { Swarm: { NodeID: 'n1' } });
  answers['GET /nodes'] = (_s, res) =>
    json(res, 200, [
      { ID: 'n2', Spec: { Role: 'worker', Availability: 'drain' }, Description: { Hostname: 'beta', Engine: { EngineVersion: '0.1.0' } }, Status: { State: 'down', Addr: '' } },
      { ID: 'n1', Spec: { Role: 'manager', Availability: 'active' }, Description: { Hostname: 'alpha', Engine: { EngineVersion: '0.1.0' } }, Status: { State: 'ready', Addr: '' }, ManagerStatus: { Leader: true, Reachability: 'reachable' } },
    ]);
  const r = await berth(['node', 'ls']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    // docker's tabwriter: columns at least 10 wide, 3 apart
    'ID        HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION\n' +
      'n1 *      alpha      Ready     Active         Leader           0.1.0\n' +
      'n2        beta       Down      Drain                           0.1.0\n',
  );
});

test('service scale: a negative count is refused before asking; a global service cannot scale', async () => {
  const bad = await berth(['service', 'scale', 'web=-1']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /invalid replicas value -1/);
  assert.equal(seen.length, 0);
  answers['GET /services/agent'] = (_s, res) => json(res, 200, { ID: 'g1', Version: { Index: 7 }, Spec: { Name: 'agent', Mode: { Global: {} }, TaskTemplate: { ContainerSpec: { Image: 'x' } } } });
  const g = await berth(['service', 'scale', '-d', 'agent=3']);
  assert.equal(g.code, 1);
  assert.match(g.stderr, /scale can only be used with replicated or replicated-job mode/);
  answers['GET /services/web'] = (_s, res) => json(res, 200, { ID: 'w1', Version: { Index: 9 }, Spec: { Name: 'web', Mode: { Replicated: { Replicas: 1 } }, TaskTemplate: { ContainerSpec: { Image: 'x' } } } });
  answers['POST /services/w1/update'] = (_s, res) => json(res, 200, { Warnings: null });
  const ok = await berth(['service', 'scale', '-d', 'web=5']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, 'web scaled to 5\n');
  const update = seen.find((s) => s.url.startsWith('/services/w1/update'))!;
  assert.equal(update.query.get('version'), '9');
  assert.equal(JSON.parse(update.body).Mode.Replicated.Replicas, 5);
});
