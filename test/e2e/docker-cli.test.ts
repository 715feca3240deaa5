import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { TestDaemon } from '../helpers/daemon';

// The real docker CLI (/usr/local/bin/docker) against berthd.
let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
});
after(async () => {
  await d?.cleanup();
});

test('docker version and info talk to berthd', async () => {
  const v = await d.docker(['version', '--format', '{{.Server.APIVersion}}']);
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stdout.trim(), '1.50');
  const info = await d.docker(['info', '--format', '{{.Driver}} {{.CgroupDriver}}']);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout.trim(), /^(overlay2|vfs) cgroupfs$/);
});

test('docker run --rm prints output and returns the exit code', async () => {
  const r = await d.docker(['run', '--rm', 'busybox', 'echo', 'hello']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'hello\n');
  const three = await d.docker(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  assert.equal(three.code, 3);
  assert.equal(three.stdout, 'out\n');
  assert.equal(three.stderr, 'err\n');
  const missing = await d.docker(['run', '--rm', 'busybox', 'nope-not-here']);
  assert.equal(missing.code, 127, missing.stderr);
});

test('docker run -d, ps, logs, inspect, stop, rm', async () => {
  const run = await d.docker(['run', '-d', '--name', 'dweb', 'busybox', 'sh', '-c', 'echo up; sleep 300']);
  assert.equal(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  const ps = await d.docker(['ps', '--format', '{{.ID}} {{.Names}} {{.Status}}']);
  assert.match(ps.stdout, new RegExp(`^${id.slice(0, 12)} dweb Up`, 'm'));
  let logs = await d.docker(['logs', 'dweb']);
  for (let i = 0; i < 30 && logs.stdout === ''; i++) {
    await new Promise((r) => setTimeout(r, 100));
    logs = await d.docker(['logs', 'dweb']);
  }
  assert.equal(logs.stdout, 'up\n');
  const inspect = JSON.parse((await d.docker(['inspect', 'dweb'])).stdout);
  assert.equal(inspect[0].Id, id);
  assert.equal(inspect[0].State.Running, true);
  assert.equal((await d.docker(['stop', '-t', '1', 'dweb'])).code, 0);
  assert.equal((await d.docker(['inspect', '-f', '{{.State.Status}}', 'dweb'])).stdout.trim(), 'exited');
  const rm = await d.docker(['rm', 'dweb']);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(rm.stdout.trim(), 'dweb');
});

test('docker images, tag, rmi', async () => {
  assert.equal((await d.docker(['tag', 'busybox', 'dtag:2'])).code, 0);
  const images = await d.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
  assert.deepEqual(images.stdout.trim().split('\n').sort(), ['busybox:latest', 'dtag:2']);
  const rmi = await d.docker(['rmi', 'dtag:2']);
  assert.equal(rmi.code, 0, rmi.stderr);
  assert.match(rmi.stdout, /Untagged: dtag:2/);
  const missing = await d.docker(['run', '--rm', 'no-such-image-here']);
  assert.equal(missing.code, 125);
  assert.match(missing.stderr, /Unable to find image 'no-such-image-here:latest' locally/);
});
