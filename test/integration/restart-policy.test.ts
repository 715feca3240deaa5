import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { TestDaemon } from '../helpers/daemon';
import { sleep, until } from '../helpers/wait';

let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
});
after(async () => {
  await d?.cleanup();
});


async function inspect(ref: TestDaemon, name: string): Promise<any> {
  const r = await ref.api('GET', `/containers/${name}/json`);
  assert.equal(r.status, 200, r.body);
  return r.json();
}

/** The container's events between two Unix times, oldest first. */
async function eventsOf(ref: TestDaemon, id: string, since: number): Promise<{ Action: string; timeNano: number }[]> {
  const filters = encodeURIComponent(JSON.stringify({ container: [id], type: ['container'] }));
  const r = await ref.api('GET', `/events?since=${since}&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${filters}`);
  assert.equal(r.status, 200, r.body);
  return r.body.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

test('on-failure:3 restarts three times with a doubling backoff, then stays exited', async () => {
  const t0 = Math.floor(Date.now() / 1000);
  const run = await d.berth(['run', '-d', '--name', 'flaky', '--restart', 'on-failure:3', 'busybox', 'sh', '-c', 'exit 3']);
  assert.equal(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  const final = await until('the last exit', async () => {
    const c = await inspect(d, id);
    return c.State.Status === 'exited' && c.RestartCount === 3 ? c : undefined;
  });
  assert.equal(final.State.ExitCode, 3);
  assert.equal(final.State.Restarting, false);
  await sleep(1500); // no fourth restart comes later
  assert.equal((await inspect(d, id)).RestartCount, 3);
  const evs = await eventsOf(d, id, t0);
  const starts = evs.filter((e) => e.Action === 'start');
  const dies = evs.filter((e) => e.Action === 'die');
  assert.equal(starts.length, 4, JSON.stringify(evs.map((e) => [e.Action, e.timeNano])));
  assert.equal(dies.length, 4);
  // the wait between a death and the next start: the backoff (100, 200, 400 ms) plus the
  // time a start takes, which a loaded machine stretches: only the lower bounds are firm
  const waits = [0, 1, 2].map((i) => (starts[i + 1].timeNano - dies[i].timeNano) / 1e6);
  assert.ok(waits[0] >= 90, `first wait ${waits[0]} ms`);
  assert.ok(waits[1] >= 190, `waits ${waits}`);
  assert.ok(waits[2] >= 390, `waits ${waits}`);
  assert.equal((await d.docker(['inspect', '-f', '{{.RestartCount}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}', 'flaky'])).stdout.trim(), '3 on-failure:3');
});

test('on-failure does not restart a clean exit; always does, and ps shows it restarting', async () => {
  const clean = await d.berth(['run', '-d', '--name', 'clean', '--restart', 'on-failure', 'busybox', 'true']);
  assert.equal(clean.code, 0, clean.stderr);
  const always = await d.berth(['run', '-d', '--name', 'looper', '--restart', 'always', 'busybox', 'sh', '-c', 'exit 0']);
  assert.equal(always.code, 0, always.stderr);
  // the backoff grows to seconds after a few quick exits, long enough to see the state
  const status = await until('a Restarting status', async () => {
    const ps = await d.berth(['ps', '--filter', 'name=looper', '--format', '{{.Status}}']);
    return /^Restarting \(0\) /.test(ps.stdout.trim()) ? ps.stdout.trim() : undefined;
  });
  assert.match(status, /^Restarting \(0\) .* ago$/);
  const c = await inspect(d, 'looper');
  assert.equal(c.State.Restarting, true);
  assert.ok(c.RestartCount >= 1, `RestartCount ${c.RestartCount}`);
  const ce = await inspect(d, 'clean');
  assert.equal(ce.State.Status, 'exited');
  assert.equal(ce.RestartCount, 0);

  // enough restarts that a fresh count is told apart from this one
  await until('three restarts', async () => ((await inspect(d, 'looper')).RestartCount >= 3 ? true : undefined));
  // a stop while it waits for its next start ends the loop at once
  const stop = await d.berth(['stop', 'looper']);
  assert.equal(stop.code, 0, stop.stderr);
  const stopped = await inspect(d, 'looper');
  assert.equal(stopped.State.Status, 'exited');
  assert.equal(stopped.State.Running, false);
  const count = stopped.RestartCount;
  await sleep(2500);
  const later = await inspect(d, 'looper');
  assert.equal(later.State.Status, 'exited');
  assert.equal(later.RestartCount, count);
  assert.ok(count >= 3, `RestartCount ${count} before the user's start`);
  // a start by the user counts afresh (Docker resets RestartCount and the backoff): right
  // after it, at most one restart (100 ms of backoff away) can have been counted
  assert.equal((await d.berth(['start', 'looper'])).code, 0);
  const fresh = (await inspect(d, 'looper')).RestartCount;
  assert.ok(fresh <= 1, `RestartCount ${fresh} right after a start, ${count} before it`);
  assert.equal((await d.berth(['rm', '-f', 'looper'])).code, 0);
  assert.equal((await d.api('GET', '/containers/looper/json')).status, 404);
});

test('a manual stop of a running container is respected by every policy', async () => {
  for (const policy of ['always', 'unless-stopped', 'on-failure']) {
    const name = `manual-${policy}`;
    assert.equal((await d.berth(['run', '-d', '--name', name, '--restart', policy, 'busybox', 'sleep', '300'])).code, 0);
    assert.equal((await d.berth(['stop', '-t', '0', name])).code, 0);
  }
  assert.equal((await d.berth(['run', '-d', '--name', 'killed', '--restart', 'always', 'busybox', 'sleep', '300'])).code, 0);
  assert.equal((await d.berth(['kill', 'killed'])).code, 0);
  await sleep(1000);
  for (const name of ['manual-always', 'manual-unless-stopped', 'manual-on-failure', 'killed']) {
    const c = await inspect(d, name);
    assert.equal(c.State.Status, 'exited', name);
    assert.equal(c.RestartCount, 0, name);
  }
});

test('a crashed daemon restarts, after it comes back, what exited while it was down', async () => {
  assert.equal((await d.berth(['run', '-d', '--name', 'down-always', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 1; exit 5'])).code, 0);
  assert.equal((await d.berth(['run', '-d', '--name', 'down-no', 'busybox', 'sh', '-c', 'sleep 1; exit 5'])).code, 0);
  await d.stopProcess('SIGKILL');
  await sleep(2000);
  await d.startProcess();
  const back = await until('down-always to run again', async () => {
    const c = await inspect(d, 'down-always');
    return c.State.Status === 'running' && c.RestartCount >= 1 ? c : undefined;
  });
  assert.ok(back.State.Pid > 0);
  const no = await inspect(d, 'down-no');
  assert.equal(no.State.Status, 'exited');
  assert.equal(no.State.ExitCode, 5);
  assert.equal((await d.berth(['rm', '-f', 'down-always', 'down-no'])).code, 0);
});

test('without live restore, shutdown stops containers and the daemon brings back always and unless-stopped', async () => {
  const lr = await TestDaemon.start(['--live-restore=false']);
  try {
    assert.equal((await lr.api('GET', '/info')).json().LiveRestoreEnabled, false);
    const runs: [string, string[]][] = [
      ['lr-always', ['--restart', 'always']],
      ['lr-unless', ['--restart', 'unless-stopped']],
      ['lr-no', []],
    ];
    // sleep as pid 1 ignores SIGTERM: a short stop timeout keeps the shutdown short
    const sleeper = ['--stop-timeout', '1', 'busybox', 'sleep', '300'];
    for (const [name, flags] of runs) assert.equal((await lr.berth(['run', '-d', '--name', name, ...flags, ...sleeper])).code, 0);
    assert.equal((await lr.berth(['run', '-d', '--name', 'lr-unless-stopped-by-hand', '--restart', 'unless-stopped', ...sleeper])).code, 0);
    assert.equal((await lr.berth(['run', '-d', '--name', 'lr-always-stopped-by-hand', '--restart', 'always', ...sleeper])).code, 0);
    assert.equal((await lr.berth(['stop', '-t', '0', 'lr-unless-stopped-by-hand', 'lr-always-stopped-by-hand'])).code, 0);
    const pid = (await inspect(lr, 'lr-no')).State.Pid as number;
    await lr.stopProcess('SIGTERM');
    assert.throws(() => process.kill(pid, 0), 'the container was stopped with the daemon');
    await lr.startProcess();
    for (const name of ['lr-always', 'lr-unless', 'lr-always-stopped-by-hand']) {
      await until(`${name} to run`, async () => ((await inspect(lr, name)).State.Status === 'running' ? true : undefined));
    }
    await sleep(500);
    assert.equal((await inspect(lr, 'lr-no')).State.Status, 'exited');
    assert.equal((await inspect(lr, 'lr-unless-stopped-by-hand')).State.Status, 'exited');
  } finally {
    await lr.cleanup();
  }
});

test('bad restart policies are refused in Docker words', async () => {
  const rm = await d.berth(['run', '--rm', '--restart', 'always', 'busybox', 'true']);
  assert.equal(rm.code, 125);
  assert.match(rm.stderr, /conflicting options: cannot specify both --restart and --rm/);
  const api = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always' } } });
  assert.equal(api.status, 400);
  assert.match(api.json().message, /can't create 'AutoRemove' container with restart policy/);
  const unknown = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { RestartPolicy: { Name: 'sometimes' } } });
  assert.equal(unknown.status, 400);
  assert.match(unknown.json().message, /invalid restart policy: unknown policy 'sometimes'/);
  const retries = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { RestartPolicy: { Name: 'always', MaximumRetryCount: 2 } } });
  assert.equal(retries.status, 400);
  assert.match(retries.json().message, /maximum retry count can only be used with 'on-failure'/);
  const docker = await d.docker(['run', '-d', '--restart', 'bogus', 'busybox', 'true']);
  assert.notEqual(docker.code, 0);
  assert.match(docker.stderr, /invalid restart policy|bogus/);
});
