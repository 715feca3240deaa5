import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { TestDaemon } from '../helpers/daemon';

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
