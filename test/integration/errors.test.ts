import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { TestDaemon, runCommand, BERTH } from '../helpers/daemon';

let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
});
after(async () => {
  await d?.cleanup();
});

test('unknown image: "Unable to find image" and exit 125', async () => {
  const r = await d.berth(['run', '--rm', 'nosuchimage']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /Unable to find image 'nosuchimage:latest' locally/);
});

test('invalid reference format', async () => {
  const r = await d.berth(['run', '--rm', 'UPPER:case:x']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /invalid reference format/);
});

test('unknown flag and bad value exit 125', async () => {
  const unknown = await d.berth(['run', '--no-such-flag', 'busybox']);
  assert.equal(unknown.code, 125);
  assert.match(unknown.stderr, /unknown flag: --no-such-flag/);
  const bad = await d.berth(['run', '-m', 'lots', 'busybox', 'true']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /invalid argument "lots" for "-m, --memory" flag/);
});

test('operations on missing containers say "No such container"', async () => {
  for (const cmd of [['stop', 'ghost'], ['rm', 'ghost'], ['logs', 'ghost'], ['inspect', 'ghost']]) {
    const r = await d.berth(cmd);
    assert.notEqual(r.code, 0, cmd.join(' '));
    assert.match(r.stderr, /No such (container|object): ghost/, cmd.join(' '));
  }
});

test('a CLI that cannot reach the daemon says where it looked', async () => {
  const r = await runCommand(BERTH, ['-H', 'unix:///run/berth-nowhere.sock', 'ps']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /unix:\/\/\/run\/berth-nowhere.sock/);
  assert.match(r.stderr, /berthd/);
});

test('the API answers in Docker shapes: _ping, version, info, errors', async () => {
  const ping = await d.api('GET', '/_ping');
  assert.equal(ping.status, 200);
  assert.equal(ping.body, 'OK');
  const v = (await d.api('GET', '/v1.50/version')).json();
  assert.equal(v.ApiVersion, '1.50');
  assert.equal(v.MinAPIVersion, '1.24');
  const info = (await d.api('GET', '/v1.41/info')).json();
  assert.equal(typeof info.Containers, 'number');
  assert.equal(info.CgroupDriver, 'cgroupfs');
  const tooOld = await d.api('GET', '/v1.12/info');
  assert.equal(tooOld.status, 400);
  const missing = await d.api('GET', '/containers/nope/json');
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.json(), { message: 'No such container: nope' });
});
