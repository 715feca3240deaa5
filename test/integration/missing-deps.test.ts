import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestDaemon, REPO } from '../helpers/daemon';

// A build of berthd whose node_modules lacks node-unix-socket (conmon's attach socket), as a
// build made outside `npm ci` once was: it must refuse attaching at once, in words that say
// why, rather than leave `run` waiting on a stream that never comes.
let d: TestDaemon;
let copy: string;
before(async () => {
  copy = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-nodeps-'));
  await fsp.cp(path.join(REPO, 'dist', 'src'), path.join(copy, 'dist', 'src'), { recursive: true });
  await fsp.mkdir(path.join(copy, 'node_modules'));
  for (const name of await fsp.readdir(path.join(REPO, 'node_modules'))) {
    if (name.startsWith('node-unix-socket')) continue;
    await fsp.symlink(path.join(REPO, 'node_modules', name), path.join(copy, 'node_modules', name));
  }
  d = await TestDaemon.start([], { berthd: path.join(copy, 'dist', 'src', 'daemon', 'main.js') });
});
after(async () => {
  await d?.cleanup();
  if (copy) await fsp.rm(copy, { recursive: true, force: true });
});

test('without node-unix-socket, run and exec fail at once with the reason; detached containers still run', async () => {
  const run = await d.berth(['run', '--rm', 'busybox', 'echo', 'hi'], { timeoutMs: 20_000 });
  assert.equal(run.code, 125, run.stderr);
  assert.match(run.stderr, /needs the npm package node-unix-socket/);
  const docker = await d.docker(['run', '--rm', 'busybox', 'echo', 'hi'], { timeoutMs: 20_000 });
  assert.notEqual(docker.code, 0);
  const bg = await d.berth(['run', '-d', '--name', 'bg', 'busybox', 'sleep', '300']);
  assert.equal(bg.code, 0, bg.stderr);
  const exec = await d.berth(['exec', 'bg', 'true'], { timeoutMs: 20_000 });
  assert.notEqual(exec.code, 0);
  assert.match(exec.stderr, /needs the npm package node-unix-socket/);
  assert.match(d.output, /warning: attaching to a container needs the npm package node-unix-socket/);
  assert.equal((await d.berth(['rm', '-f', 'bg'])).code, 0);
});
