import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { TestDaemon } from '../helpers/daemon';

let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
});
after(async () => {
  await d?.cleanup();
});

test('run --rm prints the output and returns 0', async () => {
  const r = await d.berth(['run', '--rm', 'busybox', 'echo', 'hello']);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, 'hello\n');
  assert.equal(r.code, 0);
  const ps = await d.berth(['ps', '-aq']);
  assert.equal(ps.stdout.trim(), '', 'the --rm container is gone');
});

test('run returns the container exit code', async () => {
  const r = await d.berth(['run', '--rm', 'busybox', 'sh', '-c', 'exit 3']);
  assert.equal(r.code, 3);
});

test('stdout and stderr stay apart', async () => {
  const r = await d.berth(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2']);
  assert.equal(r.stdout, 'out\n');
  assert.equal(r.stderr, 'err\n');
});

test('a long output reaches a pipe whole before the CLI exits (run, logs; stdout and stderr)', async () => {
  // the compiled CLI once exited with the end of its output still unwritten
  const run = await d.berth(['run', '--name', 'long-out', 'busybox', 'sh', '-c', 'seq 1 60000; seq 1 20000 >&2']);
  assert.equal(run.code, 0, run.stderr.slice(-200));
  assert.equal(run.stdout.split('\n').length - 1, 60000);
  assert.equal(run.stderr.split('\n').length - 1, 20000);
  for (let i = 0; i < 8; i++) {
    const logs = await d.berth(['logs', 'long-out'], { timeoutMs: 60_000 });
    assert.equal(logs.stdout.split('\n').length - 1, 60000, `logs run ${i}`);
    assert.ok(logs.stdout.endsWith('\n60000\n'));
    assert.equal(logs.stderr.split('\n').length - 1, 20000, `logs run ${i}`);
  }
  await d.berth(['rm', 'long-out']);
});

test('start -a right after a run gets the new run\'s output only (berth and docker CLIs)', async () => {
  // an attach that came within a second of an exit was once given the earlier run's lines
  for (let i = 0; i < 4; i++) {
    await d.berth(['rm', '-f', 'again-a']);
    const first = await d.berth(['run', '--name', 'again-a', 'busybox', 'cat', '/proc/uptime']);
    const second = await d.berth(['start', '-a', 'again-a']);
    const third = await d.docker(['start', '-a', 'again-a']);
    for (const r of [first, second, third]) assert.equal(r.code, 0, r.stderr);
    const lines = [first, second, third].map((r) => r.stdout.trim().split('\n'));
    assert.deepEqual(lines.map((l) => l.length), [1, 1, 1], JSON.stringify(lines));
    assert.equal(new Set(lines.flat()).size, 3, `three runs, three readings: ${JSON.stringify(lines)}`);
  }
  await d.berth(['rm', '-f', 'again-a']);
});

test('the log read right after a start holds the output of a command that ends at once', async () => {
  // docker-py's build tests: create `ls -a`, start, read the logs with no wait in between
  for (let i = 0; i < 10; i++) {
    const created = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['echo', `quick ${i}`] });
    assert.equal(created.status, 201, created.body);
    const id = created.json().Id as string;
    assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
    const logs = await d.api('GET', `/containers/${id}/logs?stdout=1`);
    assert.ok(logs.body.includes(`quick ${i}`), `run ${i}: ${JSON.stringify(logs.body)}`);
    await d.api('DELETE', `/containers/${id}?force=1`);
  }
});

test('a command that does not exist is 127, one that cannot run is 126', async () => {
  const missing = await d.berth(['run', '--rm', 'busybox', 'no-such-command']);
  assert.equal(missing.code, 127, missing.stderr);
  assert.match(missing.stderr, /executable file not found/);
  const notExec = await d.berth(['run', '--rm', 'busybox', '/etc/passwd']);
  assert.equal(notExec.code, 126, notExec.stderr);
});

