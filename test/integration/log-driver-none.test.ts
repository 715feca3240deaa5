import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { TestDaemon } from '../helpers/daemon';

// `--log-driver none`: the container runs, keeps no log, and `docker logs` is refused as dockerd does.
let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
});
after(async () => {
  await d?.cleanup();
});

test('the none log driver keeps no log and logs answers 501', { timeout: 120_000 }, async () => {
  const run = await d.docker(['run', '--name', 'quiet', '--log-driver', 'none', 'busybox', 'echo', 'hi']);
  assert.equal(run.code, 0, run.stderr);
  const info = await d.api('GET', '/containers/quiet/json');
  assert.equal(info.json().HostConfig.LogConfig.Type, 'none');
  const logs = await d.api('GET', '/containers/quiet/logs?stdout=1&stderr=1');
  assert.equal(logs.status, 501, logs.body);
  assert.equal(logs.json().message, 'configured logging driver does not support reading');
  const cli = await d.docker(['logs', 'quiet']);
  assert.notEqual(cli.code, 0);
  assert.match(cli.stderr, /configured logging driver does not support reading/);
});
