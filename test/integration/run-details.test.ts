import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { TestDaemon, runCommand } from '../helpers/daemon';

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

test('an image built FROM a base without PATH gets the default PATH; a container of that base adds none to its Config.Env', async () => {
  const src = await d.docker(['create', '--name', 'nopath-src', 'busybox']);
  assert.equal(src.code, 0, src.stderr);
  const exported = await runCommand('sh', ['-c', `docker export nopath-src | docker import - nopath:1`], { env: { ...process.env, DOCKER_HOST: d.host } });
  assert.equal(exported.code, 0, exported.stderr);
  await d.docker(['rm', 'nopath-src']);
  assert.deepEqual((await d.api('GET', '/images/nopath:1/json')).json().Config.Env ?? [], [], 'an imported image has no Env');
  const built = await d.docker(['build', '-t', 'nopath:built', '-'], { input: 'FROM nopath:1\nRUN true\n' });
  assert.equal(built.code, 0, built.stderr);
  assert.deepEqual((await d.api('GET', '/images/nopath:built/json')).json().Config.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
  const c = await d.api('POST', '/containers/create?name=nopath-c', { Image: 'nopath:1', Cmd: ['true'], Env: ['A=1'] });
  assert.equal(c.status, 201, c.body);
  assert.deepEqual((await d.api('GET', '/containers/nopath-c/json')).json().Config.Env, ['A=1']);
  await d.api('DELETE', '/containers/nopath-c');
  assert.equal((await d.docker(['create', '--name', 'nopath-d', 'nopath:1', 'true'])).code, 0);
  assert.equal((await d.api('GET', '/containers/nopath-d/json')).json().Config.Env, null, 'no Env of its own and none from the image');
  await d.api('DELETE', '/containers/nopath-d');
});

test('rmi: an image that a committed or built image is made on cannot be deleted, even forced; its last name can go', async () => {
  const base = await d.docker(['build', '-q', '-t', 'parent:1', '-'], { input: 'FROM busybox\nRUN echo parent > /parent\n' });
  assert.equal(base.code, 0, base.stderr);
  const parentId = base.stdout.trim();
  const built = await d.docker(['build', '-q', '-t', 'child:built', '-'], { input: 'FROM parent:1\nRUN echo child > /child\n' });
  assert.equal(built.code, 0, built.stderr);
  assert.equal((await d.api('GET', '/images/child:built/json')).json().Parent, parentId);
  const refused = `conflict: unable to delete ${parentId.slice(7, 19)} (cannot be forced) - image has dependent child images`;
  for (const q of ['', '?force=1']) {
    const r = await d.api('DELETE', `/images/${parentId}${q}`);
    assert.equal(r.status, 409, r.body);
    assert.equal(r.json().message, refused);
  }
  // by its last name: untagged, kept for its child
  const untag = await d.api('DELETE', '/images/parent:1');
  assert.equal(untag.status, 200, untag.body);
  assert.deepEqual(untag.json(), [{ Untagged: 'parent:1' }]);
  assert.equal((await d.api('GET', `/images/${parentId}/json`)).status, 200);
  // a commit is a child too
  const c = await d.api('POST', '/containers/create?name=committer', { Image: 'child:built', Cmd: ['true'] });
  assert.equal(c.status, 201, c.body);
  const committed = await d.api('POST', '/commit?container=committer');
  assert.equal(committed.status, 201, committed.body);
  assert.equal((await d.api('DELETE', '/containers/committer')).status, 204);
  assert.equal((await d.api('DELETE', '/images/child:built')).json().some((i: { Deleted?: string }) => i.Deleted), false, 'the built child keeps its commit\'s parent');
  const commitId = committed.json().Id;
  assert.equal((await d.api('DELETE', `/images/${commitId}`)).status, 200);
  const childId = (await d.api('GET', `/images/json?all=1`)).json().find((i: { ParentId: string }) => i.ParentId === parentId)?.Id;
  assert.ok(childId, 'the built child is still there');
  assert.equal((await d.api('DELETE', `/images/${childId}`)).status, 200);
  const gone = await d.api('DELETE', `/images/${parentId}`);
  assert.equal(gone.status, 200, gone.body);
  assert.ok(gone.json().some((i: { Deleted?: string }) => i.Deleted === parentId));
});
