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

test('diff lists what a container added, changed and deleted, without the mount points', async () => {
  const r = await d.berth(['run', '--name', 'changer', 'busybox', 'sh', '-c', 'echo hi > /hello; rm /bin/vi; mkdir -p /new/dir']);
  assert.equal(r.code, 0, r.stderr);
  const diff = await d.berth(['diff', 'changer']);
  assert.deepEqual(diff.stdout.trim().split('\n'), ['C /bin', 'D /bin/vi', 'A /hello', 'A /new', 'A /new/dir']);
  assert.equal((await d.berth(['diff', 'nope'])).code, 1);
});

test('commit makes a new image from the changes, with --change and a message', async () => {
  const c = await d.berth(['commit', '-c', 'CMD ["cat","/hello"]', '-m', 'first commit', '-a', 'berth tests', 'changer', 'snap:1']);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
  const run = await d.berth(['run', '--rm', 'snap:1']);
  assert.equal(run.stdout, 'hi\n');
  const gone = await d.berth(['run', '--rm', 'snap:1', 'ls', '/bin/vi']);
  assert.notEqual(gone.code, 0, 'the deletion is a whiteout in the new layer');
  const inspect = JSON.parse((await d.berth(['image', 'inspect', 'snap:1'])).stdout)[0];
  assert.equal(inspect.Comment, 'first commit');
  assert.equal(inspect.Author, 'berth tests');
  assert.equal(inspect.RootFS.Layers.length, 2);
  const history = await d.berth(['history', 'snap:1']);
  if (history.code === 0) assert.match(history.stdout, /first commit/);
  // the mount points of /etc are the image's, not the commit's
  const etc = await d.berth(['run', '--rm', 'snap:1', 'cat', '/etc/hostname']);
  assert.equal(etc.code, 0);
});

test('export streams the whole filesystem of a stopped and of a running container', async () => {
  const stopped = await runCommand('sh', ['-c', `${process.execPath} ${BERTH} -H ${d.host} export changer | tar -t`]);
  assert.equal(stopped.code, 0, stopped.stderr);
  const names = stopped.stdout.split('\n');
  assert.ok(names.includes('hello'));
  assert.ok(names.includes('bin/busybox'));
  assert.ok(!names.includes('bin/vi'));
  const run = await d.berth(['run', '-d', '--name', 'live', 'busybox', 'sh', '-c', 'echo live > /live; sleep 300']);
  assert.equal(run.code, 0, run.stderr);
  await new Promise((r) => setTimeout(r, 300));
  const live = await runCommand('sh', ['-c', `${process.execPath} ${BERTH} -H ${d.host} export live | tar -xO live`]);
  assert.equal(live.stdout, 'live\n');
  await d.berth(['rm', '-f', 'live']);
});

test('pause freezes a container and unpause thaws it', async () => {
  await d.berth(['run', '-d', '--name', 'frozen', 'busybox', 'sleep', '300']);
  assert.equal((await d.berth(['pause', 'frozen'])).code, 0);
  assert.equal((await d.berth(['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', 'frozen'])).stdout.trim(), 'paused true');
  const exec = await d.berth(['exec', 'frozen', 'true']);
  assert.notEqual(exec.code, 0);
  assert.equal((await d.berth(['unpause', 'frozen'])).code, 0);
  assert.equal((await d.berth(['inspect', '-f', '{{.State.Status}}', 'frozen'])).stdout.trim(), 'running');
  await d.berth(['rm', '-f', 'frozen']);
});
