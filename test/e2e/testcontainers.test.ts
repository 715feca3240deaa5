/**
 * testcontainers (npm), used as a project's tests use it, against a berthd of this file's own.
 * Each scenario (testcontainers/scenarios.ts) runs in a process inside the daemon's network
 * namespace with DOCKER_HOST naming the daemon, and the reaper left on: the project's own
 * Ryuk image (helpers/ryuk) stands in for testcontainers/ryuk, which cannot be pulled here.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestDaemon, runCommand } from '../helpers/daemon';
import { buildRyukImage } from '../helpers/ryuk-image';
import { until } from '../helpers/wait';

const SCENARIOS = path.join(__dirname, 'testcontainers', 'scenarios.js');

let d: TestDaemon;
let ryukImage: string;
let work: string;

before(async () => {
  d = await TestDaemon.start();
  ryukImage = await buildRyukImage(d);
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-tc-'));
});

after(async () => {
  await d?.cleanup();
  if (work) await fsp.rm(work, { recursive: true, force: true });
});

/** Runs one scenario as a test process beside the daemon; its result, or its stack and log on failure. */
async function scenario(name: string, env: Record<string, string> = {}): Promise<any> {
  const r = await runCommand('nsenter', [`--net=/run/netns/${d.netns}`, process.execPath, SCENARIOS, name], {
    env: {
      ...process.env,
      DOCKER_HOST: d.host,
      RYUK_CONTAINER_IMAGE: ryukImage,
      TESTCONTAINERS_RYUK_DISABLED: 'false',
      DEBUG: 'testcontainers*',
      ...env,
    },
    timeoutMs: 240_000,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  assert.ok(r.code === 0 && line, `scenario ${name} exited ${r.code}:\n${r.stderr.slice(-6000)}`);
  return JSON.parse(line.slice('RESULT '.length));
}

test('the API takes HostPort "0" and "" as any free port, as Docker does', async () => {
  const create = await d.api('POST', '/containers/create', {
    Image: 'busybox',
    Cmd: ['sleep', '300'],
    ExposedPorts: { '80/tcp': {}, '81/tcp': {} },
    HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '0' }], '81/tcp': [{ HostIp: '', HostPort: '' }] } },
  });
  assert.equal(create.status, 201, create.body);
  const id = create.json().Id as string;
  try {
    assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
    const ports = (await d.api('GET', `/containers/${id}/json`)).json().NetworkSettings.Ports as Record<string, { HostPort: string }[]>;
    for (const key of ['80/tcp', '81/tcp']) assert.ok(Number(ports[key][0].HostPort) > 0, `${key}: ${JSON.stringify(ports[key])}`);
  } finally {
    await d.api('DELETE', `/containers/${id}?force=1`);
  }
});

test('withExposedPorts: the mapped port answers from the test process', async () => {
  const r = await scenario('exposedPort');
  assert.deepEqual(r.page, { status: 200, body: 'hello\n' });
  assert.ok(r.bindings.some((b: { HostPort: string }) => b.HostPort === String(r.mappedPort)), JSON.stringify(r.bindings));
});

test('Wait.forLogMessage: start() returns once the line was logged the asked number of times', async () => {
  assert.deepEqual(await scenario('waitForLogMessage'), { loggedBeforeReady: true });
});

test('Wait.forListeningPorts: start() waits until the server inside listens (checked inside and from the host)', async () => {
  const r = await scenario('waitForListeningPorts');
  assert.ok(r.waitedMs >= 2000, `ready after ${r.waitedMs} ms, before the server listened`);
  assert.deepEqual(r.page, { status: 200, body: 'ok\n' });
});

test('Wait.forHttp: start() waits for the status code and the body', async () => {
  const r = await scenario('waitForHttp');
  assert.ok(r.waitedMs >= 2000, `ready after ${r.waitedMs} ms, before the server listened`);
  assert.deepEqual(r.page, { status: 200, body: 'healthy\n' });
});

test('Wait.forHealthCheck: start() returns once the container is healthy', async () => {
  assert.deepEqual(await scenario('waitForHealthCheck'), { health: 'healthy' });
});

test('exec: output split by stream, exit code, working dir, environment, user', async () => {
  const r = await scenario('exec');
  assert.deepEqual(r.failing, { output: 'out\nerr\n', stdout: 'out\n', stderr: 'err\n', exitCode: 3 });
  assert.deepEqual(r.options, { output: '/tmp hi 1000\n', stdout: '/tmp hi 1000\n', stderr: '', exitCode: 0 });
  assert.equal(r.shellString.exitCode, 0);
  assert.equal(r.shellString.stdout, 'one two\n');
});