test('config from flags reaches the process: env, workdir, user, hostname, labels', async () => {
  const r = await d.berth([
    'run', '--rm', '-e', 'A=1', '-w', '/tmp', '-u', '1000:1000', '--hostname', 'h1', '--label', 'team=x',
    'busybox', 'sh', '-c', 'echo "$A $(pwd) $(id -u):$(id -g) $(hostname) $(cat /etc/hostname)"; echo $PATH',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const [line1, line2] = r.stdout.split('\n');
  assert.equal(line1, '1 /tmp 1000:1000 h1 h1');
  assert.equal(line2, '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
});

test('detached container: ps, logs, inspect, stop, start, restart, kill, wait, rm', async () => {
  const run = await d.berth(['run', '-d', '--name', 'web', '--label', 'team=x', 'busybox', 'sh', '-c', 'echo started; echo oops >&2; trap "echo bye; exit 0" TERM; while true; do sleep 0.1; done']);
  assert.equal(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  assert.match(id, /^[0-9a-f]{64}$/);

  const ps = await d.berth(['ps']);
  assert.match(ps.stdout.split('\n')[0], /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
  assert.match(ps.stdout, new RegExp(`^${id.slice(0, 12)}\\s+busybox\\s+"sh -c .*Up .*web$`, 'm'));
  assert.equal((await d.berth(['ps', '-q'])).stdout.trim(), id.slice(0, 12));
  assert.equal((await d.berth(['ps', '--filter', 'name=web', '--format', '{{.ID}} {{.Names}}'])).stdout.trim(), `${id.slice(0, 12)} web`);
  assert.equal((await d.berth(['ps', '-q', '--filter', 'name=nothing-like-this'])).stdout.trim(), '');
  assert.equal((await d.berth(['ps', '-q', '--filter', 'label=team=x'])).stdout.trim(), id.slice(0, 12));

  // logs keep the two streams apart
  let logs = await d.berth(['logs', 'web']);
  for (let i = 0; i < 50 && !logs.stdout.includes('started'); i++) {
    await new Promise((r) => setTimeout(r, 100));
    logs = await d.berth(['logs', 'web']);
  }
  assert.equal(logs.stdout, 'started\n');
  assert.equal(logs.stderr, 'oops\n');

  assert.equal((await d.berth(['inspect', '-f', '{{.State.Status}}', 'web'])).stdout.trim(), 'running');
  const inspected = JSON.parse((await d.berth(['inspect', 'web'])).stdout);
  assert.equal(inspected[0].Id, id);
  assert.equal(inspected[0].Name, '/web');
  assert.equal(inspected[0].Config.Labels.team, 'x');
  assert.ok(inspected[0].State.Pid > 0);

  // an ID prefix finds the container
  assert.equal((await d.berth(['inspect', '-f', '{{.Name}}', id.slice(0, 5)])).stdout.trim(), '/web');

  const stop = await d.berth(['stop', 'web']);
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal((await d.berth(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'web'])).stdout.trim(), 'exited 0');
  assert.match((await d.berth(['logs', 'web'])).stdout, /bye/);

  assert.equal((await d.berth(['start', 'web'])).code, 0);
  assert.equal((await d.berth(['inspect', '-f', '{{.State.Running}}', 'web'])).stdout.trim(), 'true');
  assert.equal((await d.berth(['restart', '-t', '1', 'web'])).code, 0);
  assert.equal((await d.berth(['inspect', '-f', '{{.State.Running}}', 'web'])).stdout.trim(), 'true');

  const rmRunning = await d.berth(['rm', 'web']);
  assert.notEqual(rmRunning.code, 0);
  assert.match(rmRunning.stderr, /container is running: stop the container before removing or force remove/);

  const waiting = d.berth(['wait', 'web']);
  assert.equal((await d.berth(['kill', 'web'])).code, 0);
  const waited = await waiting;
  assert.equal(waited.stdout.trim(), '137');
  assert.equal((await d.berth(['rm', 'web'])).code, 0);
  assert.equal((await d.berth(['ps', '-aq', '--filter', 'name=web'])).stdout.trim(), '');
});

test('names are unique and generated when not given', async () => {
  const a = await d.berth(['create', '--name', 'dup', 'busybox', 'true']);
  assert.equal(a.code, 0, a.stderr);
  const b = await d.berth(['create', '--name', 'dup', 'busybox', 'true']);
  assert.notEqual(b.code, 0);
  assert.match(b.stderr, /Conflict. The container name "\/dup" is already in use/);
  const c = await d.berth(['create', 'busybox', 'true']);
  const name = (await d.berth(['inspect', '-f', '{{.Name}}', c.stdout.trim()])).stdout.trim();
  assert.match(name, /^\/[a-z]+_[a-z]+\d*$/);
  await d.berth(['rm', 'dup', c.stdout.trim()]);
});

test('network none has only loopback; host shares the daemon namespace', async () => {
  const none = await d.berth(['run', '--rm', '--network', 'none', 'busybox', 'cat', '/proc/net/dev']);
  assert.equal(none.code, 0, none.stderr);
  const ifaces = (out: string) => out.split('\n').slice(2).map((l) => l.split(':')[0].trim()).filter(Boolean).sort();
  assert.deepEqual(ifaces(none.stdout), ['lo']);
  const host = await d.berth(['run', '--rm', '--network', 'host', 'busybox', 'cat', '/proc/net/dev']);
  assert.equal(host.code, 0, host.stderr);
  // the test's namespace has a dummy interface that only a host-network container sees
  assert.ok(ifaces(host.stdout).includes('berthdummy0'), host.stdout);
});
