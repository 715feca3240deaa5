import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { TestDaemon } from '../helpers/daemon';
import { NetnsRegistry, pushedAndPulledBack } from '../helpers/registry';

// The fallback storage driver: plain copies instead of overlay mounts.
let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start(['--storage-driver', 'vfs']);
});
after(async () => {
  await d?.cleanup();
});

test('containers run on the vfs driver and their writes stay their own', async () => {
  assert.equal((await d.berth(['info', '--format', '{{.Driver}}'])).stdout.trim(), 'vfs');
  const a = await d.berth(['run', '--name', 'writer', 'busybox', 'sh', '-c', 'echo mine > /etc/motd; rm /bin/vi; cat /etc/motd']);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, 'mine\n');
  const b = await d.berth(['run', '--rm', 'busybox', 'sh', '-c', 'cat /etc/motd 2>&1; ls /bin/vi']);
  assert.match(b.stdout, /No such file/);
  assert.match(b.stdout, /\/bin\/vi/);
  assert.equal((await d.berth(['start', '-a', 'writer'])).stdout, 'mine\n');
  assert.equal((await d.berth(['rm', 'writer'])).code, 0);
});

test('push and pull on the vfs driver: layers are unpacked one on top of the other', async () => {
  const reg = await NetnsRegistry.berth(d.netns, 5000);
  try {
    const ref = '127.0.0.1:5000/vfs/app:1';
    const pull = await pushedAndPulledBack(d, ref, 'FROM busybox\nRUN echo one > /one && rm /bin/vi\nRUN echo two > /two\n');
    assert.equal(pull.code, 0, pull.stderr);
    assert.equal(pull.stdout.split('Pull complete').length - 1, 2, pull.stdout);
    const run = await d.berth(['run', '--rm', ref, 'sh', '-c', 'cat /one /two; ls /bin/vi 2>&1']);
    assert.match(run.stdout, /^one\ntwo\n.*No such file/s, run.stderr);
  } finally {
    await reg.stop();
  }
});
