import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { TestDaemon } from '../helpers/daemon';

// What the real docker CLI shows of a container and an image, as dockerd gives it.
let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
});
after(async () => {
  await d?.cleanup();
});

test('run -u uid:gid: the group is a supplementary group too, in the container and in an exec', async () => {
  const run = await d.docker(['run', '--rm', '-u', '1234:5678', 'busybox', 'id']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'uid=1234 gid=5678 groups=5678\n');
  const c = await d.docker(['run', '-d', '--name', 'ugroups', '-u', '1234:5678', 'busybox', 'sleep', '300']);
  assert.equal(c.code, 0, c.stderr);
  try {
    const exec = await d.docker(['exec', 'ugroups', 'id']);
    assert.equal(exec.stdout, 'uid=1234 gid=5678 groups=5678\n', exec.stderr);
  } finally {
    await d.docker(['rm', '-f', 'ugroups']);
  }
});

test('ps: the Command quotes the arguments that hold a space, as dockerd lists it', async () => {
  const c = await d.docker(['run', '-d', '--name', 'quoted', 'busybox', 'sh', '-c', 'echo started; sleep 300']);
  assert.equal(c.code, 0, c.stderr);
  try {
    const list = await d.api('GET', '/containers/json?filters=' + encodeURIComponent('{"name":["quoted"]}'));
    assert.equal(list.json()[0].Command, "sh -c 'echo started; sleep 300'");
    const ps = await d.docker(['ps', '--filter', 'name=quoted', '--format', '{{.Command}}']);
    assert.equal(ps.stdout, '"sh -c \'echo started…"\n', ps.stderr);
  } finally {
    await d.docker(['rm', '-f', 'quoted']);
  }
});
