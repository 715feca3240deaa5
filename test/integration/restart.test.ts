import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { TestDaemon } from '../helpers/daemon';

let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
});
after(async () => {
  await d?.cleanup();
});

test('a running container survives a daemon crash and is still managed after', async () => {
  const run = await d.berth(['run', '-d', '--name', 'survivor', 'busybox', 'sh', '-c', 'echo before; sleep 2; echo during; sleep 300']);
  assert.equal(run.code, 0, run.stderr);
  const exited = await d.berth(['run', '-d', '--name', 'quick', 'busybox', 'sh', '-c', 'sleep 1; echo quick-out; exit 7']);
  assert.equal(exited.code, 0, exited.stderr);
  const pid = Number((await d.berth(['inspect', '-f', '{{.State.Pid}}', 'survivor'])).stdout.trim());
  assert.ok(pid > 0);

  await d.stopProcess('SIGKILL');
  // while berthd is down the container keeps running and "quick" exits
  process.kill(pid, 0);
  await new Promise((r) => setTimeout(r, 3000));
  process.kill(pid, 0);
  await d.startProcess();

  assert.equal((await d.berth(['inspect', '-f', '{{.State.Status}} {{.State.Pid}}', 'survivor'])).stdout.trim(), `running ${pid}`);
  assert.equal((await d.berth(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'quick'])).stdout.trim(), 'exited 7');
  assert.equal((await d.berth(['logs', 'quick'])).stdout, 'quick-out\n');
  assert.equal((await d.berth(['logs', 'survivor'])).stdout, 'before\nduring\n');

  const stop = await d.berth(['stop', '-t', '1', 'survivor']);
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal((await d.berth(['inspect', '-f', '{{.State.Status}}', 'survivor'])).stdout.trim(), 'exited');
  assert.throws(() => process.kill(pid, 0));
});

test('images and stopped containers survive a graceful restart', async () => {
  await d.berth(['tag', 'busybox', 'kept:1']);
  const c = await d.berth(['run', '--name', 'stopped-one', 'kept:1', 'echo', 'kept']);
  assert.equal(c.code, 0, c.stderr);
  await d.stopProcess('SIGTERM');
  await d.startProcess();
  assert.equal((await d.berth(['image', 'inspect', '-f', '{{.RepoTags}}', 'kept:1'])).code, 0);
  assert.equal((await d.berth(['logs', 'stopped-one'])).stdout, 'kept\n');
  assert.equal((await d.berth(['start', '-a', 'stopped-one'])).stdout, 'kept\n');
});

test('SIGTERM shuts the daemon down gracefully and containers keep running (live restore)', async () => {
  assert.equal((await d.berth(['run', '-d', '--name', 'through-term', 'busybox', 'sleep', '300'])).code, 0);
  const pid = Number((await d.berth(['inspect', '-f', '{{.State.Pid}}', 'through-term'])).stdout.trim());
  const started = Date.now();
  await d.stopProcess('SIGTERM');
  assert.ok(Date.now() - started < 5000, 'the daemon stops without waiting for its containers');
  process.kill(pid, 0);
  await d.startProcess();
  assert.equal((await d.berth(['inspect', '-f', '{{.State.Status}} {{.State.Pid}}', 'through-term'])).stdout.trim(), `running ${pid}`);
  assert.equal((await d.berth(['rm', '-f', 'through-term'])).code, 0);
  assert.throws(() => process.kill(pid, 0));
});

test('a damaged container record is reported and skipped; the daemon and the other containers go on', async () => {
  assert.equal((await d.berth(['create', '--name', 'damaged', 'busybox', 'true'])).code, 0);
  assert.equal((await d.berth(['create', '--name', 'intact', 'busybox', 'echo', 'fine'])).code, 0);
  const id = (await d.berth(['inspect', '-f', '{{.Id}}', 'damaged'])).stdout.trim();
  await d.stopProcess('SIGKILL');
  const record = path.join(d.dataRoot, 'containers', id, 'container.json');
  writeFileSync(record, '{"ID": "half a rec');
  await d.startProcess();
  assert.match(d.output, new RegExp(`skipping container ${id}: its record cannot be read`));
  assert.equal((await d.api('GET', '/containers/damaged/json')).status, 404);
  assert.equal((await d.berth(['start', '-a', 'intact'])).stdout, 'fine\n');
  assert.ok(existsSync(record), 'the damaged record is left for a human to look at');
  assert.ok(existsSync(path.join(d.dataRoot, 'image')), 'nothing else was touched');
  rmSync(path.join(d.dataRoot, 'containers', id), { recursive: true, force: true });
});
