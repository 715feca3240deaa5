import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestDaemon } from '../helpers/daemon';
import { sleep, until } from '../helpers/wait';

let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
});
after(async () => {
  await d?.cleanup();
});

async function health(name: string): Promise<{ Status: string; FailingStreak: number; Log: { ExitCode: number; Output: string }[] }> {
  return (await d.api('GET', `/containers/${name}/json`)).json().State.Health;
}


test('starting, unhealthy after the retries, healthy once the check passes; events and the log', async () => {
  const t0 = Math.floor(Date.now() / 1000);
  const run = await d.berth(['run', '-d', '--name', 'checked', '--health-cmd', 'test -f /tmp/ok && echo fine', '--health-interval', '1s', '--health-retries', '2', 'busybox', 'sleep', '300']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal((await health('checked')).Status, 'starting');
  assert.match((await d.berth(['ps', '--filter', 'name=checked', '--format', '{{.Status}}'])).stdout, /\(health: starting\)/);
  const bad = await until('unhealthy', async () => {
    const h = await health('checked');
    return h.Status === 'unhealthy' ? h : undefined;
  });
  assert.ok(bad.FailingStreak >= 2);
  assert.ok(bad.Log.every((e) => e.ExitCode === 1));
  assert.equal((await d.berth(['exec', 'checked', 'touch', '/tmp/ok'])).code, 0);
  const good = await until('healthy', async () => {
    const h = await health('checked');
    return h.Status === 'healthy' ? h : undefined;
  });
  assert.equal(good.FailingStreak, 0);
  assert.equal(good.Log[good.Log.length - 1].Output, 'fine\n');
  assert.match((await d.berth(['ps', '--filter', 'name=checked', '--format', '{{.Status}}'])).stdout, /^Up .* \(healthy\)\n$/);
  assert.equal((await d.berth(['ps', '--filter', 'health=healthy', '--format', '{{.Names}}'])).stdout, 'checked\n');
  assert.equal((await d.berth(['ps', '--filter', 'health=unhealthy', '--format', '{{.Names}}'])).stdout, '');
  const filters = encodeURIComponent(JSON.stringify({ container: ['checked'] }));
  const evs = (await d.api('GET', `/events?since=${t0}&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${filters}`)).body;
  const actions = evs.split('\n').filter(Boolean).map((l) => JSON.parse(l).Action).filter((a: string) => a.startsWith('health_status'));
  assert.deepEqual(actions, ['health_status: unhealthy', 'health_status: healthy']);
});

test('a check that hangs is killed at its timeout and counts as a failure', async () => {
  assert.equal((await d.berth(['run', '-d', '--name', 'hangs', '--health-cmd', 'sleep 100', '--health-interval', '1s', '--health-timeout', '1s', '--health-retries', '1', 'busybox', 'sleep', '300'])).code, 0);
  const h = await until('unhealthy', async () => {
    const x = await health('hangs');
    return x.Status === 'unhealthy' ? x : undefined;
  });
  assert.equal(h.Log[0].ExitCode, -1);
  assert.equal(h.Log[0].Output, 'Health check exceeded timeout (1s)');
  // killed probes do not pile up: after several timeouts at most the one in flight runs
  const id = (await d.berth(['inspect', '-f', '{{.Id}}', 'hangs'])).stdout.trim();
  await sleep(4000);
  const pids = readFileSync(path.join('/sys/fs/cgroup/pids', d.cgroupParent, id, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
  const probes = pids.filter((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ').trim() === 'sleep 100');
  assert.ok(probes.length <= 1, `${probes.length} probes still running`);
  assert.ok((await health('hangs')).Log.length >= 3);
  await d.berth(['stop', '-t', '0', 'hangs']);
  assert.equal((await d.api('GET', `/containers/${id}/json`)).json().State.Health.Status, 'unhealthy', 'the last status stays after a stop');
});

test('HEALTHCHECK from a Dockerfile, --no-healthcheck, the docker CLI, and a bad interval', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-hc-'));
  try {
    await fsp.writeFile(path.join(dir, 'Dockerfile'), 'FROM busybox\nHEALTHCHECK --interval=1s --retries=1 CMD true\nCMD ["sleep", "300"]\n');
    const build = await d.berth(['build', '-q', '-t', 'hc:1', dir]);
    assert.equal(build.code, 0, build.stderr);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
  assert.equal((await d.berth(['run', '-d', '--name', 'from-image', 'hc:1'])).code, 0);
  await until('healthy from the image', async () => ((await health('from-image'))?.Status === 'healthy' ? true : undefined));
  assert.equal((await d.berth(['run', '-d', '--name', 'unchecked', '--no-healthcheck', 'hc:1'])).code, 0);
  await sleep(1500);
  assert.equal(await health('unchecked'), undefined);
  const docker = await d.docker(['run', '-d', '--name', 'by-docker', '--health-cmd', 'true', '--health-interval', '1s', 'busybox', 'sleep', '300']);
  assert.equal(docker.code, 0, docker.stderr);
  await until('docker ps shows healthy', async () => (/\(healthy\)/.test((await d.docker(['ps', '--filter', 'name=by-docker', '--format', '{{.Status}}'])).stdout) ? true : undefined));
  const bad = await d.api('POST', '/containers/create', { Image: 'busybox', Healthcheck: { Test: ['CMD', 'true'], Interval: 1000 } });
  assert.equal(bad.status, 400);
  assert.match(bad.json().message, /Interval in Healthcheck cannot be less than 1ms/);
});
