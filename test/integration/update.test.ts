import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { TestDaemon } from '../helpers/daemon';

let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
});
after(async () => {
  await d?.cleanup();
});

/** A value the kernel holds for the container's cgroup (this machine is cgroup v1). */
function cgroupValue(controller: string, id: string, file: string): string {
  return readFileSync(path.join('/sys/fs/cgroup', controller, d.cgroupParent, id, file), 'utf8').trim();
}

async function idOf(name: string): Promise<string> {
  return (await d.berth(['inspect', '-f', '{{.Id}}', name])).stdout.trim();
}

test('update changes the limits of a running container at once and keeps them', async () => {
  assert.equal((await d.berth(['run', '-d', '--name', 'live', '-m', '64m', '--pids-limit', '50', 'busybox', 'sleep', '300'])).code, 0);
  const id = await idOf('live');
  assert.equal(cgroupValue('memory', id, 'memory.limit_in_bytes'), String(64 * 1024 * 1024));
  const up = await d.berth(['update', '-m', '128m', '--memory-swap', '256m', '--cpus', '0.5', '--pids-limit', '20', '--cpu-shares', '512', 'live']);
  assert.equal(up.code, 0, up.stderr);
  assert.equal(up.stdout, 'live\n');
  assert.equal(cgroupValue('memory', id, 'memory.limit_in_bytes'), String(128 * 1024 * 1024));
  assert.equal(cgroupValue('cpu', id, 'cpu.cfs_quota_us'), '50000');
  assert.equal(cgroupValue('cpu', id, 'cpu.cfs_period_us'), '100000');
  assert.equal(cgroupValue('cpu', id, 'cpu.shares'), '512');
  assert.equal(cgroupValue('pids', id, 'pids.max'), '20');
  const hc = JSON.parse((await d.berth(['inspect', '-f', '{{json .HostConfig}}', 'live'])).stdout);
  assert.equal(hc.Memory, 128 * 1024 * 1024);
  assert.equal(hc.MemorySwap, 256 * 1024 * 1024);
  assert.equal(hc.NanoCpus, 5e8);
  assert.equal(hc.PidsLimit, 20);

  // -1 lifts the pids limit; the docker CLI speaks the same endpoint
  assert.equal((await d.berth(['update', '--pids-limit', '-1', 'live'])).code, 0);
  assert.equal(cgroupValue('pids', id, 'pids.max'), 'max');
  const docker = await d.docker(['update', '--cpu-shares', '256', '--restart', 'on-failure:2', 'live']);
  assert.equal(docker.code, 0, docker.stderr);
  assert.equal(cgroupValue('cpu', id, 'cpu.shares'), '256');
  assert.equal((await d.berth(['inspect', '-f', '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}', 'live'])).stdout.trim(), 'on-failure:2');

  // the limits hold across a restart of the container
  assert.equal((await d.berth(['restart', '-t', '0', 'live'])).code, 0);
  assert.equal(cgroupValue('memory', id, 'memory.limit_in_bytes'), String(128 * 1024 * 1024));
  assert.equal(cgroupValue('cpu', id, 'cpu.shares'), '256');
});

test('update of a stopped container applies at its next start', async () => {
  assert.equal((await d.berth(['create', '--name', 'later', 'busybox', 'sleep', '300'])).code, 0);
  assert.equal((await d.berth(['update', '-m', '32m', 'later'])).code, 0);
  assert.equal((await d.berth(['start', 'later'])).code, 0);
  assert.equal(cgroupValue('memory', await idOf('later'), 'memory.limit_in_bytes'), String(32 * 1024 * 1024));
});

test('bad updates are refused and change nothing', async () => {
  assert.equal((await d.berth(['run', '-d', '--name', 'strict', '-m', '64m', '--memory-swap', '96m', 'busybox', 'sleep', '300'])).code, 0);
  const id = await idOf('strict');
  const over = await d.berth(['update', '-m', '128m', 'strict']);
  assert.equal(over.code, 1);
  assert.match(over.stderr, /Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time/);
  assert.equal(cgroupValue('memory', id, 'memory.limit_in_bytes'), String(64 * 1024 * 1024));
  const tiny = await d.berth(['update', '-m', '1m', 'strict']);
  assert.equal(tiny.code, 1);
  assert.match(tiny.stderr, /Minimum memory limit allowed is 6MB/);
  const none = await d.berth(['update', 'strict']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /You must provide one or more flags when using this command/);
  const policy = await d.berth(['update', '--restart', 'sometimes', 'strict']);
  assert.notEqual(policy.code, 0);
  const gone = await d.berth(['update', '-m', '64m', 'no-such-container']);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /No such container: no-such-container/);
  const api = await d.api('POST', '/containers/no-such-container/update', { Memory: 64 * 1024 * 1024 });
  assert.equal(api.status, 404);

  assert.equal((await d.berth(['create', '--rm', '--name', 'ephemeral', 'busybox', 'true'])).code, 0);
  const rm = await d.berth(['update', '--restart', 'always', 'ephemeral']);
  assert.equal(rm.code, 1);
  assert.match(rm.stderr, /Restart policy cannot be updated because AutoRemove is enabled for the container/);
  assert.equal(JSON.parse((await d.berth(['inspect', '-f', '{{json .HostConfig}}', 'strict'])).stdout).Memory, 64 * 1024 * 1024);
});

test('pause freezes the cgroup; pausing twice and unpausing a running container are errors', async () => {
  assert.equal((await d.berth(['run', '-d', '--name', 'frozen', 'busybox', 'sleep', '300'])).code, 0);
  const id = await idOf('frozen');
  assert.equal((await d.berth(['pause', 'frozen'])).code, 0);
  assert.equal(cgroupValue('freezer', id, 'freezer.state'), 'FROZEN');
  assert.match((await d.berth(['ps', '--filter', 'name=frozen', '--format', '{{.Status}}'])).stdout, /\(Paused\)/);
  const twice = await d.berth(['pause', 'frozen']);
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /is already paused/);
  assert.equal((await d.berth(['unpause', 'frozen'])).code, 0);
  assert.equal(cgroupValue('freezer', id, 'freezer.state'), 'THAWED');
  const again = await d.berth(['unpause', 'frozen']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /is not paused/);
  const top = await d.berth(['top', 'frozen', '-o', 'pid,comm']);
  assert.equal(top.code, 0, top.stderr);
  assert.match(top.stdout, /^PID\s+COMMAND\n\d+\s+sleep\n$/);
});