test('copy in (files with a mode, directories, content, also while running) and out as an archive', async () => {
  const r = await scenario('copyInAndOut');
  assert.equal(r.inside, 'from a file\nfrom a directory\nfrom content\ncopied while running\n640\n');
  assert.deepEqual(r.archive, {
    'data/file.txt': 'from a file\n',
    'data/dir/sub/deep.txt': 'from a directory\n',
    'data/content.txt': 'from content\n',
    'data/later.txt': 'copied while running\n',
  });
});

test('Network with aliases: containers on it reach each other by alias', async () => {
  const r = await scenario('networkAliases');
  assert.equal(r.byAlias, 'by alias\n');
  assert.equal(r.byOtherAlias, 'by alias\n');
  // with aliases testcontainers creates the container on the default network and connects it
  // to its own with the aliases, so it is on both, as with Docker
  assert.deepEqual([...r.networkNames].sort(), ['bridge', r.network].sort());
  assert.match(r.ipOnNetwork, /^\d+\.\d+\.\d+\.\d+$/);
});

// compose 1.29 disconnects a new container from its last network and connects it again with its
// aliases: the container keeps its network mode through that, as with Docker
test('DockerComposeEnvironment (docker-compose 1.29): a stack comes up, is reached and goes down', async () => {
  const dir = path.join(work, 'stack');
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(
    path.join(dir, 'docker-compose.yml'),
    [
      'version: "3"',
      'services:',
      '  web:',
      '    image: busybox',
      '    command: ["sh", "-c", "mkdir -p /w && echo from compose > /w/index.html && echo web up && exec httpd -f -p 80 -h /w"]',
      '    ports: ["80"]',
      '  worker:',
      '    image: busybox',
      '    command: ["sleep", "300"]',
      '    depends_on: [web]',
      '',
    ].join('\n'),
  );
  const r = await scenario('composeEnvironment', { COMPOSE_DIR: dir });
  assert.deepEqual(r.page, { status: 200, body: 'from compose\n' });
  assert.equal(r.fromWorker, 'from compose\n');
  const left = (await d.api('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: ['com.docker.compose.project=tcstack'] }))}`)).json();
  assert.deepEqual(left, [], 'down removed the stack');
});

test('withReuse and TESTCONTAINERS_REUSE_ENABLE: a second test run gets the same container, which the reaper leaves alone', async () => {
  const first = await scenario('reusable', { TESTCONTAINERS_REUSE_ENABLE: 'true' });
  const second = await scenario('reusable', { TESTCONTAINERS_REUSE_ENABLE: 'true' });
  assert.equal(second.id, first.id);
  const inspect = (await d.api('GET', `/containers/${first.id}/json`)).json();
  assert.equal(inspect.State.Running, true);
  assert.ok(inspect.Config.Labels['org.testcontainers.container-hash']);
  assert.equal(inspect.Config.Labels['org.testcontainers.session-id'], undefined);
  await d.api('DELETE', `/containers/${first.id}?force=1`);
});

test('the reaper (Ryuk on): the containers, networks and images a finished test process left behind are removed, and the reaper goes too', async () => {
  const reapers = encodeURIComponent(JSON.stringify({ label: ['org.testcontainers.ryuk=true'] }));
  const noReaper = async () => ((await d.api('GET', `/containers/json?all=1&filters=${reapers}`)).json().length === 0 ? true : undefined);
  // a reaper of its own for this run (an earlier one ends 10 s after its last session), so the
  // run is not handed to one that is already pruning
  await until('the earlier scenarios\' reaper to finish', noReaper, 30_000);
  const left = await scenario('leaveBehind', { TESTCONTAINERS_RYUK_RECONNECTION_TIMEOUT: '1s' });
  await until('the left container to be removed', async () => ((await d.api('GET', `/containers/${left.container}/json`)).status === 404 ? true : undefined), 60_000);
  await until('the left network to be removed', async () => ((await d.api('GET', `/networks/${left.network}`)).status === 404 ? true : undefined), 30_000);
  await until('the image built for the session to be removed', async () => ((await d.api('GET', `/images/${left.image}/json`)).status === 404 ? true : undefined), 30_000);
  await until('the reaper to remove itself', noReaper, 30_000);
});
